"""Two Monte Carlo estimators of the gradient of an expectation (chapter 5).

For ``q = N(mu, diag(exp(logvar)))`` and a function ``f``, both estimate
``grad_{mu, logvar} E_{z~q}[f(z)]`` from ``num_samples`` draws:

* score function (REINFORCE; Williams 1992, Paisley et al. 2012):
  ``mean_i f(z_i) * grad log q(z_i)``; needs only values of ``f``;
* reparameterization (Kingma & Welling 2013, Rezende et al. 2014):
  ``z_i = mu + exp(logvar / 2) * eps_i`` and ``mean_i grad f(z_i)``; needs ``f``
  to be differentiable, and usually has far lower variance.

Both are unbiased; tests check this against closed forms.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from vaelib import validation
from vaelib.models.distributions import normal_log_prob

__all__ = ["score_function_gradient", "reparameterization_gradient"]

Fn = Callable[[tf.Tensor], tf.Tensor]


def _params(mu, logvar) -> tuple[tf.Tensor, tf.Tensor]:
    """``mu`` and ``logvar`` as float tensors of one shape (integers become float32)."""
    mu, logvar = tf.convert_to_tensor(mu), tf.convert_to_tensor(logvar)
    mu = mu if mu.dtype.is_floating else tf.cast(mu, tf.float32)
    logvar = logvar if logvar.dtype.is_floating else tf.cast(logvar, mu.dtype)
    if mu.shape != logvar.shape or mu.dtype != logvar.dtype:
        raise ValueError(
            f"mu and logvar must have one shape and dtype, got {mu.shape} {mu.dtype.name} "
            f"and {logvar.shape} {logvar.dtype.name}"
        )
    return mu, logvar


def _noise(mu: tf.Tensor, num_samples: int, seed) -> tf.Tensor:
    num_samples = validation.positive_int("num_samples", num_samples)
    if tf.convert_to_tensor(seed).shape != (2,):
        raise ValueError(f"seed must be two ints, e.g. [0, 1], got {seed!r}")
    shape = tf.concat([[num_samples], tf.shape(mu)], axis=0)
    return tf.random.stateless_normal(shape, seed=seed, dtype=mu.dtype)


def score_function_gradient(
    f: Fn, mu: tf.Tensor, logvar: tf.Tensor, num_samples: int, seed, *, baseline: bool = False
) -> tuple[tf.Tensor, tf.Tensor]:
    """Score-function estimate of ``(d/d mu, d/d logvar) E_q[f(z)]``.

    Args:
      f: maps ``z`` ``[num_samples, ..., d]`` to values ``[num_samples, ...]``.
      mu, logvar: parameters of q, ``[..., d]`` (``d`` the latent dimension).
      num_samples: draws.
      seed: ``[2]`` ints for the stateless noise.
      baseline: subtract the mean of the *other* samples' ``f`` (leave-one-out),
        a control variate that keeps the estimator unbiased; needs ``num_samples >= 2``.

    Returns:
      Gradient estimates shaped like ``mu`` and ``logvar``.
    """
    mu, logvar = _params(mu, logvar)
    z = tf.stop_gradient(mu + tf.exp(0.5 * logvar) * _noise(mu, num_samples, seed))
    values = tf.stop_gradient(f(z))
    if validation.flag("baseline", baseline):
        if num_samples < 2:
            raise ValueError("a leave-one-out baseline needs num_samples >= 2")
        values -= (tf.reduce_sum(values, 0, keepdims=True) - values) / (num_samples - 1)
    with tf.GradientTape() as tape:
        tape.watch([mu, logvar])
        log_q = normal_log_prob(z, mu, logvar)  # [num_samples, ...]
        surrogate = tf.reduce_sum(tf.reduce_mean(values * log_q, axis=0))
    return tuple(tape.gradient(surrogate, [mu, logvar]))


def reparameterization_gradient(
    f: Fn, mu: tf.Tensor, logvar: tf.Tensor, num_samples: int, seed
) -> tuple[tf.Tensor, tf.Tensor]:
    """Reparameterization estimate of ``(d/d mu, d/d logvar) E_q[f(z)]``.

    Args: as :func:`score_function_gradient` (``f`` must be differentiable).

    Returns:
      Gradient estimates shaped like ``mu`` and ``logvar``.
    """
    mu, logvar = _params(mu, logvar)
    eps = _noise(mu, num_samples, seed)
    with tf.GradientTape() as tape:
        tape.watch([mu, logvar])
        z = mu + tf.exp(0.5 * logvar) * eps
        objective = tf.reduce_sum(tf.reduce_mean(f(z), axis=0))
    return tuple(tape.gradient(objective, [mu, logvar]))
