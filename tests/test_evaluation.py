"""vaelib.evaluation's fast path: the same numbers as the op-by-op computation, compiled once
per chunk shape, and refusing bad arguments."""

import gc

import numpy as np
import pytest
import tensorflow as tf

from vaelib import evaluation
from vaelib.evaluation import evaluator  # the module behind the fast path
from vaelib.models.conv import ConvVAEConfig
from vaelib.vae import VAE, VAEConfig

CONFIG = VAEConfig(input_size=12, hidden_sizes=(16, 8), latent_size=3, seed=5)


def data(n=6, seed=0):
    return (np.random.default_rng(seed).random((n, CONFIG.input_size)) < 0.4).astype(np.float32)


def reference(model, x, k, chunk_size=500, seed=None):
    """The bound written out from model.log_weights, chunk by chunk, in float64."""
    chunks = []
    for i, start in enumerate(range(0, k, chunk_size)):
        w = model.log_weights(
            x,
            min(chunk_size, k - start),
            seed=None if seed is None else tf.constant([seed, i], tf.int64),
        )
        chunks.append((w["log_px_z"] + w["log_pz"] - w["log_qz_x"]).numpy().astype(np.float64))
    log_w = np.concatenate(chunks)  # [k, batch]
    top = log_w.max(axis=0)
    return top + np.log(np.mean(np.exp(log_w - top), axis=0))


@pytest.mark.parametrize("k, chunk_size", [(1, 500), (37, 10), (1000, 500), (300, 128)])
def test_fast_path_equals_the_reference_for_a_seed(k, chunk_size):
    model = VAE(CONFIG)
    x = data()
    fast = evaluation.iwae_bound(model, x, k, chunk_size=chunk_size, seed=7).numpy()
    np.testing.assert_allclose(
        fast, reference(model, x, k, chunk_size, seed=7), rtol=2e-6, atol=2e-5
    )


def test_fast_path_equals_the_reference_with_the_models_generator():
    a, b = VAE(CONFIG), VAE(CONFIG)  # the same seed: the same weights and the same noise stream
    x = data()
    fast = [evaluation.iwae_bound(a, x, 60, chunk_size=25).numpy() for _ in range(2)]
    slow = [reference(b, x, 60, chunk_size=25) for _ in range(2)]
    for f, s in zip(
        fast, slow, strict=False
    ):  # the generator advances alike: the second calls agree too
        np.testing.assert_allclose(f, s, rtol=2e-6, atol=2e-5)
    assert not np.allclose(fast[0], fast[1])


def test_memory_splits_chunks_into_passes_without_changing_the_numbers():
    model = VAE(CONFIG)
    x = data()
    whole = evaluation.BoundEvaluator(model, memory_bytes=2**30)
    small = evaluation.BoundEvaluator(model, memory_bytes=4 * small_floats(model) * len(x) * 7)
    assert whole.samples_per_pass(len(x)) >= 500 and small.samples_per_pass(len(x)) == 7
    a = whole.iwae_bound(x, 500, seed=3).numpy()
    b = small.iwae_bound(x, 500, seed=3).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5)
    # 500 codes in passes of at most 7: 72 passes of 7 or 6 codes, two programs
    assert small.programs == 2 and whole.programs == 1


def small_floats(model):
    return evaluation.BoundEvaluator(model).floats_per_sample


def test_one_program_per_chunk_shape():
    model = VAE(CONFIG)
    evaluator = evaluation.BoundEvaluator(model)
    x = data()
    for _ in range(3):
        evaluator.iwae_bound(x, 1000, seed=1)  # two chunks of 500: one shape
    assert evaluator.programs == 1  # two chunks of 15 codes: one shape
    evaluator.iwae_bound(x, 1200, seed=1)  # 500, 500, 200: one new shape
    assert evaluator.programs == 2
    evaluator.iwae_bound(data(n=4), 500, seed=1)  # another batch size: one more
    assert evaluator.programs == 3
    evaluator.iwae_bound(x, 700, seed=2)  # 500 and 200 again: nothing new
    assert evaluator.programs == 3
    assert all(f.experimental_get_tracing_count() == 1 for f in evaluator._programs.values())


