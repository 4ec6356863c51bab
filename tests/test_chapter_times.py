"""scripts/chapter_times.py: a chapter's time and its slowest cells, from the stored metadata."""

import importlib.util
import json
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).parents[1] / "scripts" / "chapter_times.py"
spec = importlib.util.spec_from_file_location("chapter_times", SCRIPT)
chapter_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chapter_times)


def cell(source, start, end):
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {
            "execution": {
                "iopub.execute_input": f"2026-12-04T10:00:{start:02d}.000000Z",
                "shell.execute_reply": f"2026-12-04T10:00:{end:02d}.500000Z",
            }
        },
    }


def notebook(tmp_path, name, seconds, cells, **stamp):
    path = tmp_path / name
    metadata = {} if seconds is None else {"vaelib": {"seconds": seconds, **stamp}}
    path.write_text(json.dumps({"cells": cells, "metadata": metadata}))
    return str(path)


def test_times_from_the_cells_and_the_stamp(tmp_path):
    path = notebook(
        tmp_path,
        "a.ipynb",
        400.0,
        [
            cell("# setup\nimport os", 0, 1),
            {"cell_type": "markdown", "source": "text", "metadata": {}},
            cell("train()", 2, 40),
        ],
    )
    stamped, cells = chapter_times.chapter_times(path)
    assert stamped == 400.0
    assert cells == [(1.5, 0, "import os"), (38.5, 2, "train()")]


def test_the_report_names_the_chapters_over_the_limit(tmp_path):
    slow = notebook(
        tmp_path,
        "slow.ipynb",
        400.0,
        [cell("train()", 0, 5)],
        started="2026-12-04T22:41:37+00:00",
        load_before=1.13,
        load_after=1.9,
    )
    fast = notebook(tmp_path, "fast.ipynb", None, [cell("x = 1", 0, 2)])
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--limit", "300", slow, fast],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "slow.ipynb: 400 s (started 2026-12-04T22:41:37+00:00, 1-min load 1.13 -> 1.9)" in out
    assert "fast.ipynb: 2 s (no stamp: the cells' sum)" in out
    assert out.strip().endswith(f"chapters over 300 s: {slow}")
    assert "book: 402 s (7 min) over 2 chapters" in out
