"""Looking inside a trained VAE (chapter 10): which latents it uses, the aggregate
posterior, and how far the encoder is from the best Gaussian for each image.

* **KL per dimension** and **active units** (Burda et al. 2015): dimension ``j`` is
  active when ``Cov_x(E_q[z_j|x]) > 0.01``.
* **ELBO surgery** (Hoffman & Johnson 2016). With ``x`` uniform over a set of ``N``
  images and the *aggregate posterior* ``q(z) = (1/N) sum_n q(z|x_n)``,

  ``(1/N) sum_n KL(q(z|x_n) || p(z)) = I_q(x; z) + KL(q(z) || p(z))``,

  where ``I_q(x; z) = (1/N) sum_n E_{q(z|x_n)}[log q(z|x_n) - log q(z)] <= log N``.
  :func:`elbo_surgery` estimates both terms by Monte Carlo, with standard errors;
  ``log q(z)`` is exact (a log-sum-exp over all ``N`` components), so the only noise
  is the draw of the codes.
* **Per-example Gaussians** (Cremer et al. 2018): :func:`optimize_gaussians` fixes
  the decoder and fits one diagonal Gaussian per image by maximizing its ELBO;
  :func:`gaussian_elbo` and :func:`gaussian_iwae` score any such Gaussians. The
  amortization gap is ``ELBO(q*) - ELBO(encoder)``, the approximation gap
  ``log p(x) - ELBO(q*)``.

The model is anything with ``encoder(x) -> (q_mu, q_logvar)`` and
``log_px_z(x, z)`` (a :class:`vaelib.VAE`). Arrays returned are NumPy, float64 where
they are statistics.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.distributions import (kl_normal_std, normal_log_prob, normal_log_prob_from_eps,
                                  std_normal_log_prob)
from vaelib.objectives import active_units  # Burda et al.'s count, from a model (chapter 9)

__all__ = ["encode", "kl_per_dimension", "latent_variance", "active_units", "log_aggregate_posterior",
           "Surgery", "elbo_surgery", "GaussianFit", "optimize_gaussians", "gaussian_elbo",
           "gaussian_iwae"]


def _check_positive_int(name: str, value) -> None:
    validation.positive_int(name, value)


def _gaussians(q_mu, q_logvar) -> tuple[np.ndarray, np.ndarray]:
    q_mu, q_logvar = np.asarray(q_mu, np.float64), np.asarray(q_logvar, np.float64)
    if q_mu.ndim != 2 or q_mu.shape != q_logvar.shape:
        raise ValueError(f"q_mu and q_logvar must both be [N, latent], got {q_mu.shape} and {q_logvar.shape}")
    if len(q_mu) == 0:
        raise ValueError("q_mu holds no examples")
    if not (np.isfinite(q_mu).all() and np.isfinite(q_logvar).all()):
        raise ValueError("q_mu and q_logvar must be finite")
    return q_mu, q_logvar


def encode(model, x: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's Gaussians for a set of images, in batches.

    Args:
      model: a :class:`vaelib.VAE`.
      x: ``[N, input_size]`` pixels in [0, 1].
      batch_size: images per encoder pass.

    Returns:
      ``(q_mu, q_logvar)``, each ``[N, latent]``, float64.

    Raises:
      TypeError: ``x`` is a ``tf.data.Dataset`` (pass a fixed array of its examples).
    """
    _check_positive_int("batch_size", batch_size)
    n = validation.num_examples("x", x)
    if n == 0:
        raise ValueError("x holds no images")
    parts = [model.encoder(model.check_input(x[i:i + batch_size])) for i in range(0, n, batch_size)]
    return tuple(np.concatenate([p[j].numpy() for p in parts]).astype(np.float64) for j in (0, 1))


