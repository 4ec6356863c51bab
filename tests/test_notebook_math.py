"""Every chapter that uses the book's math macros defines them itself (Jupyter, Binder, Colab).

``_config.yml`` gives the built book its macros (``\\x``, ``\\E``, ``\\KL``, ...), but a
notebook opened outside the book never reads it. ``scripts/notebook_macros.py`` writes a
first markdown cell of ``\\newcommand`` lines from ``_config.yml`` (tagged ``remove-cell``);
this test fails when one is missing, stale or shown in the book.
"""

import importlib.util
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))

_spec = importlib.util.spec_from_file_location(
    "notebook_macros", ROOT / "scripts" / "notebook_macros.py"
)
macros_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(macros_script)
MACROS = macros_script.config_macros()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_chapter_defines_the_macros_it_uses(path):
    reason = macros_script.problem(nbformat.read(path, as_version=4), MACROS)
    assert reason is None, f"book/{path.name}: {reason}; run python scripts/notebook_macros.py"


def test_the_cell_defines_every_config_macro_once():
    source = macros_script.macro_cell_source(MACROS)
    assert set(MACROS) >= {"x", "z", "E", "KL"}
    for name, definition in MACROS.items():
        assert source.count(rf"\newcommand{{\{name}}}{{{definition}}}") == 1


def _notebook(*markdown):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text) for text in markdown]
    return nb


def test_planted_problems_are_caught_and_fixed():
    plain = _notebook("# Title", "No math macros, only $x^2$ and \\xi.")
    assert macros_script.problem(plain, MACROS) is None  # \xi is not \x

    missing = _notebook("# Title", r"The bound $\ELBO(\x)$.")
    assert "does not start" in macros_script.problem(missing, MACROS)
    macros_script.fix(missing, MACROS)
    assert macros_script.problem(missing, MACROS) is None
    assert missing.cells[0].metadata["tags"] == ["remove-cell"]

    stale = _notebook("# Title", r"$\E_q$")
    macros_script.fix(stale, MACROS)
    stale.cells[0].source = stale.cells[0].source.replace(r"\mathbb{E}", r"\mathrm{E}")
    assert "differs" in macros_script.problem(stale, MACROS)

    shown = _notebook("# Title", r"$\KL$")
    macros_script.fix(shown, MACROS)
    shown.cells[0].metadata = {}
    assert "remove-cell" in macros_script.problem(shown, MACROS)

    unused = _notebook("# Title", r"$\KL$")
    macros_script.fix(unused, MACROS)
    unused.cells[2].source = "no macros left"
    assert "uses no macro" in macros_script.problem(unused, MACROS)
    macros_script.fix(unused, MACROS)
    assert macros_script.problem(unused, MACROS) is None and len(unused.cells) == 2
