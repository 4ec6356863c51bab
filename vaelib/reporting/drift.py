"""Drift of the book's glued numbers: how far a re-run may move each one.

A chapter's glued values are its claims. When TensorFlow, Keras or NumPy change under the
book, a chapter can still run without an error and print different numbers; ``make drift``
(``scripts/drift.py``) re-executes chapters and compares every glued value with the stored
one, each against a tolerance that fits what it is:

- ``exact``: a count, a setting, a word; any change is drift.
- ``se``: a mean with a standard error; drift when ``|new - old|`` exceeds
  ``z * sqrt(se_old**2 + se_new**2)`` (``z`` = :data:`Z_DRIFT`).
- ``ratio``: a timing or a rate, which another machine or load moves; drift when
  ``new / old`` leaves ``[1 / factor, factor]``.
- ``verdict``: a :class:`vaelib.Comparison` verdict; drift when its direction changes
  (higher, lower, within the noise, not settled, no difference) or when its difference moves by more
  than ``z`` combined standard errors.
- ``not compared``: with the reason (a random example, a path, a date).

:func:`vaelib.glue` stores a value's tolerance in the output's metadata
(:func:`glue_metadata`). Outputs stored before it did carry none; :func:`read_glued`
then infers one from the text and the key, and says so in the ``rule``.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

GLUE_PREFIX = "application/papermill.record/"  # as vaelib.report
Z_DRIFT = 4.0  # standard errors: one false alarm in about 16,000 values that did not move
KINDS = ("exact", "se", "ratio", "verdict", "not compared")
DIRECTIONS = (
    "higher",
    "lower",
    "faster",
    "slower",
    "within the noise",
    "not settled",
    "no difference",
)
# keys whose numbers are timings or rates when a stored output carries no tolerance
TIMING_KEY = re.compile(r"(second|time|rate|speed|per_s|throughput|gflop|_ms\b|_s\b|ratio)")
_NUMBER = re.compile(r"^[+-]?[\d,]*\.?\d+(e[+-]?\d+)?%?$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """How far a re-run may move one glued value. Make one with the functions below."""

    kind: str
    se: float = 0.0
    factor: float = 1.0
    reason: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"tolerance kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind in ("se", "verdict") and not (math.isfinite(self.se) and self.se >= 0):
            raise ValueError(f"a standard error must be finite and >= 0, got {self.se!r}")
        if self.kind == "ratio" and not (math.isfinite(self.factor) and self.factor > 1):
            raise ValueError(f"a ratio tolerance needs a factor > 1, got {self.factor!r}")
        if self.kind == "not compared" and not self.reason:
            raise ValueError("say why a value is not compared (reason=...)")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v not in (0.0, 1.0, "")}


def exact() -> Tolerance:
    return Tolerance("exact")


def within_se(se: float) -> Tolerance:
    """A mean with standard error ``se`` (the same units as the value)."""
    return Tolerance("se", se=float(se))


def ratio(factor: float = 2.0) -> Tolerance:
    """A timing or rate: may move by up to ``factor`` either way."""
    return Tolerance("ratio", factor=float(factor))


def not_compared(reason: str) -> Tolerance:
    return Tolerance("not compared", reason=reason)


def glue_metadata(value: Any, tolerance: Tolerance | None) -> dict[str, Any]:
    """What :func:`vaelib.glue` stores beside the text: the raw value, if a number, and the
    tolerance (inferred as :func:`infer_tolerance` does when ``None``)."""
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is not None and tolerance is None:
        tolerance = exact() if isinstance(number, int) else None
    meta: dict[str, Any] = {}
    if number is not None and math.isfinite(number):
        meta["value"] = number
    if tolerance is not None:
        meta["tolerance"] = tolerance.as_dict()
    return meta


@dataclasses.dataclass(frozen=True)
class Glued:
    """One glued value as stored: its text, its number (if any) and its tolerance."""

    key: str
    text: str
    value: float | None
    tolerance: Tolerance | None
    rule: str  # how the tolerance was found: "stored" or "inferred: ..."


def _number(text: str) -> float | None:
    t = text.strip()
    if not _NUMBER.match(t):
        return None
    scale = 100.0 if t.endswith("%") else 1.0
    try:
        return float(t.rstrip("%").replace(",", "")) / scale
    except ValueError:
        return None


def direction(text: str) -> str | None:
    """The verdict word a :class:`vaelib.Comparison` verdict starts with, if any."""
    for word in DIRECTIONS:
        if text.startswith(word):
            return word
    return None


def infer_tolerance(key: str, text: str) -> tuple[Tolerance | None, str]:
    """A tolerance for a value stored without one, and why."""
    if key.endswith("_verdict"):
        return Tolerance("verdict"), "inferred: a verdict (compared by its direction)"
    number = _number(text)
    if number is not None:
        if TIMING_KEY.search(key):
            return ratio(), "inferred: a timing or rate by its key (factor 2)"
        if re.fullmatch(r"[+-]?[\d,]+", text.strip()):
            return exact(), "inferred: an integer (exact)"
        return None, "no tolerance stored for a measured number: not compared"
    if re.search(r"\d", text):
        return None, "text with numbers and no tolerance: not compared"
    return exact(), "inferred: text (exact)"


def read_glued(nb: Mapping[str, Any]) -> dict[str, Glued]:
    """Every glued value of a notebook (as read by ``nbformat`` or ``json``), by key."""
    found: dict[str, Glued] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            meta = out.get("metadata", {}) or {}
            key = (meta.get("scrapbook") or {}).get("name")
            raw = (out.get("data") or {}).get(GLUE_PREFIX + "text/plain")
            if not key or raw is None:
                continue
            raw = "".join(raw) if isinstance(raw, list) else raw
            try:
                text = str(ast.literal_eval(raw))
            except (ValueError, SyntaxError):
                text = raw
            stored = meta.get("vaelib") or {}
            if "tolerance" in stored:
                tolerance, rule = Tolerance(**stored["tolerance"]), "stored"
            else:
                tolerance, rule = infer_tolerance(key, text)
            value = stored.get("value", _number(text))
            found[key] = Glued(key, text, value, tolerance, rule)
    return found


@dataclasses.dataclass(frozen=True)
class Drift:
    """One row of the report: a key, both texts, and whether it moved beyond its tolerance."""

    key: str
    stored: str
    new: str
    moved: bool
    why: str


def _compare_one(old: Glued, new: Glued) -> Drift:
    def row(moved: bool, why: str) -> Drift:
        return Drift(old.key, old.text, new.text, moved, why)

    tol = old.tolerance or new.tolerance
    if tol is None:
        return row(False, old.rule)
    if tol.kind == "not compared":
        return row(False, f"not compared: {tol.reason}")
    if tol.kind == "verdict":
        before, after = direction(old.text), direction(new.text)
        if before != after:
            return row(True, f"verdict changed: {before} -> {after}")
        if old.value is None or new.value is None:
            return row(False, f"verdict unchanged ({before})")
        return _within_se(old, new, tol, row)
    if tol.kind == "exact" or old.value is None or new.value is None:
        same = old.text == new.text
        return row(not same, "exact" if same else "exact: changed")
    if tol.kind == "ratio":
        if old.value == 0 or new.value == 0:
            return row(old.value != new.value, "ratio: a zero")
        r = new.value / old.value
        moved = not (1 / tol.factor <= r <= tol.factor)
        return row(moved, f"ratio {r:.2f} (allowed {1 / tol.factor:.2f}-{tol.factor:.2f})")
    return _within_se(old, new, tol, row)


def _within_se(old: Glued, new: Glued, tol: Tolerance, row) -> Drift:
    new_se = new.tolerance.se if new.tolerance is not None else tol.se
    se = math.hypot(tol.se, new_se)
    diff = new.value - old.value
    if se == 0:
        return row(diff != 0, "exact (standard error 0)" if diff == 0 else "moved (SE 0)")
    z = diff / se
    return row(abs(z) > Z_DRIFT, f"moved {z:+.1f} SE (allowed {Z_DRIFT:g})")


def compare_glued(stored: Mapping[str, Glued], new: Mapping[str, Glued]) -> list[Drift]:
    """One :class:`Drift` per key of either run; a key that appeared or vanished moved."""
    rows = []
    for key in sorted(set(stored) | set(new)):
        if key not in new:
            rows.append(Drift(key, stored[key].text, "", True, "gone from the new run"))
        elif key not in stored:
            rows.append(Drift(key, "", new[key].text, True, "new in the new run"))
        else:
            rows.append(_compare_one(stored[key], new[key]))
    return rows


def format_report(chapter: str, rows: Iterable[Drift], width: int = 48) -> str:
    """A plain-text table: the values that moved first, then a count of the rest."""
    rows = list(rows)
    moved = [r for r in rows if r.moved]
    unchecked = [r for r in rows if not r.moved and "not compared" in r.why]

    def cut(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = [
        f"{chapter}: {len(moved)} of {len(rows)} glued values moved; {len(unchecked)} not compared"
    ]
    for r in moved:
        lines.append(f"  MOVED {r.key}: {cut(r.stored)!r} -> {cut(r.new)!r} ({r.why})")
    return "\n".join(lines)