def kl_per_dimension(q_mu, q_logvar) -> np.ndarray:
    """``(1/N) sum_n KL(q(z_j|x_n) || N(0, 1))`` for each latent dimension ``j``.

    Args:
      q_mu, q_logvar: ``[N, latent]`` (see :func:`encode`).

    Returns:
      ``[latent]``, nats; they sum to the average KL term of the ELBO.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    return np.mean(kl_normal_std(q_mu[..., None], q_logvar[..., None]).numpy(), axis=0)


def latent_variance(q_mu) -> np.ndarray:
    """``Cov_x(E_q[z_j|x])`` for each dimension ``j``: the variance across images of the
    encoder's mean (``ddof=1``), ``[latent]``. Burda et al.'s dimension ``j`` is active when
    it exceeds 0.01 (:func:`active_units` counts them from a model).

    Raises:
      ValueError: fewer than two images.
    """
    q_mu = np.asarray(q_mu, np.float64)
    if q_mu.ndim != 2 or len(q_mu) < 2:
        raise ValueError(f"q_mu must be [N, latent] with N >= 2 to measure a variance, got {q_mu.shape}")
    return np.var(q_mu, axis=0, ddof=1)


def log_aggregate_posterior(z, q_mu, q_logvar, chunk_size: int = 1024) -> np.ndarray:
    """``log q(z) = log (1/N) sum_n q(z|x_n)``: the aggregate posterior's density, exactly.

    Args:
      z: ``[M, latent]`` codes.
      q_mu, q_logvar: the ``N`` Gaussians of the mixture, ``[N, latent]``.
      chunk_size: codes scored at once (memory is ``chunk_size * N * latent`` floats).

    Returns:
      ``[M]``, nats, float64.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or z.shape[1] != q_mu.shape[1]:
        raise ValueError(f"z must be [M, {q_mu.shape[1]}], got {z.shape}")
    _check_positive_int("chunk_size", chunk_size)
    mu, logvar = tf.constant(q_mu), tf.constant(q_logvar)
    out = []
    for start in range(0, len(z), chunk_size):
        zc = tf.constant(z[start:start + chunk_size])[:, None, :]  # [m, 1, latent]
        out.append(tf.reduce_logsumexp(normal_log_prob(zc, mu, logvar), axis=1).numpy())  # [m]
    return np.concatenate(out) - math.log(len(q_mu)) if out else np.zeros([0])


@dataclasses.dataclass(frozen=True)
class Surgery:
    """The terms of ``average KL = I_q(x; z) + KL(q(z) || p(z))``, in nats.

    Attributes:
      average_kl: ``(1/N) sum_n KL(q(z|x_n) || p(z))``, exact (closed form).
      mutual_information, mutual_information_se: ``I_q(x; z)``, Monte Carlo, and its
        standard error.
      marginal_kl, marginal_kl_se: ``KL(q(z) || p(z))``, Monte Carlo, and its standard error.
      sum_se: the standard error of their sum (whose expectation is ``average_kl``).
      log_n: ``log N``, the most ``I_q`` can be.
      num_examples, samples_per_example: ``N`` and the codes drawn from each ``q(z|x_n)``.
    """

    average_kl: float
    mutual_information: float
    mutual_information_se: float
    marginal_kl: float
    marginal_kl_se: float
    sum_se: float
    log_n: float
    num_examples: int
    samples_per_example: int


