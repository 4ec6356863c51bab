"""Decoder likelihoods against independent references: closed forms, SciPy, quadrature."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, special, stats

from vaelib import likelihoods as lk
from vaelib.bounds import vae_loss
from vaelib.distributions import bernoulli_log_prob
from vaelib.step import make_train_step
from vaelib.vae import VAE, VAEConfig

SMALL = VAEConfig(input_size=12, hidden_sizes=(16,), latent_size=3)
ALL = ["bernoulli", "continuous_bernoulli", "gaussian", "discretized_logistic"]


def cb_log_norm_quad(logit: float) -> float:
    """log C(lambda) = -log int_0^1 lambda^x (1 - lambda)^(1 - x) dx, by quadrature in float64
    (lambda and 1 - lambda each from the logit: 1 - expit(30) would keep 3 digits)."""
    lam, rest = special.expit(logit), special.expit(-logit)
    value, _ = integrate.quad(
        lambda x: lam**x * rest ** (1 - x), 0.0, 1.0, epsabs=0, epsrel=1e-12, limit=200
    )
    return -math.log(value)


# lambda at 1/2, within 1e-3 of it, moderate, and within float32's reach of 0 and 1
LOGITS = np.array(
    [0.0, 1e-7, -1e-6, 4e-3, -4e-3, 0.3, -0.999, 1.0, 1.001, 2.5, -7.0, 13.8, -16.1, 30.0, -60.0],
    np.float32,
)


def test_continuous_bernoulli_normalizer_matches_quadrature():
    got = lk.continuous_bernoulli_log_norm(LOGITS).numpy()
    lam = special.expit(LOGITS.astype(np.float64))
    want = np.array([cb_log_norm_quad(logit) for logit in LOGITS.astype(np.float64)])
    assert np.abs(lam - 0.5).min() == 0 and (np.abs(lam - 0.5) < 1e-3).sum() >= 4
    assert lam.min() < 1e-7 and lam.max() > 1 - 1e-6
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)
    assert got[0] == pytest.approx(math.log(2.0), abs=1e-7)  # C(1/2) = 2


def test_continuous_bernoulli_normalizer_from_the_paper_formula():
    # C = 2 artanh(1 - 2 lam) / (1 - 2 lam), in float64 away from 1/2
    lam = np.array([0.01, 0.2, 0.45, 0.6, 0.99])
    paper = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    got = lk.continuous_bernoulli_log_norm(special.logit(lam).astype(np.float32)).numpy()
    np.testing.assert_allclose(got, paper, rtol=1e-6)


def test_normalizer_gradient_is_smooth_at_one_half():
    logits = tf.Variable([0.0, 1e-3, -1e-3, 0.999, 1.001, 5.0])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(lk.continuous_bernoulli_log_norm(logits))
    grad = tape.gradient(total, logits).numpy()
    logit = logits.numpy().astype(np.float64)
    # d/dl log(logit / tanh(logit/2)) = 1/logit - 1/sinh(logit), which is logit/6 near 0
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.where(logit == 0, 0.0, 1 / logit - 1 / np.sinh(logit))
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-7)
    # both sides of the series' edge agree
    edge = lk.continuous_bernoulli_log_norm([0.9999999, 1.0000001]).numpy()
    assert abs(edge[0] - edge[1]) < 1e-6


@pytest.mark.parametrize("logit", [0.0, 2e-3, -3.0, 9.0])
def test_continuous_bernoulli_is_a_density_with_its_mean(logit):
    cb = lk.ContinuousBernoulli()
    params = tf.constant([[logit]], tf.float32)

    def density(x):
        return math.exp(float(cb.log_prob(tf.constant([[x]], tf.float32), params)[0]))

    total, _ = integrate.quad(density, 0, 1, epsabs=1e-9)
    mean, _ = integrate.quad(lambda x: x * density(x), 0, 1, epsabs=1e-9)
    assert total == pytest.approx(1.0, abs=2e-6)
    assert float(cb.mean(params)[0, 0]) == pytest.approx(mean, abs=2e-6)


@pytest.mark.parametrize("logit", [0.0, 1e-3, -2.0, 12.0, -25.0])
def test_continuous_bernoulli_samples_follow_its_cdf(logit):
    cb = lk.ContinuousBernoulli()
    x = cb.sample(tf.fill([20000], logit), seed=[3, 4]).numpy().astype(np.float64)
    lam = special.expit(logit)

    def cdf(v):
        if abs(lam - 0.5) < 1e-9:
            return v
        return (lam**v * (1 - lam) ** (1 - v) + lam - 1) / (2 * lam - 1)

    assert x.min() >= 0 and x.max() <= 1
    assert stats.kstest(x, np.vectorize(cdf)).pvalue > 1e-3


def test_bernoulli_is_the_course_formula_and_scipy():
    b = lk.Bernoulli()
    logits = np.random.default_rng(0).normal(size=(5, 7)).astype(np.float32) * 3
    x = (np.random.default_rng(1).random((5, 7)) < 0.4).astype(np.float32)
    want = stats.bernoulli.logpmf(x, special.expit(logits.astype(np.float64))).sum(-1)
    np.testing.assert_allclose(b.log_prob(x, logits).numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(
        b.log_prob(x, logits).numpy(), bernoulli_log_prob(x, logits).numpy()
    )
    np.testing.assert_allclose(b.mean(logits).numpy(), special.expit(logits), rtol=1e-6)
    draws = b.sample(tf.fill([40000], 0.7), seed=[0, 1]).numpy()
    p = special.expit(0.7)
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert abs(draws.mean() - p) < 4 * math.sqrt(p * (1 - p) / draws.size)


def test_gaussian_matches_scipy_and_its_floor():
    g = lk.Gaussian()
    rng = np.random.default_rng(2)
    mu, logvar, x = rng.normal(size=(3, 4, 6)).astype(np.float32)
    params = np.concatenate([mu, logvar], -1)
    want = stats.norm.logpdf(x, mu, np.exp(0.5 * logvar.astype(np.float64))).sum(-1)
    np.testing.assert_allclose(g.log_prob(x, params).numpy(), want, rtol=1e-5)
    np.testing.assert_array_equal(g.mean(params).numpy(), mu)
    floored = lk.Gaussian(min_logvar=-3.0)
    lv = floored._parts(np.array([[0.0, 0.0, 0.0, -50.0]], np.float32))[1].numpy()  # [mu, logvar]
    assert lv[0, 0] == pytest.approx(-3.0 + math.log1p(math.exp(3.0)), rel=1e-6)  # ~ 0 stays ~ 0
    assert lv[0, 1] == pytest.approx(-3.0)  # -50 is floored
    draws = g.sample(tf.constant([[0.5] * 30000 + [-1.0] * 30000]), seed=[1, 2]).numpy()
    assert abs(draws.mean() - 0.5) < 4 * math.sqrt(math.exp(-1.0) / draws.size)
    assert draws.std() == pytest.approx(math.exp(-0.5), rel=0.02)
    with pytest.raises(ValueError, match="min_logvar"):
        lk.Gaussian(min_logvar=float("nan"))


def logistic_log_probs_scipy(mu: float, log_scale: float) -> np.ndarray:
    """log P(k), k = 0..255, from SciPy's logistic CDF in float64."""
    s = math.exp(max(log_scale, -7.0))
    edges = (np.arange(257) - 0.5) / 255.0
    cdf, sf = stats.logistic.cdf(edges, mu, s), stats.logistic.sf(edges, mu, s)
    cdf[0], cdf[-1], sf[0], sf[-1] = 0.0, 1.0, 1.0, 0.0
    # difference the tail that is small, so no probability is lost to cancellation near 1
    p = np.where(edges[:-1] > mu, sf[:-1] - sf[1:], cdf[1:] - cdf[:-1])
    with np.errstate(divide="ignore"):
        return np.log(p)


