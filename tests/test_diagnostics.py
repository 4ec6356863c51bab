"""vaelib.diagnostics: KL per dimension, active units, ELBO surgery, per-example Gaussians.

References: closed forms on the linear-Gaussian model, quadrature (SciPy) for a mixture's
information terms, and Monte Carlo with its standard error.
"""

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
import tensorflow as tf

import vaelib
from vaelib import diagnostics
from vaelib.distributions import normal_log_prob

NUM_SE = 4  # a difference within this many standard errors counts as Monte Carlo noise


class LinearGaussianVAE(tf.Module):
    """A linear-Gaussian model with the interface the diagnostics use: ``encoder(x)`` gives a
    linear Gaussian q(z|x) (the exact posterior's mean map, scaled by ``mean_scale``, and the
    diagonal of the posterior covariance times ``var_scale``); ``log_px_z(x, z)`` is exact."""

    def __init__(self, model: vaelib.LinearGaussian, mean_scale=1.0, var_scale=1.0):
        super().__init__()
        self.lg = model
        d = model.w.shape[1]
        cov = np.linalg.inv(np.eye(d) + model.w.T @ model.w / model.noise_var)
        self.mean_map = (
            mean_scale * model.w @ cov / model.noise_var
        )  # [D, d]: mean = (x - b) @ mean_map
        self.var = var_scale * np.diag(cov)  # [d]

    def check_input(self, x):
        return tf.convert_to_tensor(x, tf.float32)

    def encoder(self, x):
        x = tf.cast(x, tf.float64)
        q_mu = (x - self.lg.b) @ self.mean_map
        return tf.cast(q_mu, tf.float32), tf.cast(tf.math.log(self.var) + 0 * q_mu, tf.float32)

    def log_px_z(self, x, z):
        mean = tf.einsum("...l,dl->...d", tf.cast(z, tf.float64), self.lg.w) + self.lg.b
        log_var = tf.fill(tf.shape(mean), tf.constant(math.log(self.lg.noise_var), tf.float64))
        return tf.cast(normal_log_prob(tf.cast(x, tf.float64), mean, log_var), tf.float32)


def random_gaussians(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(scale=0.5, size=(n, d)) - 1.0


def test_kl_per_dimension_sums_to_the_average_kl():
    q_mu, q_logvar = random_gaussians()
    per_dim = diagnostics.kl_per_dimension(q_mu, q_logvar)
    reference = np.mean(0.5 * (np.exp(q_logvar) + q_mu**2 - 1 - q_logvar), axis=0)
    np.testing.assert_allclose(per_dim, reference, rtol=1e-8)  # the series near the prior
    np.testing.assert_allclose(
        per_dim.sum(), np.mean(vaelib.kl_normal_std(q_mu, q_logvar)), rtol=1e-12
    )


def test_latent_variance_counts_the_same_active_units_as_active_units():
    rng = np.random.default_rng(0)
    x = (rng.random((300, 784)) < 0.3).astype(np.float32)
    model = vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(32,), latent_size=6))
    q_mu, _ = diagnostics.encode(model, x, batch_size=128)
    variance = diagnostics.latent_variance(q_mu)
    threshold = float(np.median(variance))  # some dimensions on each side
    assert (variance > threshold).sum() == 3
    assert diagnostics.active_units(model, x, threshold=threshold) == 3
    np.testing.assert_allclose(
        variance, np.var(model.encoder(x)[0].numpy(), axis=0, ddof=1), rtol=1e-4
    )
    with pytest.raises(ValueError, match="N >= 2"):
        diagnostics.latent_variance(q_mu[:1])


def test_log_aggregate_posterior_against_scipy():
    q_mu, q_logvar = random_gaussians(n=30, d=2)
    z = np.random.default_rng(1).normal(size=(50, 2))
    components = np.stack(
        [
            scipy.stats.norm.logpdf(z, m, np.exp(0.5 * lv)).sum(-1)
            for m, lv in zip(q_mu, q_logvar, strict=False)
        ]
    )  # [N, M]
    reference = scipy.special.logsumexp(components, axis=0) - np.log(len(q_mu))
    np.testing.assert_allclose(
        diagnostics.log_aggregate_posterior(z, q_mu, q_logvar, chunk_size=7), reference, rtol=1e-10
    )
    with pytest.raises(ValueError, match="z must be"):
        diagnostics.log_aggregate_posterior(z[:, :1], q_mu, q_logvar)


