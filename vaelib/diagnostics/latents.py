"""Which latents a trained VAE uses (chapter 10): codes, KL per dimension, activity, and the
aggregate posterior's log-density.

* **KL per dimension** and **active units** (Burda et al. 2015): dimension ``j`` is
  active when ``Cov_x(E_q[z_j|x]) > 0.01`` (:func:`vaelib.active_units` counts them).
* The **aggregate posterior** ``q(z) = (1/N) sum_n q(z|x_n)`` of ``N`` images, whose
  log-density :func:`log_aggregate_posterior` computes exactly (a log-sum-exp over the
  ``N`` components); :mod:`vaelib.diagnostics.surgery` builds on it.

The model is anything with ``encoder(x) -> (q_mu, q_logvar)`` (a :class:`vaelib.VAE`).
Arrays returned are NumPy, float64 where they are statistics.
"""

from __future__ import annotations

import math

import numpy as np

from vaelib import validation
from vaelib.models.distributions import LOG_2PI, kl_normal_std

__all__ = ["encode", "kl_per_dimension", "latent_variance", "log_aggregate_posterior"]


def _check_positive_int(name: str, value) -> None:
    validation.positive_int(name, value)


def _gaussians(q_mu, q_logvar) -> tuple[np.ndarray, np.ndarray]:
    q_mu, q_logvar = np.asarray(q_mu, np.float64), np.asarray(q_logvar, np.float64)
    if q_mu.ndim != 2 or q_mu.shape != q_logvar.shape:
        raise ValueError(
            f"q_mu and q_logvar must both be [N, latent], got {q_mu.shape} and {q_logvar.shape}"
        )
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
    parts = [
        model.encoder(model.check_input(x[i : i + batch_size])) for i in range(0, n, batch_size)
    ]
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
        raise ValueError(
            f"q_mu must be [N, latent] with N >= 2 to measure a variance, got {q_mu.shape}"
        )
    return np.var(q_mu, axis=0, ddof=1)


def log_aggregate_posterior(z, q_mu, q_logvar, chunk_size: int = 1024) -> np.ndarray:
    """``log q(z) = log (1/N) sum_n q(z|x_n)``: the aggregate posterior's density, exactly.

    Each component's log-density, ``-0.5 * sum_j [log 2 pi + v_nj + (z_j - mu_nj)^2 w_nj]``
    with ``v = q_logvar`` and ``w = exp(-v)``, is computed for a chunk of codes at once as
    ``c_n - 0.5 * (z^2 @ w^T - 2 z @ (mu w)^T)``, two matrix products, where
    ``c_n = -0.5 * sum_j [log 2 pi + v_nj + mu_nj^2 w_nj]``. In float64 it agrees with the
    direct sum, which builds a ``[chunk, N, latent]`` tensor, to within the tolerance of
    ``tests/test_diagnostics.py`` (SciPy, posteriors down to a hundredth of the prior's
    width), and needs neither that tensor's memory nor its passes over it.

    Args:
      z: ``[M, latent]`` codes.
      q_mu, q_logvar: the ``N`` Gaussians of the mixture, ``[N, latent]``.
      chunk_size: codes scored at once (memory is ``chunk_size * N`` floats).

    Returns:
      ``[M]``, nats, float64.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    z = np.asarray(z, np.float64)
    if z.ndim != 2 or z.shape[1] != q_mu.shape[1]:
        raise ValueError(f"z must be [M, {q_mu.shape[1]}], got {z.shape}")
    _check_positive_int("chunk_size", chunk_size)
    w = np.exp(-q_logvar)  # [N, latent], 1 / variance
    const = -0.5 * np.sum(LOG_2PI + q_logvar + q_mu**2 * w, axis=1)  # [N]
    two_mu_w = (2.0 * q_mu * w).T  # [latent, N]
    out = []
    for start in range(0, len(z), chunk_size):
        zc = z[start : start + chunk_size]  # [m, latent]
        log_q = zc @ two_mu_w  # [m, N]: log q(z_m | x_n), built in place
        log_q -= (zc**2) @ w.T
        log_q *= 0.5
        log_q += const
        top = log_q.max(axis=1, keepdims=True)  # a log-sum-exp over n
        log_q -= top
        np.exp(log_q, out=log_q)
        out.append(np.log(log_q.sum(axis=1)) + top[:, 0])
    return np.concatenate(out) - math.log(len(q_mu)) if out else np.zeros([0])