def elbo_surgery(q_mu, q_logvar, samples_per_example: int = 4, seed: int = 0,
                 chunk_size: int = 1024) -> Surgery:
    """Hoffman & Johnson's decomposition of the average KL, estimated by Monte Carlo.

    For each ``n``, ``S = samples_per_example`` codes ``z ~ q(z|x_n)``; then
    ``I_q`` is the mean of ``log q(z|x_n) - log q(z)`` and ``KL(q(z) || p(z))`` the mean of
    ``log q(z) - log p(z)``. The standard errors come from the variance of the ``S``
    values within each ``n`` (the set of images is fixed; the codes are the only noise):
    ``se^2 = sum_n s_n^2 / S / N^2``.

    Args:
      q_mu, q_logvar: ``[N, latent]``, the Gaussians of ``N`` images (:func:`encode`).
      samples_per_example: ``S >= 2``.
      seed: the codes' seed.
      chunk_size: see :func:`log_aggregate_posterior`.

    Returns:
      A :class:`Surgery`.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    samples_per_example = validation.integer("samples_per_example", samples_per_example, minimum=2)
    seed = validation.integer("seed", seed, minimum=0)
    n, latent = q_mu.shape
    eps = np.random.default_rng(seed).standard_normal((samples_per_example, n, latent))
    z = q_mu + np.exp(0.5 * q_logvar) * eps  # [S, N, latent]
    log_q_cond = -0.5 * np.sum(np.log(2 * np.pi) + q_logvar + eps ** 2, axis=-1)  # [S, N]
    log_p = std_normal_log_prob(tf.constant(z)).numpy()  # [S, N]
    log_q = log_aggregate_posterior(z.reshape(-1, latent), q_mu, q_logvar, chunk_size)
    log_q = log_q.reshape(samples_per_example, n)
    info, marginal = log_q_cond - log_q, log_q - log_p  # [S, N] each

    def mean_se(values):
        per_example_var = np.var(values, axis=0, ddof=1)  # [N]
        return float(values.mean()), float(np.sqrt(per_example_var.sum() / samples_per_example) / n)

    mi, mi_se = mean_se(info)
    mkl, mkl_se = mean_se(marginal)
    _, sum_se = mean_se(info + marginal)
    average_kl = float(np.mean(kl_normal_std(q_mu, q_logvar).numpy()))
    return Surgery(average_kl=average_kl, mutual_information=mi, mutual_information_se=mi_se,
                   marginal_kl=mkl, marginal_kl_se=mkl_se, sum_se=sum_se, log_n=math.log(n),
                   num_examples=n, samples_per_example=int(samples_per_example))


@dataclasses.dataclass(frozen=True)
class GaussianFit:
    """Per-example Gaussians fitted by :func:`optimize_gaussians`.

    Attributes:
      q_mu, q_logvar: ``[batch, latent]``, float32 arrays.
      elbo_trace: ``[steps]``, the batch mean of each step's ELBO estimate (nats),
        to see that the ascent has levelled off.
    """

    q_mu: np.ndarray
    q_logvar: np.ndarray
    elbo_trace: np.ndarray


def _elbo_of(model, x, q_mu, q_logvar, eps) -> tf.Tensor:
    """``mean_s log p(x|z_s) - KL(q || p(z))`` with ``z_s = q_mu + sigma * eps_s``, ``[batch]``."""
    z = q_mu + tf.exp(0.5 * q_logvar) * eps  # [S, batch, latent]
    return tf.reduce_mean(model.log_px_z(x, z), axis=0) - kl_normal_std(q_mu, q_logvar)


def optimize_gaussians(model, x, *, steps: int = 1000, num_samples: int = 10,
                       learning_rate: float = 1e-2, init: tuple | None = None,
                       seed: int = 0, jit_compile: bool = False) -> GaussianFit:
    """Fits one diagonal Gaussian q(z) per image, with the decoder fixed (Cremer et al. 2018).

    Each image's ``(q_mu, q_logvar)`` is its own parameter; Adam ascends the sum over
    the batch of each image's ELBO (``num_samples`` reparameterized codes, exact KL),
    so the images do not interact, with a step size that falls linearly from
    ``learning_rate`` to 1% of it. The model's variables are not changed.

    Args:
      model: a :class:`vaelib.VAE` (its ``log_px_z`` and, for the start, its encoder).
      x: ``[batch, input_size]`` pixels.
      steps: Adam steps.
      num_samples: codes per image and step.
      learning_rate: Adam's first step size.
      init: ``(q_mu, q_logvar)`` to start from; by default the encoder's output.
      seed: the noise's seed (stateless: the same call gives the same fit).
      jit_compile: compile the step with XLA (faster for long fits).

    Returns:
      A :class:`GaussianFit`.
    """
    steps = validation.positive_int("steps", steps)
    num_samples = validation.positive_int("num_samples", num_samples)
    learning_rate = validation.real("learning_rate", learning_rate, positive=True)
    seed = validation.integer("seed", seed)
    jit_compile = validation.flag("jit_compile", jit_compile)
    x = model.check_input(x)
    start = model.encoder(x) if init is None else init
    q_mu = tf.Variable(tf.cast(start[0], tf.float32), name="q_mu")
    q_logvar = tf.Variable(tf.cast(start[1], tf.float32), name="q_logvar")
    if q_mu.shape != q_logvar.shape or q_mu.shape.rank != 2 or q_mu.shape[0] != x.shape[0]:
        raise ValueError(f"init must be two [batch, latent] arrays for {x.shape[0]} images, got "
                         f"{q_mu.shape} and {q_logvar.shape}")
    # the step size falls linearly to 1% of its start, so the last iterate is not left
    # jittering at the scale of the first steps' noise
    schedule = tf.keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, learning_rate / 100)
    optimizer = tf.keras.optimizers.Adam(schedule)
    optimizer.build([q_mu, q_logvar])
    shape = [num_samples, *q_mu.shape]

    @tf.function(jit_compile=jit_compile)
    def ascend(step):
        eps = tf.random.stateless_normal(shape, seed=tf.stack([tf.constant(seed, tf.int64), step]))
        with tf.GradientTape() as tape:
            elbo = _elbo_of(model, x, q_mu, q_logvar, eps)
            loss = -tf.reduce_sum(elbo)  # each image's Gaussian gets its own ELBO's gradient
        optimizer.apply_gradients(zip(tape.gradient(loss, [q_mu, q_logvar]), [q_mu, q_logvar]))
        return tf.reduce_mean(elbo)

    trace = np.array([float(ascend(tf.constant(i, tf.int64))) for i in range(steps)])
    return GaussianFit(q_mu=q_mu.numpy(), q_logvar=q_logvar.numpy(), elbo_trace=trace)


def _gaussian_args(model, x, q_mu, q_logvar):
    x = model.check_input(x)
    q_mu, q_logvar = tf.cast(q_mu, tf.float32), tf.cast(q_logvar, tf.float32)
    if q_mu.shape != q_logvar.shape or q_mu.shape.rank != 2 or q_mu.shape[0] != x.shape[0]:
        raise ValueError(f"q_mu and q_logvar must be [batch, latent] for {x.shape[0]} images, got "
                         f"{q_mu.shape} and {q_logvar.shape}")
    return x, q_mu, q_logvar


def gaussian_elbo(model, x, q_mu, q_logvar, num_samples: int = 1000, *, chunk_size: int = 100,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The ELBO of given Gaussians q(z|x) = N(q_mu, diag(exp(q_logvar))), per image.

    Args:
      model: a :class:`vaelib.VAE` (only ``log_px_z`` is used).
      x: ``[batch, input_size]``.
      q_mu, q_logvar: ``[batch, latent]``.
      num_samples: codes per image for ``E_q[log p(x|z)]`` (the KL is exact).
      chunk_size: codes per image decoded at once.
      seed: the noise's seed.

    Returns:
      ``(elbo, se)``, each ``[batch]``, nats: the estimate and its Monte Carlo
      standard error, per image.
    """
    num_samples = validation.positive_int("num_samples", num_samples)
    chunk_size = validation.positive_int("chunk_size", chunk_size)
    seed = validation.integer("seed", seed)
    x, q_mu, q_logvar = _gaussian_args(model, x, q_mu, q_logvar)
    values = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        eps = tf.random.stateless_normal([k, *q_mu.shape], seed=[seed, i])
        values.append(model.log_px_z(x, q_mu + tf.exp(0.5 * q_logvar) * eps).numpy().astype(np.float64))
    log_px_z = np.concatenate(values)  # [num_samples, batch]
    se = (log_px_z.std(axis=0, ddof=1) / math.sqrt(num_samples) if num_samples > 1
          else np.full(x.shape[0], np.nan))
    return log_px_z.mean(axis=0) - kl_normal_std(q_mu, q_logvar).numpy().astype(np.float64), se