def test_log_aggregate_posterior_is_exact_for_narrow_posteriors_in_many_dimensions():
    # The matrix-product form expands (z - mu)^2; with posteriors 100 times narrower than the
    # prior (w = 1e4) and codes drawn from them, it must still match the direct sum.
    rng = np.random.default_rng(2)
    q_mu = rng.normal(size=(40, 20)) * 3.0
    q_logvar = rng.uniform(-9.5, 0.5, size=(40, 20))
    pick = rng.integers(0, 40, 60)
    z = q_mu[pick] + np.exp(0.5 * q_logvar[pick]) * rng.normal(size=(60, 20))
    components = scipy.stats.norm.logpdf(
        z[:, None, :], q_mu[None], np.exp(0.5 * q_logvar)[None]
    ).sum(-1)  # [M, N]
    reference = scipy.special.logsumexp(components, axis=1) - np.log(40)
    for chunk_size in (1, 16, 1024):
        np.testing.assert_allclose(
            diagnostics.log_aggregate_posterior(z, q_mu, q_logvar, chunk_size=chunk_size),
            reference,
            rtol=1e-11,
            atol=1e-8,
        )


def test_surgery_terms_against_quadrature():
    """A 1-D aggregate posterior of five Gaussians: I_q and KL(q(z) || p(z)) by quadrature."""
    q_mu = np.array([[-1.5], [-0.4], [0.3], [1.1], [2.0]])
    q_logvar = np.log(np.array([[0.3], [0.5], [0.2], [0.8], [0.4]]))
    sd = np.exp(0.5 * q_logvar[:, 0])

    def log_q(z):
        return scipy.special.logsumexp(scipy.stats.norm.logpdf(z, q_mu[:, 0], sd)) - np.log(5)

    marginal = scipy.integrate.quad(
        lambda z: np.exp(log_q(z)) * (log_q(z) - scipy.stats.norm.logpdf(z)), -12, 12, limit=200
    )[0]
    info = np.mean(
        [
            scipy.integrate.quad(
                lambda z, m=m, s=s: (
                    scipy.stats.norm.pdf(z, m, s) * (scipy.stats.norm.logpdf(z, m, s) - log_q(z))
                ),
                -12,
                12,
                limit=200,
            )[0]
            for m, s in zip(q_mu[:, 0], sd, strict=False)
        ]
    )
    result = diagnostics.elbo_surgery(q_mu, q_logvar, samples_per_example=4000, seed=3)
    assert abs(result.mutual_information - info) < NUM_SE * result.mutual_information_se
    assert abs(result.marginal_kl - marginal) < NUM_SE * result.marginal_kl_se
    np.testing.assert_allclose(
        info + marginal, result.average_kl, rtol=1e-6
    )  # the identity, by quadrature
    assert (
        abs(result.mutual_information + result.marginal_kl - result.average_kl)
        < NUM_SE * result.sum_se
    )
    assert result.mutual_information <= result.log_n == pytest.approx(np.log(5))
    assert 0 < result.mutual_information_se < 0.05 and 0 < result.marginal_kl_se < 0.05


def test_surgery_standard_errors_match_the_spread_over_seeds():
    q_mu, q_logvar = random_gaussians(n=20, d=2)
    runs = [
        diagnostics.elbo_surgery(q_mu, q_logvar, samples_per_example=8, seed=s) for s in range(40)
    ]
    spread = np.std([r.mutual_information for r in runs], ddof=1)
    mean_se = np.mean([r.mutual_information_se for r in runs])
    assert 0.6 < spread / mean_se < 1.5  # 40 seeds: the ratio's own spread is about 0.11


def linear_gaussian_closed_forms(model: vaelib.LinearGaussian, mean_map, var):
    """Population terms for x ~ p(x) and the linear encoder q(z|x) = N((x - b) A, diag var)."""
    d = model.w.shape[1]
    data_cov = model.w @ model.w.T + model.noise_var * np.eye(len(model.b))
    code_cov = mean_map.T @ data_cov @ mean_map  # Cov_x of the encoder's mean
    marginal_cov = code_cov + np.diag(var)  # q(z) = N(0, code_cov + diag var)
    info = 0.5 * (np.linalg.slogdet(marginal_cov)[1] - np.sum(np.log(var)))
    marginal_kl = float(vaelib.kl_gaussians(np.zeros(d), marginal_cov, np.zeros(d), np.eye(d)))
    average_kl = 0.5 * (np.sum(var) + np.trace(code_cov) - d - np.sum(np.log(var)))
    return info, marginal_kl, average_kl


