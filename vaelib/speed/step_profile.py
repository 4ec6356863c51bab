"""A compiled training step's time by category: the record and its tables.

:class:`StepProfile` holds what :mod:`vaelib.speed.profiling` measures per training step
(thread time and FLOPs per category, the step's and the program's wall time);
:func:`format_profile` and :func:`format_profiles` print one profile, or several side by
side (TensorFlow's and JAX's, or a step and a loop of steps).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from vaelib.speed.hlo import CATEGORIES

__all__ = ["StepProfile", "format_profile", "format_profiles"]


@dataclasses.dataclass(frozen=True)
class StepProfile:
    """Per-step times of a compiled training step, in seconds.

    Attributes:
      step: wall time of one step while traced (the call, the program, reading the loss).
      program: wall time of the compiled program alone.
      cores: CPU cores of the machine.
      thread_time: thread time of the compiled ops in each of :data:`CATEGORIES`.
      flops: floating-point operations of each category per step (matmuls only,
        counted from the HLO shapes).
    """

    step: float
    program: float
    cores: int
    thread_time: dict[str, float]
    flops: dict[str, float]

    @property
    def busy(self) -> float:
        """Thread time of all compiled ops."""
        return sum(self.thread_time.values())

    @property
    def idle_inside(self) -> float:
        """Core time inside the compiled program outside every op's own span: waiting
        for an op, or helping an op that splits its work across threads."""
        return max(0.0, self.cores * self.program - self.busy)

    @property
    def outside(self) -> float:
        """Core time of the step outside the compiled program."""
        return self.cores * (self.step - self.program)

    def rows(self) -> list[tuple[str, float, float]]:
        """(category, core time per step, share of cores x step time), then the rest:
        ``"idle or helping"`` (inside XLA) and ``"outside XLA"``."""
        total = self.cores * self.step
        rows = [(c, self.thread_time[c], self.thread_time[c] / total) for c in CATEGORIES]
        rows.append(("idle or helping", self.idle_inside, self.idle_inside / total))
        rows.append(("outside XLA", self.outside, self.outside / total))
        return rows

    def to_dict(self) -> dict:
        """The fields, for JSON; :meth:`from_dict` reads them back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: Mapping) -> StepProfile:
        """A profile from :meth:`to_dict`'s fields (extra keys are refused).

        Raises:
          ValueError: a field is missing or unknown, or a category is missing.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        if set(fields) != names:
            raise ValueError(
                f"fields must be exactly {sorted(names)}, got {sorted(fields)}: "
                "pass what StepProfile.to_dict wrote"
            )
        for key in ("thread_time", "flops"):
            missing = set(CATEGORIES) - set(fields[key])
            if missing:
                raise ValueError(f"fields[{key!r}] lacks the categories {sorted(missing)}")
        return cls(**{**fields, "cores": int(fields["cores"])})


def format_profile(profile: StepProfile) -> str:
    """The profile as a text table: core milliseconds per step, share, and matmul rates."""
    lines = [f"{'':22s} {'core ms':>8s} {'share':>6s} {'GFLOP/s while running':>22s}"]
    for category, seconds, share in profile.rows():
        flops = profile.flops.get(category, 0.0)
        rate = f"{flops / seconds / 1e9:22.0f}" if flops and seconds else ""
        lines.append(f"{category:22s} {1e3 * seconds:8.2f} {share:6.0%} {rate}".rstrip())
    return "\n".join(lines)


def format_profiles(profiles: Mapping[str, StepProfile]) -> str:
    """Profiles side by side (e.g. ``{"TensorFlow": ..., "JAX": ...}``): per category, core
    milliseconds per step and the matmuls' GFLOP/s while running; then each step's wall
    time and the compiled program's part of it.

    Raises:
      ValueError: ``profiles`` is empty.
    """
    if not profiles:
        raise ValueError("profiles must name at least one StepProfile")
    width = 20
    lines = [
        f"{'':22s}" + "".join(f" {name[:width]:>{width}s}" for name in profiles),
        f"{'':22s}" + f" {'core ms':>8s} {'GFLOP/s':>11s}" * len(profiles),
    ]
    all_rows = [p.rows() for p in profiles.values()]
    for i, (category, _, _) in enumerate(all_rows[0]):
        cells = []
        for profile, rows in zip(profiles.values(), all_rows, strict=True):
            seconds, flops = rows[i][1], profile.flops.get(category, 0.0)
            rate = f"{flops / seconds / 1e9:.0f}" if flops and seconds else ""
            cells.append(f" {1e3 * seconds:8.2f} {rate:>11s}")
        lines.append(f"{category:22s}" + "".join(cells))
    for label, field in (("step (wall ms)", "step"), ("  in the program", "program")):
        cells = "".join(f" {1e3 * getattr(p, field):8.2f} {'':11s}" for p in profiles.values())
        lines.append(f"{label:22s}{cells}")
    return "\n".join(line.rstrip() for line in lines)
