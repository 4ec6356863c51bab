"""Executes notebooks in place, at full length, so their stored outputs come from the current code.

Usage: python scripts/execute_notebooks.py [--report-dir DIR] book/01_graphs.ipynb [...]

Each executed notebook is stamped (``metadata.vaelib``) with the SHA-256 of its code
cells, the seconds it took, when it started (UTC) and the machine's 1-minute load
average before and after (``load_before``, ``load_after``: a loaded machine's times
overstate an idle one's); ``tests/test_stored_outputs.py`` fails when a chapter's
code changes and its stored outputs are not re-made, and the book (built from the
stored outputs, see _config.yml) cannot show numbers from code that is gone.

With ``--report-dir``, a notebook that fails is written there (executed up to
the failing cell, with its traceback) together with a ``.log`` of the error, the
remaining notebooks still run, and the exit status is 1; the weekly Colab
workflow uploads that folder. Without it the first failure stops the run.

TensorFlow's C++ runtime writes log lines to the process's stderr that no
Python setting silences in the full wheel; they are dropped from the stored
outputs (the book build drops all stderr, see _config.yml).
"""

import argparse
import datetime
import hashlib
import os
import pathlib
import re
import sys
import time
import traceback

import nbformat
from nbclient import NotebookClient

TF_NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} |To enable the following)"
)


def strip_native_logs(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [
                    line for line in out["text"].splitlines(True) if not TF_NATIVE_LOG.match(line)
                ]
                if not "".join(lines).strip():
                    continue
                out["text"] = "".join(lines)
            kept.append(out)
        cell["outputs"] = kept


def code_digest(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of the notebook's code cells' sources, in order."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def _load() -> float | None:
    """The 1-minute load average, rounded (``None`` where the system has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def execute(nb: nbformat.NotebookNode, path: pathlib.Path) -> None:
    """Runs every cell of ``nb`` (read from ``path``) in place.

    On an error, ``nb`` keeps what ran."""
    try:
        NotebookClient(
            nb,
            timeout=3600,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
    finally:
        strip_native_logs(nb)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Execute notebooks in place, at full length.")
    parser.add_argument("paths", nargs="+", type=pathlib.Path)
    parser.add_argument(
        "--report-dir",
        type=pathlib.Path,
        help="keep going after a failure and write failing notebooks and logs here",
    )
    args = parser.parse_args(argv)
    if os.environ.get("VAELIB_QUICK") == "1":
        parser.error(
            "VAELIB_QUICK=1 is set: the stored outputs must be the full-length run; "
            "unset it (the test suite sets it for its own short runs)"
        )
    failed = []
    for path in args.paths:
        start = time.perf_counter()
        started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        load_before = _load()
        nb = nbformat.read(path, as_version=4)
        try:
            execute(nb, path)
        except Exception as error:  # a cell failed, or the kernel died
            if args.report_dir is None:
                raise
            args.report_dir.mkdir(parents=True, exist_ok=True)
            elapsed = time.perf_counter() - start
            (args.report_dir / f"{path.stem}.log").write_text(
                f"{path}: failed after {elapsed:.0f} s\n\n{traceback.format_exc()}"
            )
            nbformat.write(nb, args.report_dir / path.name)  # executed up to the failing cell
            print(
                f"{path}: FAILED ({type(error).__name__}); report in {args.report_dir}", flush=True
            )
            failed.append(path)
            continue
        seconds = time.perf_counter() - start
        nb.metadata["vaelib"] = {
            "code_sha256": code_digest(nb),
            "seconds": round(seconds),
            "started": started_at,
            "load_before": load_before,
            "load_after": _load(),
        }
        nbformat.write(nb, path)
        print(
            f"{path}: executed in {seconds:.0f} s (1-minute load average "
            f"{load_before} before, {nb.metadata['vaelib']['load_after']} after)",
            flush=True,
        )
    if failed:
        print(f"{len(failed)} of {len(args.paths)} notebooks failed: {', '.join(map(str, failed))}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
