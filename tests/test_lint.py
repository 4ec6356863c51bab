"""The tree is linted and formatted as a maintained package is, and chapter code fits the page.

ruff (configured in pyproject.toml; book/ruff.toml for the chapters) checks and formats every
Python file and every notebook's code cells. A chapter's code line wider than the page's code
box (about 85 characters at 1280 px) scrolls sideways, so it is held to
:data:`PAGE_WIDTH`; the test reads the notebooks itself, so it needs no ruff and says which
cell to fix.
"""

import pathlib
import shutil
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
PAGE_WIDTH = 85  # book/ruff.toml's line-length


def wide_lines(nb: nbformat.NotebookNode, width: int = PAGE_WIDTH) -> list[tuple[int, str]]:
    """(cell index, line) of every code line wider than ``width``."""
    return [
        (i, line)
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > width
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_code_fits_the_page(path):
    wide = wide_lines(nbformat.read(path, as_version=4))
    assert not wide, f"book/{path.name}: code lines over {PAGE_WIDTH} characters:\n" + "\n".join(
        f"  cell {i}: {line}" for i, line in wide
    )


def test_planted_wide_line_is_caught():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("x" * 200),  # prose wraps; only code scrolls
        nbformat.v4.new_code_cell("y = 1\nz = '" + "a" * 90 + "'"),
    ]
    assert wide_lines(nb) == [(1, "z = '" + "a" * 90 + "'")]


def _ruff() -> list[str]:
    exe = pathlib.Path(sys.executable).with_name("ruff")
    if exe.exists():
        return [str(exe)]
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.skip("ruff is not installed (requirements.txt installs it)")


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["ruff check", "ruff format --check"]
)
def test_ruff(args):
    result = subprocess.run(_ruff() + args, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