def test_iwae_bound_caches_one_evaluator_per_model_and_follows_training():
    model = VAE(CONFIG)
    x = data()
    first = evaluation.iwae_bound(model, x, 100, seed=0).numpy()
    assert evaluation._evaluator(model) is evaluation._evaluator(model)
    for v in model.trainable_variables:  # the compiled program reads the weights at every call
        v.assign(v * 1.5)
    moved = evaluation.iwae_bound(model, x, 100, seed=0).numpy()
    np.testing.assert_allclose(moved, reference(model, x, 100, seed=0), rtol=2e-6, atol=2e-5)
    assert not np.allclose(first, moved)
    assert evaluation._evaluator(model).programs == 1
    count = len(evaluation._EVALUATORS)
    del model
    gc.collect()
    assert len(evaluation._EVALUATORS) == count - 1  # the cache does not keep models alive


def test_inside_a_tf_function_it_runs_op_by_op():
    model = VAE(CONFIG)
    x = tf.constant(data())

    @tf.function
    def bound(x):
        return evaluation.iwae_bound(model, x, 40, chunk_size=16, seed=2)

    np.testing.assert_allclose(
        bound(x).numpy(), reference(model, x, 40, 16, seed=2), rtol=2e-6, atol=2e-5
    )


def test_evaluate_bounds_is_the_mean_of_per_batch_bounds():
    model = VAE(CONFIG)
    x = data(n=10)
    means = evaluation.evaluate_bounds(model, x, (1, 30), batch_size=4, seed=3)
    per_example = np.concatenate(
        [
            reference(model, x[s : s + 4], 30, seed=3 * 7919 + b)
            for b, s in enumerate(range(0, 10, 4))
        ]
    )
    np.testing.assert_allclose(means["iwae_30"], per_example.mean(), rtol=1e-6)


def test_bad_arguments():
    model = VAE(CONFIG)
    x = data()
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        evaluation.iwae_bound(model, x, 0)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        evaluation.iwae_bound(model, x, 10, chunk_size=0)
    with pytest.raises(TypeError, match="seed must be an int or None"):
        evaluation.iwae_bound(model, x, 10, seed=1.5)
    with pytest.raises(ValueError, match="memory_bytes must be a positive int"):
        evaluation.BoundEvaluator(model, memory_bytes=0)
    with pytest.raises(TypeError, match="model must be a vaelib.VAE"):
        evaluation.BoundEvaluator(object())
    with pytest.raises(ValueError, match="x must have shape"):
        evaluation.iwae_bound(model, np.zeros((3, 5), np.float32), 10)
    with pytest.raises(ValueError, match="must lie in"):
        evaluation.iwae_bound(model, 2 * x, 10)
    with pytest.raises(TypeError, match="num_samples must be a tuple"):
        evaluation.evaluate_bounds(model, x, 10)
    with pytest.raises(TypeError, match="x must be an array"):
        evaluation.evaluate_bounds(model, tf.data.Dataset.from_tensor_slices(x))


# Issue 22: float64 inputs are cast (as check_input's docstring says), datasets are refused with
# what to pass, and long evaluations show progress.
MNIST_LIKE = VAEConfig(input_size=784, hidden_sizes=(8,), latent_size=2, seed=1)


def images(n=6):
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def test_float64_tensors_and_datasets_give_the_float32_numbers():
    from vaelib import FitConfig, bounds, fit, vae_loss

    model = VAE(CONFIG)
    x = data()
    want = evaluation.iwae_bound(model, x, 7, seed=2).numpy()
    for x64 in (
        tf.constant(x, tf.float64),
        tf.Variable(x.astype(np.float64)),
        x.astype(np.float64),
        tf.constant(x, tf.float16),
    ):
        np.testing.assert_array_equal(evaluation.iwae_bound(model, x64, 7, seed=2).numpy(), want)
        np.testing.assert_array_equal(
            bounds.elbo(model, x64, seed=[0, 1]).numpy(), bounds.elbo(model, x, seed=[0, 1]).numpy()
        )
        assert np.isfinite(float(vae_loss(model, x64)["loss"]))
    for steps_per_call in (1, 20):  # both compiled paths, float64 batches
        history = fit(
            model,
            tf.keras.optimizers.Adam(1e-3),
            vae_loss,
            tf.data.Dataset.from_tensor_slices(x.astype(np.float64)).batch(3),
            FitConfig(epochs=1, progress=False, steps_per_call=steps_per_call),
        )
        assert len(history.step_loss) == 2 and np.isfinite(history.step_loss).all()


