"""Where a chapter's time goes: runs it with a ledger of vaelib's calls and prints the split.

Usage: python scripts/profile_chapter.py [--json-dir DIR] [--quick] book/09_iwae.ipynb [...]

Each notebook is executed (a copy: the notebook itself is not changed) with two cells added:
one before its first that opens a :class:`vaelib.speed.ledger.CallLedger` (every plain
function of every vaelib module wrapped; each outermost call recorded with its start and
seconds, ``fit``'s epochs too), one after its last that closes it. The script then prints
the chapter's time split by vaelib function (``fit`` split into set-up, the first epoch
minus the median later epoch, and training), the time spent elsewhere (the chapter's own
code, model calls, plotting, the kernel), and for the slowest cells the same split. With
``--json-dir`` the calls and the cells' times are written there as ``<chapter>.json``.

The wrappers cost a Python call each, outside any compiled program; the chapter's time in
this run is its own (load printed), not the stored run's. ``--quick`` runs the chapter in
quick mode (``VAELIB_QUICK=1``), for the tests; the profiles worth reading are full length.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

OPEN = """\
import importlib, pkgutil
import vaelib
for _info in pkgutil.walk_packages(vaelib.__path__, "vaelib."):
    importlib.import_module(_info.name)
from vaelib.speed.ledger import CallLedger
_vaelib_ledger = CallLedger().__enter__()
"""
CLOSE = "_vaelib_ledger.__exit__(None, None, None)\n_vaelib_ledger.write({path!r})\n"


def _stamp(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _cells(nb: nbformat.NotebookNode) -> list[dict]:
    """The chapter's code cells as run: index (in the chapter), first line, start, end."""
    out, index = [], -1
    for cell in nb.cells[1:-1]:  # without the two added cells
        index += 1
        if cell.cell_type != "code":
            continue
        timing = cell.metadata.get("execution", {})
        if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            continue
        start, end = _stamp(timing["iopub.execute_input"]), _stamp(timing["shell.execute_reply"])
        line = next((x for x in cell.source.splitlines() if x.strip()), "")
        out.append({"index": index, "line": line[:60], "start": start, "seconds": end - start})
    return out


def profile(path: pathlib.Path, quick: bool = False) -> dict:
    """Executes a copy of the notebook at ``path`` with a ledger; returns the profile."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        calls_path = os.path.join(tmp, "calls.json")
        nb.cells.insert(0, nbformat.v4.new_code_cell(OPEN))
        nb.cells.append(nbformat.v4.new_code_cell(CLOSE.format(path=calls_path)))
        env = dict(os.environ)
        if quick:
            env["VAELIB_QUICK"] = "1"
        else:
            env.pop("VAELIB_QUICK", None)
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        load_before = round(os.getloadavg()[0], 2)
        start = time.perf_counter()
        client = NotebookClient(
            nb,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute(env=env)
        seconds = time.perf_counter() - start
        with open(calls_path) as f:
            calls = json.load(f)
    cells = _cells(nb)
    return {
        "notebook": str(path),
        "started": started,
        "quick": quick,
        "seconds": seconds,
        "cells_seconds": sum(c["seconds"] for c in cells),
        "load_before": load_before,
        "load_after": round(os.getloadavg()[0], 2),
        "cells": cells,
        "calls": calls,
    }


def _split(calls: list[dict]) -> dict[str, dict]:
    """Per short name: calls, seconds, and for fit-like calls set-up, steps."""
    root = str(pathlib.Path(__file__).resolve().parents[1])
    if root not in sys.path:  # vaelib from this checkout, imported only when summarizing
        sys.path.insert(0, root)
    from vaelib.speed.ledger import Call, fit_split

    out: dict[str, dict] = {}
    for raw in calls:
        call = Call(**{**raw, "epochs": tuple(raw["epochs"])})
        short = call.name.rsplit(".", 1)[-1]
        entry = out.setdefault(short, {"calls": 0, "seconds": 0.0, "set_up": 0.0, "steps": 0})
        entry["calls"] += 1
        entry["seconds"] += call.seconds
        if call.epochs:
            entry["set_up"] += fit_split(call)[0]
            entry["steps"] += call.steps
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["seconds"]))


def _line(name: str, e: dict) -> str:
    text = f"{name:24s} {e['calls']:4d} calls {e['seconds']:8.1f} s"
    if e["steps"]:
        training = e["seconds"] - e["set_up"]
        text += (
            f"  (set-up {e['set_up']:.1f} s, {e['set_up'] / e['calls']:.2f} s a call; "
            f"training {training:.1f} s, {e['steps']:,} steps, {e['steps'] / training:.0f} steps/s)"
        )
    return text


def summary(p: dict, top_cells: int = 3, top_names: int = 8) -> str:
    """The profile as text: the chapter's split by vaelib function, then its slowest cells'."""
    total = p["cells_seconds"]
    names = _split(p["calls"])
    inside = sum(e["seconds"] for e in names.values())
    set_up = sum(e["set_up"] for e in names.values())
    lines = [
        f"{p['notebook']}: cells {total:.0f} s ({p['seconds']:.0f} s with the kernel's start), "
        f"started {p['started']}, 1-minute load {p['load_before']} -> {p['load_after']}"
        + (", QUICK mode" if p["quick"] else ""),
        f"  in vaelib's functions {inside:.0f} s ({100 * inside / total:.0f}%), of which fit's "
        f"set-up {set_up:.0f} s ({100 * set_up / total:.0f}%); elsewhere (the chapter's own "
        f"code, model calls, plots) {total - inside:.0f} s",
    ]
    lines += ["  " + _line(n, e) for n, e in list(names.items())[:top_names]]
    for cell in sorted(p["cells"], key=lambda c: -c["seconds"])[:top_cells]:
        end = cell["start"] + cell["seconds"]
        inner = [c for c in p["calls"] if cell["start"] <= c["started"] < end]
        cell_names = _split(inner)
        share = 100 * cell["seconds"] / total
        lines.append(
            f"  cell {cell['index']:3d} {cell['seconds']:7.1f} s {share:3.0f}%  {cell['line']}"
        )
        lines += ["      " + _line(n, e) for n, e in list(cell_names.items())[:4]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    parser.add_argument("--json-dir", type=pathlib.Path, help="write <chapter>.json here")
    parser.add_argument("--quick", action="store_true", help="run in quick mode (tests)")
    args = parser.parse_args(argv)
    for path in args.paths:
        if not path.is_file():
            parser.error(f"{path}: no such notebook")
    for path in args.paths:
        p = profile(path, quick=args.quick)
        print(summary(p), flush=True)
        if args.json_dir is not None:
            args.json_dir.mkdir(parents=True, exist_ok=True)
            (args.json_dir / f"{path.stem}.json").write_text(json.dumps(p, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
