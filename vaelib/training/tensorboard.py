"""TensorBoard summaries of a training run: what :func:`vaelib.fit` writes with ``log_dir``.

TensorFlow users watch training in TensorBoard (``tensorboard --logdir DIR``; in a notebook,
``%load_ext tensorboard`` then ``%tensorboard --logdir DIR``). With ``fit(...,
log_dir=DIR)`` every run writes, with ``tf.summary``:

- ``step/loss``: the loss at each training step (``History.step_loss``), written once per
  epoch from the values ``fit`` already holds, so the compiled loop is not touched and no
  summary op runs inside it;
- ``epoch/<column>``: every column of the epoch's row of :class:`vaelib.History`, at the
  epoch's last step: the training means (``epoch/train_loss``, and for a VAE
  ``epoch/train_elbo`` and its two terms), what ``evaluate`` returned
  (``epoch/test_elbo``, say) and ``epoch/seconds``;
- for a VAE given a ``kl_batch`` of inputs, the KL of each latent dimension over that
  batch as a histogram (``kl_per_dimension``) and its sum (``epoch/kl_batch``), per epoch.

Steps are counted from the start of training (epoch ``e`` of ``s`` steps starts at step
``e * s``), so a resumed run continues the curves. Nothing is written unless ``log_dir`` is
given.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from vaelib.models.distributions import kl_normal_std


class TensorBoard:
    """Writes a run's summaries to ``log_dir`` (an event file per run, as Keras does).

    Args:
      log_dir: the folder; ``~`` is expanded; created if missing.
      model: the model being trained; needed only for ``kl_batch``.
      kl_batch: inputs ``[batch, ...]`` whose per-dimension KL is logged each epoch; the
        model must have an ``encoder`` returning ``(q_mu, q_logvar)``.

    Raises:
      ImportError: the ``tensorboard`` package is missing (``tf.summary`` needs it).
      ValueError: ``log_dir`` names an existing file, or ``kl_batch`` without a model that
        has an encoder.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike,
        model: tf.Module | None = None,
        kl_batch: np.ndarray | tf.Tensor | None = None,
    ):
        if importlib.util.find_spec("tensorboard") is None:  # tf.summary's ops live there
            raise ImportError(
                "log_dir needs the tensorboard package, which TensorFlow no longer "
                "installs: pip install tensorboard (requirements.txt has it)"
            )
        if not isinstance(log_dir, (str, os.PathLike)) or not str(log_dir):
            raise ValueError(f"log_dir must be a folder path, got {log_dir!r}")
        path = os.path.expanduser(os.fspath(log_dir))
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(
                f"log_dir {path!r} is a file, not a folder: give a folder for "
                "TensorBoard's event files"
            )
        if kl_batch is not None and not hasattr(model, "encoder"):
            raise ValueError(
                "kl_batch needs the model (with an encoder returning q_mu, "
                "q_logvar) whose KL per dimension it measures"
            )
        self.log_dir = path
        self.model = model
        self.kl_batch = None if kl_batch is None else tf.convert_to_tensor(kl_batch)
        self._writer = tf.summary.create_file_writer(path)

    def write_steps(self, first_step: int, losses: Sequence[float]) -> None:
        """``step/loss`` at steps ``first_step, first_step + 1, ...``."""
        with self._writer.as_default():
            for i, loss in enumerate(losses):
                tf.summary.scalar("step/loss", float(loss), step=first_step + i)

    def write_epoch(self, step: int, row: Mapping[str, float]) -> None:
        """The epoch's row at ``step`` (the number of steps trained so far)."""
        with self._writer.as_default():
            for name, value in row.items():
                if name != "epoch":
                    tf.summary.scalar(f"epoch/{name}", float(value), step=step)
            if self.kl_batch is not None:
                q_mu, q_logvar = self.model.encoder(self.kl_batch)
                kl = tf.reduce_mean(kl_normal_std(q_mu[..., None], q_logvar[..., None]), axis=0)
                tf.summary.histogram("kl_per_dimension", kl, step=step)
                tf.summary.scalar("epoch/kl_batch", tf.reduce_sum(kl), step=step)
        self._writer.flush()

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        """Closes the event file; a later write opens a new one in the same folder."""
        self._writer.close()
        self._writer = tf.summary.create_file_writer(self.log_dir)


def _events(log_dir: str | os.PathLike):
    """Every event in the event files under ``log_dir``, file by file, in the order written."""
    for root, _, files in sorted(os.walk(os.path.expanduser(os.fspath(log_dir)))):
        for name in sorted(f for f in files if "tfevents" in f):
            for record in tf.data.TFRecordDataset(os.path.join(root, name)):
                yield tf.compat.v1.Event.FromString(record.numpy())


def read_scalars(log_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files under ``log_dir``: ``{tag: [(step, value), ...]}``,
    in the order written (what the tests use to check the summaries equal what
    :func:`vaelib.fit` returned; they also read them with TensorBoard's own reader).
    """
    found: dict[str, list[tuple[int, float]]] = {}
    for event in _events(log_dir):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name not in ("scalars", ""):
                continue
            if value.HasField("tensor"):
                number = float(tf.make_ndarray(value.tensor))
            else:
                number = float(value.simple_value)
            found.setdefault(value.tag, []).append((int(event.step), number))
    return found


def read_graphs(log_dir: str | os.PathLike) -> list[list[tuple[str, str]]]:
    """The graphs ``tf.summary.trace_export`` wrote under ``log_dir`` (what TensorBoard's
    Graphs tab draws): one list per traced function, of ``(op type, op name)`` for each
    node, without the ``_Arg``/``_Retval`` nodes that carry arguments and results.
    """
    graphs = []
    for event in _events(log_dir):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name != "graph_run_metadata_graph":
                continue
            metadata = config_pb2.RunMetadata.FromString(tf.make_ndarray(value.tensor).item())
            for function in metadata.function_graphs:
                nodes = function.pre_optimization_graph.node
                graphs.append(
                    [(n.op, n.name) for n in nodes if n.op not in ("_Arg", "_Retval", "_DeviceArg")]
                )
    return graphs