@pytest.mark.parametrize("var_scale", [1.0, 3.0])
def test_surgery_on_the_linear_gaussian_model_approaches_the_closed_forms(var_scale):
    """With x ~ p(x) the finite aggregate posterior tends to a Gaussian whose terms are closed
    forms.

    With the exact posterior's mean map and the diagonal of its covariance (``var_scale=1``)
    q(z) is close to the prior; with three times those variances q(z) is wider than the prior.
    """
    lg = vaelib.LinearGaussian.random(data_size=4, latent_size=2, noise_var=2.0, seed=1)
    encoder = LinearGaussianVAE(lg, var_scale=var_scale)
    info, marginal_kl, average_kl = linear_gaussian_closed_forms(lg, encoder.mean_map, encoder.var)
    assert info + marginal_kl == pytest.approx(
        average_kl, rel=1e-10
    )  # the identity, in closed form
    x = lg.sample(3000, seed=2)
    q_mu, q_logvar = diagnostics.encode(encoder, x, batch_size=1000)
    result = diagnostics.elbo_surgery(q_mu, q_logvar, samples_per_example=4, seed=0)
    # x is a sample of 3,000: the average KL differs from its population value by sampling noise
    # of x (about 0.03 nats here), I_q is biased down by the finite mixture, KL(q(z)||p(z)) up.
    assert result.average_kl == pytest.approx(average_kl, abs=0.08)
    assert result.mutual_information == pytest.approx(info, abs=0.08)
    assert result.marginal_kl == pytest.approx(marginal_kl, abs=0.08)


def test_surgery_arguments_are_checked():
    q_mu, q_logvar = random_gaussians(n=5)
    with pytest.raises(ValueError, match="samples_per_example must be an int >= 2"):
        diagnostics.elbo_surgery(q_mu, q_logvar, samples_per_example=1)
    with pytest.raises(ValueError, match="both be \\[N, latent\\]"):
        diagnostics.elbo_surgery(q_mu, q_logvar[:, :2])


def best_diagonal_gaussian(lg: vaelib.LinearGaussian, x):
    """The diagonal Gaussian closest to the posterior in KL(q || p(z|x)): the posterior's mean and
    variances 1 / (posterior precision)_jj (chapter 4, exercise 2)."""
    mean, cov = lg.posterior(x)
    return mean, 1.0 / np.diag(np.linalg.inv(cov))


def test_gaussian_elbo_matches_the_closed_form():
    lg = vaelib.LinearGaussian.random(data_size=5, latent_size=3, noise_var=0.7, seed=4)
    x = lg.sample(6, seed=5)
    rng = np.random.default_rng(0)
    q_mu, q_var = rng.normal(size=(6, 3)), np.exp(rng.normal(size=(6, 3)) - 1)
    estimate, se = diagnostics.gaussian_elbo(
        LinearGaussianVAE(lg), x, q_mu, np.log(q_var), num_samples=4000, chunk_size=1000
    )
    exact = np.array(
        [lg.elbo(x[i : i + 1], q_mu[i : i + 1], np.diag(q_var[i]))[0] for i in range(6)]
    )
    assert np.all(np.abs(estimate - exact) < NUM_SE * se + 1e-3)
    assert np.all(se > 0)


