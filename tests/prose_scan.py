"""Finds result-like numbers typed by hand into the book's prose (used by test_prose.py).

A measured number in a sentence must be glued from the cell that computed it
(``{glue:text}`key```), and a published one from :mod:`vaelib.published`. This
scanner reads every markdown cell of ``book/*.ipynb`` and every ``book/*.md``
page, removes what may hold numbers legitimately (math, code, MyST roles such as
glue, cite and eq, directive lines, link targets, HTML tags) and reports what is
left that looks like a result: decimals, percentages, ratios ("3x", "2.1×",
"30 times") and nats figures.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re

STRIP = [
    r"\$\$.*?\$\$",
    r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}",
    r"\$[^$\n]+\$",
    r"```.*?```",
    r"`[^`\n]*`",
    r"\{[a-z:-]+\}`[^`]*`",
    r"^:::.*?$",
    r"^```\{.*?$",
    r"\]\([^)]*\)",
    r"\(\w[\w-]*\)=",
    r"<[^>]+>",
]
RESULT = re.compile(
    r"(?<![\w.])(\d[\d,]*\.\d+|\d+(?:\.\d+)?\s?%|\d+(?:\.\d+)?\s?(?:x|×)(?!\w)"
    r"|\d+(?:\.\d+)?\s+times\b|\d+(?:\.\d+)?\s+nats\b)"
)
GLUE_REF = re.compile(r"\{glue(?::\w*)?\}`([\w]+)(?::[^`]*)?`")


@dataclasses.dataclass(frozen=True)
class Hit:
    path: str
    cell: int
    number: str
    context: str

    def __str__(self):
        return f"{self.path} cell {self.cell}: {self.number!r} in ...{self.context}..."


def markdown_cells(path: pathlib.Path) -> list[tuple[int, str]]:
    """(index, text) of each markdown cell of a notebook, or the whole of a .md page as cell 0."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [
            (i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "markdown"
        ]
    return [(0, path.read_text(encoding="utf-8"))]


def strip(text: str) -> str:
    """The prose with math, code, roles, directives, links and tags blanked out."""
    for pattern in STRIP:
        text = re.sub(pattern, " ", text, flags=re.S | re.M)
    return text


def scan(path: pathlib.Path, allowed: dict[str, str] | None = None) -> list[Hit]:
    """Result-like numbers in ``path``'s prose, except those near an allowed phrase.

    Args:
      path: a notebook or a markdown page.
      allowed: phrase -> reason. A hit is allowed when the phrase occurs in the
        40 characters around it (the phrase names what the number defines).
    """
    allowed = allowed or {}
    hits = []
    for index, text in markdown_cells(path):
        text = strip(text)
        for match in RESULT.finditer(text):
            window = text[max(0, match.start() - 40) : match.end() + 40]
            if any(phrase in window for phrase in allowed):
                continue
            context = " ".join(text[max(0, match.start() - 50) : match.end() + 20].split())
            hits.append(Hit(str(path), index, match.group(0), context))
    return hits


def glue_keys(path: pathlib.Path) -> set[str]:
    """Keys glued by the stored outputs of a notebook (myst-nb's scrapbook metadata)."""
    keys = set()
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                keys.add(name)
    return keys


def glue_references(path: pathlib.Path) -> set[str]:
    """Keys that a notebook's markdown pastes with ``{glue...}`key```."""
    return {m.group(1) for _, text in markdown_cells(path) for m in GLUE_REF.finditer(text)}


# A comparative sentence about measured quantities: a comparative word and at least two glued
# values in one sentence. It must sit in a paragraph that also glues a verdict of
# vaelib.comparison (a key ending in "_verdict"), not beside a bare number pair.
COMPARATIVE = re.compile(
    r"\b(better|worse|faster|slower|helps?|hurts?|beats?|outperform\w*|improv(?:e|es|ed)|tighter"
    r"|looser|(?:higher|lower|smaller|larger|greater|more|less|fewer|bigger) than)\b",
    re.I,
)
VERDICT_SUFFIX = "_verdict"


@dataclasses.dataclass(frozen=True)
class BareComparison:
    path: str
    cell: int
    sentence: str

    def __str__(self):
        return f"{self.path} cell {self.cell}: {self.sentence}"


def _sentences(paragraph: str) -> list[str]:
    # glue roles hold no full stop, so a split on ". " (and "? ", "! ") keeps them whole
    return [s for s in re.split(r"(?<=[.?!])\s+(?=[A-Z(*_`{])", paragraph) if s.strip()]


def bare_comparisons(path: pathlib.Path) -> list[BareComparison]:
    """Sentences that compare glued numbers without a glued verdict in their paragraph."""
    found = []
    for index, text in markdown_cells(path):
        for paragraph in re.split(r"\n\s*\n", text):
            if any(m.group(1).endswith(VERDICT_SUFFIX) for m in GLUE_REF.finditer(paragraph)):
                continue
            for sentence in _sentences(paragraph):
                if COMPARATIVE.search(sentence) and len(GLUE_REF.findall(sentence)) >= 2:
                    found.append(BareComparison(path.name, index, " ".join(sentence.split())))
    return found
