"""Log-densities the course needs, per example, in nats, summed over the last axis.

Chapter 2 uses :func:`bernoulli_log_prob` as the logistic-regression
log-likelihood; chapters 4-7 use all of them in the ELBO. Every function is
written in its numerically stable form and tested against SciPy and closed
forms.
"""

from __future__ import annotations

import math

import tensorflow as tf

__all__ = [
    "bernoulli_log_prob",
    "normal_log_prob",
    "normal_log_prob_from_eps",
    "std_normal_log_prob",
    "kl_normal_std",
]

LOG_2PI = math.log(2.0 * math.pi)


def _floats(*values) -> list[tf.Tensor]:
    """Tensors of the arguments; integers (``[0, 1]``, say) become float32, floats keep theirs."""
    tensors = [tf.convert_to_tensor(v) for v in values]
    return [t if t.dtype.is_floating else tf.cast(t, tf.float32) for t in tensors]


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
    # logits [num_samples, batch, d]: softplus(l) = max(l, 0) + log(1 + exp(-|l|)). Like
    # TensorFlow's, max(l, 0) and -|l| are selects on one condition, l >= 0: relu and abs
    # would each take their derivative at l = 0 as 0, and the gradient there would be off by
    # 0.5 (it is x - sigmoid(l)). The values are the same, bit for bit.
    positive = logits >= 0
    zeros = tf.zeros_like(logits)
    relu_logits = tf.where(positive, logits, zeros)
    neg_abs_logits = tf.where(positive, -logits, logits)
    return tf.reduce_sum(x * logits - relu_logits - tf.math.log1p(tf.exp(neg_abs_logits)), axis=-1)


def normal_log_prob(z: tf.Tensor, mu: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """``log N(z; mu, diag(exp(logvar)))``, summed over the last axis.

    Args:
      z: ``[..., k]``.
      mu: mean, broadcastable with ``z``.
      logvar: log *variance*, broadcastable with ``z``.

    Returns:
      ``[...]`` in nats.
    """
    z, mu, logvar = _floats(z, mu, logvar)
    return -0.5 * tf.reduce_sum(LOG_2PI + logvar + tf.square(z - mu) * tf.exp(-logvar), axis=-1)


def normal_log_prob_from_eps(eps: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` at a reparameterized ``z = mu + exp(logvar / 2) * eps``.

    ``(z - mu)^2 / exp(logvar) = eps^2``, so the density needs only ``eps``:
    ``-0.5 * sum_j [log(2 pi) + logvar_j + eps_j^2]``. This is the VAE's
    ``log_qz_x``. It is exact where :func:`normal_log_prob` is not: at small
    variances ``z - mu`` cancels in float32 (``q_logvar = -30``, ``mu = 1``
    leaves ``z - mu`` with one significant bit). Its gradient in ``mu`` and
    ``logvar``, through ``z`` as well, is the same as :func:`normal_log_prob`'s.
    (The score-function estimator needs the density at a *fixed* ``z``, and
    uses :func:`normal_log_prob`.)

    Args:
      eps: the standard normal noise that made ``z``, ``[..., k]``.
      logvar: log *variance*, broadcastable with ``eps``.

    Returns:
      ``[...]`` in nats.
    """
    eps, logvar = _floats(eps, logvar)
    return -0.5 * tf.reduce_sum(LOG_2PI + logvar + tf.square(eps), axis=-1)


def std_normal_log_prob(z: tf.Tensor) -> tf.Tensor:
    """``log N(z; 0, I)``, summed over the last axis: the prior ``log p(z)``."""
    (z,) = _floats(z)
    return -0.5 * tf.reduce_sum(LOG_2PI + tf.square(z), axis=-1)


def kl_normal_std(q_mu: tf.Tensor, q_logvar: tf.Tensor) -> tf.Tensor:
    """``KL(N(q_mu, diag(exp(q_logvar))) || N(0, I))`` in closed form.

    ``KL = 0.5 * sum_j [exp(q_logvar_j) + q_mu_j^2 - 1 - q_logvar_j]`` (Kingma &
    Welling 2013, appendix B). It is >= 0, and 0 only at the prior. The notes
    computed the *negative* of this (and called the log variance ``q_logsigma``).
    ``exp(q_logvar) - 1 - q_logvar`` is computed without cancellation, so the KL
    keeps its full relative precision in float32 even next to the prior.

    Args:
      q_mu: ``[..., k]``.
      q_logvar: ``[..., k]``, the log variance.

    Returns:
      ``[...]`` in nats.
    """
    q_mu, q_logvar = _floats(q_mu, q_logvar)
    return 0.5 * tf.reduce_sum(_expm1_minus_x(q_logvar) + tf.square(q_mu), axis=-1)


# 2 / (n + 2)! for n = 7 .. 0: e^v - 1 - v = v^2 / 2 * sum_n 2 v^n / (n + 2)!, Horner's order.
_SERIES = tuple(2.0 / math.factorial(n + 2) for n in range(7, -1, -1))


def _expm1_minus_x(v: tf.Tensor) -> tf.Tensor:
    """``exp(v) - 1 - v`` to full relative precision, also near ``v = 0``.

    ``expm1(v) - v`` cancels there (at ``v = 1e-6`` in float32 it is 20% off,
    though only 1e-13 in absolute terms), so ``|v| < 0.5`` uses the Taylor
    series to ``v^9`` (truncation below 1e-8 relative). The series sees 0 where
    it is not used, so neither branch can put a NaN into the gradient.
    """
    small = tf.abs(v) < 0.5
    s = tf.where(small, v, tf.zeros_like(v))
    series = tf.zeros_like(s)
    for c in _SERIES:
        series = series * s + c
    return tf.where(small, 0.5 * tf.square(s) * series, tf.math.expm1(v) - v)
