"""Where a compiled training step spends its time (chapter 8, ``benchmarks/profile_step.py``).

TensorFlow's profiler records one event for every op that XLA's CPU runtime
runs, on whichever thread runs it. :func:`profile_train_step` traces a few
steps, puts every compiled op in a category read off the optimized HLO (its
opcode and the TensorFlow op it was lowered from), and adds up thread time per
category (an op's time is its span on the thread that runs it). The rest of
the cores' time is either inside the compiled program, where a core waits for
an op it depends on or helps another thread's multithreaded matmul, or outside
it (Python, the call, the runtime's bookkeeping).
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import os
import shutil
import tempfile
import time
from typing import Callable, Mapping

import tensorflow as tf

from vaelib import validation
from vaelib.speed import hlo
from vaelib.speed.hlo import CATEGORIES, hlo_op_categories

__all__ = [
    "CATEGORIES",
    "ProfilerUnsupportedError",
    "StepProfile",
    "format_profile",
    "format_profiles",
    "hlo_op_categories",
    "profile_from_trace",
    "profile_train_step",
]

# TensorFlow versions on which profile_train_step was run: it reads the per-op
# events of XLA's CPU runtime, whose form changed between them.
VERIFIED_VERSIONS = "2.21"
FAILING_VERSIONS = "2.16 (its trace has no per-op events that match the HLO)"


class ProfilerUnsupportedError(RuntimeError):
    """This TensorFlow's profiler does not record XLA's CPU ops in a form vaelib can read."""


_PROGRAM_EVENT = "CpuExecutable::ExecuteAsyncOnStream"


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


def _trace(run: Callable[[], object], steps: int) -> tuple[collections.Counter, float]:
    """Runs ``run`` ``steps`` times under the profiler: ({event name: seconds}, wall seconds)."""
    logdir = tempfile.mkdtemp(prefix="vaelib-profile-")
    try:
        tf.profiler.experimental.start(logdir)
        try:
            start = time.perf_counter()
            for _ in range(steps):
                run()
            wall = time.perf_counter() - start
        finally:
            tf.profiler.experimental.stop()
        space = hlo.read_space(
            glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
        )
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    times = hlo.trace_times(space)
    return times, wall


def profile_train_step(
    step, batch, *, steps: int = 100, warmup: int = 10, optimizer_scope: str = "adam"
) -> StepProfile:
    """Traces an XLA-compiled training step and splits its time by category.

    Args:
      step: a ``tf.function`` built with ``jit_compile=True``, such as
        :func:`vaelib.make_train_step`'s; called as ``step(batch)``, returning a
        dict with a scalar ``"loss"`` (read after every step, as ``fit`` does).
      batch: one batch; the step trains on it ``warmup + steps`` times.
      steps: steps traced.
      warmup: untraced steps first (compiling happens here).
      optimizer_scope: the optimizer's name scope, to recognize its update.

    Returns:
      A :class:`StepProfile`.

    Raises:
      ValueError: ``steps`` is not a positive int, or the step is not compiled with XLA.
      ProfilerUnsupportedError: the trace holds none of the compiled ops (older
        TensorFlow versions, see :data:`FAILING_VERSIONS`), rather than a profile of zeros.
    """
    steps = validation.positive_int("steps", steps)
    warmup = validation.integer("warmup", warmup, minimum=0)
    run = lambda: float(step(batch)["loss"])  # noqa: E731
    for _ in range(max(1, warmup)):
        run()
    try:
        hlo = step.experimental_get_compiler_ir(batch)(stage="optimized_hlo")
    except Exception as error:  # not compiled: TensorFlow refuses with one of several errors
        raise ValueError(
            "profile_train_step needs a step compiled with jit_compile=True "
            f"(experimental_get_compiler_ir failed: {error})"
        ) from error
    ops = hlo_op_categories(hlo, optimizer_scope)
    times, wall = _trace(run, steps)
    if not any(times.get(name) for name in ops):
        # A silent all-zero profile would be read as "nothing takes time": refuse instead.
        raise ProfilerUnsupportedError(
            f"TensorFlow {tf.__version__}'s profiler recorded none of the step's {len(ops)} "
            "XLA CPU ops, so there is no profile to report. profile_train_step works on "
            f"TensorFlow {VERIFIED_VERSIONS} and is known to fail on {FAILING_VERSIONS}: "
            "upgrade TensorFlow to profile a step"
        )
    return _profile(ops, times, times.get(_PROGRAM_EVENT, 0.0), wall, steps)


def _profile(ops: dict, times, program: float, wall: float, steps: int) -> StepProfile:
    """The per-step profile from the categorized ops and the trace's summed times."""
    thread_time = dict.fromkeys(CATEGORIES, 0.0)
    flops = dict.fromkeys(CATEGORIES, 0.0)
    for name, (category, op_flops) in ops.items():
        if times.get(name):
            thread_time[category] += times[name] / steps
            flops[category] += op_flops  # each op runs once per step
    return StepProfile(
        step=wall / steps,
        program=program / steps,
        cores=os.cpu_count() or 1,
        thread_time=thread_time,
        flops=flops,
    )


def profile_from_trace(
    hlo_text: str, xplane_path: str, *, steps: int, wall: float, optimizer_scope: str = "adam"
) -> StepProfile:
    """The profile of a step that another program compiled and traced, such as JAX's
    (``benchmarks/jax_step.py --profile``): its optimized HLO, and a profiler trace of
    ``steps`` steps that took ``wall`` seconds, one step per call.

    Raises:
      ValueError: ``steps`` is not a positive int, or ``wall`` is not positive.
      ProfilerUnsupportedError: the trace holds none of the program's ops.
    """
    steps = validation.positive_int("steps", steps)
    if not wall > 0:
        raise ValueError(
            f"wall must be the traced steps' positive wall time in seconds, got {wall}"
        )
    ops = hlo_op_categories(hlo_text, optimizer_scope)
    space = hlo.read_space(xplane_path)
    times = hlo.trace_times(space)
    if not any(times.get(name) for name in ops):
        raise ProfilerUnsupportedError(
            f"the trace {xplane_path} holds none of the program's {len(ops)} ops: "
            "was it traced from the program whose HLO was given?"
        )
    return _profile(ops, times, hlo.program_seconds(space), wall, steps)
