"""Many training steps per call, each drawing its own batch inside the compiled program.

:func:`make_train_loop` takes a stack of batches that Python built (from a ``tf.data``
iterator, stacked by :func:`vaelib.stack_batches`). For data kept in memory
(:class:`vaelib.InMemoryData`) :func:`make_epoch_loop` needs no stack: a call gets the
epoch's order, the epoch, its first step and how many steps to run, and each step gathers
its uint8 images, converts and binarizes them and trains, all in one compiled program.
:func:`vaelib.fit` trains this way when it is given an ``InMemoryData``.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from vaelib import validation
from vaelib.data.in_memory import InMemoryData
from vaelib.training.step import LossFn, make_train_step, metric_names

__all__ = ["make_epoch_loop"]


def make_epoch_loop(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    data: InMemoryData,
    *,
    steps_per_call: int,
    jit_compile: bool = False,
) -> Callable:
    """Builds ``run(order, epoch, first, count) -> (n, {metric: [steps_per_call] float32})``.

    A call runs steps ``first, first + 1, ..., first + count - 1`` of epoch ``epoch``
    (``count <= steps_per_call``, all of one batch size), each on
    ``data.make_batch(..., step)``, and stops early after a step whose metrics are not all
    finite; ``n`` is the number of steps run, and only the first ``n`` entries of each
    metric are set. One compiled function per batch size (the full one, and a smaller last
    one unless ``data.drop_remainder``), each traced once.

    Args:
      model, optimizer, loss_fn: as for :func:`vaelib.make_train_step`.
      data: the images, kept as one tensor on the device.
      steps_per_call: most steps per call; positive.
      jit_compile: compile the loop, steps included, with XLA.

    Raises:
      TypeError: ``data`` is not a :class:`vaelib.InMemoryData`.
    """
    if not isinstance(data, InMemoryData):
        raise TypeError(f"data must be a vaelib.InMemoryData, got {type(data).__name__}")
    steps_per_call = validation.positive_int("steps_per_call", steps_per_call)
    step = make_train_step(model, optimizer, loss_fn, jit_compile=jit_compile).python_function
    tensors = data.tensors()
    signature = [
        tf.TensorSpec([data.num_examples], tf.int32),  # order
        tf.TensorSpec([], tf.int64),  # epoch
        tf.TensorSpec([], tf.int32),  # first step
        tf.TensorSpec([], tf.int32),  # count
    ]
    tensor_specs = [tf.TensorSpec(t.shape, t.dtype) for t in tensors]

    keys = metric_names(model, loss_fn, data.element_spec)

    def build(size: int):
        @tf.function(input_signature=[tensor_specs, *signature], jit_compile=jit_compile)
        def loop(tensors, order, epoch, first, count):
            def row(metrics):
                return tf.stack([tf.cast(metrics[key], tf.float32) for key in keys])

            # the step is traced once, in the loop's body (count is at least 1)
            values = tf.zeros([steps_per_call, len(keys)])
            finite = tf.constant(True)
            n = tf.constant(0)
            while n < count and finite:
                batch = data.make_batch(tensors, order, epoch, first + n, size)
                metrics = row(step(batch))
                values = tf.tensor_scatter_nd_update(values, [[n]], [metrics])
                finite = tf.reduce_all(tf.math.is_finite(metrics))
                n += 1
            return n, {key: values[:, j] for j, key in enumerate(keys)}

        return loop

    loops = {size: build(size) for size, _ in data.batch_sizes()}

    def run(order, epoch: int, first: int, count: int, size: int):
        """Runs ``count`` steps of batch size ``size`` from step ``first`` of ``epoch``."""
        return loops[size](
            list(tensors),
            order,
            tf.constant(epoch, tf.int64),
            tf.constant(first, tf.int32),
            tf.constant(count, tf.int32),
        )

    run.loops = loops  # the compiled functions, for tests (each traced once)
    return run


def epoch_calls(data: InMemoryData, steps_per_call: int) -> list[tuple[int, int, int]]:
    """``[(first, count, size), ...]``: how :func:`vaelib.fit` splits an epoch into calls."""
    calls, first = [], 0
    for size, count in data.batch_sizes():
        for start in range(0, count, steps_per_call):
            calls.append((first + start, min(steps_per_call, count - start), size))
        first += count
    return calls
