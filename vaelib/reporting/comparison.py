"""Comparisons a reader can trust: paired differences, their standard errors, seeds, verdicts.

(Over 300 lines because the three ways of comparing, per example, per model and their shared
:class:`Comparison` with its verdict wording, are one concept: every comparative sentence in the
book is glued from it, and splitting them would split the rules below from the code.)

Every "better", "worse", "faster", "helps" or "hurts" in the book is a
comparison of two sets of measurements, and its sentence is glued from one of
these objects, printed beside it:

* :func:`compare` takes two sets of per-example values (a per-image bound, a
  per-example 0/1 correctness, ...), scored on the **same** examples, and pairs
  them: the difference is measured image by image, so the variation between
  images (tens of nats for a log-likelihood) cancels. Each may carry a leading
  seed axis, ``[num_seeds, num_examples]``; then the comparison also reports
  the spread of the per-seed differences and whether the seeds agree.
* ``compare(..., paired=False)`` is for samples that really are independent
  (two different sets of images); the verdict then says "unpaired".
* :func:`compare_models` is for a quantity that exists once per trained model (the number
  of dead codes of a codebook, say), not per example: the pairing unit is the seed, and the
  only uncertainty is the spread over seeds.
* :func:`compare_ratios` compares two rates measured in the same interleaved
  rounds (a round is the pairing unit) as a ratio.
* :func:`summarize` is the headline form of one set: its mean with both
  uncertainties, over examples and over seeds.

The rules, written once here and used by every chapter:

* The standard error over examples is that of the seed-averaged per-example
  differences, ``sd / sqrt(num_examples)`` (paired), or Welch's
  ``sqrt(var_a / n_a + var_b / n_b)`` (unpaired).
* With several seeds, the per-seed mean differences give the seed standard
  error ``sd / sqrt(num_seeds)``. The uncertainty of the difference is the two
  added in quadrature (conservative: seed noise is partly in both).
* A difference is *significant* when it is at least :attr:`Comparison.critical`
  standard errors from zero: Student's t 97.5% point for the degrees of freedom of
  that uncertainty (Welch-Satterthwaite: ``num_examples - 1`` for the part over
  examples, ``num_seeds - 1`` for the part over seeds), and never less than
  :data:`Z_THRESHOLD`. When the images dominate, that is 2; when the spread of three
  seeds dominates, it is up to 4.30 (two degrees of freedom): three numbers estimate
  their own spread poorly. It is *conclusive* when it is significant and every
  seed's difference has its sign. Only a conclusive comparison gets a
  direction word ("lower by ..."); otherwise the verdict says "within the
  noise" or "the seeds disagree".
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from vaelib import validation
from vaelib.reporting.student_t import t_quantile, welch_satterthwaite

__all__ = ["Z_THRESHOLD", "Comparison", "compare", "compare_models"]

Z_THRESHOLD = 2.0  # the least critical value: about a 95% two-sided interval for many examples


def _as_seeds_by_examples(values, name: str) -> np.ndarray:
    """``values`` as a finite float64 array ``[num_seeds, num_examples]``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be numbers, [num_examples] or [num_seeds, num_examples], "
            f"got {type(values).__name__}"
        ) from err
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(
            f"{name} must have shape [num_examples] or [num_seeds, num_examples], "
            f"got shape {array.shape}"
        )
    if array.shape[1] < 2:
        raise ValueError(
            f"{name} needs at least 2 examples per seed for a standard error, "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{name} holds {bad} non-finite value(s) (NaN or inf): fix the "
            "measurement before comparing"
        )
    return array


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if values.size > 1 else 0.0


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n != 1 else f"1 {noun.rstrip('s')}"


def _short_of(z: float, critical: float) -> tuple[str, str]:
    """``z`` (1 decimal) and ``critical`` (2 decimals) as text, with more decimals for both
    where rounding would print a ``z`` at or above the critical value it falls short of."""
    z_text, critical_text = f"{z:.1f}", f"{critical:.2f}"
    for decimals in range(2, 8):
        if float(z_text) < float(critical_text):
            break
        z_text, critical_text = f"{z:.{decimals}f}", f"{critical:.{decimals}f}"
    return z_text, critical_text


