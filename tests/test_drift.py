"""vaelib.drift and scripts/drift.py (``make drift``): planted drifts are caught, values that
stay within their tolerance are not, and every rule says what it did."""

import importlib.util
import io
import pathlib

import nbformat
import pytest
from prose_scan import glue_keys

from vaelib import drift

ROOT = pathlib.Path(__file__).resolve().parents[1]


def glued(key, text, **vaelib_meta):
    """A code cell's output as vaelib.glue stores it (text/plain as a Python literal)."""
    meta = {"scrapbook": {"name": key, "mime_prefix": drift.GLUE_PREFIX}}
    if vaelib_meta:
        meta["vaelib"] = vaelib_meta
    return {
        "output_type": "display_data",
        "metadata": meta,
        "data": {drift.GLUE_PREFIX + "text/plain": repr(text)},
    }


def notebook(*outputs):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("vaelib.glue(...)")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), cell]
    return nb


def compare(old, new):
    rows = drift.compare_glued(drift.read_glued(notebook(*old)), drift.read_glued(notebook(*new)))
    return {r.key: r for r in rows}


def se_meta(value, se):
    return {"value": value, "tolerance": drift.within_se(se).as_dict()}


@pytest.mark.parametrize(
    "new_value, moved",
    [(-95.3, False), (-95.0 + 3.9 * 0.5, False), (-95.0 + 6 * 0.5, True), (-120.0, True)],
)
def test_a_mean_moves_by_its_standard_errors(new_value, moved):
    # both runs have SE 0.5/sqrt(2): the combined SE is 0.5
    se = 0.5 / 2**0.5
    rows = compare(
        [glued("test_elbo", "-95.00", **se_meta(-95.0, se))],
        [glued("test_elbo", f"{new_value:.2f}", **se_meta(new_value, se))],
    )
    assert rows["test_elbo"].moved is moved, rows["test_elbo"].why


@pytest.mark.parametrize("new_text, moved", [("4,000", False), ("4,001", True)])
def test_a_count_is_exact(new_text, moved):
    rows = compare([glued("num_train", "4,000")], [glued("num_train", new_text)])
    assert rows["num_train"].moved is moved
    assert "integer" in drift.read_glued(notebook(glued("num_train", "4,000")))["num_train"].rule


@pytest.mark.parametrize("factor, moved", [(1.5, False), (0.6, False), (2.5, True), (0.3, True)])
def test_a_timing_moves_by_a_factor(factor, moved):
    tol = drift.ratio(2).as_dict()
    rows = compare(
        [glued("train_seconds", "100", value=100.0, tolerance=tol)],
        [glued("train_seconds", f"{100 * factor:g}", value=100 * factor, tolerance=tol)],
    )
    assert rows["train_seconds"].moved is moved, rows["train_seconds"].why


def test_a_timing_without_metadata_is_found_by_its_key():
    rows = compare([glued("step_seconds", "0.0123")], [glued("step_seconds", "0.0300")])
    assert rows["step_seconds"].moved and "ratio" in rows["step_seconds"].why


@pytest.mark.parametrize(
    "new_text, moved",
    [
        ("lower by 4.1 ± 0.4 nats (paired over 1,000 images; all 3 seeds lower)", False),
        ("within the noise: -0.3 ± 0.4 nats (paired over 1,000 images; one seed)", True),
        ("higher by 4.0 ± 0.4 nats (paired over 1,000 images; one seed)", True),
    ],
)
def test_a_verdict_moves_when_its_direction_changes(new_text, moved):
    old = "lower by 4.2 ± 0.4 nats (paired over 1,000 images; all 3 seeds lower)"
    rows = compare([glued("x_verdict", old)], [glued("x_verdict", new_text)])
    assert rows["x_verdict"].moved is moved, rows["x_verdict"].why


def test_a_verdict_with_its_numbers_also_moves_by_standard_errors():
    meta = {"tolerance": {"kind": "verdict", "se": 0.4}}
    rows = compare(
        [glued("v_verdict", "lower by 4.2 ± 0.4 nats", value=-4.2, **meta)],
        [glued("v_verdict", "lower by 9.9 ± 0.4 nats", value=-9.9, **meta)],
    )
    assert rows["v_verdict"].moved and "SE" in rows["v_verdict"].why


