"""vaelib.diagnostics.grid: log p(x) and the posterior on a grid, against the linear-Gaussian
model's closed forms, and the VAE's own log p(x, z)."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.diagnostics.grid import grid_posterior, refinement_check, vae_log_joint
from vaelib.diagnostics.surgery import reverse_marginal_kl

LG = vaelib.LinearGaussian.random(data_size=4, latent_size=2, noise_var=2.0, seed=1)


def lg_log_joint(x):
    w, b, s2 = (tf.constant(a, tf.float64) for a in (LG.w, LG.b, LG.noise_var))
    x = tf.constant(x, tf.float64)

    def log_joint(z):  # [G, 2] -> [G, batch]
        z = tf.cast(z, tf.float64)
        mean = tf.matmul(z, w, transpose_b=True)[:, None, :] + b  # [G, 1, D]
        log_px_z = -0.5 * tf.reduce_sum(
            np.log(2 * np.pi) + tf.math.log(s2) + (x - mean) ** 2 / s2, -1
        )
        log_pz = -0.5 * tf.reduce_sum(np.log(2 * np.pi) + z**2, -1)
        return log_px_z + log_pz[:, None]

    return log_joint


def test_log_px_and_the_posterior_are_the_closed_forms():
    x = LG.sample(5, seed=2)
    grid = grid_posterior(lg_log_joint(x), limit=6.0, num_points=201)
    np.testing.assert_allclose(grid.log_px, LG.log_px(x), atol=1e-6)
    mean, cov = LG.posterior(x)
    density = np.exp(grid.log_posterior) * grid.spacing**2  # [batch, m, m]
    np.testing.assert_allclose(density.sum(axis=(1, 2)), 1.0, atol=1e-9)
    z1, z2 = np.meshgrid(grid.axis, grid.axis, indexing="ij")
    got_mean = np.stack([(density * z1).sum((1, 2)), (density * z2).sum((1, 2))], 1)
    np.testing.assert_allclose(got_mean, mean, atol=1e-6)
    got_var = (density * (z1 - mean[:, :1, None]) ** 2).sum((1, 2))
    np.testing.assert_allclose(got_var, cov[0, 0], rtol=1e-5)
    assert np.all(grid.edge_mass < 1e-6)


def test_a_square_too_small_shows_in_the_edge_mass_and_the_refinement_agrees():
    x = LG.sample(3, seed=3)
    small = grid_posterior(lg_log_joint(x), limit=0.5, num_points=51)
    assert np.all(small.edge_mass > 1e-3)
    coarse, fine = refinement_check(lg_log_joint(x), limit=6.0, num_points=101)
    np.testing.assert_allclose(coarse, fine, atol=1e-6)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_log_joint_is_the_models_log_p_x_z_plus_log_p_z(likelihood):
    config = vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2)
    model = vaelib.VAE(config, likelihood=likelihood)
    x = (np.random.default_rng(0).random((3, 12)) < 0.5).astype(np.float32)
    z = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    got = vae_log_joint(model, x)(tf.constant(z)).numpy()  # [4, 3]
    zb = np.broadcast_to(z[:, None, :], (4, 3, 2))
    want = model.log_px_z(tf.constant(x), tf.constant(zb)).numpy() - 0.5 * np.sum(
        np.log(2 * np.pi) + zb**2, -1
    )
    np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(ValueError, match="latent_size 2"):
        vae_log_joint(vaelib.VAE(vaelib.VAEConfig(input_size=12, hidden_sizes=(8,))), x)


def test_bad_log_joints_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        grid_posterior(lambda z: tf.fill([tf.shape(z)[0], 2], np.nan), num_points=11)
    with pytest.raises(ValueError, match=r"\[G, batch\]"):
        grid_posterior(lambda z: tf.zeros([3]), num_points=11)


def test_reverse_marginal_kl_is_the_closed_form_for_one_gaussian():
    rng = np.random.default_rng(0)
    m, logvar = np.array([0.7, -0.3]), np.log(np.array([0.5, 2.0]))
    z = rng.standard_normal((20000, 2))
    log_pz = -0.5 * np.sum(np.log(2 * np.pi) + z**2, 1)
    values = reverse_marginal_kl(m[None], logvar[None], z, log_pz)
    estimate, se = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    var = np.exp(logvar)  # KL(N(0, I) || N(m, diag var))
    exact = 0.5 * np.sum(1 / var + m**2 / var - 1 + logvar)
    assert abs(estimate - exact) < 4 * se, (estimate, exact, se)
    zero = reverse_marginal_kl(np.zeros((1, 2)), np.zeros((1, 2)), z, log_pz)
    assert np.abs(zero).max() < 1e-9
    with pytest.raises(ValueError, match="z_prior"):
        reverse_marginal_kl(m[None], logvar[None], z[:, :1], log_pz)


def test_surgery_with_the_standard_normal_as_log_prior_is_the_default():
    from vaelib.diagnostics.surgery import elbo_surgery
    from vaelib.models.distributions import std_normal_log_prob

    rng = np.random.default_rng(3)
    q_mu, q_logvar = rng.normal(size=(50, 3)), rng.normal(-1, 0.3, size=(50, 3))
    default = elbo_surgery(q_mu, q_logvar, samples_per_example=8, seed=1)
    given = elbo_surgery(
        q_mu, q_logvar, samples_per_example=8, seed=1, log_prior=std_normal_log_prob
    )
    assert abs(default.marginal_kl - given.marginal_kl) < 1e-4
    assert abs(default.mutual_information - given.mutual_information) < 1e-9
    assert abs(given.average_kl - default.average_kl) < 4 * default.sum_se
    assert abs(default.marginal_per_example.mean() - default.marginal_kl) < 1e-9