def _seeds_phrase(
    per_seed: Sequence[float], fmt: str, unit: str, agree: bool, direction: str | None
) -> str:
    if len(per_seed) == 1:
        return "one seed"
    low, high = min(per_seed), max(per_seed)
    if low == high:  # identical seeds (say, all zero): neither agreement nor disagreement
        return f"the {len(per_seed)} seeds give the same {low:+{fmt}}{unit}"
    span = f"{low:+{fmt}} to {high:+{fmt}}{unit}"
    if agree and direction:
        return f"all {len(per_seed)} seeds {direction}: {span}"
    if agree:
        return f"{len(per_seed)} seeds, {span}"
    return f"the {len(per_seed)} seeds disagree: {span}"


@dataclasses.dataclass(frozen=True)
class Comparison:
    """``a - b`` with its uncertainties and a verdict. Made by :func:`compare`.

    Attributes:
      difference: mean of ``a - b`` over seeds and examples.
      se_examples: standard error of ``difference`` over examples.
      se_seeds: standard error over seeds (0 with one seed).
      per_seed: each seed's mean difference.
      num_examples: examples per seed (for unpaired, ``(n_a, n_b)`` is in
        ``num_examples_ab``).
      paired: whether the examples were paired.
      unit: e.g. ``"nats"``; ``""`` for none.
      examples: what an example is, plural, e.g. ``"images"``.
      higher, lower: the words for ``a > b`` and ``a < b``.
      fmt: format spec of the numbers in the verdict.
    """

    difference: float
    se_examples: float
    se_seeds: float
    per_seed: tuple[float, ...]
    num_examples: int
    num_examples_ab: tuple[int, int]
    paired: bool
    unit: str = "nats"
    examples: str = "images"
    higher: str = "higher"
    lower: str = "lower"
    fmt: str = ".2f"
    per_model: bool = False  # one value per model (compare_models): seeds are the examples
    df_examples: float = math.inf  # degrees of freedom of se_examples
    note_one_seed: bool = True  # say "one seed" for one seed (not when the examples are runs)

    @property
    def df(self) -> float:
        """Degrees of freedom of :attr:`se` (Welch-Satterthwaite over its two parts; the
        part over seeds has ``num_seeds - 1``); ``math.inf`` when both parts are 0."""
        return welch_satterthwaite(
            [self.se_examples, self.se_seeds],
            [self.df_examples, max(self.num_seeds - 1, 1)],
        )

    @property
    def critical(self) -> float:
        """How many standard errors from zero a significant difference must be: Student's
        t 97.5% point for :attr:`df`, at least :data:`Z_THRESHOLD`."""
        df = self.df
        if math.isinf(df):
            return Z_THRESHOLD
        return max(Z_THRESHOLD, t_quantile(0.975, df))

    @property
    def num_seeds(self) -> int:
        return len(self.per_seed)

    @property
    def se(self) -> float:
        """The uncertainty of :attr:`difference`: both standard errors in quadrature."""
        return math.hypot(self.se_examples, self.se_seeds)

    @property
    def z(self) -> float:
        """``difference / se`` (inf when the difference is exact and nonzero)."""
        if self.se == 0:
            return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)
        return self.difference / self.se

    @property
    def significant(self) -> bool:
        return abs(self.z) >= self.critical

    @property
    def seeds_agree(self) -> bool:
        """Every seed's difference has the sign of the overall difference."""
        sign = np.sign(self.difference)
        return sign != 0 and all(np.sign(d) == sign for d in self.per_seed)

    @property
    def conclusive(self) -> bool:
        return self.significant and self.seeds_agree

    @property
    def direction(self) -> str | None:
        """:attr:`higher` or :attr:`lower` when conclusive, else ``None``."""
        if not self.conclusive:
            return None
        return self.higher if self.difference > 0 else self.lower

    def _over(self) -> str:
        if self.per_model:
            return "one value per model, paired by seed"
        if self.paired:
            return f"paired over {_count(self.num_examples, self.examples)}"
        n_a, n_b = self.num_examples_ab
        return f"unpaired: {n_a:,} and {n_b:,} different {self.examples}"

    def verdict(self) -> str:
        """The phrase a chapter glues, e.g. ``"lower by 4.22 ± 0.39 nats (paired over 1,000
        images; all 3 seeds lower: -4.61 to -3.90 nats)"`` or ``"within the noise: +0.31 ±
        0.41 nats (...)"``."""
        unit = f" {self.unit}" if self.unit else ""
        f = self.fmt
        agree_words = self.direction
        seeds = _seeds_phrase(self.per_seed, f, unit, self.seeds_agree, agree_words)
        detail = (
            self._over()
            if seeds == "one seed" and not self.note_one_seed
            else f"{self._over()}; {seeds}"
        )
        if self.se == 0 and self.difference == 0:  # every value equal: nothing to test
            return f"no difference: {self.difference:+{f}}{unit} ({detail})"
        if self.conclusive:
            return (
                f"{self.direction} by {abs(self.difference):{f}} ± {self.se:{f}}{unit} ({detail})"
            )
        if self.significant:  # significant overall, but a seed points the other way
            return (
                f"not settled: {self.difference:+{f}} ± {self.se:{f}}{unit}, "
                f"but {seeds} ({self._over()})"
            )
        if abs(self.z) >= Z_THRESHOLD:  # would pass a normal reference; the df say no
            z_text, critical_text = _short_of(abs(self.z), self.critical)
            detail = (
                f"{z_text} standard errors, short of the {critical_text} that "
                f"{self.df:.1f} degrees of freedom need; {detail}"
            )
        return f"within the noise: {self.difference:+{f}} ± {self.se:{f}}{unit} ({detail})"

    def rows(self) -> list[tuple[str, str]]:
        f, unit = self.fmt, f" {self.unit}" if self.unit else ""
        rows = [("difference (a - b)", f"{self.difference:+{f}}{unit}")]
        if not self.per_model:
            rows.append(
                (
                    f"SE over {self.examples}",
                    f"{self.se_examples:{f}}"
                    + (" (paired)" if self.paired else " (unpaired, Welch)"),
                )
            )
        if self.num_seeds > 1:
            rows += [
                ("SE over seeds", f"{self.se_seeds:{f}}"),
                ("per seed", ", ".join(f"{d:+{f}}" for d in self.per_seed)),
            ]
        z_text, critical_text = f"{abs(self.z):.1f}", f"{self.critical:.2f}"
        if not self.significant:  # never print a z that reads as past a value it falls short of
            z_text, critical_text = _short_of(abs(self.z), self.critical)
        rows += [
            ("z", ("-" if self.z < 0 else "+") + z_text),
            (
                "significant at |z| >=",
                "n/a (no uncertainty)"
                if self.se == 0
                else f"{critical_text} (t, {self.df:.1f} df)",
            ),
            ("verdict", self.verdict()),
        ]
        return rows

    def __str__(self) -> str:
        width = max(len(name) for name, _ in self.rows())
        return "\n".join(f"{name:>{width}}: {value}" for name, value in self.rows())

    def glue(self, name: str) -> None:
        """Glues :meth:`verdict` under ``name`` (which must end in ``_verdict``, the mark
        ``tests/test_prose.py`` looks for beside a comparative sentence)."""
        if not name.endswith("_verdict"):
            raise ValueError(f"a comparison's glue key must end in '_verdict', got {name!r}")
        from vaelib.reporting.report import glue

        glue(name, self.verdict())


