"""vaelib.objectives: the importance-weighted objective and its three gradient estimators."""

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib.distributions import normal_log_prob, std_normal_log_prob
from vaelib.objectives import active_units, importance_weighted_bound, iwae_loss

NUM_SE = 4  # a difference within this many standard errors counts as Monte Carlo noise


def linear_gaussian(orthogonal: bool):
    """A 3-D linear-Gaussian model with a 2-D latent space; with orthogonal columns of W its
    posterior covariance is diagonal, so a diagonal Gaussian q can equal it exactly."""
    w = (
        np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
        if orthogonal
        else np.array([[1.0, 0.5], [-0.3, 2.0], [0.7, 0.2]])
    )
    return vaelib.LinearGaussian(w, np.array([0.1, -0.2, 0.3]), noise_var=0.5)


def per_replicate_gradients(model, x, q_mu, q_logvar, num_samples, estimator, seed=0):
    """``num_replicates`` independent gradient estimates of L_k w.r.t. (q_mu, q_logvar).

    Each replicate is its own copy of the same image and the same q, so the gradient of
    the sum over replicates, row by row, is each replicate's estimate. Float64.
    """
    w, b = tf.constant(model.w), tf.constant(model.b)
    log_noise = tf.constant(np.log(model.noise_var), tf.float64)
    q_mu, q_logvar, x = (tf.constant(v, tf.float64) for v in (q_mu, q_logvar, x))

    def log_joint(z):  # log p(x|z) + log p(z), [k, R]
        mean = tf.einsum("krl,dl->krd", z, w) + b
        return normal_log_prob(x, mean, log_noise * tf.ones_like(mean)) + std_normal_log_prob(z)

    eps = tf.random.stateless_normal([num_samples, *q_mu.shape], seed=[seed, 1], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([q_mu, q_logvar])
        bound = importance_weighted_bound(log_joint, q_mu, q_logvar, eps, estimator)
        total = tf.reduce_sum(bound)
    g_mu, g_logvar = tape.gradient(total, [q_mu, q_logvar])
    return np.concatenate([g_mu.numpy(), g_logvar.numpy()], axis=1), bound.numpy()


def replicated(model, q_mu, q_logvar, num_replicates):
    x = model.sample(1, seed=3)
    return (
        np.repeat(x, num_replicates, 0),
        np.repeat(q_mu, num_replicates, 0),
        np.repeat(q_logvar, num_replicates, 0),
    )


@pytest.mark.parametrize("num_samples", [1, 5])
def test_stl_gradient_is_zero_at_the_exact_posterior(num_samples):
    model = linear_gaussian(orthogonal=True)
    x = model.sample(1, seed=3)
    mean, cov = model.posterior(x)
    assert np.allclose(cov, np.diag(np.diag(cov)))  # diagonal, so q can be exact
    args = replicated(model, mean, np.log(np.diag(cov))[None], 200)
    stl, bound = per_replicate_gradients(model, *args, num_samples, "stl")
    assert np.abs(stl).max() < 1e-10  # zero for every sample, not only on average
    assert np.allclose(bound, model.log_px(x)[0])  # every weight is p(x)
    standard, _ = per_replicate_gradients(model, *args, num_samples, "standard")
    assert standard.std(axis=0).min() > 1e-3  # the score term is noise of mean zero
    assert np.all(np.abs(standard.mean(axis=0)) < NUM_SE * standard.std(axis=0) / np.sqrt(200))


def paired(a, b):
    """Mean of a - b over replicates and its standard error, per coordinate."""
    d = a - b
    return d.mean(axis=0), d.std(axis=0, ddof=1) / np.sqrt(len(d))


def test_estimators_are_unbiased_for_what_they_claim():
    model = linear_gaussian(orthogonal=False)
    x = model.sample(1, seed=3)
    mean, cov = model.posterior(x)
    # q: the posterior's mean shifted and its variances too wide, so no estimator is trivially right
    q_mu, q_logvar = mean + 0.7, np.log(np.diag(cov))[None] + 1.0
    args = replicated(model, q_mu, q_logvar, 40_000)
    for k in (1, 5):
        standard, _ = per_replicate_gradients(model, *args, k, "standard", seed=k)
        dreg, _ = per_replicate_gradients(model, *args, k, "dreg", seed=k)
        stl, _ = per_replicate_gradients(model, *args, k, "stl", seed=k)
        diff, se = paired(dreg, standard)  # DReG: unbiased for the gradient of E[L_k], every k
        assert np.all(np.abs(diff) < NUM_SE * se), (k, diff, se)
        diff, se = paired(stl, standard)
        if k == 1:  # STL: unbiased for the ELBO's gradient
            assert np.all(np.abs(diff) < NUM_SE * se), (diff, se)
        else:  # ... and biased for L_k with k > 1
            assert np.any(np.abs(diff) > 10 * se), (diff, se)


def test_values_agree_and_decoder_gradients_are_the_standard_ones():
    model = vaelib.VAE(vaelib.VAEConfig(input_size=6, hidden_sizes=(8,), latent_size=2, seed=1))
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (4, 6)), tf.float32)
    results = {}
    for estimator in ("standard", "stl", "dreg"):
        model.noise.reset_from_seed(7)
        with tf.GradientTape(persistent=True) as tape:
            out = iwae_loss(5, estimator)(model, x)
        assert sorted(out) == ["iwae", "loss"]  # what the docstring promises, nothing else
        results[estimator] = (
            float(out["loss"]),
            tape.gradient(out["loss"], model.decoder.trainable_variables),
            tape.gradient(out["loss"], model.encoder.trainable_variables),
        )
    loss, decoder, encoder = results["standard"]
    for estimator in ("stl", "dreg"):
        other_loss, other_decoder, other_encoder = results[estimator]
        assert other_loss == pytest.approx(loss, abs=1e-4)
        for a, b in zip(decoder, other_decoder, strict=False):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
        assert any(
            np.abs(a.numpy() - b.numpy()).max() > 1e-4
            for a, b in zip(encoder, other_encoder, strict=False)
        )


