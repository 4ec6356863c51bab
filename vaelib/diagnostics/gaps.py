"""The approximation and amortization gaps (Cremer et al. 2018; chapter 10).

:func:`optimize_gaussians` fixes the decoder and fits one diagonal Gaussian per image by
maximizing its ELBO; :func:`gaussian_elbo` and :func:`gaussian_iwae` score any such
Gaussians. The amortization gap is ELBO(q*) - ELBO(encoder), the approximation gap
log p(x) - ELBO(q*).

The model is anything with ``encoder(x) -> (q_mu, q_logvar)`` and ``log_px_z(x, z)``
(a :class:`vaelib.VAE`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import (
    kl_normal_std,
    normal_log_prob_from_eps,
    std_normal_log_prob,
)

__all__ = ["GaussianFit", "optimize_gaussians", "gaussian_elbo", "gaussian_iwae"]


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


def optimize_gaussians(
    model,
    x,
    *,
    steps: int = 1000,
    num_samples: int = 10,
    learning_rate: float = 1e-2,
    init: tuple | None = None,
    seed: int = 0,
    jit_compile: bool = False,
) -> GaussianFit:
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
        raise ValueError(
            f"init must be two [batch, latent] arrays for {x.shape[0]} images, got "
            f"{q_mu.shape} and {q_logvar.shape}"
        )
    # the step size falls linearly to 1% of its start, so the last iterate is not left
    # jittering at the scale of the first steps' noise
    schedule = tf.keras.optimizers.schedules.PolynomialDecay(
        learning_rate, steps, learning_rate / 100
    )
    optimizer = tf.keras.optimizers.Adam(schedule)
    optimizer.build([q_mu, q_logvar])
    shape = [num_samples, *q_mu.shape]

    @tf.function(jit_compile=jit_compile)
    def ascend(step):
        eps = tf.random.stateless_normal(shape, seed=tf.stack([tf.constant(seed, tf.int64), step]))
        with tf.GradientTape() as tape:
            elbo = _elbo_of(model, x, q_mu, q_logvar, eps)
            loss = -tf.reduce_sum(elbo)  # each image's Gaussian gets its own ELBO's gradient
        optimizer.apply_gradients(
            zip(tape.gradient(loss, [q_mu, q_logvar]), [q_mu, q_logvar], strict=False)
        )
        return tf.reduce_mean(elbo)

    trace = np.array([float(ascend(tf.constant(i, tf.int64))) for i in range(steps)])
    return GaussianFit(q_mu=q_mu.numpy(), q_logvar=q_logvar.numpy(), elbo_trace=trace)


def _gaussian_args(model, x, q_mu, q_logvar):
    x = model.check_input(x)
    q_mu, q_logvar = tf.cast(q_mu, tf.float32), tf.cast(q_logvar, tf.float32)
    if q_mu.shape != q_logvar.shape or q_mu.shape.rank != 2 or q_mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"q_mu and q_logvar must be [batch, latent] for {x.shape[0]} images, got "
            f"{q_mu.shape} and {q_logvar.shape}"
        )
    return x, q_mu, q_logvar


def gaussian_elbo(
    model, x, q_mu, q_logvar, num_samples: int = 1000, *, chunk_size: int = 100, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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
        values.append(
            model.log_px_z(x, q_mu + tf.exp(0.5 * q_logvar) * eps).numpy().astype(np.float64)
        )
    log_px_z = np.concatenate(values)  # [num_samples, batch]
    se = (
        log_px_z.std(axis=0, ddof=1) / math.sqrt(num_samples)
        if num_samples > 1
        else np.full(x.shape[0], np.nan)
    )
    return log_px_z.mean(axis=0) - kl_normal_std(q_mu, q_logvar).numpy().astype(np.float64), se


def gaussian_iwae(
    model, x, q_mu, q_logvar, num_samples: int, *, chunk_size: int = 500, seed: int = 0
) -> np.ndarray:
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
        log_w = (
            model.log_px_z(x, z) + std_normal_log_prob(z) - normal_log_prob_from_eps(eps, q_logvar)
        )
        chunks.append(tf.reduce_logsumexp(tf.cast(log_w, tf.float64), axis=0))
    return (tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)).numpy()
