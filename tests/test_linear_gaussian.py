"""The exact linear-Gaussian model against SciPy and its own identities."""

import numpy as np
import pytest
from scipy import stats

from vaelib.linear_gaussian import LinearGaussian, kl_gaussians

MODEL = LinearGaussian.random(data_size=4, latent_size=2, seed=1)
X = MODEL.sample(6, seed=2)


def random_q(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(2, 2))
    return rng.normal(size=(6, 2)), a @ a.T + 0.1 * np.eye(2)


def test_log_px_matches_scipy():
    cov = MODEL.w @ MODEL.w.T + MODEL.noise_var * np.eye(4)
    np.testing.assert_allclose(MODEL.log_px(X), stats.multivariate_normal(MODEL.b, cov).logpdf(X))


def test_posterior_satisfies_bayes_rule():
    mean, cov = MODEL.posterior(X)
    z = np.random.default_rng(3).normal(size=2)
    for n in range(len(X)):
        log_joint = stats.multivariate_normal(
            MODEL.w @ z + MODEL.b, MODEL.noise_var * np.eye(4)
        ).logpdf(X[n]) + stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(z)
        log_post = stats.multivariate_normal(mean[n], cov).logpdf(z)
        assert log_joint - log_post == pytest.approx(MODEL.log_px(X[n : n + 1])[0], rel=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_log_px_is_elbo_plus_kl_for_any_q(seed):
    q_mean, q_cov = random_q(seed)
    total = MODEL.elbo(X, q_mean, q_cov) + MODEL.kl_to_posterior(X, q_mean, q_cov)
    np.testing.assert_allclose(total, MODEL.log_px(X), rtol=1e-12)
    assert np.all(MODEL.elbo(X, q_mean, q_cov) < MODEL.log_px(X))


def test_elbo_equals_log_px_at_the_posterior():
    mean, cov = MODEL.posterior(X)
    np.testing.assert_allclose(MODEL.elbo(X, mean, cov), MODEL.log_px(X), rtol=1e-12)


def test_elbo_matches_monte_carlo():
    q_mean, q_cov = random_q(7)
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal(q_mean[0], q_cov, size=200_000)
    log_w = (
        stats.multivariate_normal(np.zeros(4), MODEL.noise_var * np.eye(4)).logpdf(
            X[0] - z @ MODEL.w.T - MODEL.b
        )
        + stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(z)
        - stats.multivariate_normal(q_mean[0], q_cov).logpdf(z)
    )
    assert abs(log_w.mean() - MODEL.elbo(X[:1], q_mean[:1], q_cov)[0]) < 4 * log_w.std() / np.sqrt(
        len(z)
    )


def test_kl_gaussians_zero_at_equality_and_bad_model():
    s = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert kl_gaussians(np.ones(2), s, np.ones(2), s) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="noise_var must be a finite positive number, got 0.0"):
        LinearGaussian(np.ones((3, 2)), np.zeros(3), 0.0)


def test_non_finite_parameters_and_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match="noise_var must be a finite positive number, got nan"):
        LinearGaussian(np.ones((3, 2)), np.zeros(3), float("nan"))
    with pytest.raises(ValueError, match="w and b must be finite"):
        LinearGaussian(np.full((3, 2), np.nan), np.zeros(3), 1.0)
    assert LinearGaussian([[1.0], [2.0]], [0.0, 1.0], 1.0).w.shape == (2, 1)  # lists are fine
    with pytest.raises(ValueError, match=r"x must have shape \[n, 4\], got \(2, 3\)"):
        MODEL.log_px(np.zeros((2, 3)))