def toy_images(n=64, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 2, (4, 16))
    flips = rng.random((n, 16)) < 0.05
    return np.abs(prototypes[rng.integers(0, 4, n)] - flips).astype(np.float32)


def test_one_trace_per_compiled_step_and_training_improves_the_bound():
    x = toy_images()
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(32,), latent_size=2, seed=0))
    before = float(tf.reduce_mean(vaelib.iwae_bound(model, x, 5, seed=0)))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(24)  # 24, 24, 16: two batch sizes
    step = vaelib.make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-2),
        iwae_loss(5, "dreg"),
        element_spec=dataset.element_spec,
        jit_compile=True,
    )
    for _ in range(30):
        for batch in dataset:
            metrics = step(batch)
    assert step.experimental_get_tracing_count() == 1
    assert set(metrics) == {"loss", "iwae"}
    after = float(tf.reduce_mean(vaelib.iwae_bound(model, x, 5, seed=0)))
    assert after > before + 1.0, (before, after)


@pytest.mark.parametrize(
    "loss, metric",
    [(iwae_loss(5, "stl"), "train_iwae"), (vaelib.elbo_k_loss(5), "train_elbo")],
    ids=["iwae_loss", "elbo_k_loss"],
)
def test_fit_trains_with_it(loss, metric):
    x = toy_images()
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(32,), latent_size=2, seed=0))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(16)
    history = vaelib.fit(
        model,
        tf.keras.optimizers.Adam(1e-2),
        loss,
        dataset,
        vaelib.FitConfig(epochs=5, jit_compile=False, progress=False),
    )
    assert np.all(np.isfinite(history.step_loss))
    assert history.column(metric)[-1] > history.column(metric)[0]


def test_refuses_bad_arguments():
    with pytest.raises(ValueError, match="estimator"):
        iwae_loss(5, "reinforce")
    with pytest.raises(ValueError, match="num_samples"):
        iwae_loss(0)
    with pytest.raises(ValueError, match="num_samples"):
        iwae_loss(2.5)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=4, hidden_sizes=(4,), latent_size=2))
    with pytest.raises(ValueError, match="empty batch"):
        iwae_loss(2).check_batch(model, np.zeros((0, 4), np.float32))
    with pytest.raises(ValueError, match="eps"):
        importance_weighted_bound(lambda z: z, tf.zeros([3, 2]), tf.zeros([3, 2]), tf.zeros([3, 2]))
    with pytest.raises(ValueError, match="at least 2"):
        active_units(model, np.zeros((1, 4), np.float32))


def test_active_units_counts_dimensions_whose_mean_varies():
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=3, seed=0))
    x = toy_images()
    q_mu = model.encoder(x)[0].numpy()
    expected = int(np.sum(q_mu.var(axis=0, ddof=1) > 0.01))
    assert active_units(model, x) == expected
    assert active_units(model, x, threshold=1e9) == 0


def test_elbo_k_loss_is_the_mean_log_weight_over_k_codes():
    """Against NumPy and SciPy on the same noise: loss = -mean_n (1/k) sum_i log w_i."""
    from scipy import stats

    x = toy_images()[:6]
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2, seed=1))
    state = model.noise.state.numpy().copy()
    out = vaelib.elbo_k_loss(4)(model, x)
    model.noise.state.assign(state)  # the same draw again, for the reference
    eps = model.noise.normal([4, 6, 2]).numpy().astype(np.float64)
    q_mu, q_logvar = (t.numpy().astype(np.float64) for t in model.encoder(x))
    z = q_mu + np.exp(q_logvar / 2) * eps  # [k, batch, latent]
    logits = model.decoder(z.reshape(-1, 2).astype(np.float32)).numpy().reshape(4, 6, 16)
    log_px_z = (np.asarray(x) * logits - np.logaddexp(0.0, logits)).sum(-1)
    log_pz = stats.norm.logpdf(z).sum(-1)
    log_qz_x = stats.norm.logpdf(z, q_mu, np.exp(q_logvar / 2)).sum(-1)
    expected = (log_px_z + log_pz - log_qz_x).mean(axis=0)  # [batch]
    assert float(out["elbo"]) == pytest.approx(expected.mean(), rel=1e-5)
    assert float(out["loss"]) == pytest.approx(-expected.mean(), rel=1e-5)
    # at k = 1 it is L_1: iwae_loss(1) on the same noise
    model.noise.state.assign(state)
    one = vaelib.elbo_k_loss(1)(model, x)
    model.noise.state.assign(state)
    assert float(one["loss"]) == pytest.approx(float(iwae_loss(1)(model, x)["loss"]), rel=1e-6)
    with pytest.raises(ValueError, match="num_samples"):
        vaelib.elbo_k_loss(0)
    with pytest.raises(ValueError, match="empty batch"):
        vaelib.elbo_k_loss(3).check_batch(model, np.zeros((0, 16), np.float32))


def test_elbo_k_loss_step_traces_once():
    x = toy_images()
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(32,), latent_size=2, seed=0))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(24)  # 24, 24, 16: two batch sizes
    step = vaelib.make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-3),
        vaelib.elbo_k_loss(5),
        element_spec=dataset.element_spec,
    )
    for batch in dataset:
        step(batch)
    assert step.experimental_get_tracing_count() == 1
