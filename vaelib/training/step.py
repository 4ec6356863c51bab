"""The compiled training step, and many steps in one compiled call.

``make_train_step`` turns a loss function into a ``tf.function`` that computes
gradients and applies them; it is traced once for a dataset's element spec, so
a smaller last batch does not retrace it. ``make_train_loop`` runs a stack of
batches (``stack_batches``) through that step inside one compiled program.
:func:`vaelib.fit` (in :mod:`vaelib.train`) trains with them.
"""

from __future__ import annotations

import contextlib
import math
from typing import Mapping

import tensorflow as tf

from vaelib import validation
from vaelib.objectives.bounds import LossFn  # where the objectives define it

__all__ = ["LossFn", "make_train_step", "make_train_loop", "metric_names", "stack_batches"]


def _after_all(gradients: list) -> list:
    """Makes every gradient depend on all of them, without changing a value.

    XLA updates a variable in place, so every read of its old value must run
    first. A weight is read again by the backward pass (``dx = dy @ w^T``), and
    nothing orders that read before the update, which needs only ``dw``; XLA
    then copies the weight before the step starts (8 copies, about 0.5 ms a
    step on the notes' VAE, ``benchmarks/profile_step.py``). Adding
    ``0 * (one element of every gradient)`` orders all reads before any write,
    and the copies go away (tested in ``tests/test_step.py``). A non-finite
    gradient spreads to all, which a non-finite loss reports on the next step.
    """
    dense = [isinstance(g, tf.Tensor) and g.shape.num_elements() != 0 for g in gradients]
    present = [
        tf.cast(tf.reshape(g, [-1])[0], tf.float32)
        for g, d in zip(gradients, dense, strict=False)
        if d
    ]
    if not present:
        return gradients
    zero = 0.0 * tf.add_n(present)
    return [g + tf.cast(zero, g.dtype) if d else g for g, d in zip(gradients, dense, strict=False)]


def _check_counter(loss_fn: LossFn, optimizer) -> None:
    """Refuses a loss that reads the step counter of another optimizer than ``optimizer``.

    :func:`vaelib.kl_loss`'s warm-up reads ``loss_fn.optimizer.iterations``; trained by
    another optimizer, that counter never moves and the KL weight stays at 0 for the
    whole run (beta = 0, with no word). Checked once, before the step is built.
    """
    counter_of = getattr(loss_fn, "optimizer", None)
    if counter_of is not None and counter_of is not optimizer:
        raise ValueError(
            f"loss_fn ({getattr(loss_fn, '__name__', 'the loss')}) reads the step counter of "
            f"another optimizer ({type(counter_of).__name__} at {id(counter_of):#x}) than the one "
            f"that trains ({type(optimizer).__name__} at {id(optimizer):#x}): its KL warm-up would "
            "never advance and the KL weight would stay at 0. Build the loss with the optimizer "
            "you train with: vaelib.kl_loss(options, optimizer)"
        )


def _checked(metrics) -> dict:
    """``loss_fn``'s output as a dict, or a TypeError that says what it must return."""
    if not isinstance(metrics, Mapping) or "loss" not in metrics:
        raise TypeError(
            "loss_fn must return a dict of scalar tensors with a 'loss' entry, got "
            + (
                f"keys {sorted(metrics)}"
                if isinstance(metrics, Mapping)
                else type(metrics).__name__
            )
        )
    return dict(metrics)


def metric_names(model: tf.Module, loss_fn: LossFn, batch_spec) -> list[str]:
    """The names of ``loss_fn``'s metrics, in its order, without running or compiling it.

    A compiled loop of steps keeps every step's metrics in one ``[steps, metrics]`` tensor
    made before its loop, so it needs their names before it traces the step. This traces
    ``loss_fn(model, batch)`` alone (the forward pass, not its gradient or the update) into
    a graph of its own that is never run: nothing of it reaches the loop's program. (Running
    the first step ahead of the loop instead put the step into the loop's program twice, so
    it was traced and compiled twice; ``benchmarks/fit_setup.py`` times a call's set-up.)

    Args:
      model, loss_fn: as for :func:`make_train_step`.
      batch_spec: one batch's ``tf.TypeSpec`` structure.

    Raises:
      TypeError: ``loss_fn`` does not return a dict with a ``"loss"`` entry.
    """
    forward = tf.function(lambda batch: _checked(loss_fn(model, batch)))
    return list(forward.get_concrete_function(batch_spec).structured_outputs)


