"""Gradients through a discrete choice.

A categorical code ``c ~ Cat(p)``, ``p = softmax(logits)``, written as a one-hot vector ``y``,
has no reparameterization gradient: ``y`` jumps between corners of the simplex, and
``d y / d logits`` is zero almost everywhere. Four estimators of
``grad_logits E_{y ~ Cat(p)}[f(y)]``, for a function ``f`` that does not itself depend on the
logits, and the exact gradient by enumeration to measure them against:

* ``"score"``, the score function (chapter 5; Williams 1992): ``f(y) (y - p)`` per draw, since
  ``grad_logits log p(y) = y - p``. Unbiased; needs only values of ``f``. With
  ``baseline=True`` the mean of the *other* draws' ``f`` is subtracted (leave-one-out), which
  keeps it unbiased.
* ``"gumbel_softmax"``, the Gumbel-softmax or concrete relaxation (Jang et al. 2017; Maddison
  et al. 2017): ``y_soft = softmax((logits + g) / temperature)`` with Gumbel noise ``g``, and
  the gradient of ``f(y_soft)``. ``f`` must accept points inside the simplex. Unbiased for the
  *relaxed* objective ``E_g[f(y_soft)]``, biased for the discrete one; the bias shrinks and
  the variance grows as the temperature falls.
* ``"st_gumbel"``, straight-through Gumbel-softmax (Jang et al. 2017): the forward value is the
  one-hot ``argmax(logits + g)`` (a true categorical draw, the Gumbel-max trick), the backward
  pass the relaxed sample's gradient.
* ``"straight_through"`` (Bengio et al. 2013): the forward value is a categorical draw's
  one-hot, the backward pass treats it as ``p``: ``y = onehot + p - stop_gradient(p)``. Exact
  for an ``f`` linear in ``y``, biased otherwise.

All four are placements of ``tf.stop_gradient`` or of noise in one graph; the estimators return
one gradient per draw, ``[num_samples, ..., K]``, so that their mean, bias and variance can be
measured (their mean over the draws is the estimate).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from vaelib import validation

__all__ = [
    "DISCRETE_ESTIMATORS",
    "gumbel_noise",
    "gumbel_softmax",
    "straight_through",
    "categorical_gradients",
    "exact_categorical_gradient",
]

DISCRETE_ESTIMATORS = ("score", "gumbel_softmax", "st_gumbel", "straight_through")

Fn = Callable[[tf.Tensor], tf.Tensor]


def _logits(logits) -> tf.Tensor:
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        logits = tf.cast(logits, tf.float32)
    if logits.shape.rank is None or logits.shape.rank < 1 or (logits.shape[-1] or 0) < 2:
        raise ValueError(
            f"logits must be [..., K] with K >= 2 categories, got shape {logits.shape}"
        )
    return logits


def _seed(seed) -> tf.Tensor:
    seed = tf.convert_to_tensor(seed)
    if seed.shape != (2,) or not seed.dtype.is_integer:
        raise ValueError(f"seed must be two ints, e.g. [0, 1], got {seed!r}")
    return seed


def gumbel_noise(shape, seed, dtype=tf.float32) -> tf.Tensor:
    """Standard Gumbel draws ``-log(-log u)``, ``u`` uniform in ``(0, 1)`` (never 0 or 1)."""
    tiny = float(tf.experimental.numpy.finfo(dtype.as_numpy_dtype).tiny)
    u = tf.random.stateless_uniform(shape, seed=_seed(seed), minval=tiny, maxval=1.0, dtype=dtype)
    return -tf.math.log(-tf.math.log(u))


def straight_through(hard: tf.Tensor, soft: tf.Tensor) -> tf.Tensor:
    """``hard`` in the forward pass, ``soft``'s gradient in the backward pass:
    ``soft + stop_gradient(hard - soft)``."""
    return soft + tf.stop_gradient(hard - soft)


def gumbel_softmax(
    logits, temperature: float, seed, num_samples: int | None = None, hard: bool = False
) -> tf.Tensor:
    """A relaxed one-hot sample, ``softmax((logits + g) / temperature)``.

    Args:
      logits: ``[..., K]``.
      temperature: ``> 0``; as it falls to 0 the sample tends to the one-hot of
        ``argmax(logits + g)``, a draw from ``Cat(softmax(logits))``.
      seed: ``[2]`` ints for the stateless noise.
      num_samples: draws per distribution (``None``: one, no extra axis).
      hard: the one-hot ``argmax(logits + g)`` in the forward pass, the relaxed sample's
        gradient in the backward pass (straight-through Gumbel-softmax).

    Returns:
      ``[..., K]``, or ``[num_samples, ..., K]``.
    """
    logits = _logits(logits)
    temperature = validation.real("temperature", temperature, positive=True)
    shape = tf.shape(logits)
    if num_samples is not None:
        num_samples = validation.positive_int("num_samples", num_samples)
        shape = tf.concat([[num_samples], shape], axis=0)
    g = gumbel_noise(shape, seed, logits.dtype)
    soft = tf.nn.softmax((logits + g) / temperature, axis=-1)
    if not hard:
        return soft
    onehot = tf.one_hot(tf.argmax(logits + g, axis=-1), logits.shape[-1], dtype=logits.dtype)
    return straight_through(onehot, soft)


def categorical_gradients(
    f: Fn,
    logits,
    estimator: str,
    num_samples: int,
    seed,
    temperature: float = 1.0,
    baseline: bool = False,
) -> tf.Tensor:
    """One estimate of ``grad_logits E_{y ~ Cat(softmax(logits))}[f(y)]`` per draw.

    Args:
      f: maps ``y`` ``[num_samples, ..., K]`` (one-hot, or relaxed for
        ``"gumbel_softmax"``) to values ``[num_samples, ...]``; it must not depend on
        ``logits`` except through ``y``.
      logits: ``[..., K]``.
      estimator: one of :data:`DISCRETE_ESTIMATORS`.
      num_samples: draws; the estimates are returned per draw.
      seed: ``[2]`` ints for the stateless noise.
      temperature: of the Gumbel-softmax estimators.
      baseline: for ``"score"``: subtract the mean of the other draws' ``f``
        (needs ``num_samples >= 2``).

    Returns:
      ``[num_samples, ..., K]``: their mean over axis 0 is the estimate.

    Raises:
      ValueError: an unknown estimator, a baseline with one draw or with another
        estimator, bad logits, seed or counts.
    """
    if estimator not in DISCRETE_ESTIMATORS:
        raise ValueError(f"estimator must be one of {DISCRETE_ESTIMATORS}, got {estimator!r}")
    logits = _logits(logits)
    num_samples = validation.positive_int("num_samples", num_samples)
    if baseline and estimator != "score":
        raise ValueError(f"baseline is for the score estimator, not {estimator!r}")
    if baseline and num_samples < 2:
        raise ValueError("a leave-one-out baseline needs num_samples >= 2")
    k = logits.shape[-1]
    tiled = tf.broadcast_to(logits, tf.concat([[num_samples], tf.shape(logits)], axis=0))
    if estimator == "score":
        p = tf.nn.softmax(logits, axis=-1)
        draws = tf.random.stateless_categorical(
            tf.reshape(logits, [-1, k]), num_samples, seed=_seed(seed)
        )  # [batch, num_samples]
        codes = tf.reshape(
            tf.transpose(draws), tf.concat([[num_samples], tf.shape(logits)[:-1]], axis=0)
        )
        y = tf.one_hot(codes, k, dtype=logits.dtype)
        values = tf.stop_gradient(f(y))  # [num_samples, ...]
        if baseline:
            others = (tf.reduce_sum(values, axis=0, keepdims=True) - values) / (num_samples - 1)
            values = values - others
        return values[..., None] * (y - p)
    with tf.GradientTape() as tape:
        tape.watch(tiled)
        if estimator == "straight_through":
            draws = tf.random.stateless_categorical(
                tf.reshape(logits, [-1, k]), num_samples, seed=_seed(seed)
            )
            codes = tf.reshape(
                tf.transpose(draws), tf.concat([[num_samples], tf.shape(logits)[:-1]], axis=0)
            )
            p = tf.nn.softmax(tiled, axis=-1)
            y = straight_through(tf.one_hot(codes, k, dtype=logits.dtype), p)
        else:
            temperature = validation.real("temperature", temperature, positive=True)
            g = gumbel_noise(tf.shape(tiled), seed, logits.dtype)
            soft = tf.nn.softmax((tiled + g) / temperature, axis=-1)
            if estimator == "st_gumbel":
                onehot = tf.one_hot(tf.argmax(tiled + g, axis=-1), k, dtype=logits.dtype)
                y = straight_through(onehot, soft)
            else:
                y = soft
        values = f(y)  # [num_samples, ...]: each draw's own gradient, not their sum's
    return tape.gradient(values, tiled)


def exact_categorical_gradient(f: Fn, logits) -> tf.Tensor:
    """``grad_logits sum_k softmax(logits)_k f(e_k)`` by enumerating the ``K`` one-hots.

    Args:
      f: as for :func:`categorical_gradients`, called once with the one-hots
        ``[K, ..., K]`` (``e_k`` along axis 0, for every distribution).
      logits: ``[..., K]``.

    Returns:
      ``[..., K]``.
    """
    logits = _logits(logits)
    k = logits.shape[-1]
    eye = tf.eye(k, dtype=logits.dtype)  # [K, K]: e_k
    rank = logits.shape.rank
    corners = tf.reshape(eye, [k] + [1] * (rank - 1) + [k])
    corners = tf.broadcast_to(corners, tf.concat([[k], tf.shape(logits)], axis=0))
    values = tf.stop_gradient(f(corners))  # [K, ...]
    with tf.GradientTape() as tape:
        tape.watch(logits)
        p = tf.nn.softmax(logits, axis=-1)  # [..., K]
        expectation = tf.reduce_sum(p * tf.experimental.numpy.moveaxis(values, 0, -1))
    return tape.gradient(expectation, logits)