def compare(
    a,
    b,
    *,
    paired: bool = True,
    unit: str = "nats",
    examples: str = "images",
    higher: str = "higher",
    lower: str = "lower",
    fmt: str = ".2f",
    note_one_seed: bool = True,
) -> Comparison:
    """Compares ``a`` with ``b``: the mean of ``a - b`` with its uncertainty and a verdict.

    Args:
      a, b: per-example values, shape ``[num_examples]`` or ``[num_seeds, num_examples]``
        (the seed axis first). Paired: the same shape, ``a[s, n]`` and ``b[s, n]``
        measured on the same example ``n`` (seed ``s`` of each). Unpaired: the same
        number of seeds, any number of examples each.
      paired: ``False`` only when the two samples are independent (different
        examples); the verdict then says so.
      unit: unit of the values, e.g. ``"nats"``, ``"percentage points"``, ``""``.
      examples: what an example is, plural (``"images"``, ``"test examples"``).
      higher, lower: the verdict's words for ``a > b`` and ``a < b``, e.g.
        ``"better"``, ``"worse"`` when higher is better.
      fmt: format spec of the numbers in the verdict.
      note_one_seed: with one seed, end the verdict with "one seed"; ``False`` when the
        examples are themselves independent runs (training runs from several starting
        points, say), for which "one seed" would mislead.

    Returns:
      A :class:`Comparison`; ``str()`` of it is the table to print beside the claim.

    Raises:
      ValueError: shapes that cannot be paired, fewer than 2 examples, a
        non-finite value.
    """
    a = _as_seeds_by_examples(a, "a")
    b = _as_seeds_by_examples(b, "b")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"a and b need the same number of seeds (first axis), got {a.shape[0]} and {b.shape[0]}"
        )
    if paired:
        if a.shape != b.shape:
            raise ValueError(
                f"paired values need the same shape [num_seeds, num_examples], got "
                f"{a.shape} and {b.shape}; pass paired=False only if the examples "
                "really are different"
            )
        differences = a - b  # [num_seeds, num_examples]
        per_seed = differences.mean(axis=1)
        per_example = differences.mean(axis=0)
        se_examples = _sd(per_example) / math.sqrt(per_example.size)
        num_examples = a.shape[1]
        df_examples = float(num_examples - 1)
    else:
        mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)  # seed-averaged, per example
        per_seed = a.mean(axis=1) - b.mean(axis=1)
        se_a, se_b = _sd(mean_a) / math.sqrt(mean_a.size), _sd(mean_b) / math.sqrt(mean_b.size)
        se_examples = math.hypot(se_a, se_b)
        num_examples = min(a.shape[1], b.shape[1])
        df_examples = welch_satterthwaite([se_a, se_b], [mean_a.size - 1, mean_b.size - 1])
    se_seeds = _sd(per_seed) / math.sqrt(per_seed.size)
    return Comparison(
        difference=float(per_seed.mean()),
        se_examples=float(se_examples),
        se_seeds=float(se_seeds),
        per_seed=tuple(float(d) for d in per_seed),
        num_examples=int(num_examples),
        num_examples_ab=(a.shape[1], b.shape[1]),
        paired=paired,
        unit=unit,
        examples=examples,
        higher=higher,
        lower=lower,
        fmt=fmt,
        df_examples=df_examples,
        note_one_seed=validation.flag("note_one_seed", note_one_seed),
    )