def test_a_dataset_where_examples_are_expected_says_what_to_pass():
    from vaelib import bounds, diagnostics, make_dataset, objectives

    model = VAE(MNIST_LIKE)
    dataset = make_dataset(images(), batch_size=3, binarization="dynamic")
    calls = {
        "elbo": lambda: bounds.elbo(model, dataset),
        "iwae_bound": lambda: evaluation.iwae_bound(model, dataset, 5),
        "evaluate_bounds": lambda: evaluation.evaluate_bounds(model, dataset),
        "active_units": lambda: objectives.active_units(model, dataset),
        "encode": lambda: diagnostics.encode(model, dataset),
        "log_weights": lambda: model.log_weights(dataset),
    }
    for _name, call in calls.items():
        with pytest.raises(
            TypeError,
            match=r"x must be an array or tensor \[N, input_size\] of "
            r"pixels, got _PrefetchDataset, a tf.data.Dataset"
            r".*vaelib.binarize",
        ):
            call()
    with pytest.raises(
        TypeError,
        match=r"x must be an array or tensor \[batch, 784\] of float "
        r"pixels, got str",
    ):
        bounds.elbo(model, "pixels")


def test_progress_of_a_long_evaluation_goes_to_stderr(capsys, monkeypatch):
    model = VAE(CONFIG)
    x = data()
    quiet = evaluation.iwae_bound(model, x, 40, chunk_size=10, seed=1)  # short: nothing shown
    assert capsys.readouterr() == ("", "")
    shown = evaluation.iwae_bound(model, x, 40, chunk_size=10, seed=1, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "240/240" in err and "code" in err  # 40 codes for each of 6 images
    np.testing.assert_array_equal(quiet.numpy(), shown.numpy())
    monkeypatch.setattr(evaluator, "PROGRESS_DELAY", 0.0)  # as if it ran for 30 s
    evaluation.evaluate_bounds(model, x, (1, 5), batch_size=4)
    out, err = capsys.readouterr()
    assert out == "" and "42/42" in err  # 6 images x (1 + 1 + 5) codes
    evaluation.iwae_bound(model, x, 40, chunk_size=10, seed=1, progress=False)
    assert capsys.readouterr() == ("", "")
    with pytest.raises(TypeError, match="progress must be True or False, got 'yes'"):
        evaluation.iwae_bound(model, x, 4, progress="yes")


def test_xla_for_mlp_decoders_plain_for_convolutional_and_the_same_numbers_either_way():
    mlp = VAE(CONFIG)
    conv = VAE(ConvVAEConfig(channels=(4, 8), latent_size=3, seed=5))
    assert evaluation.BoundEvaluator(mlp).jit_compile is True
    assert evaluation.BoundEvaluator(conv).jit_compile is False
    x_conv = (np.random.default_rng(1).random((4, 784)) < 0.3).astype(np.float32)
    for model, x in ((mlp, data()), (conv, x_conv)):
        expected = reference(model, x, 30, chunk_size=15, seed=4)
        for jit_compile in (True, False):
            evaluator = evaluation.BoundEvaluator(model, jit_compile=jit_compile)
            assert evaluator.jit_compile is jit_compile
            bound = evaluator.iwae_bound(x, 30, chunk_size=15, seed=4).numpy()
            np.testing.assert_allclose(bound, expected, rtol=2e-6, atol=5e-5)
            assert evaluator.programs == 1  # two chunks of 15 codes: one shape
    cached = evaluation.iwae_bound(conv, x_conv, 30, chunk_size=16, seed=4).numpy()
    np.testing.assert_allclose(cached, reference(conv, x_conv, 30, 16, seed=4), atol=5e-5)
    assert evaluation._evaluator(conv).jit_compile is False
    with pytest.raises(TypeError, match="jit_compile must be True or False"):
        evaluation.BoundEvaluator(mlp, jit_compile="yes")
