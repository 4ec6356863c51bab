"""Where each chapter's full-length run spent its time, from the stored notebooks.

Usage: python scripts/chapter_times.py [--top 3] [--limit 300] [book/*.ipynb]

``scripts/execute_notebooks.py`` stamps each chapter with the seconds its run took
(``metadata.vaelib.seconds``, with when it started and the 1-minute load average before and
after, where the stamp has them) and nbclient records when each code cell started and ended
(``metadata.execution``). This prints, per chapter, the run's seconds, the sum over its
cells, and its slowest cells with the first line of their code; then the book's total and
the chapters over ``--limit`` seconds (the course's target is five minutes a chapter).
Reads only; the times are those of the machine and the day the chapter was last executed.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import sys


def _seconds(execution: dict) -> float | None:
    try:
        start = datetime.datetime.fromisoformat(execution["iopub.execute_input"].rstrip("Z"))
        end = datetime.datetime.fromisoformat(execution["shell.execute_reply"].rstrip("Z"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def chapter_times(path: str) -> tuple[float | None, list[tuple[float, int, str]]]:
    """``(stamped seconds, [(seconds, cell index, first code line), ...])`` of one notebook."""
    with open(path) as f:
        notebook = json.load(f)
    stamped = notebook.get("metadata", {}).get("vaelib", {}).get("seconds")
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        seconds = _seconds(cell.get("metadata", {}).get("execution", {}))
        if seconds is None:
            continue
        source = "".join(cell["source"]).splitlines()
        line = next((s for s in source if s.strip() and not s.startswith("#")), "")
        cells.append((seconds, index, line.strip()))
    return stamped, cells


def _when(path: str) -> str:
    """`` (started ..., load a -> b)`` from the stamp, where the stamp has them."""
    with open(path) as f:
        stamp = json.load(f).get("metadata", {}).get("vaelib", {})
    parts = []
    if stamp.get("started"):
        parts.append(f"started {stamp['started']}")
    if stamp.get("load_before") is not None:
        parts.append(f"1-min load {stamp['load_before']} -> {stamp.get('load_after')}")
    return f" ({', '.join(parts)})" if parts else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=sorted(glob.glob("book/*.ipynb")))
    parser.add_argument("--top", type=int, default=3, help="slowest cells shown per chapter")
    parser.add_argument("--limit", type=float, default=300.0, help="target seconds a chapter")
    args = parser.parse_args()
    total, over = 0.0, []
    for path in args.notebooks:
        stamped, cells = chapter_times(path)
        run = stamped if stamped is not None else sum(s for s, _, _ in cells)
        total += run
        if run > args.limit:
            over.append(path)
        print(
            f"{path}: {run:,.0f} s"
            + (" (no stamp: the cells' sum)" if stamped is None else "")
            + _when(path)
        )
        for seconds, index, line in sorted(cells, reverse=True)[: args.top]:
            share = seconds / run if run else 0.0
            print(f"    cell {index:3d}  {seconds:7,.0f} s  {share:4.0%}  {line[:70]}")
    print(f"book: {total:,.0f} s ({total / 60:.0f} min) over {len(args.notebooks)} chapters")
    print(f"chapters over {args.limit:.0f} s: {', '.join(over) if over else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
