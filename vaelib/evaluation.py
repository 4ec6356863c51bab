"""Importance-weighted bounds and whole-set evaluation (chapter 7).

For any ``num_samples``, ``E[elbo] <= E[iwae_bound] <= log p(x)``, and the
importance-weighted bound tends to ``log p(x)`` as ``num_samples`` grows (Burda et
al. 2015). Both return one number per example, in nats; higher is better.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vaelib.bounds import _check_num_samples, _check_positive_int, elbo
from vaelib.vae import VAE

__all__ = ["iwae_bound", "evaluate_bounds"]


def iwae_bound(model: VAE, x: tf.Tensor, num_samples: int, *, chunk_size: int = 500,
               seed: int | None = None) -> tf.Tensor:
    """The importance-weighted bound (Burda et al. 2015), per example:

    ``log (1/k) sum_i p(x, z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``, ``k = num_samples``,

    computed stably with ``logsumexp``, in chunks of ``chunk_size`` samples so
    that ``k = 5000`` fits in memory. ``k = 1`` is the Monte Carlo ELBO.

    Returns:
      ``[batch]``, nats.

    Raises:
      ValueError: ``num_samples`` or ``chunk_size`` is not a positive int.
    """
    _check_num_samples(num_samples)
    _check_positive_int("chunk_size", chunk_size)
    chunks = []
    for i, start in enumerate(range(0, num_samples, chunk_size)):
        k = min(chunk_size, num_samples - start)
        chunk_seed = None if seed is None else tf.constant([seed, i], tf.int64)
        w = model.log_weights(x, k, seed=chunk_seed)
        chunks.append(tf.reduce_logsumexp(w["log_px_z"] + w["log_pz"] - w["log_qz_x"], axis=0))
    return tf.reduce_logsumexp(tf.stack(chunks), axis=0) - math.log(num_samples)


def evaluate_bounds(model: VAE, x: np.ndarray, num_samples: tuple[int, ...] = (1,), *,
                    batch_size: int = 100, seed: int = 0) -> dict[str, float]:
    """Mean ELBO and importance-weighted bounds over a whole (fixed, binarized) set.

    Args:
      model: the VAE.
      x: ``[N, input_size]`` binary pixels.
      num_samples: the ``k`` of each importance-weighted bound to compute.
      batch_size: examples per pass.
      seed: fixes the noise, so two calls give the same numbers.

    Returns:
      ``{"elbo": ..., "iwae_1": ..., "iwae_5000": ...}``, nats per example.

    Raises:
      TypeError: ``x`` is not an array (a ``tf.data.Dataset``, say), or
        ``num_samples`` is not a tuple.
      ValueError: ``x`` has no examples, or an argument is not a positive int.
    """
    if isinstance(x, tf.data.Dataset) or not hasattr(x, "__len__"):
        raise TypeError(f"x must be an array [N, input_size] of binary pixels, got "
                        f"{type(x).__name__}; evaluate a fixed set, e.g. vaelib.binarize(images, 'fixed')")
    if not isinstance(num_samples, (tuple, list)):
        raise TypeError(f"num_samples must be a tuple of ints, e.g. (1, 5000), got {num_samples!r}")
    for k in num_samples:
        _check_num_samples(k)
    _check_positive_int("batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("x has no examples: the mean bound of an empty set is undefined")
    totals = {"elbo": 0.0, **{f"iwae_{k}": 0.0 for k in num_samples}}
    for b, start in enumerate(range(0, len(x), batch_size)):
        xb = np.asarray(x[start:start + batch_size])  # checked by elbo: dtype, shape, values
        totals["elbo"] += float(tf.reduce_sum(elbo(model, xb, seed=tf.constant([seed, b]))))
        for k in num_samples:
            totals[f"iwae_{k}"] += float(tf.reduce_sum(iwae_bound(model, xb, k, seed=seed * 7919 + b)))
    return {name: total / len(x) for name, total in totals.items()}
