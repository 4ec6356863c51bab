"""Importance-weighted bounds and whole-set evaluation (chapter 7).

For any ``num_samples``, ``E[elbo] <= E[iwae_bound] <= log p(x)``, and the
importance-weighted bound tends to ``log p(x)`` as ``num_samples`` grows (Burda et
al. 2015). Both return one number per example, in nats; higher is better.

:func:`iwae_bound`, called eagerly on a :class:`vaelib.VAE`, runs the work on the codes in
compiled passes (:class:`vaelib.evaluation.evaluator.BoundEvaluator`, cached per model). The
noise is drawn in chunks (one stateless draw per ``chunk_size`` codes, seeded ``[seed,
chunk]``, or the model's generator), so the numbers are those of the op-by-op computation to
float tolerance; called inside a ``tf.function``, :func:`iwae_bound` runs op by op in that
graph.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.evaluation.evaluator import (  # noqa: F401 (re-exported: the old path)
    DEFAULT_MEMORY_BYTES,
    PROGRESS_DELAY,
    BoundEvaluator,
    _check_bound_args,
    _progress_bar,
)
from vaelib.models.vae import VAE
from vaelib.objectives import bounds
from vaelib.objectives.bounds import _check_num_samples

__all__ = ["elbo", "iwae_bound", "evaluate_bounds", "BoundEvaluator", "DEFAULT_MEMORY_BYTES"]

# vaelib.elbo called eagerly on a VAE with at least this many codes in all (num_samples x
# batch) sums its codes in compiled passes (BoundEvaluator.elbo). On the build machine
# (scratch timing, chapter 9's 200-200 VAE, 25 images) a call of 25,000 codes ran 4.5x faster
# compiled and saved about its own compilation (0.8 s); one of 2,500 saved 0.03 s against a
# 0.2 s compilation. Smaller calls stay op by op.
COMPILED_MIN_CODES = 20_000


_EVALUATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # a cache: model -> evaluator


def _evaluator(model: VAE) -> BoundEvaluator:
    evaluator = _EVALUATORS.get(model)
    if evaluator is None:
        evaluator = _EVALUATORS[model] = BoundEvaluator(model)
    return evaluator


def _iwae_bound_op_by_op(
    model: VAE, x: tf.Tensor, num_samples: int, chunk_size: int, seed: int | None
) -> tf.Tensor:
    """The reference computation, from ``model.log_weights`` (in a graph, or for any model)."""
    chunks = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        chunk_seed = None if seed is None else tf.constant([seed, i], tf.int64)
        w = model.log_weights(x, k, seed=chunk_seed)
        chunks.append(tf.reduce_logsumexp(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0))
    return tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)


def _known_batch(x) -> int:
    """``x``'s number of examples where its shape says it, else 0 (checked later)."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) < 1 or shape[0] is None:
        return 0
    return int(shape[0])


