"""The exact posterior of a model with a 2-D latent, on a grid (chapter 12).

With ``d = 2`` the integral ``p(x) = int p(x|z) p(z) dz`` can be done by brute force: score
``log p(x, z)`` at every point of a square grid of ``m x m`` points with spacing ``h`` and sum,

    log p(x) ~= log sum_ij exp(log p(x, z_ij)) + 2 log h,

a Riemann sum, whose error for a smooth integrand vanishes as ``h`` shrinks provided the
square holds (almost) all of the posterior's mass. :func:`grid_posterior` returns the log
joint on the grid, the normalized posterior ``log p(z_ij | x) = log p(x, z_ij) - log p(x)`` (a
density: ``sum_ij p(z_ij|x) h^2 = 1``) and ``log p(x)``; :func:`refinement_check` computes the
same ``log p(x)`` on a grid with half the spacing, so a chapter can print how far it moved.
The tests check it against the linear-Gaussian model's exact ``log p(x)``.

Nothing here knows about VAEs: ``log_joint`` is any function ``z [G, 2] -> [G, batch]``;
:func:`vae_log_joint` builds it for a :class:`vaelib.VAE` and a prior.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import std_normal_log_prob
from vaelib.models.likelihood_base import Bernoulli

__all__ = ["GridPosterior", "grid_posterior", "refinement_check", "vae_log_joint"]

LogJoint = Callable[[tf.Tensor], tf.Tensor]  # z [G, 2] -> log p(x, z) [G, batch]


@dataclasses.dataclass(frozen=True)
class GridPosterior:
    """``log p(x, z)`` on a square grid, and what follows from it.

    Attributes:
      axis: ``[m]``, the grid's coordinates along each latent axis.
      log_joint: ``[batch, m, m]``, ``log p(x, z)`` at ``z = (axis[i], axis[j])``.
      log_px: ``[batch]``, ``log p(x)`` by the Riemann sum (nats).
      log_posterior: ``[batch, m, m]``, ``log p(z|x)``, a log density.
      edge_mass: ``[batch]``, the posterior mass in the grid's outermost ring of points: near
        zero when the square holds the posterior.
    """

    axis: np.ndarray
    log_joint: np.ndarray
    log_px: np.ndarray
    log_posterior: np.ndarray
    edge_mass: np.ndarray

    @property
    def spacing(self) -> float:
        return float(self.axis[1] - self.axis[0])


def grid_posterior(
    log_joint: LogJoint, limit: float = 5.0, num_points: int = 301, chunk_size: int = 4096
) -> GridPosterior:
    """Scores ``log_joint`` on ``[-limit, limit]^2`` with ``num_points`` points per axis.

    Args:
      log_joint: ``z [G, 2] -> [G, batch]``, ``log p(x, z)`` of each image of a batch.
      limit: the half-width of the square.
      num_points: points per axis, at least 3.
      chunk_size: grid points per call of ``log_joint`` (bounds the memory).

    Returns:
      A :class:`GridPosterior`.

    Raises:
      ValueError: a bad size, or a ``log_joint`` that returns NaN or is not ``[G, batch]``.
    """
    limit = validation.real("limit", limit, positive=True)
    num_points = validation.integer("num_points", num_points, minimum=3)
    chunk_size = validation.positive_int("chunk_size", chunk_size)
    axis = np.linspace(-limit, limit, num_points)
    z1, z2 = np.meshgrid(axis, axis, indexing="ij")
    points = np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)  # [m*m, 2]
    parts = []
    for start in range(0, len(points), chunk_size):
        out = np.asarray(log_joint(tf.constant(points[start : start + chunk_size])))
        if out.ndim != 2 or out.shape[0] != min(chunk_size, len(points) - start):
            raise ValueError(f"log_joint must return [G, batch] for z [G, 2]; got {out.shape}")
        parts.append(out.astype(np.float64))
    values = np.concatenate(parts).T  # [batch, m*m]
    if np.any(np.isnan(values)):
        raise ValueError("log_joint returned NaN on the grid")
    h = axis[1] - axis[0]
    log_px = np.logaddexp.reduce(values, axis=1) + 2 * math.log(h)
    log_post = values - log_px[:, None]
    mass = np.exp(log_post) * h * h  # [batch, m*m]
    ring = np.zeros((num_points, num_points), bool)
    ring[[0, -1], :] = ring[:, [0, -1]] = True
    shape = (len(log_px), num_points, num_points)
    return GridPosterior(
        axis=axis,
        log_joint=values.reshape(shape),
        log_px=log_px,
        log_posterior=log_post.reshape(shape),
        edge_mass=mass[:, ring.ravel()].sum(axis=1),
    )


def refinement_check(
    log_joint: LogJoint, limit: float = 5.0, num_points: int = 301, chunk_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """``log p(x)`` on the grid and on one with half the spacing (``2 m - 1`` points).

    Returns:
      ``(coarse, fine)``, each ``[batch]``; their difference is the grid's error, to the
      order of the finer grid's own.
    """
    coarse = grid_posterior(log_joint, limit, num_points, chunk_size).log_px
    fine = grid_posterior(log_joint, limit, 2 * num_points - 1, chunk_size).log_px
    return coarse, fine


def vae_log_joint(model, x, prior=None) -> LogJoint:
    """``log p(x|z) + log p(z)`` of a :class:`vaelib.VAE` with ``latent_size = 2``, for the
    images ``x`` ``[batch, input_size]``; ``prior`` has ``log_prob`` (``None``: N(0, I)).

    A grid point's decoding does not depend on the image, so each point is decoded once; for
    the Bernoulli likelihood ``log p(x|z) = x . l - sum_i softplus(l_i)`` is then one matrix
    product over all images (the tests check it equals ``model.log_px_z``)."""
    if model.config.latent_size != 2:
        raise ValueError(
            f"the grid needs a model with latent_size 2, got {model.config.latent_size}"
        )
    x = model.check_input(x)

    bernoulli = isinstance(model.likelihood, Bernoulli)

    @tf.function(reduce_retracing=True)
    def log_joint(z):  # [G, 2] -> [G, batch]
        log_pz = std_normal_log_prob(z) if prior is None else prior.log_prob(z)  # [G]
        if bernoulli:
            x_logits = model.decoder(z)  # [G, input_size]
            log_px_z = tf.matmul(x_logits, x, transpose_b=True) - tf.reduce_sum(
                tf.nn.softplus(x_logits), axis=-1, keepdims=True
            )
        else:
            zb = tf.broadcast_to(z[:, None, :], [tf.shape(z)[0], tf.shape(x)[0], 2])
            log_px_z = model.log_px_z(x, zb)
        return log_px_z + log_pz[:, None]

    return log_joint
