"""How :func:`vaelib.fit` feeds its compiled step: from ``tf.data``, or from data in memory.

Each builder checks what it is given, builds the compiled step or loop once, and returns
``(steps_per_epoch, step_metrics)``: the batches in an epoch (``None`` if unknown) and a
generator function ``step_metrics(epoch, check)`` that trains one epoch and yields each
step's metrics as floats, in order (``check``: check the epoch's first batch eagerly
first, see :mod:`vaelib.training.fit_checks`). ``fit``'s epoch loop does the rest
(history, non-finite metrics, evaluation, checkpoints) the same way for both.

* :func:`dataset_steps`: a ``tf.data.Dataset`` (or a function ``epoch -> dataset``); batches
  come through the iterator and are stacked in Python (:func:`vaelib.stack_batches`) for
  :func:`vaelib.make_train_loop`, or one step per call (and with a ``tf.distribute`` strategy).
* :func:`in_memory_steps`: a :class:`vaelib.InMemoryData`; each call of
  :func:`vaelib.training.epoch_loop.make_epoch_loop` draws its own batches.
"""

from __future__ import annotations

from typing import Callable, Iterator

import tensorflow as tf

from vaelib.data.in_memory import InMemoryData
from vaelib.training.epoch_loop import epoch_calls, make_epoch_loop
from vaelib.training.fit_checks import _check_element_spec, _check_first_batch, _epochs_of
from vaelib.training.fit_config import FitConfig
from vaelib.training.step import LossFn, make_train_loop, make_train_step, stack_batches

__all__ = ["dataset_steps", "in_memory_steps"]

StepMetrics = Callable[[int, bool], Iterator[dict]]


def in_memory_steps(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    data: InMemoryData,
    config: FitConfig,
) -> tuple[int, StepMetrics]:
    """``(steps_per_epoch, step_metrics)`` for data kept in memory (see the module)."""
    run = make_epoch_loop(
        model,
        optimizer,
        loss_fn,
        data,
        steps_per_call=config.steps_per_call,
        jit_compile=config.jit_compile,
    )
    calls = epoch_calls(data, config.steps_per_call)

    def step_metrics(epoch, check):
        if check:  # the first batch, eagerly, as the loop will draw it
            for _ in _check_first_batch([data.batch(epoch, 0)], model, loss_fn, None):
                pass
        order = data.order(epoch)
        for first_step, count, size in calls:
            ran, columns = run(order, epoch, first_step, count, size)
            columns = {k: v.numpy() for k, v in columns.items()}
            for i in range(int(ran)):  # fewer than count only after a non-finite step
                yield {k: float(v[i]) for k, v in columns.items()}

    return data.steps_per_epoch, step_metrics


def dataset_steps(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    data,
    config: FitConfig,
    strategy: tf.distribute.Strategy | None,
) -> tuple[int | None, StepMetrics]:
    """``(steps_per_epoch, step_metrics)`` for a dataset or a function ``epoch -> dataset``.

    Raises:
      TypeError: ``data`` is neither, or its batches hold other than dense tensors.
      ValueError: its batches are scalars (not batched), or it has no batches.
    """
    make_data = _epochs_of(data)
    first = make_data(0)
    _check_element_spec(first.element_spec)
    if int(first.cardinality()) == 0:
        raise ValueError(
            "data has no batches: the dataset is empty, or drop_remainder=True dropped "
            "its only batch; use fewer examples per batch or drop_remainder=False"
        )
    steps_per_epoch = int(first.cardinality()) if first.cardinality() > 0 else None
    per_call = config.steps_per_call if strategy is None else 1
    if per_call > 1:
        run = make_train_loop(
            model,
            optimizer,
            loss_fn,
            element_spec=first.element_spec,
            jit_compile=config.jit_compile,
        )
    else:
        run = make_train_step(
            model,
            optimizer,
            loss_fn,
            element_spec=first.element_spec,
            jit_compile=config.jit_compile,
            strategy=strategy,
        )
    if strategy is not None:
        original = make_data

        def make_data(epoch):
            return strategy.experimental_distribute_dataset(original(epoch))

    def step_metrics(epoch, check):
        batches = make_data(epoch)
        if check:
            batches = _check_first_batch(batches, model, loss_fn, strategy)
        if per_call == 1:
            for batch in batches:
                yield {k: float(v) for k, v in run(batch).items()}
            return
        for stack in stack_batches(batches, per_call):
            ran, columns = run(stack)
            columns = {k: v.numpy() for k, v in columns.items()}
            for i in range(int(ran)):  # fewer than the stack only after a non-finite step
                yield {k: float(v[i]) for k, v in columns.items()}

    return steps_per_epoch, step_metrics
