"""The one training loop every chapter uses.

``fit`` runs epochs of the compiled step (:mod:`vaelib.step`), many steps per
call, with a progress bar; it keeps a :class:`History`, evaluates after each
epoch, stops on a non-finite loss, and with ``checkpoint_dir`` saves every
epoch and resumes where an interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Mapping, Union

import tensorflow as tf

from vaelib.progress import Progress
from vaelib.step import LossFn, make_train_loop, make_train_step, stack_batches

__all__ = ["FitConfig", "History", "NonFiniteLossError", "fit"]

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
        run = make_train_loop(model, optimizer, loss_fn, element_spec=first.element_spec,
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
