"""The book's prose: no result typed by hand, and every glued number exists.

Every measured number in a sentence is glued from the cell that computed it, and
every published one comes from vaelib.published, so a re-run (or a corrected
paper value) changes the sentence too. These tests keep it that way.
"""

import json
import pathlib

import pytest

from prose_scan import glue_keys, glue_references, scan

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
NOTEBOOKS = [p for p in PAGES if p.suffix == ".ipynb"]

# Numbers that define the setup rather than report a result. Each phrase must
# occur within 40 characters of the number; say why it is a definition.
ALLOWED = {
    "standard deviation 0.001": "the notes' initialization, which chapter 3's exercise 2 asks about",
    "biases at 0.1": "the notes' initialization, which chapter 3's exercise 2 asks about",
    "repeated 2,000 times": "the number of Monte Carlo draws the cell is set to make",
    "at 0.3": "an example grey level in an exercise",
}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_no_hand_typed_results(path):
    hits = scan(path, ALLOWED)
    assert not hits, ("result-like numbers typed by hand (glue them with vaelib.glue, or take a "
                      "published one from vaelib.published):\n" + "\n".join(map(str, hits)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glue_reference_is_glued(path):
    missing = glue_references(path) - glue_keys(path)
    assert not missing, f"{path.name} pastes glue keys that no stored output defines: {sorted(missing)}"


def test_every_allowed_phrase_is_still_used():
    text = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)
    unused = [phrase for phrase in ALLOWED if phrase not in text]
    assert not unused, f"allowed phrases no page uses any more (remove them): {unused}"


def _notebook(tmp_path, *markdown, outputs=()):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    cells.append({"cell_type": "code", "metadata": {}, "source": "", "execution_count": None,
                  "outputs": list(outputs)})
    path = tmp_path / "planted.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.mark.parametrize("sentence", [
    "The test NLL is 107.93, close to the paper.",
    "It reaches 93% accuracy.",
    "The loop is 2.07x faster.",
    "XLA is 1.5× faster here.",
    "With 15 times less data the gap grows.",
    "The gap is 7 nats.",
])
def test_planted_hand_typed_number_is_caught(tmp_path, sentence):
    hits = scan(_notebook(tmp_path, sentence))
    assert len(hits) == 1 and hits[0].cell == 0, hits


@pytest.mark.parametrize("sentence", [
    "The test NLL is {glue:text}`nll` nats.",
    "In math, $\\log p(x) \\approx -85.3$ and $$0.5 \\cdot 2.5$$ are skipped.",
    "Code such as `Adam(1e-3)` or `lr=0.001` is skipped.",
    "As {cite:t}`burda2015importance` show in 2015, with 784 pixels and batches of 100.",
    ":::{dropdown} Solution 1.5\n:::",
])
def test_math_code_roles_and_integers_are_not_flagged(tmp_path, sentence):
    assert scan(_notebook(tmp_path, sentence)) == []


def test_allowed_phrase_must_be_near(tmp_path):
    far = "standard deviation " + "word " * 20 + "and then 0.001 appears later."
    assert len(scan(_notebook(tmp_path, far), ALLOWED)) == 1
    assert scan(_notebook(tmp_path, "weights of standard deviation 0.001 here."), ALLOWED) == []


def test_missing_glue_key_is_reported(tmp_path):
    glued = {"output_type": "display_data", "data": {"application/papermill.record/text/plain": "1.0"},
             "metadata": {"scrapbook": {"name": "present", "mime_prefix": "application/papermill.record/"}}}
    path = _notebook(tmp_path, "{glue:text}`present` and {glue:text}`absent:.2f`", outputs=[glued])
    assert glue_references(path) == {"present", "absent"}
    assert glue_references(path) - glue_keys(path) == {"absent"}
