"""The book shows each chapter's stored outputs (``execute_notebooks: "off"``), so they must
come from the chapter's current code, in one full-length run, without errors.

``scripts/execute_notebooks.py`` (``make execute``) stamps every notebook it runs with the
SHA-256 of its code cells. A chapter whose code changed after its last run fails here,
naming the command that re-makes its outputs.
"""

import importlib.util
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "scripts" / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


code_digest = _load_script().code_digest


def problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """What is wrong with a notebook's stored outputs, as sentences (empty: nothing)."""
    found = []
    stamp = nb.metadata.get("vaelib", {})
    rerun = f"re-run it: make execute NB={name}"
    if "code_sha256" not in stamp:
        found.append(f"{name} has no execution stamp (metadata.vaelib); {rerun}")
    elif stamp["code_sha256"] != code_digest(nb):
        found.append(f"{name}: its code changed after its outputs were stored; {rerun}")
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code]
    if counts != list(range(1, len(code) + 1)):
        found.append(
            f"{name}: code cells were not all run once, in order, in one kernel "
            f"(execution counts {counts}); {rerun}"
        )
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(
                    f"{name}: code cell {i + 1} stored an error ({out.get('ename')}); {rerun}"
                )
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_stored_outputs_come_from_the_current_code(path):
    nb = nbformat.read(path, as_version=4)
    assert not problems(nb, f"book/{path.name}")


def _notebook(*sources, counts=None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title")]
    for i, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = (counts or list(range(1, len(sources) + 1)))[i]
        nb.cells.append(cell)
    nb.metadata["vaelib"] = {"code_sha256": code_digest(nb), "seconds": 1}
    return nb


def test_planted_problems_are_caught():
    good = _notebook("x = 1", "print(x)")
    assert problems(good, "nb") == []

    edited = _notebook("x = 1", "print(x)")
    edited.cells[1].source = "x = 2"  # code changed after the run
    assert "code changed" in " ".join(problems(edited, "nb"))

    markdown_only = _notebook("x = 1", "print(x)")
    markdown_only.cells[0].source = "# Another title"  # prose edits need no re-run
    assert problems(markdown_only, "nb") == []

    unstamped = _notebook("x = 1")
    del unstamped.metadata["vaelib"]
    assert "no execution stamp" in " ".join(problems(unstamped, "nb"))

    out_of_order = _notebook("x = 1", "print(x)", counts=[2, 1])
    assert "not all run once" in " ".join(problems(out_of_order, "nb"))

    skipped = _notebook("x = 1", "print(x)", counts=[1, None])
    assert "not all run once" in " ".join(problems(skipped, "nb"))

    failed = _notebook("1 / 0")
    failed.cells[1].outputs = [
        nbformat.v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[]
        )
    ]
    assert "stored an error (ZeroDivisionError)" in " ".join(problems(failed, "nb"))
