"""A headline number with both of its uncertainties (chapters 6, 7, 9-11).

:func:`summarize` turns per-image values of several seeds (a test log-likelihood, say) into
an :class:`Estimate`: the mean, its standard error over the images and the standard deviation
over the seeds, which a protocol card (:class:`vaelib.ProtocolCard`) shows beside it.
"""

from __future__ import annotations

import dataclasses
import math

from vaelib.reporting.comparison import _as_seeds_by_examples, _count, _sd

__all__ = ["Estimate", "summarize"]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A headline number with both of its uncertainties. Made by :func:`summarize`.

    Attributes:
      mean: over seeds and examples.
      se_examples: standard error of the mean over examples (of the
        seed-averaged per-example values).
      sd_seeds: standard deviation of the per-seed means (0 with one seed).
      per_seed: each seed's mean.
      num_examples, unit, examples, fmt: as in :class:`Comparison`.
    """

    mean: float
    se_examples: float
    sd_seeds: float
    per_seed: tuple[float, ...]
    num_examples: int
    unit: str = "nats"
    examples: str = "images"
    fmt: str = ".2f"

    @property
    def num_seeds(self) -> int:
        return len(self.per_seed)

    def text(self) -> str:
        """E.g. ``"-88.12 nats ± 1.09 (SE over 1,000 images) ± 0.08 (sd over 3 seeds)"``."""
        f, unit = self.fmt, f" {self.unit}" if self.unit else ""
        over = f"sd over {self.num_seeds} seeds" if self.num_seeds > 1 else "one seed"
        seeds = f" ± {self.sd_seeds:{f}} ({over})" if self.num_seeds > 1 else " (one seed)"
        return (
            f"{self.mean:{f}}{unit} ± {self.se_examples:{f}} "
            f"(SE over {_count(self.num_examples, self.examples)}){seeds}"
        )

    def __str__(self) -> str:
        return self.text()


def summarize(
    values, *, unit: str = "nats", examples: str = "images", fmt: str = ".2f"
) -> Estimate:
    """The mean of per-example values with its SE over examples and its spread over seeds.

    Args:
      values: ``[num_examples]`` or ``[num_seeds, num_examples]`` (seed axis first,
        the same examples for every seed).
      unit, examples, fmt: as in :func:`compare`.
    """
    values = _as_seeds_by_examples(values, "values")
    per_example = values.mean(axis=0)
    per_seed = values.mean(axis=1)
    return Estimate(
        mean=float(values.mean()),
        se_examples=_sd(per_example) / math.sqrt(per_example.size),
        sd_seeds=_sd(per_seed),
        per_seed=tuple(float(m) for m in per_seed),
        num_examples=int(values.shape[1]),
        unit=unit,
        examples=examples,
        fmt=fmt,
    )