def elbo(
    model: VAE,
    x: tf.Tensor,
    num_samples: int = 1,
    *,
    analytic_kl: bool = True,
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """The ELBO per example (:func:`vaelib.objectives.bounds.elbo`; this is ``vaelib.elbo``).

    Called eagerly on a :class:`vaelib.VAE` with ``num_samples x batch`` at least
    ``COMPILED_MIN_CODES``, the codes are summed in compiled passes
    (:meth:`BoundEvaluator.elbo`, cached per model): the same noise, the same numbers to
    float tolerance. Otherwise (fewer codes, another model, inside a ``tf.function``) it is
    :func:`vaelib.objectives.bounds.elbo`, op by op. Arguments, return value and errors as
    there.
    """
    _check_num_samples(num_samples)
    if (
        tf.executing_eagerly()
        and isinstance(model, VAE)
        and int(num_samples) * _known_batch(x) >= COMPILED_MIN_CODES
    ):
        analytic_kl = validation.flag("analytic_kl", analytic_kl)
        return _evaluator(model).elbo(x, num_samples, analytic_kl=analytic_kl, seed=seed)
    return bounds.elbo(model, x, num_samples, analytic_kl=analytic_kl, seed=seed)


def iwae_bound(
    model: VAE,
    x: tf.Tensor,
    num_samples: int,
    *,
    chunk_size: int = 500,
    seed: int | None = None,
    progress: bool | None = None,
) -> tf.Tensor:
    """The importance-weighted bound (Burda et al. 2015), per example:

    ``log (1/k) sum_i p(x, z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``, ``k = num_samples``,

    computed stably with ``logsumexp``. The noise is drawn in chunks of
    ``chunk_size`` codes (chunk ``i`` seeded ``[seed, i]``; without a seed, by the
    model's generator), so that ``k = 5000`` fits in memory. ``k = 1`` is the
    Monte Carlo ELBO. Called eagerly on a :class:`vaelib.VAE`, the work runs in
    compiled passes (:class:`BoundEvaluator`, one program per chunk shape, cached
    per model); inside a ``tf.function``, op by op.

    Args:
      model: the VAE.
      x: ``[batch, input_size]`` binary pixels.
      num_samples: ``k``, a positive int.
      chunk_size: codes per noise chunk, a positive int.
      seed: an int fixing the noise, or ``None``.
      progress: show a progress bar (on stderr; in Jupyter, one line replaced in
        place); ``None``, the default, shows it only once the evaluation has run
        for ``PROGRESS_DELAY`` (30) seconds, so short calls print nothing. Eager only.

    Returns:
      ``[batch]``, nats.

    Raises:
      ValueError: ``num_samples`` or ``chunk_size`` is not a positive int, or ``x``
        fails :meth:`vaelib.VAE.check_input`.
      TypeError: ``seed`` is neither an int nor ``None``, or ``x`` is not a tensor of
        pixels (a ``tf.data.Dataset``, say: pass a fixed array of its examples).
    """
    num_samples, chunk_size, seed = _check_bound_args(num_samples, chunk_size, seed)
    validation.examples("x", x)
    if tf.executing_eagerly() and isinstance(model, VAE):
        return _evaluator(model).iwae_bound(
            x, num_samples, chunk_size=chunk_size, seed=seed, progress=progress
        )
    return _iwae_bound_op_by_op(model, x, num_samples, chunk_size, seed)


def evaluate_bounds(
    model: VAE,
    x: np.ndarray,
    num_samples: tuple[int, ...] = (1,),
    *,
    batch_size: int = 100,
    seed: int = 0,
    progress: bool | None = None,
) -> dict[str, float]:
    """Mean ELBO and importance-weighted bounds over a whole (fixed, binarized) set.

    The bounds of batch ``b`` use the seed ``seed * 7919 + b`` (the ELBO ``[seed, b]``),
    so a set's numbers depend on ``batch_size`` only through the noise.

    Args:
      model: the VAE.
      x: ``[N, input_size]`` binary pixels.
      num_samples: the ``k`` of each importance-weighted bound to compute.
      batch_size: examples per pass.
      seed: fixes the noise, so two calls give the same numbers.
      progress: a progress bar over all the bounds, as :func:`iwae_bound`'s
        (``None``: only once the evaluation has run for 30 seconds).

    Returns:
      ``{"elbo": ..., "iwae_1": ..., "iwae_5000": ...}``, nats per example.

    Raises:
      TypeError: ``x`` is not an array (a ``tf.data.Dataset``, say), or
        ``num_samples`` is not a tuple.
      ValueError: ``x`` has no examples, or an argument is not a positive int.
    """
    n = validation.num_examples("x", x)
    if not isinstance(num_samples, (tuple, list)):
        raise TypeError(f"num_samples must be a tuple of ints, e.g. (1, 5000), got {num_samples!r}")
    for k in num_samples:
        _check_num_samples(k)
    num_samples = tuple(int(k) for k in num_samples)
    batch_size = validation.positive_int("batch_size", batch_size)
    seed = validation.integer("seed", seed)
    if n == 0:
        raise ValueError("x has no examples: the mean bound of an empty set is undefined")
    totals = {"elbo": 0.0, **{f"iwae_{k}": 0.0 for k in num_samples}}
    bar = _progress_bar(progress, n * (1 + sum(num_samples)))
    try:
        for b, start in enumerate(range(0, n, batch_size)):
            xb = x[start : start + batch_size]  # checked by elbo: container, dtype, shape, values
            totals["elbo"] += float(
                tf.reduce_sum(bounds.elbo(model, xb, seed=tf.constant([seed, b])))
            )
            bar.update(len(xb))
            for k in num_samples:
                totals[f"iwae_{k}"] += float(
                    tf.reduce_sum(iwae_bound(model, xb, k, seed=seed * 7919 + b, progress=False))
                )
                bar.update(len(xb) * k)
    finally:
        bar.close()
    return {name: total / n for name, total in totals.items()}
