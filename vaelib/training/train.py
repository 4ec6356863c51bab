"""The one training loop every chapter uses.

``fit`` runs epochs of the compiled step (:mod:`vaelib.step`), many steps per
call, with a progress bar; it keeps a :class:`History`, evaluates after each
epoch, stops on a non-finite loss, and with ``checkpoint_dir`` saves every
epoch (:mod:`vaelib.checkpoint`) and resumes where an interrupted run stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Callable, Mapping, Union

import tensorflow as tf

from vaelib.data.in_memory import InMemoryData
from vaelib.training.checkpoint import CheckpointFolder, fingerprint
from vaelib.training.feeds import dataset_steps, in_memory_steps
from vaelib.training.fit_checks import (
    _check_variables,
    _evaluated,
)
from vaelib.training.fit_config import (  # noqa: F401 (re-exported: the old path)
    FitConfig,
    History,
)
from vaelib.training.progress import Progress
from vaelib.training.step import LossFn
from vaelib.training.tensorboard import TensorBoard

__all__ = ["FitConfig", "History", "NonFiniteLossError", "WorkerLostError", "fit"]

Data = Union[tf.data.Dataset, Callable[[int], tf.data.Dataset], InMemoryData]


class NonFiniteLossError(FloatingPointError):
    """The loss (or another metric) became NaN or infinite."""


class WorkerLostError(RuntimeError):
    """Another worker of a multi-worker strategy stopped or became unreachable mid-training."""


# What a collective raises when a peer is gone (connection reset, aborted, timed out).
_PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.AbortedError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
)


def fit(
    model: tf.Module,
    optimizer: tf.keras.optimizers.Optimizer,
    loss_fn: LossFn,
    data: Data,
    config: FitConfig = FitConfig(),  # noqa: B008 (frozen: one shared default is safe)
    *,
    evaluate: Callable[[tf.Module], Mapping[str, float]] | None = None,
    callbacks: tuple[Callable[[int, dict], None], ...] = (),
    checkpoint_dir: str | os.PathLike | None = None,
    strategy: tf.distribute.Strategy | None = None,
    log_dir: str | os.PathLike | TensorBoard | None = None,
) -> History:
    """Trains ``model`` for ``config.epochs`` epochs.

    Args:
      model: the model; its trainable variables are updated in place.
      optimizer: a Keras optimizer (its state is checkpointed too).
      loss_fn: see :func:`make_train_step`. If it has an attribute
        ``check_batch(model, batch)`` (as :func:`vaelib.vae_loss` does), it is
        called on the first batch, eagerly, before the compiled step runs.
      data: a ``tf.data.Dataset`` of batches (one epoch per iteration), or a
        function ``epoch -> dataset``; the latter makes a resumed run see exactly
        the batches an uninterrupted one would. Or a :class:`vaelib.InMemoryData`:
        the images stay one tensor and each step draws its batch inside the
        compiled loop (:func:`vaelib.training.epoch_loop.make_epoch_loop`), with
        no ``tf.data`` iterator between steps; a resumed run sees the same batches
        too. With a ``strategy`` it is fed through its ``as_dataset``.
      config: epochs, XLA, progress bar.
      evaluate: called after each epoch with the model; returns named floats
        (e.g. ``{"test_accuracy": 0.97}``) added to the history.
      callbacks: each called as ``callback(epoch, row)`` after each epoch.
      checkpoint_dir: if given, restore the highest intact checkpoint there
        (skipping the epochs it had finished) and save one after every epoch; see
        :mod:`vaelib.checkpoint`. The folder is locked while ``fit`` runs; a
        leading ``~`` is the home folder. Only checkpoints this call saved are
        ever deleted (``config.max_to_keep``).
      strategy: train data-parallel with a ``tf.distribute`` strategy (see
        :func:`make_train_step`); ``None`` trains on the default device. With a
        multi-worker strategy every worker calls ``fit`` with the same arguments
        and only the chief writes checkpoints (into a folder all workers can read).
      log_dir: if given, write TensorBoard summaries there (the loss per step, each
        epoch's row; see :mod:`vaelib.tensorboard`); a :class:`vaelib.TensorBoard`
        instead also logs the KL per latent dimension of a batch. ``~`` is expanded.

    Returns:
      The :class:`History` of this call (epochs restored from a checkpoint are
      not in it).

    Raises:
      NonFiniteLossError: a metric became NaN or infinite; the message names
        the step and the metric. Checkpoints saved before it are kept.
      WorkerLostError: with a multi-worker strategy, another worker stopped;
        the message says how to resume.
      TypeError: ``data`` is not a dataset (say, a NumPy array) or a batch holds
        the wrong kind of values (say, ``(x, y)`` for :func:`vaelib.vae_loss`).
      ValueError: ``data`` has no batches, or its first batch is empty, holds
        NaN, or fails the loss function's check (pixels outside [0, 1]).
      vaelib.checkpoint.CheckpointError: ``checkpoint_dir`` is in use by
        another run, or was written by another configuration, or holds no
        intact checkpoint; nothing in it is changed. Its subclass
        ``CheckpointSaveError``: a save failed (a full disk); what it had begun
        is removed, and the checkpoints saved before are kept.
      ValueError: ``loss_fn`` is a :func:`vaelib.kl_loss` whose warm-up reads
        another optimizer's step counter than ``optimizer``'s.
    """
    if not isinstance(config, FitConfig):
        raise TypeError(f"config must be a vaelib.FitConfig, got {type(config).__name__}")
    if not callable(getattr(optimizer, "apply_gradients", None)):
        raise TypeError(
            f"optimizer must be a Keras optimizer such as tf.keras.optimizers.Adam(1e-3), "
            f"got {type(optimizer).__name__}"
        )
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be a function (model, batch) -> dict, got {type(loss_fn).__name__}"
        )
    if evaluate is not None and not callable(evaluate):
        raise TypeError(
            f"evaluate must be a function model -> dict of floats, got {type(evaluate).__name__}"
        )
    if callable(callbacks) or not all(map(callable, callbacks)):
        raise TypeError(
            f"callbacks must be a tuple of functions (epoch, row) -> None, got {callbacks!r}"
        )
    own_summaries = log_dir is not None and not isinstance(log_dir, TensorBoard)
    if own_summaries:
        log_dir = TensorBoard(log_dir)  # checks the path
    in_memory = isinstance(data, InMemoryData)
    if in_memory and strategy is not None:  # a strategy distributes a dataset
        data = data.as_dataset
        in_memory = False
    if in_memory:
        steps_per_epoch, step_metrics = in_memory_steps(model, optimizer, loss_fn, data, config)
    else:
        steps_per_epoch, step_metrics = dataset_steps(
            model, optimizer, loss_fn, data, config, strategy
        )
    folder = None
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    if checkpoint_dir is not None:
        writer = strategy is None or strategy.extended.should_checkpoint
        folder = CheckpointFolder(
            checkpoint_dir,
            tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var),
            fingerprint(model, optimizer),
            max_to_keep=config.max_to_keep,
            writer=writer,
        )
    with folder if folder is not None else contextlib.nullcontext():
        if folder is not None and folder.restore() is not None:
            _check_variables(model, f"in the checkpoint restored from {folder.folder}")
        else:
            _check_variables(model, "before training")
        try:
            return _epochs(
                model,
                config,
                steps_per_epoch,
                step_metrics,
                int(epoch_var.numpy()),
                epoch_var,
                folder,
                evaluate,
                callbacks,
                log_dir,
            )
        except _PEER_ERRORS as error:
            if strategy is None:
                raise
            reason = f"{type(error).__name__}: {error.message.splitlines()[0]}"
            raise WorkerLostError(
                f"distributed training stopped in epoch {int(epoch_var.numpy()) + 1}: "
                f"another worker or device is gone ({reason}). "
                "Restart every worker with the same TF_CONFIG and arguments; "
                + (
                    f"fit resumes from the last checkpoint in {folder.folder}. "
                    if folder
                    else "pass checkpoint_dir to resume instead of starting again. "
                )
                + "TensorFlow may keep this process waiting for the lost worker at exit: "
                "end it (os._exit(1) in a script)"
            ) from error
        finally:
            if own_summaries:
                log_dir.close()


def _epochs(
    model,
    config,
    steps_per_epoch,
    step_metrics,
    start_epoch,
    epoch_var,
    folder,
    evaluate,
    callbacks,
    summaries=None,
) -> History:
    """The epoch loop of :func:`fit`."""
    history = History()
    total = steps_per_epoch * (config.epochs - start_epoch) if steps_per_epoch else None
    bar = Progress(total, enabled=config.progress)
    step = start_epoch * (steps_per_epoch or 0)
    try:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            epoch_start_step = step
            sums: dict[str, float] = {}
            count = 0
            for metrics in step_metrics(epoch, check=epoch == start_epoch):
                bad = [k for k, v in metrics.items() if not math.isfinite(v)]
                if bad:
                    raise NonFiniteLossError(
                        f"{bad[0]} became {metrics[bad[0]]} at step {step} (epoch {epoch}); "
                        "lower the learning rate or check the inputs"
                        + ("; the last good checkpoint is kept" if folder else "")
                    )
                history.step_loss.append(metrics["loss"])
                for k, v in metrics.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                step += 1
                bar.update(1)
            if count == 0:
                raise ValueError(
                    f"data gave no batches in epoch {epoch}: the dataset is empty, or "
                    "drop_remainder=True dropped its only batch"
                )
            row = {"epoch": epoch + 1, **{f"train_{k}": v / count for k, v in sums.items()}}
            evaluated = _evaluated(evaluate(model)) if evaluate else {}
            row.update(evaluated)
            row["seconds"] = time.perf_counter() - started
            history.epochs.append(row)
            if summaries is not None:  # after the epoch, from the values already here
                summaries.write_steps(epoch_start_step, history.step_loss[-count:])
                summaries.write_epoch(step, row)
            bar.set_postfix(dict(list({"train_loss": row["train_loss"], **evaluated}.items())[:3]))
            if folder is not None:
                epoch_var.assign(epoch + 1)
                folder.save(epoch + 1)
            for callback in callbacks:
                callback(epoch, row)
    finally:
        bar.close()
        if summaries is not None:
            summaries.flush()
    return history
