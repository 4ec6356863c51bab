"""Training data kept as one uint8 tensor, batched and binarized inside the compiled loop.

:func:`vaelib.make_dataset` hands ``fit`` one batch at a time through a ``tf.data``
iterator, and ``fit`` stacks 20 of them in Python before each call into the compiled
loop. When the whole training set fits in memory (MNIST's 60,000 uint8 images are 47 MB),
none of that is needed: :class:`InMemoryData` keeps the images as one tensor, and
:func:`vaelib.fit` runs the epoch's shuffle, batching and Bernoulli draw inside its
compiled multi-step loop (:mod:`vaelib.training.epoch_loop`), so nothing but the loop
counter crosses from Python between calls.

The batches follow the same rules as :func:`vaelib.make_dataset` with the same arguments
(every image once per epoch in a new order; for ``"dynamic"`` a new Bernoulli draw at every
use; ``"fixed"`` the very draw ``binarize(images, "fixed", seed)``), but from a different
random stream, so a run on one is not the run on the other, draw for draw. The stream is a
function of ``seed``, the epoch and the step alone (stateless), so a run resumed from a
checkpoint sees exactly the batches of an uninterrupted one:

* the order of epoch ``e``: ``argsort`` of ``stateless_uniform([N], seed=(seed, -(e + 1)))``;
* the 32 random bits ``u`` of each pixel of step ``j`` of epoch ``e``:
  ``stateless_uniform([batch, 784], seed=(seed, e * steps_per_epoch + j), dtype=tf.uint32,
  alg="threefry")``, and ``x = 1[u < floor(v / 255 * 2**32)]`` for grey level ``v`` (always 1
  for ``v = 255``), so ``P(x = 1) = v / 255`` to within ``2**-32``.

The order uses the Philox algorithm, the pixels' bits ThreeFry (both named): XLA's CPU
code for Philox's rounds took most of the draw's time, and its code for ThreeFry draws as
many bits several times faster (``benchmarks/profile_step.py``'s "input batch" row; the
README's "The draw's generator" gives the measurements). The draw is always compiled by
XLA (:func:`_bernoulli_draw`), eagerly too, because TensorFlow's own CPU kernels have no
ThreeFry; integer bits compared as integers also keep it exact.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from vaelib import validation
from vaelib.data.pipeline import (
    _check_binarization,
    _check_images,
    _check_labels,
    _check_seed,
    binarize,
)

__all__ = ["InMemoryData"]

# Grey level v as a float, v / 255, rounded as ``tf.cast(v, tf.float32) / 255.0`` rounds it.
_LEVELS = np.arange(256, dtype=np.float32) / np.float32(255.0)
# Bernoulli(v / 255) from 32 random bits u: 1 when u < floor(v / 255 * 2**32) (2**32 for 255),
# exact integer arithmetic. The thresholds below 2**32 fit 32 bits; v = 255 is always 1.
_THRESHOLDS = (np.arange(256, dtype=np.int64) * 2**32) // 255
_STEP_32 = 16843009  # 2**32 // 255; _THRESHOLDS[v] == v * _STEP_32 for v < 255


@tf.function(jit_compile=True, reduce_retracing=True)
def _bernoulli_draw(levels, seed):
    """``[n, 784]`` float32 pixels, Bernoulli(``levels / 255``), from ``[n, 784]`` int32 grey
    levels and a ``[2]`` int64 seed (see the module docstring). Compiled by XLA wherever it
    is called (inside ``fit``'s compiled loop it is part of the loop's program)."""
    with tf.name_scope("input_batch"):  # a function's ops are named afresh: scope them again
        bits = tf.random.stateless_uniform(
            tf.shape(levels), seed=seed, minval=None, maxval=None, dtype=tf.uint32, alg="threefry"
        )
        # floor(v / 255 * 2**32) = v * 16843009 for v < 255 (2**32 = 255 * 16843009 + 1):
        # arithmetic, not a table lookup, so XLA vectorizes it
        below = bits < tf.cast(levels, tf.uint32) * tf.constant(_STEP_32, tf.uint32)
        return tf.cast(below | tf.equal(levels, 255), tf.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class InMemoryData:
    """One epoch's worth of training data for :func:`vaelib.fit`, drawn on the device.

    Takes the arguments of :func:`vaelib.make_dataset` and yields the same kind of batches
    (``x``: ``[batch, 784]`` float32, or ``(x, y)`` with ``y`` ``[batch]`` int32), but
    ``fit`` makes them inside its compiled loop. Use :meth:`batch` to see one, and
    :meth:`as_dataset` for a ``tf.data`` pipeline over the very same batches (for a
    ``tf.distribute`` strategy, which needs one).

    Attributes:
      images: ``[N, 28, 28]`` uint8.
      labels: optional ``[N]`` integer class indices.
      batch_size: examples per batch, positive.
      binarization: ``"dynamic"``, ``"fixed"``, ``"threshold"`` or ``"none"`` (see
        :mod:`vaelib.data.pipeline`).
      shuffle: a new order every epoch (else the images' own order).
      seed: of the orders and the Bernoulli draws (and of the ``"fixed"`` draw).
      drop_remainder: drop a last, smaller batch.
    """

    images: np.ndarray
    labels: np.ndarray | None = None
    batch_size: int = 100
    binarization: str = "dynamic"
    shuffle: bool = True
    seed: int = 0
    drop_remainder: bool = False

    def __post_init__(self):
        images = _check_images(self.images)
        _check_binarization(self.binarization)
        _check_seed(self.seed)
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(
            self, "batch_size", validation.positive_int("batch_size", self.batch_size)
        )
        for field in ("shuffle", "drop_remainder"):
            object.__setattr__(self, field, validation.flag(field, getattr(self, field)))
        if self.drop_remainder and len(images) < self.batch_size:
            raise ValueError(
                f"batch_size {self.batch_size} is more than the {len(images)} images, and "
                "drop_remainder=True would drop the only batch: use a smaller batch_size"
            )
        labels = self.labels
        if labels is not None:
            labels = _check_labels(labels, len(images))
        flat = images.reshape(len(images), 784)
        if self.binarization == "fixed":  # the draw make_dataset keeps, as 0 or 255
            flat = (binarize(images, "fixed", self.seed) * 255).astype(np.uint8)
        elif self.binarization == "threshold":
            flat = np.where(flat > 127, 255, 0).astype(np.uint8)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        # what the compiled loop reads: pixels (already 0/255 unless dynamic or none), labels
        tensors = (tf.constant(flat),) + (() if labels is None else (tf.constant(labels),))
        object.__setattr__(self, "_tensors", tensors)

    @property
    def num_examples(self) -> int:
        return len(self.images)

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one epoch (the last one smaller unless ``drop_remainder``)."""
        full, rest = divmod(self.num_examples, self.batch_size)
        return full + (1 if rest and not self.drop_remainder else 0)

    def batch_sizes(self) -> list[tuple[int, int]]:
        """``[(size, count), ...]``: the epoch's batches, as runs of one size, in order."""
        full, rest = divmod(self.num_examples, self.batch_size)
        runs = [(self.batch_size, full)] if full else []
        if rest and not self.drop_remainder:
            runs.append((rest, 1))
        return runs

    @property
    def element_spec(self):
        """One batch's ``tf.TensorSpec`` structure, as a ``make_dataset`` dataset's."""
        x = tf.TensorSpec([None, 784], tf.float32)
        return x if self.labels is None else (x, tf.TensorSpec([None], tf.int32))

    def tensors(self) -> tuple[tf.Tensor, ...]:
        """``(pixels,)`` or ``(pixels, labels)``: ``[N, 784]`` uint8 and ``[N]`` int32, as the
        compiled loop reads them (``"fixed"`` and ``"threshold"`` already applied, as 0/255)."""
        return self._tensors

    def order(self, epoch) -> tf.Tensor:
        """``[N]`` int32: the order of the images in epoch ``epoch`` (a tensor or int)."""
        n = self.num_examples
        if not self.shuffle:
            return tf.range(n, dtype=tf.int32)
        epoch = tf.cast(epoch, tf.int64)
        u = tf.random.stateless_uniform(
            [n], seed=tf.stack([tf.constant(self.seed, tf.int64), -(epoch + 1)]), alg="philox"
        )
        return tf.cast(tf.argsort(u, stable=True), tf.int32)

    def make_batch(self, tensors, order, epoch, index, size: int):
        """Batch ``index`` of epoch ``epoch`` of ``size`` examples, from ``tensors`` (see
        :meth:`tensors`) and the epoch's ``order``; works inside a compiled function.

        ``size`` is a Python int (a compiled loop is built per batch size); ``index`` is the
        step within the epoch, a tensor or int. Its ops run under the name scope
        ``input_batch``, where a profile finds them (``vaelib.speed.hlo``)."""
        with tf.name_scope("input_batch"):
            return self._make_batch(tensors, order, epoch, index, size)

    def _make_batch(self, tensors, order, epoch, index, size: int):
        index = tf.cast(index, tf.int32)
        # a gather, not tf.slice: XLA takes a slice's start as a compile-time constant and
        # would compile the loop once per distinct first step
        picked = tf.gather(order, index * self.batch_size + tf.range(size))
        levels = tf.cast(tf.gather(tensors[0], picked), tf.int32)  # [size, 784], 0..255
        if self.binarization == "dynamic":
            step = tf.cast(epoch, tf.int64) * self.steps_per_epoch + tf.cast(index, tf.int64)
            pixels = _bernoulli_draw(levels, tf.stack([tf.constant(self.seed, tf.int64), step]))
        else:
            pixels = tf.gather(tf.constant(_LEVELS), levels)
        if self.labels is None:
            return pixels
        return pixels, tf.gather(tensors[1], picked)

    def batch(self, epoch: int, index: int):
        """Batch ``index`` (0-based) of epoch ``epoch``, eagerly: what ``fit`` trains on."""
        epoch = validation.integer("epoch", epoch, minimum=0)
        index = validation.integer("index", index, minimum=0)
        if index >= self.steps_per_epoch:
            raise ValueError(f"index {index} is past the epoch's {self.steps_per_epoch} batches")
        size = min(self.batch_size, self.num_examples - index * self.batch_size)
        return self.make_batch(self.tensors(), self.order(epoch), epoch, index, size)

    def as_dataset(self, epoch: int) -> tf.data.Dataset:
        """Epoch ``epoch``'s batches as a ``tf.data`` dataset (the same values ``fit`` draws
        inside its loop), for code that needs a dataset: a ``tf.distribute`` strategy."""
        batches = [self.batch(epoch, j) for j in range(self.steps_per_epoch)]
        return tf.data.Dataset.from_generator(
            lambda: iter(batches), output_signature=self.element_spec
        )