def make_train_step(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    *,
    element_spec=None,
    jit_compile: bool = False,
    strategy: tf.distribute.Strategy | None = None,
):
    """Builds the compiled training step.

    Args:
      model: the ``tf.Module`` whose ``trainable_variables`` are trained.
      optimizer: a Keras optimizer.
      loss_fn: ``loss_fn(model, batch)`` returns a dict of scalar tensors with
        at least ``"loss"``, the quantity minimized. If it has an ``optimizer``
        attribute (a warm-up of :func:`vaelib.kl_loss` reads its step counter),
        that must be ``optimizer``.
      element_spec: the batch's ``tf.TypeSpec`` structure (``dataset.element_spec``);
        given, the step is traced exactly once.
      jit_compile: compile with XLA.
      strategy: a ``tf.distribute`` strategy (e.g. ``MirroredStrategy`` over
        several GPUs); the model and optimizer must have been created in its
        ``scope()``, and batches come from ``strategy.experimental_distribute_dataset``.
        Each replica's gradient is scaled by ``1 / num_replicas`` so that their
        sum is the gradient of the global batch's mean loss.

    Returns:
      ``train_step(batch) -> dict of scalar tensors``, a ``tf.function``.

    Raises:
      ValueError: the model has no trainable variables, the learning rate is not
        positive and finite, or ``loss_fn`` reads another optimizer's step counter.
    """
    variables = model.trainable_variables
    if not variables:
        raise ValueError(f"model {model.name!r} has no trainable variables")
    _check_counter(loss_fn, optimizer)
    try:  # a number or a variable; a schedule is a callable and is left alone
        learning_rate = float(optimizer.learning_rate)
    except (TypeError, ValueError, AttributeError):
        learning_rate = None
    if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(
            f"the optimizer's learning_rate must be positive and finite, got {learning_rate:g}"
        )
    if not optimizer.built:  # creating its slots inside the step would force a second trace
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            optimizer.build(variables)  # a strategy's slots (Adam's moments) are made in its scope

    replicas = 1 if strategy is None else strategy.num_replicas_in_sync

    def train_step(batch):
        with tf.GradientTape() as tape:
            metrics = _checked(loss_fn(model, batch))
            loss = metrics["loss"] / replicas  # replicas' gradients are summed
        gradients = tape.gradient(loss, variables)
        if jit_compile and strategy is None:  # only XLA copies weights it cannot order
            gradients = _after_all(gradients)
        optimizer.apply_gradients(zip(gradients, variables, strict=False))
        return metrics

    signature = None if element_spec is None else (element_spec,)
    if strategy is None:
        return tf.function(train_step, input_signature=signature, jit_compile=jit_compile)

    def distributed_step(batch):
        per_replica = strategy.run(train_step, args=(batch,))
        return {
            k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
            for k, v in per_replica.items()
        }

    return tf.function(distributed_step, reduce_retracing=True)


def make_train_loop(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    *,
    element_spec=None,
    jit_compile: bool = False,
):
    """Builds a ``tf.function`` that runs many training steps in one call.

    A call takes a stack of ``k`` batches (a new leading axis, see
    :func:`stack_batches`, which chooses ``k``) and runs one step per batch, in order, inside one
    compiled program: with XLA the whole loop is compiled, so neither Python
    nor the runtime is visited between steps (chapter "Why graphs are fast").
    It stops early after a step whose metrics are not all finite.
    :func:`fit` trains this way unless ``FitConfig.steps_per_call`` is 1.

    Args:
      model, optimizer, loss_fn: as for :func:`make_train_step`.
      element_spec: one batch's ``tf.TypeSpec`` structure (``dataset.element_spec``);
        given, the loop is traced exactly once (XLA still compiles once per
        distinct stack shape).
      jit_compile: compile the loop, steps included, with XLA.

    Returns:
      ``train_loop(batches) -> (n, {metric: [k] float32})``: the number of steps
      run and every metric of each step; only the first ``n`` entries are set.
    """
    step = make_train_step(model, optimizer, loss_fn, jit_compile=jit_compile).python_function
    signature = None
    if element_spec is not None:
        signature = (
            tf.nest.map_structure(lambda s: tf.TensorSpec([None, *s.shape], s.dtype), element_spec),
        )

    @tf.function(input_signature=signature, jit_compile=jit_compile)
    def train_loop(batches):
        k = tf.shape(tf.nest.flatten(batches)[0])[0]
        keys = metric_names(
            model,
            loss_fn,
            tf.nest.map_structure(lambda b: tf.TensorSpec(b.shape[1:], b.dtype), batches),
        )

        def row(metrics):
            return tf.stack([tf.cast(metrics[key], tf.float32) for key in keys])

        # the step is traced once, in the loop's body (a stack holds at least one batch)
        values = tf.zeros([k, len(keys)])
        finite = tf.constant(True)
        n = tf.constant(0)
        while n < k and finite:
            # the lambda runs at once, in this iteration (B023 does not apply)
            metrics = row(step(tf.nest.map_structure(lambda b: b[n], batches)))  # noqa: B023
            values = tf.tensor_scatter_nd_update(values, [[n]], [metrics])
            finite = tf.reduce_all(tf.math.is_finite(metrics))
            n += 1
        return n, {key: values[:, j] for j, key in enumerate(keys)}

    return train_loop


def stack_batches(batches, size: int):
    """Groups consecutive batches of one shape into stacks of at most ``size``.

    Yields each stack as the batch structure with a new leading axis, ready for
    the loop of :func:`make_train_loop`. A batch whose shapes differ from the
    ones before it (the smaller last batch of an epoch) starts a new stack.
    """
    size = validation.positive_int("size", size)
    group, shapes = [], None
    for batch in batches:
        batch_shapes = [tuple(t.shape) for t in tf.nest.flatten(batch)]
        if group and (batch_shapes != shapes or len(group) == size):
            yield tf.nest.map_structure(lambda *parts: tf.stack(parts), *group)
            group = []
        shapes = batch_shapes
        group.append(batch)
    if group:
        yield tf.nest.map_structure(lambda *parts: tf.stack(parts), *group)
