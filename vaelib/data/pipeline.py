"""Input pipelines: uint8 images to shuffled, batched, binarized float32 tensors.

The VAE chapters model pixels as Bernoulli variables, so the pixels must be
binary. How they are made binary changes the numbers a model reaches, so the
choice is always explicit:

* ``"dynamic"``: each pixel is re-sampled as Bernoulli(intensity / 255) every time
  it is used (Burda et al. 2015; the protocol behind the published test
  log-likelihoods near 85-87 nats). Only :func:`make_dataset` can do this.
* ``"fixed"``: one Bernoulli(intensity / 255) draw per pixel, made once with a
  seed and kept. This is what the literature calls *static* binarization
  (Larochelle & Murray 2011 published one such draw of MNIST; Rezende & Mohamed
  2015 and most later papers train on it).
* ``"threshold"``: ``x = 1[intensity > 127]``, no randomness. Not used by the
  papers the book compares with.
* ``"none"``: grey levels in [0, 1]; fine for classifiers, but a Bernoulli
  "likelihood" of grey pixels is then a cross-entropy, not a log-likelihood.

The name ``"static"`` is refused: papers use it for one fixed draw, and earlier
versions of this library used it for the threshold.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from vaelib import validation

__all__ = ["BINARIZATIONS", "binarize", "make_dataset"]

BINARIZATIONS = ("dynamic", "fixed", "threshold", "none")


def _check_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (0..255), got dtype {images.dtype}")
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape [N, 28, 28], got {images.shape}")
    if len(images) == 0:
        raise ValueError("images is empty (0 images): there is nothing to binarize or batch")
    return images


def _check_labels(labels, n: int) -> np.ndarray:
    """``labels`` as ``[n]`` int32 class indices, or a clear error."""
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape [{n}], got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() > np.iinfo(np.int32).max:
        raise ValueError(
            f"labels must be class indices >= 0, got values from {labels.min()} to {labels.max()}"
        )
    return labels.astype(np.int32)


def _check_seed(seed) -> None:
    validation.integer("seed", seed, minimum=0)


STATIC_IS_AMBIGUOUS = (
    "'static' is ambiguous: papers use it for one fixed Bernoulli draw (use "
    "'fixed'); this library used it for a threshold at 127 (use 'threshold')"
)


def _check_binarization(binarization: str, allowed: tuple[str, ...] = BINARIZATIONS) -> None:
    if binarization == "static":
        raise ValueError(f"binarization {STATIC_IS_AMBIGUOUS}")
    validation.text("binarization", binarization, choices=allowed)


def binarize(images: np.ndarray, binarization: str, seed: int = 0) -> np.ndarray:
    """Binarizes a whole array once, in NumPy (for a fixed evaluation set).

    Args:
      images: ``[N, 28, 28]`` uint8.
      binarization: ``"fixed"`` (one Bernoulli draw, seeded), ``"threshold"`` or ``"none"``.
        ``"dynamic"`` is refused: a single array cannot be re-drawn at each use
        (use :func:`make_dataset`, or ``"fixed"`` for an evaluation set).
      seed: seed of the Bernoulli draw.

    Returns:
      ``[N, 784]`` float32 with values in {0, 1} (or [0, 1] for ``"none"``).
    """
    images = _check_images(images)
    _check_seed(seed)
    if binarization == "dynamic":
        raise ValueError(
            "binarize() draws once, so binarization 'dynamic' (a new draw at every use) "
            "cannot be done here: use 'fixed' for one seeded draw, or make_dataset(..., "
            "binarization='dynamic') for training"
        )
    _check_binarization(binarization)
    p = images.reshape(len(images), -1).astype(np.float32) / 255.0
    if binarization == "fixed":
        return (np.random.default_rng(seed).random(p.shape, dtype=np.float32) < p).astype(
            np.float32
        )
    if binarization == "threshold":
        return (images.reshape(len(images), -1) > 127).astype(np.float32)
    return p


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    binarization: str,
    shuffle: bool = True,
    seed: int = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline over one epoch of ``images`` (and ``labels``).

    Iterating the dataset again gives a new epoch: a new order and, for
    ``"dynamic"``, new Bernoulli draws. The sequence of epochs is fixed by ``seed``.
    With ``"fixed"`` every epoch sees the same draw, ``binarize(images, "fixed", seed)``.

    Args:
      images: ``[N, 28, 28]`` uint8.
      labels: optional ``[N]`` integer labels.
      batch_size: examples per batch, positive.
      binarization: ``"dynamic"``, ``"fixed"``, ``"threshold"`` or ``"none"`` (see the
        module docstring).
      shuffle: shuffle the examples each epoch.
      seed: seed for the order and the Bernoulli draws.
      drop_remainder: drop a last, smaller batch.

    Returns:
      A dataset of ``x`` (``[batch, 784]`` float32), or of ``(x, y)`` with ``y``
      ``[batch]`` int32 when labels are given.
    """
    images = _check_images(images)
    _check_binarization(binarization)
    _check_seed(seed)
    seed, batch_size = int(seed), validation.positive_int("batch_size", batch_size)
    shuffle = validation.flag("shuffle", shuffle)
    drop_remainder = validation.flag("drop_remainder", drop_remainder)
    if labels is not None:
        labels = _check_labels(labels, len(images))
    n = len(images)
    flat = images.reshape(n, 784)
    if binarization == "fixed":  # one draw, kept: 0 or 255, so the conversion below gives 0 or 1
        flat = (binarize(images, "fixed", seed) * 255).astype(np.uint8)
    parts = (flat,) if labels is None else (flat, labels)
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    # One stateless seed per batch, from a stream that changes each epoch but is
    # fixed by `seed`: dynamic binarization is then reproducible.
    noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip((ds, noise_seeds))

    def convert(batch, noise_seed):
        x = tf.cast(batch[0], tf.float32) / 255.0  # [batch, 784]
        if binarization == "dynamic":
            u = tf.random.stateless_uniform(tf.shape(x), seed=noise_seed)
            x = tf.cast(u < x, tf.float32)
        elif binarization == "threshold":
            x = tf.cast(batch[0] > 127, tf.float32)
        return x if labels is None else (x, batch[1])

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
        tf.data.AUTOTUNE
    )
