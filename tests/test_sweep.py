"""The sweep of issue 22: every public configuration and entry point, given NumPy scalars,
bools, None, NaN, infinities, strings, empty and float64 inputs, either gives exactly what it
gives for the equivalent plain Python value, or raises TypeError or ValueError naming the
argument. Nothing else: no silent acceptance of a bool as 1, no TensorFlow error, no
"object of type 'int' has no len()".

What counts as valid is written here, independently of vaelib.validation: an integer is a
numbers.Integral but not a bool, a real number a finite numbers.Real but not a bool, a flag
True or False. The models are tiny and the examples few, so the sweep takes seconds.
"""

import math
import numbers
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import vaelib
from vaelib import diagnostics, likelihoods
from vaelib.checkpoint import CheckpointFolder
from vaelib.report import glue_text

SWEEP = settings(max_examples=20, deadline=None, derandomize=True)

# the odd values users pass: bools, None, NaN, infinities, strings, containers, 0-d arrays
ODD = [
    None,
    True,
    False,
    np.True_,
    np.False_,
    float("nan"),
    float("inf"),
    float("-inf"),
    np.float32("nan"),
    np.float64("inf"),
    "",
    " ",
    "3",
    "abc",
    b"3",
    [],
    (),
    [1],
    (2,),
    1j,
    np.array(2),
    np.array([2.0]),
    2.0,
    -0.0,
    0,
    -1,
    object(),
]
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.integers(-2, 6),
    st.integers(-2, 6).map(np.int64),
    st.integers(-2, 6).map(np.int32),
    st.integers(0, 6).map(np.uint8),
    st.floats(-3.0, 6.0),
    st.floats(-3.0, 6.0, width=32).map(np.float32),
    st.sampled_from([0.25, 1.0, 3.0]).map(np.float64),
)


def is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