@pytest.mark.parametrize(
    "mu,log_scale", [(0.3, -3.0), (0.0, -5.0), (1.0, -1.0), (0.5, 1.5), (0.62, -7.0), (0.1, -9.0)]
)
def test_discretized_logistic_matches_scipy(mu, log_scale):
    dl = lk.DiscretizedLogistic()
    levels = (np.arange(256) / 255.0).astype(np.float32)[:, None]  # [256, 1]: one pixel each
    params = np.array([[mu, log_scale]], np.float32)
    got = dl.log_prob(levels, params).numpy()
    want = logistic_log_probs_scipy(mu, log_scale)
    ok = want > -600  # where float64 still resolves the difference of CDFs
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-4, atol=2e-4)
    assert np.isfinite(got).all()
    assert np.exp(got.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-4)
    mean = float(dl.mean(params)[0, 0])
    assert mean == pytest.approx(float(np.exp(want) @ levels[:, 0]), abs=1e-4)


def test_discretized_logistic_samples_and_gradients():
    dl = lk.DiscretizedLogistic()
    params = tf.constant([[0.4] * 20000 + [-2.5] * 20000])
    draws = dl.sample(params, seed=[5, 6]).numpy()
    k = np.round(draws * 255)
    assert np.allclose(draws * 255, k, atol=1e-3) and k.min() >= 0 and k.max() <= 255
    p = np.exp(logistic_log_probs_scipy(0.4, -2.5))
    sd = math.sqrt(p @ (np.arange(256) / 255.0) ** 2 - (p @ (np.arange(256) / 255.0)) ** 2)
    assert abs(draws.mean() - float(dl.mean(params[:, ::20000])[0, 0])) < 4 * sd / math.sqrt(
        draws.size
    )
    x = tf.constant([[0.0, 3 / 255, 1.0]])
    theta = tf.Variable([[0.9, 0.2, 0.0, -7.5, -7.0, -6.9]])
    with tf.GradientTape() as tape:
        out = dl.log_prob(x, theta)
    assert np.isfinite(tape.gradient(out, theta).numpy()).all()


