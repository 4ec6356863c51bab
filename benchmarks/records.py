"""The JSON record a benchmark of interleaved rounds writes: when, where, the rounds, the ratios."""

from __future__ import annotations

import datetime
import json
import os
import platform

import tensorflow as tf


def rounds_record(rounds, ratios: dict, **settings) -> dict:
    """The record of a :class:`vaelib.speed.Rounds` run and its per-round ratios.

    Args:
      rounds: the run (rates, the load before each round, what was re-run or stayed flagged).
      ratios: ``{name: vaelib.compare_ratios(...)}``, stored as median, per round, verdict.
      settings: the benchmark's own settings and checks, stored as given.
    """
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        **settings,
        "load_before_rounds": rounds.load,
        "rerun": rounds.rerun,
        "still_flagged": rounds.still_flagged,
        "rates": rounds.rates,
        "xla_over_plain": {
            name: {"median": r.median, "per_round": list(r.ratios), "verdict": r.verdict()}
            for name, r in ratios.items()
        },
    }


def write_record(path: str, record: dict) -> None:
    """Writes ``record`` as indented JSON to ``path``."""
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
