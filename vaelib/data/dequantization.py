"""Grey images as numbers a density can score (chapter 11): grey levels, dequantization, bits
per dimension.

A pixel of an 8-bit image is a grey level v in {0, ..., 255}. A discrete model gives each
level a probability; a density model (the continuous Bernoulli, the Gaussian) gives a
density on [0, 1], and densities of a discrete variable are not comparable with its
probabilities. Dequantization makes them comparable (Theis et al. 2016): with
u ~ Uniform[0, 1), y = (v + u) / 256 is a continuous pixel; a density p of y defines a
discrete model P(v) (its mass on the cube of v), and by Jensen's inequality
log P(v) >= E_u[log p(y)] - D log 256 for D pixels. :func:`bits_per_dim` puts either on the
per-pixel scale papers print.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vaelib import validation

LOG_256 = math.log(256.0)


def _images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (0..255), got dtype {images.dtype}")
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch [N, ...], got shape {images.shape}")
    return images.reshape(len(images), -1)


def grey_levels(images) -> np.ndarray:
    """``v / 255`` as float32 ``[N, D]``: the 256 levels a discretized logistic models."""
    return _images(images).astype(np.float32) / 255.0


def dequantize(images, seed: int = 0) -> np.ndarray:
    """``(v + u) / 256``, ``u ~ U(0, 1)`` per pixel, float32 ``[N, D]``, one seeded draw.

    A density ``p`` of these values gives ``log P(v) >= E_u[log p((v + u) / 256)] - D log 256``
    for the 8-bit image ``v`` (Theis et al. 2016): see :func:`bits_per_dim`.
    """
    k = _images(images).astype(np.float32)
    seed = validation.integer("seed", seed, minimum=0)
    return (k + np.random.default_rng(seed).random(k.shape, dtype=np.float32)) / 256.0


def dequantized_dataset(images, *, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """Shuffled batches of freshly dequantized pixels, a new ``u`` each epoch (from ``seed``)."""
    k = _images(images)
    batch_size = validation.positive_int("batch_size", batch_size)
    seed = validation.integer("seed", seed, minimum=0)
    ds = tf.data.Dataset.from_tensor_slices(k).shuffle(
        len(k), seed=seed, reshuffle_each_iteration=True
    )
    ds = ds.batch(batch_size)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds)).map(
        lambda x, s: (
            (tf.cast(x, tf.float32) + tf.random.stateless_uniform(tf.shape(x), seed=s)) / 256.0
        )
    )


def bits_per_dim(log_px, num_dims: int, *, dequantized: bool) -> float | np.ndarray:
    """Negative log-likelihood of 8-bit images in bits per pixel.

    ``bits = -log P(v) / (D log 2)``, with ``log P(v) = log_px`` for a discrete model of the
    levels ``v`` and ``log P(v) >= log_px - D log 256`` for a density of dequantized pixels.

    Args:
      log_px: nats per image, the log-likelihood itself (negative for a discrete model),
        not the positive NLL that papers print: of the levels ``v`` (a discrete model;
        ``dequantized=False``) or a density of ``(v + u) / 256`` (``dequantized=True``:
        ``D log 256`` is subtracted, giving a bound on ``log P(v)``, Theis et al. 2016).
        A number, or an array of them (one per image, say).
      num_dims: pixels per image, ``D``.
      dequantized: whether ``log_px`` is a density of dequantized pixels.

    Returns:
      bits per pixel: a float for a number, an array of ``log_px``'s shape for an array.

    Raises:
      ValueError: ``log_px`` holds NaN or ``+inf``, or, with ``dequantized=False``, a
        positive value (a probability is at most 1: pass ``-nll``, not ``nll``).
      TypeError: ``log_px`` is not a number or an array of numbers, ``num_dims`` not an
        integer, ``dequantized`` not a bool.
    """
    num_dims = validation.positive_int("num_dims", num_dims)
    dequantized = validation.flag("dequantized", dequantized)
    scalar = np.ndim(log_px) == 0
    if scalar:
        log_px = validation.real("log_px", np.asarray(log_px).item(), finite=False)
    values = np.asarray(log_px)
    if values.dtype == object or not (
        np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)
    ):
        raise validation.ArgumentTypeError(
            f"log_px must be a number or an array of numbers (nats per image), got {values.dtype} "
            f"values of shape {values.shape}"
        )
    values = values.astype(np.float64)
    bad = np.isnan(values) | (values == np.inf)
    if bad.any():
        where = "" if scalar else f" (at index {tuple(int(i) for i in np.argwhere(bad)[0])})"
        raise ValueError(f"log_px must be a log-likelihood in nats, got {values[bad][0]}{where}")
    if not dequantized and (values > 0).any():
        where = "" if scalar else f" (at index {tuple(int(i) for i in np.argwhere(values > 0)[0])})"
        raise ValueError(
            f"log_px of a discrete model (dequantized=False) is log P(v) <= 0, got "
            f"{values[values > 0][0]:g}{where}: pass the log-likelihood, -nll, not the positive "
            "NLL that papers print"
        )
    log_pk = values - (num_dims * LOG_256 if dequantized else 0.0)
    bits = -log_pk / (num_dims * math.log(2.0))
    return float(bits) if scalar else bits
