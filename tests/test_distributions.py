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
    np.testing.assert_allclose(d.std_normal_log_prob(tf.constant(z)).numpy(),
                               stats.norm.logpdf(z).sum(-1), rtol=1e-10)


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
