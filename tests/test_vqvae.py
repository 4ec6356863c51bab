"""vaelib.models.vqvae: shapes; the forward pass decodes the nearest codes; the encoder's
gradient is the decoder's gradient at z_q (straight-through); the loss is van den Oord et
al.'s, with the EMA codebook moved by the call instead of the codebook loss; the bound under
the uniform prior and under a learned prior; fit trains it and its step traces once."""

import math

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.models.code_prior import PixelCNNPrior
from vaelib.models.distributions import bernoulli_log_prob
from vaelib.models.vqvae import VQVAE, VQVAEConfig, vq_bound, vq_loss
from vaelib.training.step import make_train_step

SMALL = VQVAEConfig(channels=(4, 8), code_size=3, num_codes=6, seed=0)


def images(n, seed=0):
    return (np.random.default_rng(seed).random((n, 784)) < 0.3).astype(np.float32)


def test_shapes_and_the_forward_pass_decodes_the_nearest_codes():
    model = VQVAE(SMALL)
    x = images(5)
    z_e = model.encoder(x)
    assert z_e.shape == (5, 7, 7, 3)
    codes = model.codes(x)
    assert codes.shape == (5, 7, 7) and codes.dtype == tf.int32
    x_logits, q = model(x)
    assert x_logits.shape == (5, 784)
    np.testing.assert_array_equal(q.codes.numpy(), codes.numpy())
    np.testing.assert_allclose(
        x_logits.numpy(), model.decode_codes(codes).numpy(), rtol=1e-5, atol=1e-5
    )


def test_the_encoders_gradient_is_the_decoders_at_the_nearest_codes():
    model = VQVAE(SMALL)
    x = tf.constant(images(3, seed=1))
    z_e = model.encoder(x)
    with tf.GradientTape() as tape:
        tape.watch(z_e)
        q = model.quantizer(z_e)
        through = tf.reduce_sum(bernoulli_log_prob(x, model.decoder(q.z_q_st)))
    z_q = tf.identity(q.z_q)
    with tf.GradientTape() as tape2:
        tape2.watch(z_q)
        at_codes = tf.reduce_sum(bernoulli_log_prob(x, model.decoder(z_q)))
    np.testing.assert_allclose(
        tape.gradient(through, z_e).numpy(),
        tape2.gradient(at_codes, z_q).numpy(),
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.parametrize("ema", [None, 0.9])
def test_the_loss_is_van_den_oords_and_an_ema_codebook_moves_in_the_call(ema):
    config = VQVAEConfig(channels=(4, 8), code_size=3, num_codes=6, ema_decay=ema)
    model = VQVAE(config)
    x = images(4, seed=2)
    z_e = model.encoder(x)
    before = model.quantizer.codebook.numpy().copy()
    q = model.quantizer(z_e)
    log_px_z = bernoulli_log_prob(x, model.decoder(q.z_q)).numpy().mean()
    out = vq_loss(model, x)  # moves an EMA codebook
    moved = np.abs(model.quantizer.codebook.numpy() - before).max()
    assert (moved > 0) == (ema is not None)
    want = -log_px_z + 0.25 * q.commitment_loss.numpy()
    if ema is None:
        want += q.codebook_loss.numpy()
    assert float(out["loss"]) == pytest.approx(want, rel=1e-5)
    assert float(out["elbo_uniform"]) == pytest.approx(log_px_z - 49 * math.log(6), rel=1e-5)
    assert 1.0 <= float(out["perplexity"]) <= 6.0


def test_the_bound_under_the_uniform_prior_and_under_a_learned_one():
    model = VQVAE(SMALL)
    x = images(3, seed=3)
    uniform = vq_bound(model, x)
    np.testing.assert_allclose(uniform["log_pc"].numpy(), -49 * math.log(6), rtol=1e-6)
    prior = PixelCNNPrior(6, (7, 7), embed_size=4, hidden=8, num_layers=1)
    learned = vq_bound(model, x, prior)
    np.testing.assert_allclose(
        learned["log_pc"].numpy(), prior.log_prob(model.codes(x)).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(
        learned["bound"].numpy(),
        learned["log_px_z"].numpy() + learned["log_pc"].numpy(),
        rtol=1e-6,
    )


def test_fit_trains_it_and_the_step_traces_once():
    model = VQVAE(SMALL)
    x = images(64, seed=4)
    data = tf.data.Dataset.from_tensor_slices(x).batch(16)
    history = vaelib.fit(
        model,
        tf.keras.optimizers.Adam(3e-3),
        vq_loss,
        data,
        vaelib.FitConfig(epochs=4, progress=False, jit_compile=False),
    )
    losses = history.column("train_loss")
    assert losses[-1] < losses[0]
    step = make_train_step(
        VQVAE(SMALL),
        tf.keras.optimizers.Adam(1e-3),
        vq_loss,
        element_spec=data.element_spec,
        jit_compile=True,
    )
    for _ in range(2):
        for batch in data:
            assert np.isfinite(float(step(batch)["loss"]))
    assert step.experimental_get_tracing_count() == 1


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match=r"x must be \[batch, 784\]"):
        VQVAE(SMALL).codes(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match="ema_decay must be None or in"):
        VQVAEConfig(ema_decay=1.5)
    with pytest.raises(ValueError, match="commitment"):
        VQVAEConfig(commitment=-1.0)
