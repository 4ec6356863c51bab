"""The compiled training step and the one training loop every chapter uses.

``make_train_step`` turns a loss function into a ``tf.function`` that computes
gradients and applies them; it is traced once for a dataset's element spec, so
a smaller last batch does not retrace it. ``fit`` runs epochs of that step with
a progress bar, keeps a :class:`History`, evaluates after each epoch, stops on
a non-finite loss, and with ``checkpoint_dir`` saves every epoch and resumes
where an interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Mapping, Union

import tensorflow as tf

from vaelib.progress import Progress

__all__ = ["FitConfig", "History", "NonFiniteLossError", "make_train_step", "make_train_loop",
           "stack_batches", "fit"]

LossFn = Callable[[tf.Module, object], Mapping[str, tf.Tensor]]
Data = Union[tf.data.Dataset, Callable[[int], tf.data.Dataset]]


class NonFiniteLossError(FloatingPointError):
    """The loss (or another metric) became NaN or infinite."""


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """How :func:`fit` trains.

    Attributes:
      epochs: passes over the data; positive.
      jit_compile: compile the step with XLA (the default: faster than a plain
        ``tf.function`` for the notes' VAE on CPUs, as chapter 8 and
        ``benchmarks/train_step.py`` measure, and reproducible because the VAE
        draws its noise from its own generator).
      steps_per_call: most training steps per call into the compiled graph
        (:func:`make_train_loop`), so that Python is visited once per that many
        steps; 1 calls the step from Python for every batch. Every step's
        metrics are still recorded, and a non-finite one still stops training
        at the step it happened. Training with a ``strategy`` always uses 1.
      progress: show a progress bar (see :mod:`vaelib.progress`).
      max_to_keep: checkpoints kept in ``checkpoint_dir``.
    """

    epochs: int = 10
    jit_compile: bool = True
    steps_per_call: int = 20
    progress: bool = True
    max_to_keep: int = 2

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs <= 0:
            raise ValueError(f"epochs must be a positive int, got {self.epochs!r}")
        if not isinstance(self.steps_per_call, int) or self.steps_per_call <= 0:
            raise ValueError(f"steps_per_call must be a positive int, got {self.steps_per_call!r}")
        if self.max_to_keep <= 0:
            raise ValueError(f"max_to_keep must be positive, got {self.max_to_keep!r}")


@dataclasses.dataclass
class History:
    """What :func:`fit` measured.

    Attributes:
      step_loss: the loss of every training step, in order.
      epochs: one dict per epoch: ``epoch``, the mean of each training metric
        (prefixed ``train_``), what ``evaluate`` returned, and ``seconds``.
    """

    step_loss: list[float] = dataclasses.field(default_factory=list)
    epochs: list[dict[str, float]] = dataclasses.field(default_factory=list)

    def column(self, name: str) -> list[float]:
        """One metric across epochs, e.g. ``history.column("test_elbo")``."""
        if self.epochs and name not in self.epochs[0]:
            raise KeyError(f"no metric {name!r}; have {sorted(self.epochs[0])}")
        return [row[name] for row in self.epochs]


def _after_all(gradients: list) -> list:
    """Makes every gradient depend on all of them, without changing a value.

    XLA updates a variable in place, so every read of its old value must run
    first. A weight is read again by the backward pass (``dx = dy @ w^T``), and
    nothing orders that read before the update, which needs only ``dw``; XLA
    then copies the weight before the step starts (8 copies, about 0.5 ms a
    step on the notes' VAE, ``benchmarks/profile_step.py``). Adding
    ``0 * (one element of every gradient)`` orders all reads before any write,
    and the copies go away (tested in ``tests/test_train.py``). A non-finite
    gradient spreads to all, which a non-finite loss reports on the next step.
    """
    dense = [isinstance(g, tf.Tensor) and g.shape.num_elements() != 0 for g in gradients]
    present = [tf.cast(tf.reshape(g, [-1])[0], tf.float32) for g, d in zip(gradients, dense) if d]
    if not present:
        return gradients
    zero = 0.0 * tf.add_n(present)
    return [g + tf.cast(zero, g.dtype) if d else g for g, d in zip(gradients, dense)]


def make_train_step(model: tf.Module, optimizer: tf.keras.optimizers.Optimizer, loss_fn: LossFn,
                    *, element_spec=None, jit_compile: bool = False,
                    strategy: tf.distribute.Strategy | None = None):
    """Builds the compiled training step.

    Args:
      model: the ``tf.Module`` whose ``trainable_variables`` are trained.
      optimizer: a Keras optimizer.
      loss_fn: ``loss_fn(model, batch)`` returns a dict of scalar tensors with
        at least ``"loss"``, the quantity minimized.
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
    """
    variables = model.trainable_variables
    if not variables:
        raise ValueError(f"model {model.name!r} has no trainable variables")
    try:  # a number or a variable; a schedule is a callable and is left alone
        learning_rate = float(optimizer.learning_rate)
    except (TypeError, ValueError, AttributeError):
        learning_rate = None
    if learning_rate is not None and learning_rate <= 0:
        raise ValueError(f"the optimizer's learning_rate must be positive, got {learning_rate:g}")
    if not optimizer.built:  # creating its slots inside the step would force a second trace
        optimizer.build(variables)

    replicas = 1 if strategy is None else strategy.num_replicas_in_sync

    def train_step(batch):
        with tf.GradientTape() as tape:
            metrics = dict(loss_fn(model, batch))
            loss = metrics["loss"] / replicas  # replicas' gradients are summed
        gradients = tape.gradient(loss, variables)
        if jit_compile and strategy is None:  # only XLA copies weights it cannot order
            gradients = _after_all(gradients)
        optimizer.apply_gradients(zip(gradients, variables))
        return metrics

    signature = None if element_spec is None else (element_spec,)
    if strategy is None:
        return tf.function(train_step, input_signature=signature, jit_compile=jit_compile)

    def distributed_step(batch):
        per_replica = strategy.run(train_step, args=(batch,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in per_replica.items()}

    return tf.function(distributed_step, reduce_retracing=True)


def make_train_loop(model: tf.Module, optimizer: tf.keras.optimizers.Optimizer, loss_fn: LossFn,
                    steps: int, *, element_spec=None, jit_compile: bool = False):
    """Builds a ``tf.function`` that runs many training steps in one call.

    A call takes a stack of batches (a leading axis of length ``k <= steps``,
    see :func:`stack_batches`) and runs one step per batch, in order, inside one
    compiled program: with XLA the whole loop is compiled, so neither Python
    nor the runtime is visited between steps (chapter "Why graphs are fast").
    It stops early after a step whose metrics are not all finite.
    :func:`fit` trains this way unless ``FitConfig.steps_per_call`` is 1.

    Args:
      model, optimizer, loss_fn: as for :func:`make_train_step`.
      steps: most steps per call; a positive int.
      element_spec: one batch's ``tf.TypeSpec`` structure (``dataset.element_spec``);
        given, the loop is traced exactly once (XLA still compiles once per
        distinct stack shape).
      jit_compile: compile the loop, steps included, with XLA.

    Returns:
      ``train_loop(batches) -> (n, {metric: [k] float32})``: the number of steps
      run and every metric of each step; only the first ``n`` entries are set.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    step = make_train_step(model, optimizer, loss_fn, jit_compile=jit_compile).python_function
    signature = None
    if element_spec is not None:
        signature = (tf.nest.map_structure(lambda s: tf.TensorSpec([None, *s.shape], s.dtype), element_spec),)

    @tf.function(input_signature=signature, jit_compile=jit_compile)
    def train_loop(batches):
        k = tf.shape(tf.nest.flatten(batches)[0])[0]
        first = step(tf.nest.map_structure(lambda b: b[0], batches))
        keys = list(first)

        def row(metrics):
            return tf.stack([tf.cast(metrics[key], tf.float32) for key in keys])

        values = tf.tensor_scatter_nd_update(tf.zeros([k, len(keys)]), [[0]], [row(first)])
        finite = tf.reduce_all(tf.math.is_finite(row(first)))
        n = tf.constant(1)
        while n < k and finite:
            metrics = row(step(tf.nest.map_structure(lambda b: b[n], batches)))
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
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"size must be a positive int, got {size!r}")
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


