"""Re-executes chapters and reports every glued value that moved beyond its tolerance.

Usage:
  python scripts/drift.py [--scratch DIR] [--report FILE] book/07_evaluation.ipynb [...]
  python scripts/drift.py --new-dir DIR book/*.ipynb      # compare, without executing

The book's claims are its glued numbers (vaelib.glue). A new TensorFlow, Keras or NumPy can
change them with no error at all, and a build that only looks for errors does not see it.
This script executes each chapter at full length into a scratch copy (the stored notebook is
not touched), reads every glued value of both, and compares each against its tolerance
(vaelib.drift: exact for counts and words, a number of standard errors for a mean, a factor
for a timing, the direction for a verdict, or not compared, with the reason). It prints a
table of what moved and exits with 1 if anything did.

With ``--new-dir``, the new versions are read from DIR (notebooks executed elsewhere, e.g. by
the weekly Colab workflow) instead of being executed here.
"""

import argparse
import importlib.util
import os
import pathlib
import sys
import tempfile
import time

import nbformat

from vaelib import drift

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _executor():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "scripts" / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.execute


def check(paths, new_dir=None, scratch=None, out=sys.stdout):
    """Compares each chapter's stored glued values with a new run's; returns the rows that moved.

    Args:
      paths: the stored notebooks.
      new_dir: a folder holding new versions (same file names); ``None``: execute each
        stored notebook into ``scratch`` (in its own folder's working directory).
      scratch: where executed copies are written; a temporary folder if ``None``.
    """
    execute = None if new_dir is not None else _executor()
    scratch = pathlib.Path(scratch or tempfile.mkdtemp(prefix="drift-"))
    moved = []
    for path in map(pathlib.Path, paths):
        stored = nbformat.read(path, as_version=4)
        if new_dir is not None:
            new_path = pathlib.Path(new_dir) / path.name
            if not new_path.exists():
                raise FileNotFoundError(f"{new_path}: no new version of {path} in --new-dir")
            new = nbformat.read(new_path, as_version=4)
        else:
            new = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            execute(new, path)  # runs in path's folder, as the chapter expects
            scratch.mkdir(parents=True, exist_ok=True)
            nbformat.write(new, scratch / path.name)
            print(f"{path}: executed in {time.perf_counter() - start:.0f} s", file=out)
        rows = drift.compare_glued(drift.read_glued(stored), drift.read_glued(new))
        print(drift.format_report(str(path), rows), file=out, flush=True)
        moved += [(path, r) for r in rows if r.moved]
    return moved


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    parser.add_argument("--new-dir", type=pathlib.Path, help="compare with notebooks here")
    parser.add_argument("--scratch", type=pathlib.Path, help="where executed copies go")
    parser.add_argument("--report", type=pathlib.Path, help="also write the report here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="allow VAELIB_QUICK=1 (short runs: nearly everything moves; for trying the tool)",
    )
    args = parser.parse_args(argv)
    if os.environ.get("VAELIB_QUICK") == "1" and not args.quick and args.new_dir is None:
        parser.error("VAELIB_QUICK=1 is set: the stored outputs are full-length runs; unset it")
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)

    class Tee:
        def __init__(self, *streams):
            self.streams = streams

        def write(self, text):
            for s in self.streams:
                s.write(text)

        def flush(self):
            for s in self.streams:
                s.flush()

    report = open(args.report, "w") if args.report else None  # noqa: SIM115 (closed below)
    try:
        out = Tee(sys.stdout, report) if report else sys.stdout
        moved = check(args.paths, args.new_dir, args.scratch, out)
        print(f"{len(moved)} glued values moved beyond their tolerance", file=out)
    finally:
        if report:
            report.close()
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