def compare_models(
    a,
    b,
    *,
    unit: str = "",
    higher: str = "higher",
    lower: str = "lower",
    fmt: str = ".2f",
) -> Comparison:
    """Compares a quantity measured once per trained model, ``a[s]`` against ``b[s]`` for
    the models of seed ``s``: the mean of the per-seed differences, its standard error over
    the seeds, and a verdict ("fewer by 7.3 ± 1.2 codes (one value per model, paired by seed;
    all 3 seeds fewer: ...)"). With no examples to average over, the seeds are the only
    replication: two or three seeds can rarely settle a small difference, and the verdict
    says "within the noise" when they cannot.

    Args:
      a, b: ``[num_seeds]``, at least 2 seeds.
      unit, higher, lower, fmt: as in :func:`compare`.

    Raises:
      ValueError: shapes that differ, fewer than 2 seeds, a non-finite value.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"a and b must be [num_seeds], one value per model, of one shape; got {a.shape} "
            f"and {b.shape}"
        )
    if a.size < 2:
        raise ValueError(f"compare_models needs at least 2 seeds, got {a.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("a or b holds a non-finite value: fix the measurement first")
    per_seed = a - b
    return Comparison(
        difference=float(per_seed.mean()),
        se_examples=0.0,
        se_seeds=float(_sd(per_seed) / math.sqrt(per_seed.size)),
        per_seed=tuple(float(d) for d in per_seed),
        num_examples=1,
        num_examples_ab=(1, 1),
        paired=True,
        unit=unit,
        examples="models",
        higher=higher,
        lower=lower,
        fmt=fmt,
        per_model=True,
    )
