"""ELBO and IWAE against exact log p(x) (quadrature), Monte Carlo, and each other."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from vaelib import bounds, evaluation
from vaelib.seed import set_seed
from vaelib.step import make_train_step
from vaelib.train import FitConfig, fit
from vaelib.vae import VAE, VAEConfig

ONE_D = VAEConfig(input_size=8, hidden_sizes=(16,), latent_size=1, seed=3)


def data(n=5, d=8, seed=0):
    return (np.random.default_rng(seed).random((n, d)) < 0.4).astype(np.float32)


def exact_log_px(model, x):
    """log p(x) = log integral p(x|z) p(z) dz by quadrature on a fine grid (1-D latent)."""
    z = np.linspace(-10, 10, 20001, dtype=np.float64)[:, None]
    logits = model.decoder(tf.constant(z, tf.float32)).numpy().astype(np.float64)  # [G, d]
    log_px_z = x @ logits.T - np.logaddexp(0, logits).sum(-1)  # [n, G]
    log_pz = -0.5 * (np.log(2 * np.pi) + z[:, 0] ** 2)
    return logsumexp(log_px_z + log_pz, axis=1) + np.log(z[1, 0] - z[0, 0])


def test_bounds_below_exact_log_px_and_iwae_converges():
    set_seed(0)
    model = VAE(ONE_D)
    x = data()
    truth = exact_log_px(model, x)
    elbo = bounds.elbo(model, x, num_samples=2000).numpy()
    iwae = evaluation.iwae_bound(model, x, 20000, chunk_size=5000, seed=1).numpy()
    assert np.all(elbo < truth)
    np.testing.assert_allclose(iwae, truth, atol=0.02)


def test_elbo_analytic_and_monte_carlo_kl_agree():
    model = VAE(ONE_D)
    x = data()
    analytic = bounds.elbo(model, x, num_samples=20000, seed=tf.constant([0, 1])).numpy()
    monte_carlo = bounds.elbo(
        model, x, num_samples=20000, analytic_kl=False, seed=tf.constant([0, 1])
    ).numpy()
    np.testing.assert_allclose(analytic, monte_carlo, atol=0.05)


def test_iwae_with_one_sample_is_the_monte_carlo_elbo():
    model = VAE(ONE_D)
    x = data()
    w = model.log_weights(x, 1, seed=tf.constant([4, 0], tf.int64))
    single = (w["log_px_z"] + w["log_pz"] - w["log_qz_x"]).numpy()[0]
    np.testing.assert_allclose(
        evaluation.iwae_bound(model, x, 1, seed=4).numpy(), single, rtol=1e-6
    )


def test_iwae_increases_with_k_on_average():
    model = VAE(VAEConfig(input_size=8, hidden_sizes=(16,), latent_size=2))
    x = data(n=200)
    means = [
        float(tf.reduce_mean(evaluation.iwae_bound(model, x, k, seed=k))) for k in (1, 10, 100)
    ]
    assert means[0] < means[1] < means[2]


def test_evaluate_bounds_is_reproducible():
    model = VAE(ONE_D)
    x = data(n=30)
    a = evaluation.evaluate_bounds(model, x, (1, 10), batch_size=8)
    b = evaluation.evaluate_bounds(model, x, (1, 10), batch_size=8)
    assert a == b and set(a) == {"elbo", "iwae_1", "iwae_10"}
    assert a["elbo"] < a["iwae_10"]


def test_training_step_traces_once_and_fit_improves_the_elbo():
    set_seed(0)
    model = VAE(VAEConfig(input_size=8, hidden_sizes=(32,), latent_size=2))
    rng = np.random.default_rng(1)  # two prototypes with 5% of pixels flipped: structure to learn
    prototypes = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1]], np.float32)
    x = np.abs(prototypes[rng.integers(0, 2, 250)] - (rng.random((250, 8)) < 0.05)).astype(
        np.float32
    )
    before = evaluation.evaluate_bounds(model, x)["elbo"]
    ds = tf.data.Dataset.from_tensor_slices(x).batch(64)  # 250 = 3 * 64 + 58
    step = make_train_step(
        model, tf.keras.optimizers.Adam(1e-2), bounds.vae_loss, element_spec=ds.element_spec
    )
    for _ in range(2):
        for batch in ds:
            step(batch)
    assert step.experimental_get_tracing_count() == 1
    fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        bounds.vae_loss,
        ds,
        FitConfig(epochs=30, progress=False),
    )
    assert evaluation.evaluate_bounds(model, x)["elbo"] > before + 1.0


def test_bad_num_samples():
    model = VAE(ONE_D)
    with pytest.raises(ValueError, match="num_samples must be a positive int, got 0"):
        bounds.elbo(model, data(), num_samples=0)
    with pytest.raises(ValueError, match="num_samples must be a positive int, got 2.5"):
        evaluation.iwae_bound(model, data(), 2.5)


@given(st.integers(0, 10_000))
@settings(max_examples=8, deadline=None)
def test_elbo_below_iwae_and_iwae_non_decreasing_in_expectation(seed):
    """E[ELBO] <= E[IWAE_5] <= E[IWAE_25] for random models and data (means over 400 draws)."""
    model = VAE(VAEConfig(input_size=8, hidden_sizes=(8,), latent_size=2, seed=seed))
    x = np.repeat(data(n=4, seed=seed), 400, axis=0)  # 400 independent draws per example
    per_draw = {
        "elbo": bounds.elbo(model, x, seed=tf.constant([seed, 0])),
        "iwae_5": evaluation.iwae_bound(model, x, 5, seed=seed),
        "iwae_25": evaluation.iwae_bound(model, x, 25, seed=seed + 1),
    }
    means = {k: v.numpy().reshape(4, 400).mean(1) for k, v in per_draw.items()}
    stderr = {k: v.numpy().reshape(4, 400).std(1) / 20 for k, v in per_draw.items()}
    assert np.all(means["elbo"] <= means["iwae_5"] + 4 * stderr["elbo"])
    assert np.all(means["iwae_5"] <= means["iwae_25"] + 4 * stderr["iwae_5"])


def _train_vae(checkpoint_dir, epochs, interrupt_after=None, jit_compile=False):
    set_seed(0)
    model = VAE(VAEConfig(input_size=8, hidden_sizes=(16,), latent_size=2, seed=5))
    x = data(n=96, seed=2)

    def batches(epoch):
        return tf.data.Dataset.from_tensor_slices(x).shuffle(96, seed=epoch).batch(32)

    def stop(epoch, row):
        if interrupt_after is not None and epoch + 1 == interrupt_after:
            raise KeyboardInterrupt

    fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        bounds.vae_loss,
        batches,
        FitConfig(epochs=epochs, progress=False, jit_compile=jit_compile),
        callbacks=(stop,),
        checkpoint_dir=checkpoint_dir,
    )
    return [v.numpy() for v in model.trainable_variables]


def test_interrupted_vae_training_resumes_exactly(tmp_path):
    """The noise generator is checkpointed with the model, so resuming redraws the same eps."""
    reference = _train_vae(str(tmp_path / "a"), epochs=4)
    with pytest.raises(KeyboardInterrupt):
        _train_vae(str(tmp_path / "b"), epochs=4, interrupt_after=2)
    resumed = _train_vae(str(tmp_path / "b"), epochs=4)
    for a, b in zip(reference, resumed, strict=False):
        np.testing.assert_array_equal(a, b)


def test_xla_training_is_reproducible():
    first = _train_vae(None, epochs=2, jit_compile=True)
    second = _train_vae(None, epochs=2, jit_compile=True)
    for a, b in zip(first, second, strict=False):
        np.testing.assert_array_equal(a, b)


def test_bad_chunk_sizes_are_refused():
    model = VAE(ONE_D)
    for chunk_size in (-1, 0, 2.0):
        with pytest.raises(
            ValueError, match=f"chunk_size must be a positive int, got {chunk_size}"
        ):
            evaluation.iwae_bound(model, data(), 10, chunk_size=chunk_size)


def test_vae_loss_refuses_empty_labelled_and_nan_batches():
    model = VAE(ONE_D)
    with pytest.raises(ValueError, match=r"empty batch \(0 examples\)"):
        bounds.vae_loss(model, np.zeros((0, 8), np.float32))
    with pytest.raises(TypeError, match=r"labelled batch \(x, y\)"):
        bounds.vae_loss(model, (data(), np.zeros(5, np.int32)))
    with pytest.raises(ValueError, match="NaN"):
        bounds.vae_loss(model, data() * np.nan)
    with pytest.raises(ValueError, match=r"x must lie in \[0, 1\].*from 0 to 255"):
        bounds.vae_loss.check_batch(
            model, tf.constant(data() * 255)
        )  # what fit runs before compiling


def test_evaluate_bounds_refuses_what_it_cannot_average():
    model = VAE(ONE_D)
    with pytest.raises(ValueError, match="x has no examples"):
        evaluation.evaluate_bounds(model, np.zeros((0, 8), np.float32))
    with pytest.raises(
        TypeError, match=r"num_samples must be a tuple of ints, e.g. \(1, 5000\), got 5"
    ):
        evaluation.evaluate_bounds(model, data(), 5)
    with pytest.raises(TypeError, match="x must be an array.*got _TensorSliceDataset"):
        evaluation.evaluate_bounds(model, tf.data.Dataset.from_tensor_slices(data()))
    with pytest.raises(TypeError, match="got dtype uint8.*vaelib.binarize"):
        evaluation.evaluate_bounds(model, data().astype(np.uint8))
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        evaluation.evaluate_bounds(model, data(), batch_size=0)
