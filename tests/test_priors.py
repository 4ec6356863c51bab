"""vaelib.models.priors and vaelib.objectives.prior_loss: learned priors against SciPy and
against the encoder's own Gaussians; the Monte Carlo ELBO under N(0, I) against the analytic
one; training moves the prior, and the compiled step traces once."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

import vaelib
from vaelib.models.priors import MixturePrior, StandardNormalPrior, VampPrior, mixture_log_prob
from vaelib.objectives.prior_loss import prior_elbo, prior_loss
from vaelib.training.step import make_train_step

SMALL = vaelib.VAEConfig(input_size=12, hidden_sizes=(8,), latent_size=2, seed=0)


def binary(n, seed=0):
    return (np.random.default_rng(seed).random((n, 12)) < 0.4).astype(np.float32)


def test_mixture_log_prob_is_scipys():
    rng = np.random.default_rng(1)
    k, d = 4, 3
    mu, logvar = rng.normal(size=(k, d)), rng.normal(size=(k, d)) * 0.5
    logits = rng.normal(size=k)
    z = rng.normal(size=(7, d)) * 2
    log_w = logits - special.logsumexp(logits)
    want = special.logsumexp(
        [
            log_w[j] + stats.multivariate_normal(mu[j], np.diag(np.exp(logvar[j]))).logpdf(z)
            for j in range(k)
        ],
        axis=0,
    )
    got = mixture_log_prob(tf.constant(z), tf.constant(log_w), tf.constant(mu), tf.constant(logvar))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_mixture_prior_samples_have_its_mean():
    prior = MixturePrior(2, num_components=3, seed=2)
    prior.logits.assign([0.0, 1.0, -1.0])
    samples = prior.sample(20_000, seed=3).numpy()
    weights = special.softmax([0.0, 1.0, -1.0])
    mean = weights @ prior.mu.numpy()
    se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 4 * se)


def test_vampprior_is_the_encoders_mixture_at_the_pseudo_inputs():
    model = vaelib.VAE(SMALL)
    u = binary(5, seed=4)
    prior = VampPrior(model.encoder, u)
    z = np.random.default_rng(5).normal(size=(3, 6, 2))
    mu, logvar = (t.numpy().astype(np.float64) for t in model.encoder(tf.constant(u)))
    per = np.stack(
        [stats.multivariate_normal(mu[j], np.diag(np.exp(logvar[j]))).logpdf(z) for j in range(5)],
        axis=-1,
    )  # [3, 6, 5]
    want = special.logsumexp(per, axis=-1) - np.log(5)
    np.testing.assert_allclose(
        prior.log_prob(tf.constant(z, tf.float32)).numpy(), want, rtol=1e-4, atol=1e-4
    )


def test_under_the_standard_normal_the_monte_carlo_elbo_is_the_analytic_one():
    """With N(0, I) as the prior, prior_elbo is the Monte Carlo ELBO of the same codes, and
    with many codes its KL term is within 4 standard errors of the closed-form KL."""
    model = vaelib.VAE(SMALL)
    x = tf.constant(binary(6, seed=6))
    k = 4000
    eps = tf.random.stateless_normal([k, 6, 2], seed=[7, 0])
    q_mu, q_logvar = model.encoder(x)
    z = vaelib.reparameterize(q_mu, q_logvar, eps)
    kl_samples = (
        vaelib.normal_log_prob_from_eps(eps, q_logvar) - vaelib.std_normal_log_prob(z)
    ).numpy()  # [k, batch]
    per_sample = model.log_px_z(x, z).numpy() - kl_samples
    out = prior_elbo(model, x, StandardNormalPrior(2), k, eps=eps)
    np.testing.assert_allclose(out["elbo"].numpy(), per_sample.mean(axis=0), rtol=1e-5)
    exact_kl = vaelib.kl_normal_std(q_mu, q_logvar).numpy()
    se = kl_samples.std(axis=0, ddof=1) / np.sqrt(k)
    assert np.all(np.abs(out["kl"].numpy() - exact_kl) < 4 * se), (out["kl"], exact_kl, se)


@pytest.mark.parametrize("kind", ["mixture", "vamp"])
def test_training_moves_the_prior_and_the_step_traces_once(kind):
    vaelib.set_seed(0)
    model = vaelib.VAE(SMALL)
    prior = (
        MixturePrior(2, 5, seed=1)
        if kind == "mixture"
        else VampPrior(model.encoder, binary(5, seed=8))
    )
    model.prior = prior  # so that its variables are the model's, and train with it
    before = [
        v.numpy().copy()
        for v in prior.trainable_variables
        if "pseudo" in v.name or kind == "mixture"
    ]
    data = tf.data.Dataset.from_tensor_slices(binary(23, seed=9)).batch(10)  # 10, 10, 3
    step = make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-2),
        prior_loss(prior),
        element_spec=data.element_spec,
        jit_compile=True,
    )
    for _ in range(3):
        for batch in data:
            out = step(batch)
            assert np.isfinite(float(out["loss"])) and set(out) >= {"elbo", "kl", "log_px_z"}
    assert step.experimental_get_tracing_count() == 1
    after = [
        v.numpy() for v in prior.trainable_variables if "pseudo" in v.name or kind == "mixture"
    ]
    assert any(np.abs(a - b).max() > 0 for a, b in zip(after, before, strict=True))


def test_bad_arguments_are_refused():
    model = vaelib.VAE(SMALL)
    with pytest.raises(ValueError, match="pseudo_inputs must be"):
        VampPrior(model.encoder, np.zeros((0, 12)))
    with pytest.raises(ValueError, match="NaN"):
        VampPrior(model.encoder, np.full((2, 12), np.nan))
    with pytest.raises(ValueError, match="num_components"):
        MixturePrior(2, num_components=0)


def test_a_warm_up_weights_the_kl_from_zero_and_reports_the_true_elbo():
    vaelib.set_seed(0)
    model = vaelib.VAE(SMALL)
    model.prior = MixturePrior(2, 3, seed=1)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    loss = prior_loss(model.prior, warmup_steps=4, optimizer=optimizer)
    data = tf.data.Dataset.from_tensor_slices(binary(40, seed=2)).batch(10)
    step = make_train_step(model, optimizer, loss, element_spec=data.element_spec)
    weights = []
    for batch in data:
        out = step(batch)
        weights.append(float(out["kl_weight"]))
        # the loss is the warmed-up one; "elbo" stays the bound itself
        np.testing.assert_allclose(
            float(out["loss"]),
            -(float(out["log_px_z"]) - weights[-1] * float(out["kl"])),
            rtol=1e-5,
        )
        np.testing.assert_allclose(
            float(out["elbo"]), float(out["log_px_z"]) - float(out["kl"]), rtol=1e-5
        )
    assert weights == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="optimizer"):
        prior_loss(model.prior, warmup_steps=4)
    plain = prior_loss(model.prior)(model, tf.constant(binary(5, seed=3)))
    assert float(plain["kl_weight"]) == 1.0
