"""Timing on a shared machine (chapter 8, benchmarks/): throughput over a window, and rounds.

Throughput is examples per second over a timing window after a warm-up, so tracing and
compilation are not counted. On a machine shared with other work one window is not a
measurement: :func:`run_rounds` interleaves the variants over several rounds, re-runs a round
in which a variant was far from its other rounds, and reports medians, ranges and medians of
per-round ratios (:class:`Rounds`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Mapping

import numpy as np

from vaelib import validation

__all__ = ["throughput", "Rounds", "run_rounds"]


def throughput(
    run_once: Callable[[], object], seconds: float, examples_per_call: int, warmup: int = 3
) -> float:
    """Examples per second of ``run_once`` over about ``seconds``, after ``warmup`` calls."""
    seconds = validation.real("seconds", seconds, positive=True)
    examples_per_call = validation.positive_int("examples_per_call", examples_per_call)
    warmup = validation.integer("warmup", warmup, minimum=0)
    for _ in range(warmup):
        run_once()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run_once()
        calls += 1
    return calls * examples_per_call / (time.perf_counter() - start)


@dataclasses.dataclass(frozen=True)
class Rounds:
    """Rates of several variants timed in interleaved rounds (:func:`run_rounds`).

    Attributes:
      rates: ``{variant: [rate in each kept round]}``, rounds in the order run.
      rerun: for each round that was flagged and run again, ``(round, variants
        that deviated)``, rounds counted from 0.
      still_flagged: kept rounds (from 0) that still deviate after the last re-run allowed.
      load: the 1-minute load average before each kept round (``os.getloadavg``;
        empty where the system has none).
      tolerance: the deviation from a variant's median over rounds that flags a round.
    """

    rates: dict[str, list[float]]
    rerun: list[tuple[int, tuple[str, ...]]]
    still_flagged: list[int]
    load: list[float]
    tolerance: float

    def median(self, name: str) -> float:
        """The median over rounds of ``name``'s rate."""
        return float(np.median(self.rates[name]))

    def spread(self, name: str) -> tuple[float, float]:
        """(min, max) over rounds of ``name``'s rate."""
        return min(self.rates[name]), max(self.rates[name])

    def ratio(self, name: str, reference: str) -> float:
        """The median over rounds of ``rate[name] / rate[reference]`` within each round."""
        return float(np.median(np.asarray(self.rates[name]) / np.asarray(self.rates[reference])))

    def ratio_spread(self, name: str, reference: str) -> tuple[float, float]:
        """(min, max) over rounds of the per-round ratio."""
        ratios = np.asarray(self.rates[name]) / np.asarray(self.rates[reference])
        return float(ratios.min()), float(ratios.max())

    def table(self, unit: str = "examples/s", names: list[str] | None = None) -> str:
        """A text table: each variant's median and min-max over the rounds."""
        names = list(self.rates) if names is None else names
        width = max(len(n) for n in names)
        lines = [f"{'variant':{width}s} {unit + ' (median)':>20s} {'min-max':>21s}"]
        for name in names:
            low, high = self.spread(name)
            lines.append(f"{name:{width}s} {self.median(name):20,.0f} {low:10,.0f}-{high:<10,.0f}")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line: rounds kept, rounds re-run and why, the load during the rounds."""
        n = len(next(iter(self.rates.values())))
        line = f"{n} rounds kept; "
        line += (
            "no round re-run"
            if not self.rerun
            else f"{len(self.rerun)} round(s) re-run ("
            + "; ".join(f"round {r + 1}: {', '.join(v)}" for r, v in self.rerun)
            + ")"
        )
        line += (
            " (a round is re-run when a variant is off its median by more than "
            f"{self.tolerance:.0%})"
        )
        if self.still_flagged:
            line += (
                f"; rounds still off after the last re-run: {[r + 1 for r in self.still_flagged]}"
            )
        if self.load:
            line += (
                f"; 1-min load average before the rounds: {min(self.load):.2f}-{max(self.load):.2f}"
            )
        return line


def _deviating(rates: dict[str, list[float]], r: int, tolerance: float) -> tuple[str, ...]:
    """Variants whose rate in round ``r`` is off their median by more than ``tolerance``."""
    out = []
    for name, values in rates.items():
        median = float(np.median(values))
        if median > 0 and abs(values[r] / median - 1) > tolerance:
            out.append(name)
    return tuple(out)


def run_rounds(
    variants: Mapping[str, Callable[[float], float]],
    *,
    rounds: int = 5,
    seconds: float = 2.0,
    tolerance: float = 0.3,
    max_reruns: int | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> Rounds:
    """Times every variant once per round, interleaved, over several rounds.

    Each round runs every variant for a window of ``seconds``, in an order that
    changes from round to round (a fresh random permutation), so that a slow
    period of the machine falls on different variants. After all rounds, a round
    in which some variant's rate is off that variant's median over the rounds by
    more than ``tolerance`` (the machine was busy) is flagged and run again, the
    most deviating round first, up to ``max_reruns`` times in all.

    Args:
      variants: ``{name: measure}``; ``measure(seconds)`` returns a rate (higher is
        faster), timing the variant for about ``seconds`` after any warm-up.
      rounds: rounds kept, at least 1 (3 or more for the flagging to mean anything).
      seconds: the window of each variant in each round.
      tolerance: relative deviation from the median that flags a round.
      max_reruns: re-runs allowed in all (default: ``rounds``).
      seed: of the orders.
      log: called with a line after each round (progress), if given.

    Returns:
      :class:`Rounds`.

    Raises:
      ValueError: no variants, or a bad ``rounds``, ``seconds`` or ``tolerance``.
    """
    if not variants:
        raise ValueError("variants must not be empty")
    rounds = validation.positive_int("rounds", rounds)
    seconds = validation.real("seconds", seconds, positive=True)
    tolerance = validation.real("tolerance", tolerance, positive=True)
    seed = validation.integer("seed", seed, minimum=0)
    max_reruns = (
        rounds if max_reruns is None else validation.integer("max_reruns", max_reruns, minimum=0)
    )
    rng = np.random.default_rng(seed)
    names = list(variants)

    def one_round() -> tuple[dict[str, float], float]:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        return {name: float(variants[name](seconds)) for name in rng.permutation(names)}, load

    rates: dict[str, list[float]] = {name: [] for name in names}
    loads = []
    for r in range(rounds):
        result, load = one_round()
        loads.append(load)
        for name in names:
            rates[name].append(result[name])
        if log:
            log(f"round {r + 1}/{rounds} done (load {load:.2f})")
    rerun = []
    while len(rerun) < max_reruns and rounds >= 3:
        flagged = {r: _deviating(rates, r, tolerance) for r in range(rounds)}
        flagged = {r: v for r, v in flagged.items() if v}
        if not flagged:
            break
        worst = max(
            flagged,
            key=lambda r: max(abs(rates[n][r] / np.median(rates[n]) - 1) for n in flagged[r]),
        )
        rerun.append((worst, flagged[worst]))
        result, load = one_round()
        loads[worst] = load
        for name in names:
            rates[name][worst] = result[name]
        if log:
            log(
                f"round {worst + 1} re-run ({', '.join(flagged[worst])} had deviated; "
                f"load {load:.2f})"
            )
    still = [r for r in range(rounds) if rounds >= 3 and _deviating(rates, r, tolerance)]
    return Rounds(
        rates=rates,
        rerun=rerun,
        still_flagged=still,
        load=[x for x in loads if x == x],
        tolerance=tolerance,
    )