def gaussian_iwae(model, x, q_mu, q_logvar, num_samples: int, *, chunk_size: int = 500,
                  seed: int = 0) -> np.ndarray:
    """The importance-weighted bound ``L_k`` with given Gaussians as proposals, per image.

    As :func:`vaelib.iwae_bound`, with ``N(q_mu, diag(exp(q_logvar)))`` in place of the
    encoder's q(z|x): ``log (1/k) sum_i p(x, z_i) / q(z_i)``, ``z_i ~ q``.

    Returns:
      ``[batch]``, nats, float64.
    """
    num_samples = validation.positive_int("num_samples", num_samples)
    chunk_size = validation.positive_int("chunk_size", chunk_size)
    seed = validation.integer("seed", seed)
    x, q_mu, q_logvar = _gaussian_args(model, x, q_mu, q_logvar)
    chunks = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        eps = tf.random.stateless_normal([k, *q_mu.shape], seed=[seed, i])
        z = q_mu + tf.exp(0.5 * q_logvar) * eps
        log_w = model.log_px_z(x, z) + std_normal_log_prob(z) - normal_log_prob_from_eps(eps, q_logvar)
        chunks.append(tf.reduce_logsumexp(tf.cast(log_w, tf.float64), axis=0))
    return (tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)).numpy()
