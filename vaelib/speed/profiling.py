"""Where a compiled training step spends its time (chapter 8, ``benchmarks/profile_step.py``).

TensorFlow's profiler records one event for every op that XLA's CPU runtime
runs, on whichever thread runs it. :func:`profile_train_step` traces a few
steps, puts every compiled op in a category read off the optimized HLO (its
opcode and the TensorFlow op it was lowered from), and adds up thread time per
category (an op's time is its span on the thread that runs it). The rest of
the cores' time is either inside the compiled program, where a core waits for
an op it depends on or helps another thread's multithreaded matmul, or outside
it (Python, the call, the runtime's bookkeeping). :func:`profile_calls` does the
same for a program that runs a loop of steps per call (``fit``'s), per step.
The record and its tables are in :mod:`vaelib.speed.step_profile`.
"""

from __future__ import annotations

import collections
import glob
import os
import shutil
import tempfile
import time
from typing import Callable

import tensorflow as tf

from vaelib import validation
from vaelib.speed import hlo
from vaelib.speed.hlo import CATEGORIES, hlo_op_categories
from vaelib.speed.step_profile import StepProfile, format_profile, format_profiles

__all__ = [
    "CATEGORIES",
    "ProfilerUnsupportedError",
    "StepProfile",
    "format_profile",
    "format_profiles",
    "hlo_op_categories",
    "profile_calls",
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


def _trace(run: Callable[[], object], calls: int) -> tuple[collections.Counter, float]:
    """Runs ``run`` ``calls`` times under the profiler: ({event name: seconds}, wall seconds)."""
    logdir = tempfile.mkdtemp(prefix="vaelib-profile-")
    try:
        tf.profiler.experimental.start(logdir)
        try:
            start = time.perf_counter()
            for _ in range(calls):
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
    return profile_calls(
        lambda: float(step(batch)["loss"]),
        lambda: step.experimental_get_compiler_ir(batch)(stage="optimized_hlo"),
        calls=steps,
        warmup=warmup,
        optimizer_scope=optimizer_scope,
    )


def profile_calls(
    run: Callable[[], object],
    optimized_hlo: Callable[[], str],
    *,
    calls: int = 10,
    steps_per_call: int = 1,
    warmup: int = 3,
    optimizer_scope: str = "adam",
) -> StepProfile:
    """Traces calls of an XLA-compiled program that runs ``steps_per_call`` training steps
    per call (one step, or a loop of steps such as ``fit``'s) and splits a step's time by
    category.

    Args:
      run: one call, reading what it returns (as ``fit`` reads every step's metrics).
      optimized_hlo: returns the compiled program's optimized HLO text (for a
        ``tf.function``: ``fn.experimental_get_compiler_ir(*args)(stage="optimized_hlo")``);
        called after the warm-up calls.
      calls: calls traced.
      steps_per_call: training steps each call runs; the profile is per step.
      warmup: untraced calls first (compiling happens here).
      optimizer_scope: the optimizer's name scope, to recognize its update.

    Raises:
      ValueError: ``calls`` or ``steps_per_call`` is not a positive int, or the program is
        not compiled with XLA.
      ProfilerUnsupportedError: the trace holds none of the compiled ops (see
        :func:`profile_train_step`).
    """
    calls = validation.positive_int("calls", calls)
    steps_per_call = validation.positive_int("steps_per_call", steps_per_call)
    warmup = validation.integer("warmup", warmup, minimum=0)
    for _ in range(max(1, warmup)):
        run()
    try:
        hlo_text = optimized_hlo()
    except Exception as error:  # not compiled: TensorFlow refuses with one of several errors
        raise ValueError(
            "profiling needs a program compiled with jit_compile=True "
            f"(experimental_get_compiler_ir failed: {error})"
        ) from error
    ops = hlo_op_categories(hlo_text, optimizer_scope)
    times, wall = _trace(run, calls)
    if not any(times.get(name) for name in ops):
        # A silent all-zero profile would be read as "nothing takes time": refuse instead.
        raise ProfilerUnsupportedError(
            f"TensorFlow {tf.__version__}'s profiler recorded none of the program's {len(ops)} "
            "XLA CPU ops, so there is no profile to report. Profiling works on "
            f"TensorFlow {VERIFIED_VERSIONS} and is known to fail on {FAILING_VERSIONS}: "
            "upgrade TensorFlow to profile a step"
        )
    steps = calls * steps_per_call
    return _profile(ops, times, times.get(_PROGRAM_EVENT, 0.0), wall, steps)


def _profile(ops: dict, times, program: float, wall: float, steps: int) -> StepProfile:
    """The per-step profile from the categorized ops and the trace's summed times."""
    thread_time = dict.fromkeys(CATEGORIES, 0.0)
    flops = dict.fromkeys(CATEGORIES, 0.0)
    for name, (category, op_flops) in ops.items():
        if times.get(name):
            thread_time[category] += times[name] / steps
            flops[category] += op_flops  # a step runs each matmul once (a loop: in its body)
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
