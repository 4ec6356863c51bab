"""Rates timed in the same interleaved rounds, compared (chapter 8, benchmarks/).

Two variants timed in the same round share the machine's state, so their per-round ratio is
the paired quantity: :func:`compare_ratios` reports its median and range over the rounds and a
verdict ("faster by 1.21x ...", "within the noise ...") that a chapter glues.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

__all__ = ["RatioComparison", "compare_ratios"]


@dataclasses.dataclass(frozen=True)
class RatioComparison:
    """``a / b`` over interleaved rounds. Made by :func:`compare_ratios`.

    Attributes:
      ratios: ``a[r] / b[r]`` for each round ``r``.
      higher, lower: the words for a ratio above and below 1 (``"faster"``, ``"slower"``).
    """

    ratios: tuple[float, ...]
    higher: str = "faster"
    lower: str = "slower"

    @property
    def median(self) -> float:
        return float(np.median(self.ratios))

    @property
    def conclusive(self) -> bool:
        """At least 3 rounds, and every round's ratio on the same side of 1."""
        r = np.asarray(self.ratios)
        return r.size >= 3 and (bool(np.all(r > 1)) or bool(np.all(r < 1)))

    def verdict(self) -> str:
        """E.g. ``"faster: 1.54x (median of 5 per-round ratios, 1.40-1.62; every round
        agrees)"`` or ``"no consistent difference: 0.98x (3 of 5 rounds above 1, ...)"``."""
        r = np.asarray(self.ratios)
        span = f"median of {r.size} per-round ratios, {r.min():.2f}-{r.max():.2f}"
        if self.conclusive:
            word = self.higher if self.median > 1 else self.lower
            return f"{word}: {self.median:.2f}x ({span}; every round agrees)"
        above = int(np.sum(r > 1))
        return (
            f"no consistent difference: {self.median:.2f}x ({span}; {above} of {r.size} "
            "rounds above 1)"
        )

    def __str__(self) -> str:
        return (
            f"per-round ratios: {', '.join(f'{x:.2f}' for x in self.ratios)}\n"
            f"verdict: {self.verdict()}"
        )

    def glue(self, name: str) -> None:
        """Glues :meth:`verdict` under ``name`` (ending in ``_verdict``)."""
        if not name.endswith("_verdict"):
            raise ValueError(f"a comparison's glue key must end in '_verdict', got {name!r}")
        from vaelib.reporting.report import glue

        glue(name, self.verdict())


def compare_ratios(
    a: Sequence[float], b: Sequence[float], *, higher: str = "faster", lower: str = "slower"
) -> RatioComparison:
    """Compares two rates measured in the same interleaved rounds, round by round.

    Args:
      a, b: one positive rate per round (examples/s, say), ``a[r]`` and ``b[r]``
        timed in the same round ``r`` (so the machine's state cancels in the ratio).
      higher, lower: the verdict's words for a ratio above and below 1.

    Raises:
      ValueError: different numbers of rounds, fewer than 2, or a rate that is
        not positive and finite.
    """
    a_arr, b_arr = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a_arr.ndim != 1 or a_arr.shape != b_arr.shape or a_arr.size < 2:
        raise ValueError(
            f"a and b need one rate per round, the same rounds, at least 2; got "
            f"shapes {a_arr.shape} and {b_arr.shape}"
        )
    for name, arr in (("a", a_arr), ("b", b_arr)):
        if not np.all(np.isfinite(arr) & (arr > 0)):
            raise ValueError(f"{name} must hold positive finite rates, got {arr.tolist()}")
    return RatioComparison(tuple(float(x) for x in a_arr / b_arr), higher=higher, lower=lower)
