"""VAE modules: shapes for any batch size, reparameterization, sampling, bad input."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from vaelib.vae import VAE, VAEConfig, reparameterize

SMALL = VAEConfig(input_size=12, hidden_sizes=(16,), latent_size=3)


@pytest.mark.parametrize("batch", [1, 7, 100])
@pytest.mark.parametrize("num_samples", [1, 5])
def test_shapes_any_batch(batch, num_samples):
    model = VAE(SMALL)
    x = tf.cast(tf.random.uniform([batch, 12]) < 0.5, tf.float32)
    w = model.log_weights(x, num_samples)
    assert w["q_mu"].shape == w["q_logvar"].shape == (batch, 3)
    assert w["z"].shape == w["eps"].shape == (num_samples, batch, 3)
    assert w["x_logits"].shape == (num_samples, batch, 12)
    for key in ("log_px_z", "log_pz", "log_qz_x"):
        assert w[key].shape == (num_samples, batch) and w[key].dtype == tf.float32


def test_z_is_reparameterized_noise():
    model = VAE(SMALL)
    x = tf.ones([4, 12])
    w = model.log_weights(x, 2, seed=tf.constant([1, 2]))
    expected = w["q_mu"].numpy() + np.exp(0.5 * w["q_logvar"].numpy()) * w["eps"].numpy()
    np.testing.assert_allclose(w["z"].numpy(), expected, rtol=1e-5, atol=1e-6)
    again = model.log_weights(x, 2, seed=tf.constant([1, 2]))
    np.testing.assert_array_equal(w["z"].numpy(), again["z"].numpy())


def test_reparameterization_gradients_flow_to_q():
    q_mu, q_logvar = tf.Variable([[0.3]]), tf.Variable([[-0.2]])
    eps = tf.constant([[[1.5]]])
    with tf.GradientTape() as tape:
        z = reparameterize(q_mu, q_logvar, eps)
    d_mu, d_logvar = tape.gradient(z, [q_mu, q_logvar])
    assert float(d_mu[0, 0]) == pytest.approx(1.0)
    assert float(d_logvar[0, 0]) == pytest.approx(0.5 * np.exp(-0.1) * 1.5, rel=1e-6)


def test_default_is_the_notes_architecture():
    model = VAE()
    sizes = [tuple(v.shape) for v in model.encoder.trainable_variables if v.name.endswith("w:0")]
    assert sorted(sizes) == sorted([(784, 500), (500, 500), (500, 20)])
    assert model.sample(6).shape == (6, 784)
    assert model.reconstruct(tf.zeros([2, 784])).shape == (2, 784)


def test_bad_input():
    model = VAE(SMALL)
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 12\], got \(4, 13\)"):
        model.log_weights(tf.zeros([4, 13]))
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 12\], got \(12,\)"):
        model.log_weights(tf.zeros([12]))
    with pytest.raises(ValueError, match="latent_size must be a positive int, got 0"):
        VAEConfig(latent_size=0)
    with pytest.raises(ValueError, match="activation must be one of"):
        VAEConfig(activation="gelu")


def test_asymmetric_decoder_like_the_notes():
    config = VAEConfig(hidden_sizes=(500, 500, 500), decoder_hidden_sizes=(500, 500))
    model = VAE(config)
    sizes = [tuple(v.shape) for v in model.decoder.trainable_variables if v.name.endswith("w:0")]
    assert sorted(sizes) == sorted([(10, 500), (500, 500), (500, 784)])
    with pytest.raises(ValueError, match="decoder_hidden_sizes"):
        VAEConfig(decoder_hidden_sizes=())


def test_input_validation_names_the_problem():
    model = VAE(SMALL)
    with pytest.raises(
        TypeError, match="float pixels in \\[0, 1\\], got dtype uint8.*vaelib.binarize"
    ):
        model.log_weights(np.zeros((2, 12), np.uint8))
    with pytest.raises(ValueError, match="x must lie in \\[0, 1\\].*from 0 to 255"):
        model.log_weights(
            np.full((2, 12), 255.0, np.float32) * np.array([[0.0] * 11 + [1.0]], np.float32)
        )
    with pytest.raises(
        ValueError, match="z must have latent_size=3 on its last axis, got shape \\(4, 5\\)"
    ):
        model.decoder(tf.zeros([4, 5]))


def test_log_qz_x_is_exact_at_tiny_variances():
    """z - q_mu cancels in float32 when q_logvar = -30 and q_mu = 1; log_qz_x must not."""
    model = VAE(SMALL)
    last = model.encoder.net.layers[-1]
    last.w.assign(tf.zeros_like(last.w))
    last.b.assign([1.0, -2.0, 0.5, -30.0, -25.0, -35.0])  # q_mu, then q_logvar
    w = model.log_weights(tf.ones([2, 12]), 3, seed=tf.constant([0, 7]))
    eps, q_logvar = w["eps"].numpy().astype(np.float64), w["q_logvar"].numpy().astype(np.float64)
    sd = np.exp(0.5 * q_logvar)
    expected = stats.norm.logpdf(eps * sd, 0.0, sd).sum(-1)  # float64, centred: no cancellation
    np.testing.assert_allclose(w["log_qz_x"].numpy(), expected, rtol=1e-6)


def test_nan_pixels_and_labelled_batches_are_refused():
    model = VAE(SMALL)
    x = np.zeros((3, 12), np.float32)
    x[1, 4] = np.nan
    with pytest.raises(ValueError, match="x holds NaN or infinite pixels \\(first in example 1\\)"):
        model.log_weights(x)
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.reconstruct(np.full((1, 12), np.inf, np.float32))
    with pytest.raises(
        TypeError, match=r"got a tuple of 2: a labelled batch \(x, y\).*lambda x, y: x"
    ):
        model.log_weights((np.zeros((3, 12), np.float32), np.zeros(3, np.int32)))


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="input_size must be a positive int, got True"):
        VAEConfig(input_size=True)
    with pytest.raises(ValueError, match="seed must be an int, got 1.5"):
        VAEConfig(seed=1.5)
    assert VAEConfig(hidden_sizes=[3, 2]).hidden_sizes == (3, 2)  # a list is kept as a tuple
    with pytest.raises(ValueError, match="num must be a positive int, got 0"):
        VAE(SMALL).sample(0)
    with pytest.raises(
        ValueError, match=r"expected inputs \[batch, 3\] \(a batch axis first\), got shape \(3,\)"
    ):
        VAE(SMALL).decoder(tf.zeros([3]))


def test_default_model_unchanged_by_the_likelihood_option():
    """Checkpoints of the default model keep their fingerprint: no new config fields, no new
    variables, the same initial weights as an explicit Bernoulli (issue 14)."""
    from vaelib.checkpoint import fingerprint
    from vaelib.likelihoods import Bernoulli

    default, explicit = VAE(), VAE(VAEConfig(), likelihood=Bernoulli())
    fp = fingerprint(default)
    assert fp == fingerprint(explicit)
    assert sorted(k for k in fp if k.startswith("config.")) == [
        "config.activation",
        "config.decoder_hidden_sizes",
        "config.hidden_sizes",
        "config.input_size",
        "config.latent_size",
        "config.seed",
    ]
    assert not any("likelihood" in k for k in fp)
    assert sorted(tuple(v.shape) for v in default.decoder.variables if v.shape[-1] == 784) == [
        (500, 784),
        (784,),
    ]
    for a, b in zip(default.variables, explicit.variables, strict=False):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(TypeError, match="config must be a vaelib.VAEConfig"):
        VAE({"latent_size": 3})
