"""The continuous Bernoulli (Loaiza-Ganem & Cunningham 2019; chapter 11): a density on [0, 1].

p(x | lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x) for x in [0, 1], whose normalizing
constant C makes it a density. :func:`continuous_bernoulli_log_norm` computes log C from the
logit, in closed form away from lambda = 1/2 and by an even power series near it (where the
closed form cancels).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import tensorflow as tf

from vaelib.models.distributions import bernoulli_log_prob
from vaelib.models.likelihood_base import (  # noqa: F401 (re-exported: the old path)
    Bernoulli,
    Likelihood,
    _check_seed,
    _split,
)

# log(x / tanh x) = sum_n a_n x^(2n) and coth x - 1/x = sum_n b_n x^(2n-1), n = 1..9 (SymPy);
# both converge for |x| < pi/2, and at |x| <= 0.5 nine terms leave < 1e-10.
_LOG_X_COTH_X = (
    1 / 3,
    -7 / 90,
    62 / 2835,
    -127 / 18900,
    146 / 66825,
    -1414477 / 1915538625,
    32764 / 127702575,
    -16931177 / 186080895000,
    11499383114 / 350813659321125,
)


_LANGEVIN = (
    1 / 3,
    -1 / 45,
    2 / 945,
    -1 / 4725,
    2 / 93555,
    -1382 / 638512875,
    4 / 18243225,
    -3617 / 162820783125,
    87734 / 38979295480125,
)


_SERIES_BELOW = 0.5  # |x| = |logit| / 2


def _even_series(x2: tf.Tensor, coefficients: tuple[float, ...]) -> tf.Tensor:
    """``sum_n c_n x2^(n-1)`` by Horner's rule (``x2 = x^2``)."""
    out = tf.zeros_like(x2)
    for c in reversed(coefficients):
        out = out * x2 + c
    return out


def continuous_bernoulli_log_norm(logits: tf.Tensor) -> tf.Tensor:
    """``log C(lambda)`` of the continuous Bernoulli, elementwise, from ``logits`` of lambda.

    ``C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)`` (Loaiza-Ganem & Cunningham
    2019), with ``C(1/2) = 2``. With ``lambda = sigmoid(l)``, ``1 - 2 lambda = -tanh(l/2)``
    and ``artanh(1 - 2 lambda) = -l/2``, so ``C = l / tanh(l/2)``: no 0/0 except at
    ``l = 0`` itself. For ``|l| < 1`` a series in ``(l/2)^2`` is used, so the value and
    its gradient are exact at and near ``lambda = 1/2``; far out, ``log C ~ log|l|``
    (lambda within float32's reach of 0 or 1 is a finite logit here).

    Returns:
      the same shape as ``logits``, nats.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    x = 0.5 * logits
    small = tf.abs(x) < _SERIES_BELOW
    xs = tf.where(small, x, tf.zeros_like(x))  # series side sees 0 where unused
    xl = tf.where(small, tf.ones_like(x), x)  # direct side never sees 0
    series = math.log(2.0) + tf.square(xs) * _even_series(tf.square(xs), _LOG_X_COTH_X)
    direct = tf.math.log(xl * 2.0 / tf.tanh(xl))
    return tf.where(small, series, direct)


@dataclasses.dataclass(frozen=True)
class ContinuousBernoulli(Likelihood):
    """``p(x|lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x)``, ``x`` in [0, 1]: a density.

    ``x_params`` are logits of ``lambda``. The log-density is the Bernoulli
    cross-entropy plus ``log C(lambda)`` per pixel (:func:`continuous_bernoulli_log_norm`),
    the term a Bernoulli decoder on grey pixels leaves out (Loaiza-Ganem & Cunningham 2019).
    ``lambda`` is not the mean: ``E[x] = 1/2 + L(l/2)/2`` with ``L(x) = coth x - 1/x``.
    """

    name: ClassVar[str] = "continuous Bernoulli"
    num_params: ClassVar[int] = 1
    support: ClassVar[str] = "grey pixels in [0, 1] (a density)"

    def log_prob(self, x, x_params):
        logits = tf.convert_to_tensor(x_params, tf.float32)
        return bernoulli_log_prob(x, logits) + tf.reduce_sum(
            continuous_bernoulli_log_norm(logits), axis=-1
        )

    def sample(self, x_params, seed):
        """Inverse CDF: ``x = log1p(u expm1(a)) / a`` with ``a = -|logit| <= 0``, mirrored for a
        positive logit (``x(logit, u) = 1 - x(-logit, 1 - u)``), so ``expm1`` never overflows."""
        logits = tf.convert_to_tensor(x_params, tf.float32)
        u = tf.random.stateless_uniform(tf.shape(logits), seed=_check_seed(seed))
        positive = logits > 0
        a = -tf.abs(logits)
        v = tf.where(positive, 1.0 - u, u)
        tiny = a > -1e-6  # log1p(v expm1(a)) / a -> v + a v (1 - v) / 2
        a_safe = tf.where(tiny, -tf.ones_like(a), a)
        x = tf.where(
            tiny, v + 0.5 * a * v * (1.0 - v), tf.math.log1p(v * tf.math.expm1(a_safe)) / a_safe
        )
        x = tf.clip_by_value(x, 0.0, 1.0)
        return tf.where(positive, 1.0 - x, x)

    def mean(self, x_params):
        logits = tf.convert_to_tensor(x_params, tf.float32)
        x = 0.5 * logits
        small = tf.abs(x) < _SERIES_BELOW
        xs = tf.where(small, x, tf.zeros_like(x))
        xl = tf.where(small, tf.ones_like(x), x)
        langevin = tf.where(
            small, xs * _even_series(tf.square(xs), _LANGEVIN), 1.0 / tf.tanh(xl) - 1.0 / xl
        )
        return 0.5 + 0.5 * langevin
