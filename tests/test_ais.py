"""vaelib.evaluation.ais: annealed importance sampling, checked against the linear-Gaussian
model's exact log p(x), against plain importance sampling at one step, and on a VAE against
its importance-weighted bound."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.evaluation.ais import AISConfig, ais, bdmc, sigmoid_schedule, vae_ais

LOG_2PI = np.log(2 * np.pi)


def linear_gaussian_densities(model: vaelib.LinearGaussian, x: np.ndarray):
    """log p(z) and log p(x|z) of the linear-Gaussian model, in TensorFlow (float64)."""
    w, b = tf.constant(model.w), tf.constant(model.b)
    x = tf.constant(x)

    def log_prior(z):
        return -0.5 * tf.reduce_sum(z**2 + LOG_2PI, axis=-1)

    def log_likelihood(z):  # z [chains, batch, d] -> [chains, batch]
        mean = tf.einsum("cbd,Dd->cbD", z, w) + b
        return -0.5 * tf.reduce_sum(
            (x - mean) ** 2 / model.noise_var + np.log(model.noise_var) + LOG_2PI, axis=-1
        )

    return log_prior, log_likelihood


@pytest.fixture(scope="module")
def linear_gaussian():
    model = vaelib.LinearGaussian.random(data_size=6, latent_size=2, noise_var=0.3, seed=3)
    x = model.sample(12, seed=4)
    return model, x


def test_the_schedules_run_from_0_to_1_and_increase():
    for kind in ("sigmoid", "linear"):
        betas = sigmoid_schedule(50, kind).numpy()
        assert betas[0] == 0 and betas[-1] == 1 and np.all(np.diff(betas) > 0)
    with pytest.raises(ValueError, match="kind"):
        sigmoid_schedule(5, "cosine")


def test_one_step_is_importance_sampling_from_the_prior(linear_gaussian):
    """With T = 1 the weight of a chain is log p(x|z_0): AIS is plain importance sampling with
    the prior as proposal, exactly."""
    model, x = linear_gaussian
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    config = AISConfig(num_steps=1, num_chains=64, leapfrog_steps=2)
    z0 = tf.random.stateless_normal([64, len(x), 2], seed=[5, 0], dtype=tf.float64)
    result = ais(log_prior, log_likelihood, z0, config, seed=1)
    expected = tf.reduce_logsumexp(log_likelihood(z0), axis=0) - np.log(64)
    np.testing.assert_allclose(result.log_px.numpy(), expected.numpy(), rtol=0, atol=1e-10)


def test_the_weights_are_unbiased_for_p_x_and_the_estimate_recovers_log_p_x(linear_gaussian):
    """AIS's defining property: each chain's exp(log weight) is an unbiased estimate of p(x).
    So exp(log w - log p(x)), over every chain and example, has mean 1 (checked within 4
    standard errors); and each example's estimate is within 4 of its own standard errors (the
    chains' spread) of the exact log p(x), with no systematic excess (a lower bound in
    expectation)."""
    model, x = linear_gaussian
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    config = AISConfig(num_steps=500, num_chains=32, leapfrog_steps=5, step_size=0.1)
    z0 = tf.random.stateless_normal([32, len(x), 2], seed=[6, 0], dtype=tf.float64)
    result = ais(log_prior, log_likelihood, z0, config, seed=2)
    exact = model.log_px(x)
    ratio = np.exp(result.log_weights.numpy() - exact).ravel()  # [chains * batch]
    assert abs(ratio.mean() - 1) < 4 * ratio.std(ddof=1) / np.sqrt(ratio.size), ratio.mean()
    error = result.log_px.numpy() - exact
    se = result.log_weights.numpy().std(axis=0, ddof=1) / np.sqrt(config.num_chains)
    assert np.all(np.abs(error) < 4 * se + 0.02), (error, se)
    assert error.mean() < 2 * np.sqrt(np.sum(se**2)) / len(se)
    acceptance = result.acceptance.numpy()
    assert np.all((acceptance > 0.4) & (acceptance < 0.95)), acceptance  # the tuning worked


def test_more_steps_tighten_the_estimate(linear_gaussian):
    model, x = linear_gaussian
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    z0 = tf.random.stateless_normal([8, len(x), 2], seed=[7, 0], dtype=tf.float64)
    errors = []
    for steps in (2, 100):
        config = AISConfig(num_steps=steps, num_chains=8, leapfrog_steps=5, step_size=0.1)
        result = ais(log_prior, log_likelihood, z0, config, seed=3)
        errors.append(np.mean(np.abs(result.log_px.numpy() - model.log_px(x))))
    assert errors[1] < errors[0] / 3, errors


def test_on_a_vae_it_lies_above_the_elbo_and_near_a_large_k_bound():
    """An untrained small VAE: AIS's estimate is above the ELBO (a looser bound) and within a
    fraction of a nat of L_1000 (both estimate the same log p(x))."""
    vaelib.set_seed(0)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2))
    x = tf.constant((np.random.default_rng(0).random((6, 12)) < 0.4).astype(np.float32))
    result = vae_ais(model, x, AISConfig(num_steps=100, num_chains=8, leapfrog_steps=5), seed=0)
    elbo = vaelib.elbo(model, x, num_samples=1000, seed=tf.constant([0, 0]))
    iwae = vaelib.iwae_bound(model, x, 1000, seed=0)
    assert np.all(result.log_px.numpy() > elbo.numpy() - 0.05)
    np.testing.assert_allclose(result.log_px.numpy(), iwae.numpy(), atol=0.3)


def test_bad_arguments_are_refused(linear_gaussian):
    model, x = linear_gaussian
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    with pytest.raises(ValueError, match="num_steps"):
        AISConfig(num_steps=0)
    with pytest.raises(ValueError, match="step_size"):
        AISConfig(step_size=-0.1)
    with pytest.raises(ValueError, match="schedule"):
        AISConfig(schedule="cosine")
    with pytest.raises(ValueError, match="z0 must be"):
        ais(log_prior, log_likelihood, tf.zeros([3, len(x), 2], tf.float64), AISConfig())
    bad = tf.fill([16, len(x), 2], tf.constant(np.nan, tf.float64))
    with pytest.raises(ValueError, match="NaN"):
        ais(log_prior, log_likelihood, bad, AISConfig(num_chains=16))


def test_bdmc_sandwiches_the_exact_log_likelihood():
    """The reverse pass starts from exact posterior draws (for simulated data, the z each x
    was made from, Grosse et al. 2015; here drawn from the closed-form posterior). The forward
    estimate is below and the reverse one above the exact log p(x), each up to its noise (4
    standard errors over the examples), and with a long path the sandwich is narrow."""
    model = vaelib.LinearGaussian.random(data_size=6, latent_size=2, noise_var=0.3, seed=5)
    num_chains, n = 16, 12
    rng = np.random.default_rng(6)
    # exact posterior draws for x: its own Gaussian posterior (closed form)
    x = model.sample(n, seed=7)
    mean, cov = model.posterior(x)
    chol = np.linalg.cholesky(cov)
    z_post = mean[None] + rng.normal(size=(num_chains, n, 2)) @ chol.T
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    z0 = tf.random.stateless_normal([num_chains, n, 2], seed=[8, 0], dtype=tf.float64)
    config = AISConfig(num_steps=500, num_chains=num_chains, leapfrog_steps=5, step_size=0.1)
    forward, upper = bdmc(log_prior, log_likelihood, z0, tf.constant(z_post), config, seed=3)
    exact = model.log_px(x)
    below, above = forward.log_px.numpy() - exact, upper.numpy() - exact

    def se(d):
        return d.std(ddof=1) / np.sqrt(len(d))

    assert below.mean() < 4 * se(below), below
    assert above.mean() > -4 * se(above), above
    assert np.mean(upper.numpy() - forward.log_px.numpy()) < 0.3


def test_with_and_without_xla_the_same_chains(linear_gaussian):
    """``jit_compile`` changes how a transition runs, not what it computes (float64 here)."""
    model, x = linear_gaussian
    log_prior, log_likelihood = linear_gaussian_densities(model, x)
    z0 = tf.random.stateless_normal([4, len(x), 2], seed=[9, 0], dtype=tf.float64)
    results = [
        ais(log_prior, log_likelihood, z0, AISConfig(20, 4, 3, jit_compile=jit), seed=3)
        for jit in (True, False)
    ]
    for name in ("log_weights", "acceptance", "step_sizes"):
        np.testing.assert_allclose(
            getattr(results[0], name).numpy(), getattr(results[1], name).numpy(), rtol=1e-9
        )
    assert AISConfig().jit_compile is True
    with pytest.raises(TypeError, match="jit_compile must be True or False"):
        AISConfig(jit_compile=1)
