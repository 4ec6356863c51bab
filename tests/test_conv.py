"""The convolutional encoder and decoder: Keras layers as the reference, shapes, one trace."""

import numpy as np
import pytest
import tensorflow as tf

from vaelib.bounds import vae_loss
from vaelib.conv import ConvDecoder, ConvEncoder, ConvVAEConfig
from vaelib.step import make_train_loop, stack_batches
from vaelib.train import FitConfig, fit
from vaelib.vae import VAE

CONFIG = ConvVAEConfig(channels=(4, 8), latent_size=3)


def keras_reference(encoder: ConvEncoder, decoder: ConvDecoder):
    """The same networks from Keras layers, with the modules' weights copied in."""
    c1, c2 = encoder.config.channels
    d = encoder.config.latent_size
    enc = tf.keras.Sequential(
        [
            tf.keras.Input((784,)),
            tf.keras.layers.Reshape((28, 28, 1)),
            tf.keras.layers.Conv2D(c1, 3, 2, "same", activation="relu"),
            tf.keras.layers.Conv2D(c2, 3, 2, "same", activation="relu"),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(2 * d),
        ]
    )
    dec = tf.keras.Sequential(
        [
            tf.keras.Input((d,)),
            tf.keras.layers.Dense(7 * 7 * c1, activation="relu"),
            tf.keras.layers.Reshape((7, 7, c1)),
            tf.keras.layers.Conv2DTranspose(c2, 3, 2, "same", activation="relu"),
            tf.keras.layers.Conv2DTranspose(c1, 3, 2, "same", activation="relu"),
            tf.keras.layers.Conv2DTranspose(decoder.num_params, 3, 1, "same"),
        ]
    )
    mine_enc = [encoder.conv1, encoder.conv2, encoder.dense]
    for layer, mine in zip([lay for lay in enc.layers if lay.weights], mine_enc, strict=False):
        layer.set_weights([mine.w.numpy(), mine.b.numpy()])
    mine_dec = [decoder.dense, decoder.deconv1, decoder.deconv2, decoder.out]
    for layer, mine in zip([lay for lay in dec.layers if lay.weights], mine_dec, strict=False):
        layer.set_weights([mine.w.numpy(), mine.b.numpy()])
    return enc, dec


@pytest.mark.parametrize("num_params", [1, 2])
def test_matches_keras_layers(num_params):
    encoder, decoder = ConvEncoder(CONFIG), ConvDecoder(CONFIG, num_params)
    for v in encoder.variables + decoder.variables:  # nonzero biases too
        v.assign(v + tf.random.stateless_normal(v.shape, seed=[1, 2]) * 0.1)
    enc, dec = keras_reference(encoder, decoder)
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    q_mu, q_logvar = encoder(x)
    np.testing.assert_allclose(
        np.concatenate([q_mu, q_logvar], -1), enc(x).numpy(), rtol=1e-4, atol=1e-5
    )
    z = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    want = dec(z).numpy()  # [5, 28, 28, num_params]: block i of x_params is channel i
    got = decoder(z).numpy().reshape(5, num_params, 784)
    for i in range(num_params):
        np.testing.assert_allclose(got[:, i], want[..., i].reshape(5, 784), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 7])
def test_shapes_any_batch_and_sample_axis(batch):
    model = VAE(CONFIG, likelihood="gaussian")
    x = np.random.default_rng(batch).random((batch, 784)).astype(np.float32)
    w = model.log_weights(x, 4)
    assert w["z"].shape == (4, batch, 3) and w["x_logits"].shape == (4, batch, 2 * 784)
    assert w["log_px_z"].shape == (4, batch)
    # the decoder maps each code alone: the sample axis is folded into the batch and back
    one = model.decoder(w["z"][2, -1:]).numpy()
    np.testing.assert_allclose(w["x_logits"][2, -1:].numpy(), one, rtol=1e-5, atol=1e-6)
    assert model.sample(3).shape == (3, 784) and model.reconstruct(x).shape == (batch, 784)


def test_parameter_count_and_config():
    model = VAE(ConvVAEConfig())  # TF's CVAE tutorial sizes, 10 latents
    count = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    encoder = (9 * 1 * 32 + 32) + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 20 + 20)
    decoder = (10 * 1568 + 1568) + (9 * 32 * 64 + 64) + (9 * 64 * 32 + 32) + (9 * 32 * 1 + 1)
    assert count == encoder + decoder
    assert "deconv 3x3/2" in ConvVAEConfig().describe()
    with pytest.raises(ValueError, match="channels must be two positive ints"):
        ConvVAEConfig(channels=(32,))
    with pytest.raises(ValueError, match="latent_size"):
        ConvVAEConfig(latent_size=0)
    with pytest.raises(ValueError, match="latent_size=3"):
        ConvDecoder(CONFIG)(tf.zeros([2, 4]))


def test_one_trace_and_training_lowers_the_loss():
    rng = np.random.default_rng(0)
    x = (rng.random((230, 784)) < np.linspace(0.05, 0.6, 784)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(50)  # 4 x 50, then 30
    model = VAE(CONFIG)
    # without XLA: on CPUs XLA compiles these convolutions slowly and runs them slower
    loop = make_train_loop(
        model,
        tf.keras.optimizers.Adam(1e-3),
        vae_loss,
        element_spec=ds.element_spec,
        jit_compile=False,
    )
    for _ in range(2):
        for stack in stack_batches(ds, 2):
            loop(stack)
    assert loop.experimental_get_tracing_count() == 1
    history = fit(
        model,
        tf.keras.optimizers.Adam(3e-3),
        vae_loss,
        ds,
        FitConfig(epochs=6, jit_compile=False, progress=False),
    )
    losses = history.column("train_loss")
    assert losses[-1] < losses[0] - 20
