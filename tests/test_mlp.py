"""Dense and MLP against NumPy."""

import numpy as np
import pytest
import tensorflow as tf

from vaelib.mlp import MLP, Dense


def test_dense_matches_numpy():
    layer = Dense(5, 3, tf.tanh, seed=1)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    expected = np.tanh(x @ layer.w.numpy() + layer.b.numpy())
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_dense_broadcasts_over_leading_axes():
    layer = Dense(5, 3)
    x = tf.random.normal([2, 4, 5])
    np.testing.assert_allclose(layer(x).numpy()[1], layer(x[1]).numpy(), rtol=1e-5, atol=1e-6)


def test_mlp_shapes_variables_and_linear_readout():
    mlp = MLP([784, 30, 30, 10], seed=0, name="classifier")
    assert mlp(tf.zeros([7, 784])).shape == (7, 10)
    assert len(mlp.trainable_variables) == 6
    assert all(v.name.startswith("classifier/") for v in mlp.trainable_variables)
    assert mlp.layers[-1].activation is None  # logits, not squashed
    big = mlp.layers[-1](tf.fill([1, 30], 100.0))
    assert np.abs(big.numpy()).max() > 1.0  # a linear readout is not bounded like tanh


def test_seeded_init_is_reproducible():
    a, b, c = MLP([4, 3, 2], seed=5), MLP([4, 3, 2], seed=5), MLP([4, 3, 2], seed=6)
    np.testing.assert_array_equal(a.layers[0].w.numpy(), b.layers[0].w.numpy())
    assert not np.array_equal(a.layers[0].w.numpy(), c.layers[0].w.numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match="input_size must be a positive int, got 0"):
        Dense(0, 3)
    with pytest.raises(ValueError, match="needs an input and an output size"):
        MLP([784])
    with pytest.raises(ValueError, match="expected inputs of size 5 on the last axis"):
        Dense(5, 3)(tf.zeros([2, 4]))


def test_bad_arguments_name_the_argument():
    with pytest.raises(
        TypeError, match="activation must be a function such as tf.nn.relu, or None, got 'relu'"
    ):
        MLP([4, 3, 2], activation="relu")
    with pytest.raises(
        TypeError, match=r"sizes must be a list \[input_size, hidden_1, ..., output_size\], got 5"
    ):
        MLP(5)
    with pytest.raises(ValueError, match="output_size must be a positive int, got True"):
        Dense(3, True)
    with pytest.raises(
        ValueError, match=r"expected inputs \[batch, 5\] \(a batch axis first\), got shape \(5,\)"
    ):
        Dense(5, 3)(tf.zeros([5]))
