"""Puts the book's math macros into every chapter that uses them, as a first markdown cell.

The built book defines ``\\x``, ``\\E``, ``\\KL``, ... once, in ``_config.yml``
(``mathjax3_config.tex.macros``), but a notebook opened in Jupyter, Binder or Colab
never reads that file: there, ``$\\x$`` would render as an error. So each chapter that
uses a macro starts with a markdown cell of ``\\newcommand`` lines made from
``_config.yml``; in Jupyter, MathJax keeps them for the whole notebook. The cell is
tagged ``remove-cell``, so the book (which has the macros already) does not show it.

Usage: python scripts/notebook_macros.py [--check]  (``--check``: change nothing, exit 1
if a chapter's cell is missing or out of date; ``tests/test_notebook_math.py`` runs it.)
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys

import nbformat
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
CELL_ID = "book-macros"


def config_macros(config_path: pathlib.Path = ROOT / "_config.yml") -> dict[str, str]:
    """``{name: definition}`` from ``_config.yml``'s MathJax configuration."""
    config = yaml.safe_load(config_path.read_text())
    return config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]


def used_macros(nb: nbformat.NotebookNode, macros: dict[str, str]) -> list[str]:
    """The macros that the notebook's markdown cells use, in ``macros``' order."""
    text = "\n".join(
        c.source for c in nb.cells if c.cell_type == "markdown" and c.get("id") != CELL_ID
    )
    return [name for name in macros if re.search(rf"\\{re.escape(name)}(?![A-Za-z])", text)]


def macro_cell_source(macros: dict[str, str]) -> str:
    """One ``\\newcommand`` per macro, all in one inline math span."""
    lines = "\n".join(
        rf"\newcommand{{\{name}}}{{{definition}}}" for name, definition in macros.items()
    )
    return f"$\n{lines}\n$"


def wanted_cell(macros: dict[str, str]) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(macro_cell_source(macros))
    cell["id"] = CELL_ID
    cell["metadata"] = {"tags": ["remove-cell"]}
    return cell


def problem(nb: nbformat.NotebookNode, macros: dict[str, str]) -> str | None:
    """Why the notebook's macro cell is wrong, or ``None``."""
    has_cell = bool(nb.cells) and nb.cells[0].get("id") == CELL_ID
    if not used_macros(nb, macros):
        return "it has a macro cell but uses no macro" if has_cell else None
    if not has_cell:
        return "it uses the book's math macros but does not start with their definitions"
    first = nb.cells[0]
    if first.cell_type != "markdown" or first.source != macro_cell_source(macros):
        return "its macro cell differs from _config.yml's macros"
    if "remove-cell" not in first.get("metadata", {}).get("tags", []):
        return "its macro cell is not tagged remove-cell (the book would show it)"
    return None


def fix(nb: nbformat.NotebookNode, macros: dict[str, str]) -> None:
    if nb.cells and nb.cells[0].get("id") == CELL_ID:
        nb.cells.pop(0)
    if used_macros(nb, macros):
        nb.cells.insert(0, wanted_cell(macros))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report, change nothing")
    args = parser.parse_args(argv)
    macros = config_macros()
    bad = 0
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        reason = problem(nb, macros)
        if reason is None:
            continue
        if args.check:
            print(f"book/{path.name}: {reason}; run python scripts/notebook_macros.py")
            bad += 1
        else:
            fix(nb, macros)
            nbformat.write(nb, path)
            print(f"book/{path.name}: macro cell written")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
