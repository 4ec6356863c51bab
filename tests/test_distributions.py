"""Log-densities against SciPy, closed forms and Monte Carlo."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from vaelib import distributions as d

rng = np.random.default_rng(0)


def test_bernoulli_matches_scipy():
    logits = rng.normal(scale=3, size=(4, 10)).astype(np.float32)
    x = rng.integers(0, 2, size=(4, 10)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    expected = stats.bernoulli.logpmf(x, p).sum(-1)
    np.testing.assert_allclose(d.bernoulli_log_prob(x, logits).numpy(), expected, rtol=1e-5)


@given(st.floats(-1e4, 1e4), st.sampled_from([0.0, 1.0]))
@settings(max_examples=200, deadline=None)
def test_bernoulli_finite_for_extreme_logits(logit, x):
    value = d.bernoulli_log_prob([[x]], [[logit]]).numpy()[0]
    assert np.isfinite(value) and value <= 0.0


def test_bernoulli_broadcasts_over_samples():
    logits = rng.normal(size=(3, 2, 5)).astype(np.float32)  # [num_samples, batch, d]
    x = rng.integers(0, 2, size=(2, 5)).astype(np.float32)
    out = d.bernoulli_log_prob(x, logits).numpy()
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out[1], d.bernoulli_log_prob(x, logits[1]).numpy(), rtol=1e-6)


def test_normal_matches_scipy():
    z, mu = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4))
    logvar = rng.normal(size=(3, 4))
    expected = stats.norm.logpdf(z, mu, np.exp(0.5 * logvar)).sum(-1)
    got = d.normal_log_prob(*(tf.constant(a, tf.float64) for a in (z, mu, logvar))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(
        d.std_normal_log_prob(tf.constant(z)).numpy(), stats.norm.logpdf(z).sum(-1), rtol=1e-10
    )


def test_kl_matches_monte_carlo():
    q_mu = np.array([[0.5, -1.0, 2.0]])
    q_logvar = np.array([[-1.0, 0.3, 0.0]])
    n = 400_000
    z = q_mu + np.exp(0.5 * q_logvar) * rng.normal(size=(n, 3))
    log_ratio = (stats.norm.logpdf(z, q_mu, np.exp(0.5 * q_logvar)) - stats.norm.logpdf(z)).sum(-1)
    estimate, stderr = log_ratio.mean(), log_ratio.std() / np.sqrt(n)
    exact = d.kl_normal_std(tf.constant(q_mu), tf.constant(q_logvar)).numpy()[0]
    assert abs(exact - estimate) < 4 * stderr


arrays = st.lists(st.floats(-5, 5), min_size=1, max_size=6)


@given(arrays, arrays)
@settings(max_examples=200, deadline=None)
def test_kl_nonnegative_and_zero_only_at_prior(mu, logvar):
    k = min(len(mu), len(logvar))
    mu, logvar = np.array(mu[:k]), np.array(logvar[:k])
    kl = d.kl_normal_std(tf.constant(mu), tf.constant(logvar)).numpy()
    assert kl >= 0.0
    if np.allclose(mu, 0) and np.allclose(logvar, 0):
        assert kl == pytest.approx(0.0, abs=1e-12)
    else:
        assert kl > 0.0 or np.allclose(mu, 0, atol=1e-7) and np.allclose(logvar, 0, atol=1e-4)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_kl_near_the_prior_keeps_its_relative_precision(sign):
    """float32 KL against a float64 reference, for q_logvar from 1e-8 to 3 in size (q_mu = 0)."""
    q_logvar = (sign * np.logspace(-8, 0.5, 60)).astype(np.float32)[:, None]
    v = q_logvar.astype(np.float64)
    reference = (
        0.5 * np.where(np.abs(v) < 1e-3, v**2 / 2 + v**3 / 6 + v**4 / 24, np.expm1(v) - v)[:, 0]
    )
    got = d.kl_normal_std(tf.zeros_like(q_logvar), tf.constant(q_logvar)).numpy()
    np.testing.assert_allclose(got, reference, rtol=2e-6)


def test_kl_gradient_is_finite_for_large_log_variances():
    q_logvar = tf.constant([[-200.0, -0.3, 0.0, 0.3, 80.0]])
    with tf.GradientTape() as tape:
        tape.watch(q_logvar)
        kl = d.kl_normal_std(tf.zeros_like(q_logvar), q_logvar)
    grad = tape.gradient(kl, q_logvar).numpy()[0]
    np.testing.assert_allclose(
        grad, 0.5 * np.expm1(np.array([-200.0, -0.3, 0.0, 0.3, 80.0])), rtol=1e-5
    )


def test_log_prob_from_eps_is_the_normal_density():
    eps, mu, logvar = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    z = mu + np.exp(0.5 * logvar) * eps
    expected = stats.norm.logpdf(z, mu, np.exp(0.5 * logvar)).sum(-1)
    got = d.normal_log_prob_from_eps(tf.constant(eps), tf.constant(logvar)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_log_prob_from_eps_has_the_reparameterized_gradient():
    """Through z = mu + sd * eps, both forms have the same gradient in (mu, logvar)."""
    eps = tf.constant(rng.normal(size=(5, 3)))
    mu, logvar = tf.constant(rng.normal(size=3)), tf.constant(rng.normal(size=3))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mu, logvar])
        z = mu + tf.exp(0.5 * logvar) * eps
        via_z = tf.reduce_sum(d.normal_log_prob(z, mu, logvar))
        via_eps = tf.reduce_sum(d.normal_log_prob_from_eps(eps, logvar))
    zero = tf.UnconnectedGradients.ZERO
    for a, b in zip(
        tape.gradient(via_z, [mu, logvar]),
        tape.gradient(via_eps, [mu, logvar], unconnected_gradients=zero),
        strict=False,
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


def test_integer_arguments_are_densities_too():
    np.testing.assert_allclose(d.kl_normal_std([0, 1], [0, 0]).numpy(), 0.5, rtol=1e-6)
    np.testing.assert_allclose(d.std_normal_log_prob([0, 0]).numpy(), -np.log(2 * np.pi), rtol=1e-6)


# Issue 22: relu and |.| take their derivative at 0 as 0, so x*l - relu(l) - log1p(exp(-|l|))
# had a gradient off by 0.5 at a logit of exactly 0. Checked against central differences of
# an independent float64 form, log p = x*l - log(1 + e^l) (np.logaddexp), and x - sigmoid(l).
GRAD_LOGITS = np.array(
    [0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -2.0, 30.0, -30.0], np.float32
)


def bernoulli_log_prob_64(x, logit):
    return x * logit - np.logaddexp(0.0, logit)


@pytest.mark.parametrize("x", [0.0, 1.0, 0.3])
def test_bernoulli_gradient_is_right_at_and_near_a_zero_logit(x):
    logits = tf.Variable(GRAD_LOGITS)
    with tf.GradientTape() as tape:
        x_column = tf.fill([len(GRAD_LOGITS), 1], x)
        total = tf.reduce_sum(d.bernoulli_log_prob(x_column, logits[:, None]))
    got = tape.gradient(total, logits).numpy().astype(np.float64)
    logit, h = GRAD_LOGITS.astype(np.float64), 1e-6
    upper, lower = bernoulli_log_prob_64(x, logit + h), bernoulli_log_prob_64(x, logit - h)
    finite_differences = (upper - lower) / (2 * h)
    np.testing.assert_allclose(got, finite_differences, atol=1e-6)
    np.testing.assert_allclose(got, x - 1 / (1 + np.exp(-logit)), atol=1e-7)
    assert got[0] == pytest.approx(x - 0.5, abs=1e-7)  # was x: the 0.5 of sigmoid(0) missing
