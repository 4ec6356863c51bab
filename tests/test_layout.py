"""vaelib grouped by concept (issue 25): every old path still works, old checkpoints restore,
and no module grows past 300 lines without saying why."""

import ast
import importlib
import importlib.util
import json
import pathlib
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

import vaelib
from vaelib import layout

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "checkpoint_v0_1"
SUBPACKAGES = (
    "data",
    "models",
    "objectives",
    "training",
    "evaluation",
    "diagnostics",
    "speed",
    "reporting",
)


@pytest.mark.parametrize("old, new", sorted(layout.FLAT_MODULES.items()))
def test_each_flat_path_is_the_module_that_moved(old, new):
    """``import vaelib.train`` gives the one module ``vaelib.training.train``: patching either
    path patches both."""
    assert importlib.import_module(f"vaelib.{old}") is importlib.import_module(new)
    assert getattr(vaelib, old) is importlib.import_module(new)


@pytest.mark.parametrize("old, inner", sorted(layout.FLAT_PACKAGES.items()))
def test_a_package_with_a_flat_module_name_holds_its_public_names(old, inner):
    package, module = importlib.import_module(f"vaelib.{old}"), importlib.import_module(inner)
    public = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
    assert public, f"{inner} has no __all__"
    missing = [n for n in public if getattr(package, n, None) is not getattr(module, n)]
    assert not missing, f"vaelib.{old} lacks {missing} of {inner}"


def _dotted_uses() -> set[str]:
    """Every ``vaelib.a.b`` (and ``from vaelib.a import b``) in the chapters, tests, scripts and
    benchmarks."""
    found = set()
    files = [
        *ROOT.glob("book/*.ipynb"),
        *ROOT.glob("tests/*.py"),
        *ROOT.glob("scripts/*.py"),
        *ROOT.glob("benchmarks/*.py"),
    ]
    for path in files:
        text = path.read_text()
        found |= set(re.findall(r"\bvaelib\.([a-z_]+)\.([A-Za-z_][A-Za-z0-9_]*)", text))
        for module, names in re.findall(r"from vaelib\.([a-z_]+) import ([A-Za-z_, ]+)", text):
            found |= {(module, n.strip().split(" as ")[0]) for n in names.split(",") if n.strip()}
    known = {*layout.FLAT_MODULES, *layout.FLAT_PACKAGES, "validation", "layout"}
    return {(m, n) for m, n in found if m in known}


def test_every_dotted_name_the_book_and_tests_use_resolves():
    uses = _dotted_uses()
    assert len(uses) > 50, "the scan found too little to mean anything"

    def resolves(module: str, name: str) -> bool:  # an attribute, or a submodule of a package
        package = importlib.import_module(f"vaelib.{module}")
        if hasattr(package, name):
            return True
        spec_name = f"vaelib.{module}.{name}"
        return hasattr(package, "__path__") and importlib.util.find_spec(spec_name) is not None

    broken = sorted(f"vaelib.{m}.{n}" for m, n in uses if not resolves(m, n))
    assert not broken, f"names the chapters, tests or scripts use that no longer resolve: {broken}"


# Names added at the top since 0.1, each on purpose (a new name must be listed here).
NEW_SINCE_0_1 = ("elbo_k_loss", "InMemoryData")


def test_the_public_api_is_unchanged():
    """The names vaelib 0.1 exported, all still at the top; new ones only when listed."""
    api_0_1 = [
        line
        for line in (pathlib.Path(__file__).parent / "data" / "api_v0_1.txt")
        .read_text()
        .split("\n")
        if line and not line.startswith("#")
    ]
    assert len(api_0_1) == 75
    assert len(vaelib.__all__) == len(set(vaelib.__all__))
    missing = sorted(set(api_0_1) - set(vaelib.__all__))
    assert not missing, f"vaelib 0.1 names no longer exported at the top: {missing}"
    added = sorted(set(vaelib.__all__) - set(api_0_1))
    assert added == sorted(NEW_SINCE_0_1), (
        f"names added to vaelib.__all__ since 0.1: {added}; list them in NEW_SINCE_0_1"
    )
    assert all(hasattr(vaelib, n) for n in vaelib.__all__)


def test_a_checkpoint_written_by_vaelib_0_1_restores_bit_for_bit(tmp_path):
    """tests/data/checkpoint_v0_1 was written by the flat layout (make_fixture.py there)."""
    folder = tmp_path / "ckpt"
    shutil.copytree(FIXTURE / "ckpt", folder)
    model = vaelib.VAE(vaelib.VAEConfig(input_size=16, hidden_sizes=(8,), latent_size=2))
    optimizer = tf.keras.optimizers.Adam(1e-2)
    stored = json.loads((FIXTURE / "fingerprint.json").read_text())
    assert vaelib.checkpoint.fingerprint(model, optimizer) == stored
    x = np.zeros((32, 16), np.float32)
    history = vaelib.fit(
        model,
        optimizer,
        vaelib.vae_loss,
        tf.data.Dataset.from_tensors(x),
        vaelib.FitConfig(epochs=2, progress=False),
        checkpoint_dir=str(folder),
    )
    assert history.epochs == []  # both epochs were restored, none trained
    weights = np.load(FIXTURE / "weights.npz")
    for variable in model.trainable_variables:
        np.testing.assert_array_equal(variable.numpy(), weights[variable.name])


def test_flat_names_map_new_module_paths_back():
    assert layout.flat_name("vaelib.models.vae") == "vaelib.vae"
    assert layout.flat_name("vaelib.models.likelihood_base") == "vaelib.likelihoods"
    assert layout.flat_name("keras.src.optimizers.adam") == "keras.src.optimizers.adam"


MODULES = sorted(p for p in (ROOT / "vaelib").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_long_module_says_why_at_its_top(path):
    """One concept per module, about 150-300 lines; a longer one says why in its docstring."""
    lines = len(path.read_text().splitlines())
    if lines <= 300:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert re.search(r"\(Over 300 lines because", docstring[:800]), (
        f"{path.relative_to(ROOT)} has {lines} lines: split it by concept, or say at the top "
        "of its docstring why it is one ('(Over 300 lines because ...)')"
    )


def test_the_layout_is_the_books():
    folders = sorted(
        p.name for p in (ROOT / "vaelib").iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    assert folders == sorted(SUBPACKAGES)
    flat = sorted(p.name for p in (ROOT / "vaelib").glob("*.py"))
    assert flat == ["__init__.py", "layout.py", "validation.py"]