def test_data_transforms_and_bits_per_dim():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    y = lk.dequantize(images, seed=1)
    assert y.shape == (5, 784) and y.dtype == np.float32 and 0 <= y.min() and y.max() < 1
    np.testing.assert_array_equal(np.floor(y * 256), images.reshape(5, -1))
    np.testing.assert_array_equal(
        lk.grey_levels(images) * 255, images.reshape(5, -1).astype(np.float32)
    )
    batches = list(lk.dequantized_dataset(images, batch_size=2, seed=0))
    assert [len(b) for b in batches] == [2, 2, 1]
    # a uniform density on [0, 1]^D and a uniform distribution on 256^D levels: 8 bits each
    assert lk.bits_per_dim(0.0, 784, dequantized=True) == pytest.approx(8.0)
    assert lk.bits_per_dim(-784 * math.log(256), 784, dequantized=False) == pytest.approx(8.0)
    with pytest.raises(TypeError, match="uint8"):
        lk.dequantize(images.astype(np.float32))
    with pytest.raises(ValueError, match="likelihood must be one of"):
        lk.get_likelihood("poisson")


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("batch", [1, 7])
def test_vae_with_each_likelihood_any_batch(name, batch):
    model = VAE(SMALL, likelihood=name)
    x = lk.grey_levels(
        np.random.default_rng(batch).integers(0, 256, (batch, 12, 1), dtype=np.uint8)
    )
    if name == "bernoulli":
        x = np.round(x)
    w = model.log_weights(x, 3)
    params = model.likelihood.num_params
    assert w["x_logits"].shape == (3, batch, params * 12)
    for key in ("log_px_z", "log_pz", "log_qz_x"):
        assert w[key].shape == (3, batch) and np.isfinite(w[key].numpy()).all()
    np.testing.assert_allclose(model.log_px_z(x, w["z"]).numpy(), w["log_px_z"].numpy(), rtol=1e-6)
    assert model.sample(4).shape == model.sample(4, mean=False).shape == (4, 12)
    assert model.reconstruct(x).shape == model.reconstruct(x, mean=False).shape == (batch, 12)


def test_support_checks_per_likelihood():
    x = np.full((2, 12), 0.5 / 255, np.float32)
    VAE(SMALL, likelihood="continuous_bernoulli").log_weights(x)
    with pytest.raises(ValueError, match="levels v / 255"):
        VAE(SMALL, likelihood="discretized_logistic").log_weights(x)
    with pytest.raises(
        ValueError, match=r"x must lie in \[0, 1\] \(pixels of a continuous Bernoulli"
    ):
        VAE(SMALL, likelihood="continuous_bernoulli").log_weights(x - 1)
    VAE(SMALL, likelihood="gaussian").log_weights(x - 1)  # any real value


@pytest.mark.parametrize("name", ALL)
def test_one_trace_per_compiled_step(name):
    model = VAE(SMALL, likelihood=name)
    x = lk.grey_levels(np.random.default_rng(0).integers(0, 256, (23, 12, 1), dtype=np.uint8))
    ds = tf.data.Dataset.from_tensor_slices(np.round(x) if name == "bernoulli" else x).batch(10)
    step = make_train_step(
        model,
        tf.keras.optimizers.Adam(1e-3),
        vae_loss,
        element_spec=ds.element_spec,
        jit_compile=True,
    )
    for _ in range(2):
        for batch in ds:  # 10, 10, 3
            assert np.isfinite(float(step(batch)["loss"]))
    assert step.experimental_get_tracing_count() == 1