def plain(v):
    """The plain Python value a valid argument stands for."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return int(v) if is_int(v) else v if type(v) is float else float(v)


def log_p_values(v):
    """A discrete model's log-likelihood: a number or an array of numbers, each <= 0 (-inf is
    probability 0: infinite bits); the value (a float or a float64 array), or None if invalid."""
    if isinstance(v, (str, bytes)) or v is None:
        return None
    if np.ndim(v) == 0:
        v = v.item() if isinstance(v, np.ndarray) else v
        ok = (
            isinstance(v, numbers.Real)
            and not isinstance(v, (bool, np.bool_))
            and not math.isnan(v)
            and v <= 0
        )
        return v if ok else None
    try:
        values = np.asarray(v)
    except ValueError:
        return None
    if values.dtype.kind not in "iuf" or np.isnan(values).any() or (values > 0).any():
        return None
    return values.astype(np.float64)


# kind: (is valid, the Python value it stands for)
KINDS = {
    "positive int": (lambda v: is_int(v) and v > 0, plain),
    "int >= 0": (lambda v: is_int(v) and v >= 0, plain),
    "int >= 2": (lambda v: is_int(v) and v >= 2, plain),
    "int": (is_int, plain),
    "int or None": (lambda v: v is None or is_int(v), lambda v: v if v is None else plain(v)),
    "flag": (lambda v: isinstance(v, (bool, np.bool_)), plain),
    "real": (is_real, plain),
    "real or None": (lambda v: v is None or is_real(v), lambda v: v if v is None else plain(v)),
    "positive real": (lambda v: is_real(v) and v > 0, plain),
    "real >= 0": (lambda v: is_real(v) and v >= 0, plain),
    # glue: a number, also as a 0-d array or tensor
    "number": (
        lambda v: is_real(v) or (isinstance(v, np.ndarray) and v.ndim == 0 and is_real(v.item())),
        lambda v: plain(v.item() if isinstance(v, np.ndarray) else v),
    ),
    # bits_per_dim's log_px: a number or an array of numbers, <= 0 (for a discrete model)
    "log P": (
        lambda v: log_p_values(v) is not None,
        lambda v: np.asarray(log_p_values(v)) if np.ndim(v) else plain(log_p_values(v)),
    ),
}

LINEAR = vaelib.LinearGaussian([[1.0, 0.5], [0.0, 2.0]], [0.1, -0.2], 0.5)
CONFIG = vaelib.VAEConfig(input_size=784, hidden_sizes=(4,), latent_size=2, seed=1)
MODEL = vaelib.VAE(CONFIG)
IMAGES = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
X = vaelib.binarize(IMAGES, "fixed", seed=1)  # [5, 784] float32
CARD = dict(
    data="mnist",
    num_train=4000,
    num_test=1000,
    train_binarization="dynamic",
    test_binarization="fixed (seed 1)",
    architecture="a",
    objective="ELBO",
    training="Adam",
    estimate="L_5000",
    seeds=(0,),
    train_seconds=(3.0,),
    eval_seconds=(5.0,),
)


def card(**changes):
    return vaelib.ProtocolCard(**{**CARD, **changes})


def batches(dataset):
    return [b.numpy() for b in dataset]


def arrays(result):
    """Results as comparable NumPy values (tensors, lists of batches, dicts)."""
    if isinstance(result, tf.Tensor):
        return result.numpy()
    if isinstance(result, (list, tuple)):
        return [arrays(r) for r in result]
    if isinstance(result, dict):
        return {k: arrays(v) for k, v in result.items()}
    return result


def same(a, b) -> bool:
    a, b = arrays(a), arrays(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b and type(a) is type(b)


# (entry point, argument named in the errors, kind, call with the swept value)
ENTRIES = [
    ("FitConfig", "epochs", "positive int", lambda v: vaelib.FitConfig(epochs=v)),
    ("FitConfig", "steps_per_call", "positive int", lambda v: vaelib.FitConfig(steps_per_call=v)),
    ("FitConfig", "max_to_keep", "positive int", lambda v: vaelib.FitConfig(max_to_keep=v)),
    ("FitConfig", "jit_compile", "flag", lambda v: vaelib.FitConfig(jit_compile=v)),
    ("FitConfig", "progress", "flag", lambda v: vaelib.FitConfig(progress=v)),
    ("VAEConfig", "input_size", "positive int", lambda v: vaelib.VAEConfig(input_size=v)),
    ("VAEConfig", "latent_size", "positive int", lambda v: vaelib.VAEConfig(latent_size=v)),
    ("VAEConfig", "seed", "int", lambda v: vaelib.VAEConfig(seed=v)),
    ("VAEConfig", "hidden_sizes", "positive int", lambda v: vaelib.VAEConfig(hidden_sizes=(v, 3))),
    (
        "VAEConfig",
        "decoder_hidden_sizes",
        "positive int",
        lambda v: vaelib.VAEConfig(decoder_hidden_sizes=[v]),
    ),
    ("ConvVAEConfig", "latent_size", "positive int", lambda v: vaelib.ConvVAEConfig(latent_size=v)),
    ("ConvVAEConfig", "seed", "int", lambda v: vaelib.ConvVAEConfig(seed=v)),
    ("ConvVAEConfig", "channels", "positive int", lambda v: vaelib.ConvVAEConfig(channels=(4, v))),
    ("KLOptions", "beta", "positive real", lambda v: vaelib.KLOptions(beta=v)),
    ("KLOptions", "free_bits", "real >= 0", lambda v: vaelib.KLOptions(free_bits=v)),
    ("KLOptions", "warmup_steps", "int >= 0", lambda v: vaelib.KLOptions(warmup_steps=v)),
    ("Gaussian", "min_logvar", "real or None", lambda v: vaelib.Gaussian(min_logvar=v)),
    (
        "DiscretizedLogistic",
        "min_log_scale",
        "real",
        lambda v: vaelib.DiscretizedLogistic(min_log_scale=v),
    ),
    ("ProtocolCard", "num_train", "positive int", lambda v: card(num_train=v)),
    ("ProtocolCard", "num_test", "positive int", lambda v: card(num_test=v)),
    ("ProtocolCard", "seeds", "int", lambda v: card(seeds=(v,))),
    ("ProtocolCard", "train_seconds", "real >= 0", lambda v: card(train_seconds=(v,))),
    ("ProtocolCard", "eval_seconds", "real >= 0", lambda v: card(eval_seconds=[v])),
    ("bits_per_dim", "log_px", "log P", lambda v: vaelib.bits_per_dim(v, 784, dequantized=False)),
    (
        "bits_per_dim",
        "num_dims",
        "positive int",
        lambda v: vaelib.bits_per_dim(-500.0, v, dequantized=False),
    ),
    (
        "bits_per_dim",
        "dequantized",
        "flag",
        lambda v: vaelib.bits_per_dim(-500.0, 784, dequantized=v),
    ),
    ("glue_text", "key", "number", lambda v: glue_text(v, ".3f", name="key")),
    ("binarize", "seed", "int >= 0", lambda v: vaelib.binarize(IMAGES, "fixed", seed=v)),
    ("dequantize", "seed", "int >= 0", lambda v: vaelib.dequantize(IMAGES, seed=v)),
    (
        "make_dataset",
        "batch_size",
        "positive int",
        lambda v: batches(vaelib.make_dataset(IMAGES, batch_size=v, binarization="fixed")),
    ),
    (
        "make_dataset",
        "seed",
        "int >= 0",
        lambda v: batches(
            vaelib.make_dataset(IMAGES, batch_size=2, binarization="dynamic", seed=v)
        ),
    ),
    (
        "make_dataset",
        "shuffle",
        "flag",
        lambda v: batches(
            vaelib.make_dataset(IMAGES, batch_size=2, binarization="fixed", shuffle=v)
        ),
    ),
    (
        "make_dataset",
        "drop_remainder",
        "flag",
        lambda v: batches(
            vaelib.make_dataset(IMAGES, batch_size=2, binarization="threshold", drop_remainder=v)
        ),
    ),
    ("set_seed", "seed", "int >= 0", lambda v: vaelib.set_seed(v, deterministic=False)),
    ("Dense", "input_size", "positive int", lambda v: vaelib.Dense(v, 2).w.numpy()),
    (
        "CheckpointFolder",
        "max_to_keep",
        "positive int",
        lambda v: CheckpointFolder("ckpts", tf.train.Checkpoint(), {}, max_to_keep=v).max_to_keep,
    ),
    ("iwae_loss", "num_samples", "positive int", lambda v: vaelib.iwae_loss(v).num_samples),
    ("elbo", "num_samples", "positive int", lambda v: vaelib.elbo(MODEL, X, v, seed=[0, 1])),
    ("elbo", "analytic_kl", "flag", lambda v: vaelib.elbo(MODEL, X, 2, analytic_kl=v, seed=[0, 1])),
    ("iwae_bound", "num_samples", "positive int", lambda v: vaelib.iwae_bound(MODEL, X, v, seed=0)),
    (
        "iwae_bound",
        "chunk_size",
        "positive int",
        lambda v: vaelib.iwae_bound(MODEL, X, 6, chunk_size=v, seed=0),
    ),
    (
        "iwae_bound",
        "seed",
        "int or None",
        lambda v: vaelib.iwae_bound(MODEL, X, 3, seed=v) if v is not None else "drawn",
    ),
    (
        "evaluate_bounds",
        "num_samples",
        "positive int",
        lambda v: vaelib.evaluate_bounds(MODEL, X, (1, v), batch_size=5),
    ),
    (
        "evaluate_bounds",
        "batch_size",
        "positive int",
        lambda v: vaelib.evaluate_bounds(MODEL, X, (2,), batch_size=v),
    ),
    ("evaluate_bounds", "seed", "int", lambda v: vaelib.evaluate_bounds(MODEL, X, (2,), seed=v)),
    (
        "active_units",
        "threshold",
        "positive real",
        lambda v: vaelib.active_units(MODEL, X, threshold=v),
    ),
    (
        "active_units",
        "batch_size",
        "positive int",
        lambda v: vaelib.active_units(MODEL, X, batch_size=v),
    ),
    ("encode", "batch_size", "positive int", lambda v: diagnostics.encode(MODEL, X, batch_size=v)),
    (
        "elbo_surgery",
        "samples_per_example",
        "int >= 2",
        lambda v: diagnostics.elbo_surgery(*diagnostics.encode(MODEL, X), samples_per_example=v),
    ),
    (
        "elbo_surgery",
        "seed",
        "int >= 0",
        lambda v: diagnostics.elbo_surgery(*diagnostics.encode(MODEL, X), seed=v),
    ),
    ("VAE.sample", "num", "positive int", lambda v: MODEL.sample(v)),
    ("VAE.sample", "seed", "int", lambda v: MODEL.sample(2, seed=v)),
    (
        "LinearGaussian",
        "noise_var",
        "positive real",
        lambda v: vaelib.LinearGaussian([[1.0]], [0.0], v).noise_var,
    ),
    ("LinearGaussian.sample", "n", "positive int", lambda v: LINEAR.sample(v, seed=1)),
    ("LinearGaussian.sample", "seed", "int >= 0", lambda v: LINEAR.sample(2, seed=v)),
    (
        "likelihoods.dequantized_dataset",
        "batch_size",
        "positive int",
        lambda v: likelihoods.dequantized_dataset(IMAGES, batch_size=v).cardinality().numpy(),
    ),
]


def check(entry, value):
    _, name, kind, call = entry
    valid, canonical = KINDS[kind]
    try:
        got = call(value)
    except (TypeError, ValueError) as error:
        assert not valid(value), f"{value!r} refused: {error}"
        assert re.search(rf"(^|\W){re.escape(name)}(\W|$)", str(error)), (
            f"the error for {value!r} does not name {name}: {error}"
        )
        return
    assert valid(value), f"{value!r} accepted, giving {got!r}"
    assert same(got, call(canonical(value))), (
        f"{value!r} gives another result than {canonical(value)!r}"
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e[0]}-{e[1]}" for e in ENTRIES])
@SWEEP
@given(value=VALUES)
def test_every_argument_gets_the_result_of_its_python_value_or_an_error_naming_it(entry, value):
    check(entry, value)


# x: float64 and float16 inputs are the float32 numbers; what is no fixed set of pixels
# (a dataset, a string, NaN, a labelled pair, integer pixels, the wrong width) names x.
DATASET = vaelib.make_dataset(IMAGES, batch_size=2, binarization="fixed")
X_VALID = {
    "float32": X,
    "float64": X.astype(np.float64),
    "float64 tensor": tf.constant(X, tf.float64),
    "float16 tensor": tf.constant(X, tf.float16),
    "list": X.tolist(),
    "variable": tf.Variable(X.astype(np.float64)),
}
X_INVALID = {
    "dataset": DATASET,
    "None": None,
    "string": "x",
    "nan": np.full_like(X, np.nan),
    "inf": X + np.inf,
    "uint8": IMAGES.reshape(5, 784),
    "width": X[:, :700],
    "rank 1": X[0],
    "pair": (X, np.zeros(5, np.int32)),
    "out of [0, 1]": 2 * X,
    "generator": (row for row in X),
    "int": 3,
    "bool array": X > 0,
}
X_ENTRIES = {
    "elbo": lambda x: vaelib.elbo(MODEL, x, 2, seed=[0, 1]),
    "iwae_bound": lambda x: vaelib.iwae_bound(MODEL, x, 3, seed=0),
    "vae_loss": lambda x: {k: v for k, v in vaelib.vae_loss(MODEL, x).items()},
    "log_weights": lambda x: MODEL.log_weights(x, 2, seed=[0, 1]),
    "evaluate_bounds": lambda x: vaelib.evaluate_bounds(MODEL, x, (2,), batch_size=2),
    "active_units": lambda x: vaelib.active_units(MODEL, x),
    "encode": lambda x: diagnostics.encode(MODEL, x),
    "reconstruct": lambda x: MODEL.reconstruct(x),
}


@pytest.mark.parametrize("name", sorted(X_ENTRIES))
@SWEEP
@given(label=st.sampled_from(sorted(X_VALID) + sorted(X_INVALID)))
def test_every_entry_point_takes_pixels_of_any_float_dtype_and_names_x_otherwise(name, label):
    call = X_ENTRIES[name]
    if label in X_VALID:
        if name == "vae_loss":  # draws its own noise: equal only from the same generator state
            MODEL.noise.reset_from_seed(3)
            got = call(X_VALID[label])
            MODEL.noise.reset_from_seed(3)
            assert same(got, call(X))
        else:
            assert same(call(X_VALID[label]), call(X)), label
        return
    with pytest.raises((TypeError, ValueError)) as error:
        call(X_INVALID[label])
    assert re.search(r"(^|\W)x(\W|$)", str(error.value)), f"{label}: {error.value}"


@pytest.mark.parametrize(
    "name",
    [
        "elbo",
        "iwae_bound",
        "log_weights",
        "reconstruct",
        "vae_loss",
        "evaluate_bounds",
        "active_units",
        "encode",
    ],
)
def test_no_examples(name):
    """Empty input: an empty result where one is defined, else an error naming x."""
    empty = np.zeros((0, 784), np.float32)
    try:
        got = arrays(X_ENTRIES[name](empty))
    except (TypeError, ValueError) as error:
        assert re.search(r"(^|\W)x(\W|$)", str(error)), str(error)
        return
    leaves = got.values() if isinstance(got, dict) else [got]
    assert all(np.asarray(v).size == 0 for v in leaves if np.ndim(v) > 0), got


@SWEEP
@given(
    value=st.one_of(
        st.sampled_from(["~", "~/ckpts", "~no-such-user-x/c", "", " ", "ckpts", "a/b"]),
        st.sampled_from(ODD),
    )
)
def test_every_path_argument_expands_a_tilde_or_names_itself(value):
    checkpoint = tf.train.Checkpoint()
    calls = {
        "checkpoint_dir": lambda v: CheckpointFolder(v, checkpoint, {}).folder,
        "cache_dir": lambda v: vaelib.data._default_cache_dir(v),
    }
    for name, call in calls.items():
        if value is None and name == "cache_dir":
            continue  # None is the default cache, ~/.cache/vaelib
        try:
            got = call(value)
        except (TypeError, ValueError) as error:
            assert not (
                isinstance(value, str)
                and value.strip()
                and (not value.startswith("~") or value in ("~", "~/ckpts"))
            ), f"{value!r} refused: {error}"
            assert name in str(error), str(error)
            continue
        assert isinstance(value, str) and value.strip(), f"{value!r} accepted"
        assert str(got) == os.path.expanduser(value) and not str(got).startswith("~")
