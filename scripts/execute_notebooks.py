"""Executes notebooks in place, at full length, so their stored outputs come from the current code.

Usage: python scripts/execute_notebooks.py book/01_graphs.ipynb [...]

TensorFlow's C++ runtime writes log lines to the process's stderr that no
Python setting silences in the full wheel; they are dropped from the stored
outputs (the book build drops all stderr, see _config.yml).
"""

import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

TF_NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} |To enable the following)")


def strip_native_logs(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [l for l in out["text"].splitlines(True) if not TF_NATIVE_LOG.match(l)]
                if not "".join(lines).strip():
                    continue
                out["text"] = "".join(lines)
            kept.append(out)
        cell["outputs"] = kept


def main(paths: list[str]) -> None:
    for name in paths:
        path = pathlib.Path(name)
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        strip_native_logs(nb)
        nbformat.write(nb, path)
        print(f"{path}: executed in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