def cb_log_prob_64(x, logit):
    """The continuous Bernoulli's log-density in float64: the Bernoulli cross-entropy plus
    log C = log(logit / tanh(logit / 2)), with its limit log 2 at logit = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_c = np.where(logit == 0, math.log(2.0), np.log(logit / np.tanh(logit / 2)))
    return x * logit - np.logaddexp(0.0, logit) + log_c


@pytest.mark.parametrize("x", [0.0, 1.0, 0.25])
def test_continuous_bernoulli_gradient_is_right_at_and_near_a_zero_logit(x):
    """Issue 22: at a logit of exactly 0 the gradient was off by 0.5 (the Bernoulli term's)."""
    grid = np.array([0.0, 1e-7, -1e-7, 1e-3, -1e-3, 0.7, -1.3, 12.0], np.float32)
    logits = tf.Variable(grid)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(
            lk.ContinuousBernoulli().log_prob(tf.fill([len(grid), 1], x), logits[:, None])
        )
    got = tape.gradient(total, logits).numpy()
    logit, h = grid.astype(np.float64), 1e-4
    want = (cb_log_prob_64(x, logit + h) - cb_log_prob_64(x, logit - h)) / (2 * h)
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert got[0] == pytest.approx(x - 0.5, abs=1e-6)


def test_bits_per_dim_refuses_an_nll_and_nan_and_takes_arrays():
    """Issue 22: bits_per_dim(95.0, 784, dequantized=False) returned -0.17 bits; NaN, NaN;
    an array failed inside float()."""
    with pytest.raises(
        ValueError,
        match=r"log_px of a discrete model \(dequantized=False\) is "
        r"log P\(v\) <= 0, got 95.*-nll",
    ):
        lk.bits_per_dim(95.0, 784, dequantized=False)
    for bad in (float("nan"), np.float32("nan"), float("inf")):
        with pytest.raises(ValueError, match="log_px must be a"):
            lk.bits_per_dim(bad, 784, dequantized=True)
    for bad in ("-95", None, True, [1.0, "a"]):
        with pytest.raises(TypeError, match="log_px must be a number"):
            lk.bits_per_dim(bad, 784, dequantized=True)
    log_px = np.array([[-2000.0, -2500.0], [-1800.0, -np.inf]])
    got = lk.bits_per_dim(log_px, 784, dequantized=False)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, -log_px / (784 * math.log(2)))
    got = lk.bits_per_dim(np.float32(-2000.0), np.int64(784), dequantized=np.True_)
    assert got == pytest.approx((2000.0 + 784 * math.log(256)) / (784 * math.log(2)))
    assert isinstance(lk.bits_per_dim(np.array(-2000.0), 784, dequantized=False), float)
    with pytest.raises(ValueError, match=r"log_px .*got nan \(at index \(1,\)\)"):
        lk.bits_per_dim(np.array([-1.0, np.nan]), 784, dequantized=True)
    with pytest.raises(ValueError, match=r"got 3 \(at index \(0, 1\)\)"):
        lk.bits_per_dim(np.array([[-1.0, 3.0]]), 784, dequantized=False)
    with pytest.raises(TypeError, match="num_dims must be a positive int, got 784.0"):
        lk.bits_per_dim(-1.0, 784.0, dequantized=False)
    with pytest.raises(TypeError, match="dequantized must be True or False, got 0"):
        lk.bits_per_dim(-1.0, 784, dequantized=0)


@pytest.mark.parametrize(
    "bad, error",
    [
        (None, TypeError),
        (float("nan"), ValueError),
        ("-7", TypeError),
        (True, TypeError),
        (float("-inf"), ValueError),
    ],
)
def test_likelihood_floors_are_checked_at_construction(bad, error):
    """Issue 22: DiscretizedLogistic(min_log_scale=None | nan | "-7") failed only at first use."""
    with pytest.raises(error, match="min_log_scale must be a finite number"):
        lk.DiscretizedLogistic(min_log_scale=bad)
    if bad is not None:  # None is Gaussian's "no floor"
        with pytest.raises(error, match="min_logvar must be a finite number"):
            lk.Gaussian(min_logvar=bad)
    assert lk.DiscretizedLogistic(np.float32(-5.0)).min_log_scale == -5.0
    # the repr is in the checkpoint fingerprint: unchanged
    assert repr(lk.DiscretizedLogistic()) == "DiscretizedLogistic(min_log_scale=-7.0)"
