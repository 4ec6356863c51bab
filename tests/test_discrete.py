"""vaelib.objectives.discrete: each estimator of a categorical gradient against the exact
gradient by enumeration (a closed form for a linear f), with Monte Carlo standard errors;
the Gumbel-max trick against the categorical (chi-square); the relaxation's zero-temperature
limit; straight-through's forward and backward passes; finite differences for the pathwise
gradient of the relaxation."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from vaelib.objectives.discrete import (
    DISCRETE_ESTIMATORS,
    categorical_gradients,
    exact_categorical_gradient,
    gumbel_noise,
    gumbel_softmax,
    straight_through,
)

LOGITS = np.array([[0.3, -1.2, 0.8, 0.0], [1.5, 0.2, -0.4, -2.0]])  # [2, K=4]
C = np.array([1.0, -2.0, 3.0, 0.5])


def linear(y):
    return tf.reduce_sum(y * C, axis=-1)


def quadratic(y):
    return tf.reduce_sum(y * C, axis=-1) ** 2


def test_the_exact_gradient_of_a_linear_f_is_the_closed_form():
    p = special.softmax(LOGITS, axis=-1)
    want = p * (C - (p @ C)[:, None])  # d/dlogits of p . c
    got = exact_categorical_gradient(linear, tf.constant(LOGITS))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def mean_and_se(draws):
    draws = np.asarray(draws, np.float64)
    return draws.mean(0), draws.std(0, ddof=1) / np.sqrt(len(draws))


@pytest.mark.parametrize("baseline", [False, True])
@pytest.mark.parametrize("f", [linear, quadratic])
def test_the_score_function_is_unbiased(f, baseline):
    exact = exact_categorical_gradient(f, tf.constant(LOGITS)).numpy()
    draws = categorical_gradients(
        f, tf.constant(LOGITS), "score", 20000, [0, 1], baseline=baseline
    ).numpy()
    mean, se = mean_and_se(draws)
    assert np.all(np.abs(mean - exact) < 4.5 * se + 1e-9), (mean, exact, se)


def test_straight_through_is_exact_for_a_linear_f_and_biased_for_a_quadratic_one():
    exact = exact_categorical_gradient(linear, tf.constant(LOGITS)).numpy()
    draws = categorical_gradients(linear, tf.constant(LOGITS), "straight_through", 4000, [0, 2])
    # for a linear f its backward pass is the gradient of p . c, whatever the draw
    np.testing.assert_allclose(draws.numpy(), np.broadcast_to(exact, draws.shape), atol=1e-12)
    exact = exact_categorical_gradient(quadratic, tf.constant(LOGITS)).numpy()
    draws = categorical_gradients(quadratic, tf.constant(LOGITS), "straight_through", 20000, [0, 3])
    mean, se = mean_and_se(draws.numpy())
    assert np.max(np.abs(mean - exact) / (se + 1e-12)) > 10  # a bias, far beyond the noise


def test_the_gumbel_max_trick_draws_the_categorical():
    n = 50000
    g = gumbel_noise([n, 4], [0, 4], tf.float64).numpy()
    codes = np.argmax(LOGITS[0] + g, axis=1)
    counts = np.bincount(codes, minlength=4)
    expected = n * special.softmax(LOGITS[0])
    assert stats.chisquare(counts, expected).pvalue > 1e-3
    assert np.isfinite(g).all()


def test_the_relaxation_tends_to_the_argmax_one_hot_as_the_temperature_falls():
    logits = tf.constant(LOGITS)
    soft = gumbel_softmax(logits, 1e-3, [0, 5], num_samples=200).numpy()  # [200, 2, 4]
    g = gumbel_noise([200, 2, 4], [0, 5], tf.float64).numpy()  # the same noise
    onehot = np.eye(4)[np.argmax(LOGITS + g, axis=-1)]
    assert np.mean(np.abs(soft - onehot).max(-1) < 1e-3) > 0.99
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-12)
    warm = gumbel_softmax(logits, 5.0, [0, 5], num_samples=200).numpy()
    assert warm.max(-1).mean() < soft.max(-1).mean()


def test_hard_samples_are_one_hot_forward_and_soft_backward():
    logits = tf.constant(LOGITS)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        hard = gumbel_softmax(logits, 0.7, [0, 6], num_samples=3, hard=True)
        soft = gumbel_softmax(logits, 0.7, [0, 6], num_samples=3)
        f_hard, f_soft = quadratic(hard), quadratic(soft)
    h = hard.numpy()
    assert set(np.unique(h)) <= {0.0, 1.0} and np.all(h.sum(-1) == 1)
    np.testing.assert_array_equal(np.argmax(h, -1), np.argmax(soft.numpy(), -1))
    # the backward pass is the soft sample's Jacobian, evaluated at the hard value
    v = tf.constant(np.random.default_rng(0).normal(size=(3, 2, 4)))
    np.testing.assert_allclose(
        tape.gradient(hard, logits, output_gradients=v).numpy(),
        tape.gradient(soft, logits, output_gradients=v).numpy(),
        rtol=1e-12,
    )
    assert not np.allclose(f_hard.numpy(), f_soft.numpy())
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = straight_through(tf.round(x * 0.4), x * 3.0)
    np.testing.assert_array_equal(y.numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, 3.0])


def test_the_relaxed_gradient_is_the_pathwise_derivative_checked_by_finite_differences():
    """With the noise fixed, the gradient of f(softmax((logits + g) / t)) by central
    differences equals the per-draw estimate."""
    logits = tf.constant(LOGITS)
    draws = categorical_gradients(
        quadratic, logits, "gumbel_softmax", 5, [0, 7], temperature=0.5
    ).numpy()
    g = gumbel_noise([5, 2, 4], [0, 7], tf.float64).numpy()

    def relaxed(lg):
        return quadratic(tf.nn.softmax((lg + g) / 0.5, axis=-1)).numpy()  # [5, 2]

    h = 1e-6
    for i in range(2):
        for j in range(4):
            step = np.zeros_like(LOGITS)
            step[i, j] = h
            numeric = (relaxed(LOGITS + step) - relaxed(LOGITS - step))[:, i] / (2 * h)
            np.testing.assert_allclose(draws[:, i, j], numeric, rtol=1e-6, atol=1e-8)


def test_the_relaxations_are_biased_and_trade_bias_for_variance_with_the_temperature():
    exact = exact_categorical_gradient(quadratic, tf.constant(LOGITS)).numpy()
    bias, se, variance = {}, {}, {}
    for t in (2.0, 0.1):
        for name in ("gumbel_softmax", "st_gumbel"):
            draws = categorical_gradients(
                quadratic, tf.constant(LOGITS), name, 40000, [1, 8], temperature=t
            ).numpy()
            mean, error = mean_and_se(draws)
            bias[name, t], se[name, t] = np.abs(mean - exact).max(), error.max()
            variance[name, t] = draws.var(0).sum()
    for name in ("gumbel_softmax", "st_gumbel"):
        assert bias[name, 2.0] > 10 * se[name, 2.0]  # biased, far beyond the noise
        assert bias[name, 0.1] < bias[name, 2.0] / 3  # less biased when colder
        assert variance[name, 0.1] > 10 * variance[name, 2.0]  # and far noisier


def test_bad_arguments_are_refused():
    logits = tf.constant(LOGITS)
    with pytest.raises(ValueError, match="estimator must be one of"):
        categorical_gradients(linear, logits, "reinforce", 2, [0, 0])
    with pytest.raises(ValueError, match="baseline is for the score"):
        categorical_gradients(linear, logits, "st_gumbel", 2, [0, 0], baseline=True)
    with pytest.raises(ValueError, match="num_samples >= 2"):
        categorical_gradients(linear, logits, "score", 1, [0, 0], baseline=True)
    with pytest.raises(ValueError, match="K >= 2"):
        categorical_gradients(linear, tf.constant([[1.0]]), "score", 2, [0, 0])
    with pytest.raises(ValueError, match="temperature"):
        gumbel_softmax(logits, 0.0, [0, 0])
    with pytest.raises(ValueError, match="seed must be two ints"):
        gumbel_softmax(logits, 1.0, [0, 0, 1])
    assert set(DISCRETE_ESTIMATORS) == {"score", "gumbel_softmax", "st_gumbel", "straight_through"}
