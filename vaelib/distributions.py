"""Log-densities the course needs, per example, in nats, summed over the last axis.

Chapter 2 uses :func:`bernoulli_log_prob` as the logistic-regression
log-likelihood; chapters 4-7 use all of them in the ELBO. Every function is
written in its numerically stable form and tested against SciPy and closed
forms.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = ["bernoulli_log_prob", "normal_log_prob", "std_normal_log_prob", "kl_normal_std"]

LOG_2PI = math.log(2.0 * math.pi)


def bernoulli_log_prob(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """``log p(x)`` for independent Bernoulli variables with the given logits.

    ``log p(x) = sum_i [x_i * l_i - softplus(l_i)]``, which never takes the log
    of a probability (the notes' ``log(1e-10 + p)`` caps the loss at 23 nats per
    pixel and biases it).

    Args:
      x: values in {0, 1} (values in [0, 1] give the cross-entropy), ``[..., d]``.
      logits: ``[..., d]``, broadcastable with ``x``.

    Returns:
      ``[...]``: the sum over the last axis, in nats.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    logits = tf.convert_to_tensor(logits, tf.float32)
    # sigmoid_cross_entropy_with_logits, written out so that x broadcasts against
    # logits [num_samples, batch, d]: max(l, 0) - l * x + log(1 + exp(-|l|))
    return tf.reduce_sum(x * logits - tf.nn.relu(logits) - tf.math.log1p(tf.exp(-tf.abs(logits))),
                         axis=-1)


def normal_log_prob(z: tf.Tensor, mu: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """``log N(z; mu, diag(exp(logvar)))``, summed over the last axis.

    Args:
      z: ``[..., k]``.
      mu: mean, broadcastable with ``z``.
      logvar: log *variance*, broadcastable with ``z``.

    Returns:
      ``[...]`` in nats.
    """
    return -0.5 * tf.reduce_sum(LOG_2PI + logvar + tf.square(z - mu) * tf.exp(-logvar), axis=-1)


def std_normal_log_prob(z: tf.Tensor) -> tf.Tensor:
    """``log N(z; 0, I)``, summed over the last axis: the prior ``log p(z)``."""
    return -0.5 * tf.reduce_sum(LOG_2PI + tf.square(z), axis=-1)


def kl_normal_std(q_mu: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
    """``KL(N(q_mu, diag(exp(q_logvar))) || N(0, I))`` in closed form.

    ``KL = 0.5 * sum_j [exp(q_logvar_j) + q_mu_j^2 - 1 - q_logvar_j]`` (Kingma &
    Welling 2013, appendix B). It is >= 0, and 0 only at the prior. The notes
    computed the *negative* of this (and called the log variance ``q_logsigma``).

    Args:
      q_mu: ``[..., k]``.
      q_logvar: ``[..., k]``, the log variance.

    Returns:
      ``[...]`` in nats.
    """
    # expm1(v) - v rather than exp(v) - 1 - v: exact near the prior, never negative.
    return 0.5 * tf.reduce_sum(tf.math.expm1(q_logvar) - q_logvar + tf.square(q_mu), axis=-1)