def test_words_are_exact_and_numbers_without_a_tolerance_are_listed_not_compared():
    rows = compare(
        [
            glued("mode", "dynamic"),
            glued("accuracy", "0.942"),
            glued("note", "seed 3 of 5 was best"),
        ],
        [glued("mode", "fixed"), glued("accuracy", "0.100"), glued("note", "seed 4 of 5 was best")],
    )
    assert rows["mode"].moved
    assert not rows["accuracy"].moved and "not compared" in rows["accuracy"].why
    assert not rows["note"].moved and "not compared" in rows["note"].why


def test_keys_that_appear_or_vanish_are_drift():
    rows = compare([glued("a", "1"), glued("b", "2")], [glued("a", "1"), glued("c", "3")])
    assert not rows["a"].moved and rows["b"].moved and rows["c"].moved


def test_not_compared_needs_a_reason_and_kinds_are_checked():
    with pytest.raises(ValueError, match="reason"):
        drift.Tolerance("not compared")
    with pytest.raises(ValueError, match="kind"):
        drift.Tolerance("roughly")
    with pytest.raises(ValueError, match="factor"):
        drift.ratio(0.5)
    rows = compare(
        [glued("when", "3 Dec", tolerance=drift.not_compared("a date").as_dict())],
        [glued("when", "4 Dec", tolerance=drift.not_compared("a date").as_dict())],
    )
    assert not rows["when"].moved and "a date" in rows["when"].why


def test_the_report_lists_what_moved():
    rows = list(
        compare(
            [glued("n", "3"), glued("m", "dynamic")], [glued("n", "4"), glued("m", "dynamic")]
        ).values()
    )
    report = drift.format_report("book/x.ipynb", rows)
    assert report.startswith("book/x.ipynb: 1 of 2 glued values moved")
    assert "MOVED n: '3' -> '4'" in report and "MOVED m" not in report


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_chapter_stored_glue_is_read(path):
    """The tool reads every glued key of each chapter (also those stored before it existed),
    the same keys the prose test finds."""
    values = drift.read_glued(nbformat.read(path, as_version=4))
    assert set(values) == glue_keys(path)


def _script():
    spec = importlib.util.spec_from_file_location("drift_script", ROOT / "scripts" / "drift.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLANTED = """import os
import vaelib
vaelib.glue("count", int(os.environ.get("DRIFT_COUNT", "3")), "d")
vaelib.glue("mode", "dynamic")
"""


def test_the_script_executes_a_copy_and_catches_a_planted_drift(tmp_path, monkeypatch):
    """End to end, with one kernel run: a chapter stored with count 3 (its outputs as
    vaelib.glue writes them) re-runs with count 4, the planted change in its environment, and
    is reported; the stored notebook is not touched. Compared with itself, nothing moved."""
    path = tmp_path / "planted.ipynb"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(PLANTED)
    cell.outputs = [
        nbformat.from_dict(glued("count", "3")),
        nbformat.from_dict(glued("mode", "dynamic")),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Planted"), cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, path)
    before = path.read_text()
    script, out = _script(), io.StringIO()
    monkeypatch.setenv("DRIFT_COUNT", "4")
    moved = script.check([path], scratch=tmp_path / "scratch", out=out)
    assert [(p.name, r.key, r.stored, r.new) for p, r in moved] == [
        ("planted.ipynb", "count", "3", "4")
    ]
    assert "MOVED count: '3' -> '4'" in out.getvalue()
    assert path.read_text() == before
    # without executing: against a folder of new versions, and against itself
    assert len(script.check([path], new_dir=tmp_path / "scratch", out=out)) == 1
    (tmp_path / "same").mkdir()
    (tmp_path / "same" / "planted.ipynb").write_text(before)
    assert script.check([path], new_dir=tmp_path / "same", out=out) == []
