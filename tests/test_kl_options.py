"""vaelib.kl_options: beta, free bits and a KL warm-up; the default is vae_loss itself."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.kl_options import KLOptions, kl_loss, kl_per_dimension_batch
from vaelib.step import make_train_loop, make_train_step, stack_batches

CONFIG = vaelib.VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=3, seed=0)


def binary_images(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, CONFIG.input_size)) < 0.4).astype(np.float32)


def dataset(batch_size=20):
    return tf.data.Dataset.from_tensor_slices(binary_images()).batch(batch_size)  # 20, 20, 10


def test_default_options_are_the_plain_elbo_loss():
    assert kl_loss() is vaelib.vae_loss
    assert kl_loss(KLOptions(), tf.keras.optimizers.Adam()) is vaelib.vae_loss
    assert KLOptions().is_elbo and not KLOptions(beta=2.0).is_elbo


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"beta": 0.0}, ValueError, "beta must be positive"),
        ({"beta": float("nan")}, ValueError, "beta must be a finite number"),
        ({"beta": True}, TypeError, "beta must be a finite number"),
        ({"free_bits": -0.1}, ValueError, "free_bits must be >= 0"),
        ({"warmup_steps": 1.5}, TypeError, "warmup_steps must be a non-negative int"),
        ({"warmup_steps": -1}, ValueError, "warmup_steps must be a non-negative int"),
    ],
)
def test_options_are_checked(kwargs, error, match):
    with pytest.raises(error, match=match):
        KLOptions(**kwargs)


def test_factory_arguments_are_checked():
    with pytest.raises(TypeError, match="options must be a vaelib.KLOptions"):
        kl_loss({"beta": 2.0})
    with pytest.raises(ValueError, match="pass optimizer="):
        kl_loss(KLOptions(warmup_steps=10))
    with pytest.raises(TypeError, match="Keras optimizer"):
        kl_loss(KLOptions(beta=2.0), optimizer="adam")


def test_per_dimension_kl_sums_to_the_kl():
    rng = np.random.default_rng(1)
    q_mu, q_logvar = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    per_dim = kl_per_dimension_batch(tf.constant(q_mu), tf.constant(q_logvar)).numpy()
    reference = 0.5 * (np.exp(q_logvar) + q_mu**2 - 1 - q_logvar)  # Kingma & Welling, appendix B
    np.testing.assert_allclose(per_dim, reference, rtol=1e-8)  # the series near the prior


def terms_with_the_noise_of(options, x):
    """Two identical models (same seed, same noise): the option's loss and vae_loss's terms."""
    a, b = vaelib.VAE(CONFIG), vaelib.VAE(CONFIG)
    out = kl_loss(options)(a, x)
    plain = vaelib.vae_loss(b, x)
    q_mu, q_logvar = (t.numpy().astype(np.float64) for t in a.encoder(x))
    return out, plain, q_mu, q_logvar


def test_beta_weights_the_kl_and_reports_the_elbo():
    x = binary_images(20)
    out, plain, _, _ = terms_with_the_noise_of(KLOptions(beta=4.0), x)
    for key in ("elbo", "log_px_z", "kl"):
        np.testing.assert_allclose(out[key], plain[key], rtol=1e-6)
    np.testing.assert_allclose(out["loss"], -plain["log_px_z"] + 4.0 * plain["kl"], rtol=1e-6)
    assert float(out["kl_weight"]) == 4.0


def test_free_bits_charge_each_dimension_at_least_lambda():
    x = binary_images(20)
    q_mu, q_logvar = (t.numpy().astype(np.float64) for t in vaelib.VAE(CONFIG).encoder(x))
    per_dim = np.mean(0.5 * (np.exp(q_logvar) + q_mu**2 - 1 - q_logvar), axis=0)  # [latent], numpy
    free_bits = float(np.median(per_dim))  # one dimension below the floor, one above
    assert (per_dim < free_bits).sum() == 1 and (per_dim > free_bits).sum() == 1
    out, plain, _, _ = terms_with_the_noise_of(KLOptions(beta=2.0, free_bits=free_bits), x)
    charged = np.sum(np.maximum(free_bits, per_dim))
    np.testing.assert_allclose(out["loss"], -float(plain["log_px_z"]) + 2.0 * charged, rtol=1e-5)
    np.testing.assert_allclose(
        out["kl"], per_dim.sum(), rtol=1e-5
    )  # the true KL, not the charged one
    np.testing.assert_allclose(out["elbo"], plain["elbo"], rtol=1e-5)


def test_free_bits_give_no_kl_gradient_below_lambda():
    """A dimension whose batch-mean KL is below lambda gets its gradient from log p(x|z) alone."""
    x = binary_images(20)
    model = vaelib.VAE(CONFIG)
    options = KLOptions(free_bits=1e6)  # every dimension is below the floor
    with tf.GradientTape() as tape:
        loss = kl_loss(options)(model, x)["loss"]
    with_floor = tape.gradient(loss, model.encoder.trainable_variables)
    twin = vaelib.VAE(CONFIG)  # the same weights and noise
    with tf.GradientTape() as tape:
        reconstruction = -vaelib.vae_loss(twin, x)["log_px_z"]
    only_reconstruction = tape.gradient(reconstruction, twin.encoder.trainable_variables)
    for a, b in zip(with_floor, only_reconstruction, strict=False):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_warm_up_weight_follows_the_optimizer_step_in_a_compiled_loop_traced_once():
    model = vaelib.VAE(CONFIG)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    options = KLOptions(beta=2.0, warmup_steps=4)
    ds = dataset()
    loop = make_train_loop(
        model,
        optimizer,
        kl_loss(options, optimizer),
        element_spec=ds.element_spec,
        jit_compile=True,
    )
    weights = []
    for _ in range(2):  # two epochs: stacks of 2 batches of 20, then one of 10
        for stack in stack_batches(ds, 2):
            ran, metrics = loop(stack)
            weights.extend(metrics["kl_weight"].numpy()[: int(ran)])
    expected = [2.0 * min(1.0, t / 4) for t in range(6)]
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert loop.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "options",
    [
        KLOptions(beta=0.5),
        KLOptions(free_bits=0.25),
        KLOptions(beta=3.0, free_bits=0.1, warmup_steps=3),
    ],
)
def test_each_option_traces_one_step(options):
    model = vaelib.VAE(CONFIG)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    ds = dataset()
    step = make_train_step(
        model, optimizer, kl_loss(options, optimizer), element_spec=ds.element_spec
    )
    for _ in range(2):
        for batch in ds:
            metrics = step(batch)
            assert np.isfinite(float(metrics["loss"]))
    assert step.experimental_get_tracing_count() == 1


def test_a_resumed_fit_continues_the_warm_up(tmp_path):
    options = KLOptions(beta=1.5, warmup_steps=5)
    config = vaelib.FitConfig(epochs=2, progress=False, jit_compile=False)

    def run(epochs, folder):
        model = vaelib.VAE(CONFIG)
        optimizer = tf.keras.optimizers.Adam(1e-3)
        history = vaelib.fit(
            model,
            optimizer,
            kl_loss(options, optimizer),
            dataset(),
            vaelib.FitConfig(epochs=epochs, progress=False, jit_compile=False),
            checkpoint_dir=folder,
        )
        return history

    whole = vaelib.fit(
        vaelib.VAE(CONFIG),
        (opt := tf.keras.optimizers.Adam(1e-3)),
        kl_loss(options, opt),
        dataset(),
        config,
    )
    run(1, tmp_path)  # stops after epoch 1 (3 steps)
    resumed = run(2, tmp_path)  # restores the optimizer's step counter, runs epoch 2
    # epoch 2 is steps 3, 4, 5: weights 0.9, 1.2, 1.5
    np.testing.assert_allclose(
        resumed.epochs[0]["train_kl_weight"], 1.5 * (3 + 4 + 5) / 5 / 3, rtol=1e-6
    )
    np.testing.assert_allclose(
        resumed.epochs[0]["train_kl_weight"], whole.epochs[1]["train_kl_weight"]
    )


def test_a_warm_up_that_reads_another_optimizer_is_refused_before_training():
    """Issue 22: kl_loss(KLOptions(warmup_steps=10), opt_a) trained by fit with opt_b kept the
    KL weight at 0 for the whole run (opt_a's counter never moves): beta = 0, with no word."""
    model = vaelib.VAE(CONFIG)
    opt_a, opt_b = tf.keras.optimizers.Adam(1e-3), tf.keras.optimizers.Adam(1e-3)
    loss_fn = kl_loss(KLOptions(warmup_steps=10), opt_a)
    before = [v.numpy().copy() for v in model.trainable_variables]
    config = vaelib.FitConfig(epochs=2, progress=False, jit_compile=False)
    with pytest.raises(
        ValueError,
        match=r"loss_fn \(kl_loss\) reads the step counter of another "
        r"optimizer.*KL weight would stay at 0.*kl_loss\(options, "
        r"optimizer\)",
    ):
        vaelib.fit(model, opt_b, loss_fn, dataset(), config)
    for b, v in zip(before, model.trainable_variables, strict=False):  # refused before any step
        np.testing.assert_array_equal(b, v.numpy())
    for build in (make_train_step, make_train_loop):
        with pytest.raises(ValueError, match="reads the step counter of another optimizer"):
            build(model, opt_b, loss_fn)
    history = vaelib.fit(model, opt_a, loss_fn, dataset(), config)  # the same optimizer: trains
    assert history.epochs[-1]["train_kl_weight"] > 0
    # without a warm-up the optimizer is not read, so any optimizer may train the loss
    vaelib.fit(model, opt_b, kl_loss(KLOptions(beta=2.0), opt_a), dataset(), config)
