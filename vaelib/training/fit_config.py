"""What fit takes and returns (chapters 2, 3, 6): :class:`FitConfig` and :class:`History`."""

from __future__ import annotations

import dataclasses

from vaelib import validation


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
      max_to_keep: checkpoints of this run kept in ``checkpoint_dir`` (earlier
        runs' checkpoints are never deleted).

    Integers may be NumPy integers and flags NumPy bools (:mod:`vaelib.validation`).
    """

    epochs: int = 10
    jit_compile: bool = True
    steps_per_call: int = 20
    progress: bool = True
    max_to_keep: int = 2

    def __post_init__(self):
        # vaelib.validation's rules; NumPy values are stored as Python ones
        for field in ("epochs", "steps_per_call", "max_to_keep"):
            object.__setattr__(self, field, validation.positive_int(field, getattr(self, field)))
        for field in ("jit_compile", "progress"):
            object.__setattr__(self, field, validation.flag(field, getattr(self, field)))


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
