"""vaelib.validation: the one set of argument rules (issue 22). The sweep over every public
configuration and entry point is tests/test_sweep.py."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from vaelib import validation
from vaelib.validation import ArgumentTypeError


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_an_integer_is_any_integral_but_a_bool_and_comes_back_a_python_int(value):
    out = validation.positive_int("latent_size", value)
    assert out == 3 and type(out) is int


@pytest.mark.parametrize(
    "value", [True, np.True_, 3.0, np.float64(3.0), "3", None, np.array(3), [3]]
)
def test_what_is_no_integer_is_a_type_error_naming_the_argument(value):
    with pytest.raises(
        TypeError,
        match=r"latent_size must be a positive int, got .*\(an int or a "
        r"NumPy integer, not a bool\)",
    ):
        validation.positive_int("latent_size", value)


def test_a_type_error_is_also_a_value_error_as_these_checks_raised_before():
    with pytest.raises(ValueError, match="epochs must be a positive int, got True"):
        validation.positive_int("epochs", True)
    assert issubclass(ArgumentTypeError, TypeError) and issubclass(ArgumentTypeError, ValueError)


def test_integer_ranges():
    assert validation.integer("seed", -4) == -4
    assert validation.integer("seed", np.int8(0), minimum=0) == 0
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1$"):
        validation.integer("seed", -1, minimum=0)
    with pytest.raises(ValueError, match="samples_per_example must be an int >= 2, got 1$"):
        validation.integer("samples_per_example", np.int64(1), minimum=2)


def test_reals_keep_python_numbers_and_convert_numpy_ones():
    assert validation.real("beta", 4) == 4 and type(validation.real("beta", 4)) is int
    out = validation.real("beta", np.float32(0.5))
    assert out == 0.5 and type(out) is float
    assert validation.real("log_px", -np.inf, finite=False) == -np.inf
    for bad in (np.nan, np.float32(np.nan), np.inf, -np.inf):
        with pytest.raises(ValueError, match="beta must be a finite number, got"):
            validation.real("beta", bad)
    with pytest.raises(ValueError, match="log_px must be a number, got nan"):
        validation.real("log_px", np.nan, finite=False)
    for bad in (True, "1", None, [1.0], np.array([1.0]), 1j):
        with pytest.raises(TypeError, match="beta must be a finite number, got"):
            validation.real("beta", bad)
    with pytest.raises(ValueError, match="threshold must be a finite positive number, got 0"):
        validation.real("threshold", 0, positive=True)
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\], got 2"):
        validation.real("p", 2, minimum=0, maximum=1)


def test_flags_are_bools_only():
    assert validation.flag("shuffle", np.bool_(False)) is False
    for bad in (0, 1, "yes", None, 1.0):
        with pytest.raises(TypeError, match="shuffle must be True or False, got"):
            validation.flag("shuffle", bad)


def test_text_and_choices():
    assert validation.text("estimate", "L_5000") == "L_5000"
    for bad in (None, 5, b"L"):
        with pytest.raises(TypeError, match="estimate must be a string, got"):
            validation.text("estimate", bad)
    for bad in ("", "   "):
        with pytest.raises(ValueError, match="estimate must be a non-empty string"):
            validation.text("estimate", bad)
    with pytest.raises(
        ValueError, match=r"estimator must be one of \('standard', 'stl'\), got 'dreg'"
    ):
        validation.text("estimator", "dreg", choices=("standard", "stl"))


def test_tuples_of_numbers():
    assert validation.integers("hidden_sizes", [np.int64(5), 3]) == (5, 3)
    with pytest.raises(TypeError, match="hidden_sizes must be a tuple of positive ints, got 5"):
        validation.integers("hidden_sizes", 5)
    with pytest.raises(TypeError, match=r"the entry True is not"):
        validation.integers("hidden_sizes", (True, 3))
    with pytest.raises(ValueError, match=r"channels must be two positive ints, got \(32,\)"):
        validation.integers("channels", (32,), length=2)
    with pytest.raises(ValueError, match="non-empty"):
        validation.integers("hidden_sizes", ())
    assert validation.reals("train_seconds", (np.float64(1.5), 2)) == (1.5, 2.0)
    with pytest.raises(
        ValueError,
        match=r"train_seconds must be a tuple of finite numbers >= 0, "
        r"got \(nan,\)",
    ):
        validation.reals("train_seconds", (float("nan"),), minimum=0.0)
    with pytest.raises(ValueError, match="train_seconds needs 2 entries, got 1"):
        validation.reals("train_seconds", (1.0,), length=2)


def test_paths_expand_a_tilde_or_refuse_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert validation.path("checkpoint_dir", "~/vae-ckpts") == tmp_path / "vae-ckpts"
    assert validation.path("data_dir", pathlib.Path("~")) == tmp_path
    assert validation.path("data_dir", "relative/x") == pathlib.Path("relative/x")
    with pytest.raises(
        ValueError,
        match=r"cache_dir '~no-such-user-x' starts with '~' but names no "
        "home folder",
    ):
        validation.path("cache_dir", "~no-such-user-x")
    with pytest.raises(ValueError, match="cache_dir must be a folder path, got an empty string"):
        validation.path("cache_dir", "")
    for bad in (None, 3, b"/tmp"):
        with pytest.raises(TypeError, match="cache_dir must be a folder path"):
            validation.path("cache_dir", bad)


def test_examples_refuse_a_dataset_and_say_what_to_pass():
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), np.float32)).batch(2).prefetch(1)
    with pytest.raises(
        TypeError,
        match=r"x must be an array or tensor \[N, input_size\] of pixels, "
        r"got _PrefetchDataset, a tf.data.Dataset .*binarize.*"
        r"as_numpy_iterator",
    ):
        validation.examples("x", dataset)
    with pytest.raises(TypeError, match="x must be an array or tensor.*got generator"):
        validation.examples("x", (i for i in range(3)))
    x = np.zeros((2, 3))
    assert validation.examples("x", x) is x