def _checkpointing(model, optimizer, checkpoint_dir, max_to_keep):
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch)
    manager = tf.train.CheckpointManager(checkpoint, str(checkpoint_dir), max_to_keep=max_to_keep)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    return epoch, manager


def fit(model: tf.Module, optimizer: tf.keras.optimizers.Optimizer, loss_fn: LossFn, data: Data,
        config: FitConfig = FitConfig(), *,
        evaluate: Callable[[tf.Module], Mapping[str, float]] | None = None,
        callbacks: tuple[Callable[[int, dict], None], ...] = (),
        checkpoint_dir: str | None = None,
        strategy: tf.distribute.Strategy | None = None) -> History:
    """Trains ``model`` for ``config.epochs`` epochs.

    Args:
      model: the model; its trainable variables are updated in place.
      optimizer: a Keras optimizer (its state is checkpointed too).
      loss_fn: see :func:`make_train_step`.
      data: a ``tf.data.Dataset`` (one epoch per iteration), or a function
        ``epoch -> dataset``; the latter makes a resumed run see exactly the
        batches an uninterrupted one would.
      config: epochs, XLA, progress bar.
      evaluate: called after each epoch with the model; returns named floats
        (e.g. ``{"test_accuracy": 0.97}``) added to the history.
      callbacks: each called as ``callback(epoch, row)`` after each epoch.
      checkpoint_dir: if given, restore the latest checkpoint there (skipping
        the epochs it had finished) and save one after every epoch.
      strategy: train data-parallel with a ``tf.distribute`` strategy (see
        :func:`make_train_step`); ``None`` trains on the default device.

    Returns:
      The :class:`History` of this call (epochs restored from a checkpoint are
      not in it).

    Raises:
      NonFiniteLossError: a metric became NaN or infinite; the message names
        the step and the metric. Checkpoints saved before it are kept.
    """
    make_data = data if callable(data) and not isinstance(data, tf.data.Dataset) else (lambda _: data)
    first = make_data(0)
    per_call = config.steps_per_call if strategy is None else 1
    if per_call > 1:
        run = make_train_loop(model, optimizer, loss_fn, per_call, element_spec=first.element_spec,
                              jit_compile=config.jit_compile)
    else:
        run = make_train_step(model, optimizer, loss_fn, element_spec=first.element_spec,
                              jit_compile=config.jit_compile, strategy=strategy)

    def step_metrics(epoch):
        """Yields each step's metrics as floats, running ``per_call`` steps at a time."""
        if per_call == 1:
            for batch in make_data(epoch):
                yield {k: float(v) for k, v in run(batch).items()}
            return
        for batches in stack_batches(make_data(epoch), per_call):
            ran, columns = run(batches)
            columns = {k: v.numpy() for k, v in columns.items()}
            for i in range(int(ran)):  # fewer than the stack only after a non-finite step
                yield {k: float(v[i]) for k, v in columns.items()}

    if strategy is not None:
        original = make_data
        make_data = lambda epoch: strategy.experimental_distribute_dataset(original(epoch))
    start_epoch, manager = 0, None
    if checkpoint_dir is not None:
        epoch_var, manager = _checkpointing(model, optimizer, checkpoint_dir, config.max_to_keep)
        start_epoch = int(epoch_var.numpy())
    history = History()
    steps_per_epoch = int(first.cardinality().numpy()) if first.cardinality() > 0 else None
    total = steps_per_epoch * (config.epochs - start_epoch) if steps_per_epoch else None
    bar = Progress(total, enabled=config.progress)
    step = start_epoch * (steps_per_epoch or 0)
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            sums: dict[str, float] = {}
            count = 0
            for metrics in step_metrics(epoch):
                bad = [k for k, v in metrics.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLossError(
                        f"{bad[0]} became {metrics[bad[0]]} at step {step} (epoch {epoch}); "
                        "lower the learning rate or check the inputs"
                        + ("; the last good checkpoint is kept" if manager else ""))
                history.step_loss.append(metrics["loss"])
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                step += 1
                bar.update(1)
            row = {"epoch": epoch + 1, **{f"train_{k}": v / max(count, 1) for k, v in sums.items()}}
            evaluated = {k: float(v) for k, v in evaluate(model).items()} if evaluate else {}
            row.update(evaluated)
            row["seconds"] = time.perf_counter() - started
            history.epochs.append(row)
            bar.set_postfix(dict(list({"train_loss": row["train_loss"], **evaluated}.items())[:3]))
            if manager is not None:
                epoch_var.assign(epoch + 1)
                manager.save(checkpoint_number=epoch + 1)
            for callback in callbacks:
                callback(epoch, row)
    finally:
        bar.close()
    return history
