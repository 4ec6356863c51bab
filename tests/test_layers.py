"""The layers of vaelib as a contract (pyproject.toml, [tool.importlinter]): ``lint-imports``
keeps it on the real package, and fails on a planted upward import."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = pathlib.Path(sys.executable).with_name("lint-imports")
    if exe.exists():
        return str(exe)
    found = shutil.which("lint-imports")
    if found is None:
        pytest.skip("import-linter is not installed (requirements.txt installs it)")
    return found


def run(cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_package_keeps_its_layers():
    result = run(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_a_planted_upward_import_breaks_the_contract(tmp_path):
    """A copy of the package in which data imports reporting (a layer far above it)."""
    shutil.copytree(
        ROOT / "vaelib", tmp_path / "vaelib", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "vaelib" / "data" / "idx.py"
    target.write_text(target.read_text() + "\nfrom vaelib.reporting import report  # planted\n")
    result = run(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "vaelib.data.idx -> vaelib.reporting.report" in (
        result.stdout
    )