def test_optimized_gaussians_reach_the_best_diagonal_gaussian():
    lg = vaelib.LinearGaussian.random(data_size=5, latent_size=3, noise_var=0.7, seed=4)
    x = lg.sample(8, seed=5)
    model = LinearGaussianVAE(lg, mean_scale=0.3, var_scale=5.0)  # a poor encoder to start from
    fit = diagnostics.optimize_gaussians(model, x, steps=1500, num_samples=20, learning_rate=2e-2)
    mean, var = best_diagonal_gaussian(lg, x)
    np.testing.assert_allclose(fit.q_mu, mean, atol=0.05)
    np.testing.assert_allclose(
        np.exp(fit.q_logvar), np.broadcast_to(var, fit.q_logvar.shape), rtol=0.1
    )
    best = np.array([lg.elbo(x[i : i + 1], mean[i : i + 1], np.diag(var))[0] for i in range(8)])
    start = np.array(
        [
            lg.elbo(x[i : i + 1], q.numpy()[None], np.diag(np.exp(lv.numpy())))[0]
            for i, (q, lv) in enumerate(zip(*model.encoder(x), strict=False))
        ]
    )
    fitted = np.array(
        [
            lg.elbo(
                x[i : i + 1],
                fit.q_mu[i : i + 1].astype(np.float64),
                np.diag(np.exp(fit.q_logvar[i].astype(np.float64))),
            )[0]
            for i in range(8)
        ]
    )
    assert np.all(start < best - 0.5)  # the start was far from the optimum ...
    assert np.all(best - fitted < 0.01)  # ... and the fit closes the gap to within 0.01 nats
    assert (
        fit.elbo_trace.shape == (1500,)
        and fit.elbo_trace[-100:].mean() > fit.elbo_trace[:10].mean()
    )


def test_optimizing_gaussians_leaves_the_vae_unchanged():
    rng = np.random.default_rng(0)
    x = (rng.random((6, 784)) < 0.3).astype(np.float32)
    model = vaelib.VAE(vaelib.VAEConfig(hidden_sizes=(16,), latent_size=2))
    before = [v.numpy().copy() for v in model.trainable_variables]
    fit = diagnostics.optimize_gaussians(model, x, steps=20, num_samples=2)
    assert all(
        np.array_equal(a, v.numpy())
        for a, v in zip(before, model.trainable_variables, strict=False)
    )
    encoder_elbo, _ = diagnostics.gaussian_elbo(model, x, *model.encoder(x), num_samples=200)
    fitted_elbo, _ = diagnostics.gaussian_elbo(model, x, fit.q_mu, fit.q_logvar, num_samples=200)
    assert fitted_elbo.mean() > encoder_elbo.mean()  # 20 steps of ascent from the encoder's start


def test_gaussian_iwae_is_log_px_at_an_exact_diagonal_posterior():
    lg = vaelib.LinearGaussian(
        w=[[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], b=[0.1, -0.2, 0.3], noise_var=0.5
    )
    x = lg.sample(5, seed=3)
    mean, cov = lg.posterior(x)  # diagonal: W has orthogonal columns
    bound = diagnostics.gaussian_iwae(
        LinearGaussianVAE(lg),
        x,
        mean,
        np.log(np.diag(cov))[None].repeat(5, 0),
        num_samples=7,
        chunk_size=3,
    )
    np.testing.assert_allclose(bound, lg.log_px(x), atol=1e-4)  # every weight is p(x)


def test_gaussian_iwae_tightens_with_k_and_stays_below_log_px():
    lg = vaelib.LinearGaussian.random(data_size=5, latent_size=3, noise_var=0.7, seed=4)
    x = lg.sample(20, seed=5)
    model = LinearGaussianVAE(lg, mean_scale=0.8, var_scale=2.0)
    q_mu, q_logvar = model.encoder(x)
    small = diagnostics.gaussian_iwae(model, x, q_mu, q_logvar, num_samples=2, seed=1)
    large = diagnostics.gaussian_iwae(model, x, q_mu, q_logvar, num_samples=2000, seed=1)
    gap_small, gap_large = lg.log_px(x) - small, lg.log_px(x) - large  # [20] each
    assert gap_large.mean() < gap_small.mean()
    assert abs(gap_large.mean()) < 0.05  # one draw of L_k may exceed log p(x); its mean may not


def test_per_example_arguments_are_checked():
    lg = vaelib.LinearGaussian.random(data_size=5, latent_size=3, seed=4)
    model, x = LinearGaussianVAE(lg), lg.sample(4, seed=5)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        diagnostics.optimize_gaussians(model, x, steps=0)
    with pytest.raises(ValueError, match="init must be two"):
        diagnostics.optimize_gaussians(model, x, steps=1, init=(np.zeros((3, 3)), np.zeros((3, 3))))
    with pytest.raises(ValueError, match="for 4 images"):
        diagnostics.gaussian_elbo(model, x, np.zeros((4, 2)), np.zeros((4, 3)))
