"""ELBO surgery (Hoffman & Johnson 2016; chapter 10): the average KL term split into the
index-code mutual information and the marginal KL.

With the index n uniform over a set of N images and the *aggregate posterior*
q(z) = (1/N) sum_n q(z|x_n),

  (1/N) sum_n KL(q(z|x_n) || p(z)) = I_q(n; z) + KL(q(z) || p(z)),

where I_q(n; z) = (1/N) sum_n E_{q(z|x_n)}[log q(z|x_n) - log q(z)] <= log N is the mutual
information between the image's index and its code. :func:`elbo_surgery` estimates both
terms by Monte Carlo, with standard errors; log q(z) is exact (a log-sum-exp over all N
components), so the only noise is the draw of the codes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.diagnostics.latents import _gaussians, log_aggregate_posterior
from vaelib.models.distributions import (
    kl_normal_std,
    std_normal_log_prob,
)

__all__ = ["Surgery", "elbo_surgery", "reverse_marginal_kl"]


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
      marginal_per_example: ``[N]``, the mean of ``log q(z) - log p(z)`` over the codes of
        image ``n``; its mean is ``marginal_kl``. Two models scored on the same images can be
        compared image by image (``vaelib.compare``).
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
    # an array: left out of == (which compares the scalar terms) and of the repr
    marginal_per_example: np.ndarray | None = dataclasses.field(
        default=None, compare=False, repr=False
    )


def elbo_surgery(
    q_mu,
    q_logvar,
    samples_per_example: int = 4,
    seed: int = 0,
    chunk_size: int = 1024,
    log_prior=None,
) -> Surgery:
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
      log_prior: ``log p(z)`` for ``z`` ``[..., latent]`` (e.g. a learned prior's
        ``log_prob``); ``None`` is N(0, I). Without a closed form for the KL, ``average_kl``
        is then the Monte Carlo mean of ``log q(z|x_n) - log p(z)`` over the same codes.

    Returns:
      A :class:`Surgery`.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    samples_per_example = validation.integer("samples_per_example", samples_per_example, minimum=2)
    seed = validation.integer("seed", seed, minimum=0)
    n, latent = q_mu.shape
    eps = np.random.default_rng(seed).standard_normal((samples_per_example, n, latent))
    z = q_mu + np.exp(0.5 * q_logvar) * eps  # [S, N, latent]
    log_q_cond = -0.5 * np.sum(np.log(2 * np.pi) + q_logvar + eps**2, axis=-1)  # [S, N]
    if log_prior is None:
        log_p = std_normal_log_prob(tf.constant(z)).numpy()  # [S, N]
    else:
        log_p = np.asarray(log_prior(tf.constant(z, tf.float32)), np.float64)
        if log_p.shape != z.shape[:2] or not np.all(np.isfinite(log_p)):
            raise ValueError(
                f"log_prior must return finite values of shape {z.shape[:2]} for z "
                f"{z.shape}; got {log_p.shape}"
            )
    log_q = log_aggregate_posterior(z.reshape(-1, latent), q_mu, q_logvar, chunk_size)
    log_q = log_q.reshape(samples_per_example, n)
    info, marginal = log_q_cond - log_q, log_q - log_p  # [S, N] each

    def mean_se(values):
        per_example_var = np.var(values, axis=0, ddof=1)  # [N]
        return float(values.mean()), float(np.sqrt(per_example_var.sum() / samples_per_example) / n)

    mi, mi_se = mean_se(info)
    mkl, mkl_se = mean_se(marginal)
    _, sum_se = mean_se(info + marginal)
    if log_prior is None:
        average_kl = float(np.mean(kl_normal_std(q_mu, q_logvar).numpy()))
    else:
        average_kl = float(np.mean(log_q_cond - log_p))
    return Surgery(
        average_kl=average_kl,
        mutual_information=mi,
        mutual_information_se=mi_se,
        marginal_kl=mkl,
        marginal_kl_se=mkl_se,
        sum_se=sum_se,
        log_n=math.log(n),
        num_examples=n,
        samples_per_example=int(samples_per_example),
        marginal_per_example=marginal.mean(axis=0),
    )


def reverse_marginal_kl(q_mu, q_logvar, z_prior, log_pz, chunk_size: int = 1024) -> np.ndarray:
    """``log p(z_m) - log q(z_m)`` at draws ``z_m`` of the prior: their mean estimates
    ``KL(p(z) || q(z)) = E_p[log p(z) - log q(z)]``, the divergence that the *holes* of the
    aggregate posterior make large (chapter 10); their standard deviation over ``sqrt(M)`` is
    its standard error.

    Args:
      q_mu, q_logvar: ``[N, latent]``, the Gaussians whose mixture is ``q(z)``.
      z_prior: ``[M, latent]``, draws of the prior.
      log_pz: ``[M]``, the prior's log density at those draws.
      chunk_size: see :func:`log_aggregate_posterior`.

    Returns:
      ``[M]``, nats.
    """
    q_mu, q_logvar = _gaussians(q_mu, q_logvar)
    z_prior = np.asarray(z_prior, np.float64)
    log_pz = np.asarray(log_pz, np.float64)
    if z_prior.ndim != 2 or z_prior.shape[1] != q_mu.shape[1] or log_pz.shape != z_prior.shape[:1]:
        raise ValueError(
            f"z_prior must be [M, {q_mu.shape[1]}] and log_pz [M]; got {z_prior.shape} and "
            f"{log_pz.shape}"
        )
    if len(log_pz) < 2:
        raise ValueError("z_prior needs at least 2 draws for a standard error")
    return log_pz - log_aggregate_posterior(z_prior, q_mu, q_logvar, chunk_size)
