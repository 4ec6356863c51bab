"""Release coordinates and readers' environments: Colab install cells, `make release`, Binder.

The repository URL (``_config.yml``) and the version (``vaelib.__version__``) are
the one source of every chapter's Colab install cell; ``scripts/release.py``
derives the cells from them, and these tests hold the book to it.
"""

import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

import vaelib

ROOT = pathlib.Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("release", ROOT / "scripts" / "release.py")
release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(release)


def test_every_install_cell_agrees_with_config_and_version():
    assert release.version() == vaelib.__version__
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert release.repository_url() == url.rstrip("/")
    assert release.mismatches() == []
    expected = f'%pip install -q "vaelib @ git+{url}@v{vaelib.__version__}"'
    for path in release.notebooks():
        nb = json.loads(path.read_text())
        assert expected in "".join(nb["cells"][release.install_cell_index(nb, path)]["source"])


def _copy_of_the_book(tmp_path):
    """The files release.py reads, in a fresh git repository."""
    root = tmp_path / "repo"
    for name in ("_config.yml", "vaelib/__init__.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    (root / "book").mkdir()
    for path in release.notebooks()[:2]:
        shutil.copy(path, root / "book" / path.name)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "start"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env)
    return root, env


def test_a_stale_pin_is_reported(tmp_path):
    root, _ = _copy_of_the_book(tmp_path)
    path = release.notebooks(root)[0]
    path.write_text(path.read_text().replace(f"@v{vaelib.__version__}", "@v0.0.9"))
    wrong = release.mismatches(root)
    assert len(wrong) == 1 and path.name in wrong[0] and "v0.0.9" in wrong[0]


def test_release_sets_version_pins_commits_and_tags(tmp_path, monkeypatch):
    root, env = _copy_of_the_book(tmp_path)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(key, env[key])
    release.release("9.9.9", root)
    assert release.version(root) == "9.9.9"
    assert release.mismatches(root) == []

    def git(*a):
        return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True).stdout

    assert git("tag", "--list").split() == ["v9.9.9"]
    assert git("status", "--porcelain") == ""
    with pytest.raises(SystemExit, match="already exists"):
        release.release("9.9.9", root)
    (root / "dirty").write_text("x")
    with pytest.raises(SystemExit, match="uncommitted"):
        release.release("9.9.10", root)
    with pytest.raises(ValueError, match="1.2.3"):
        release.set_version("v1", root)


def test_colab_install_keeps_the_preinstalled_tensorflow_keras_and_numpy(tmp_path):
    """The install cell's pip command, with the tag replaced by this checkout, in this environment.

    pip's dry run reports what it would install: only vaelib, never another
    TensorFlow, Keras or NumPy (CI runs this in an environment with the oldest
    supported TensorFlow too, as Colab has its own).
    """
    report = tmp_path / "report.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--report",
            str(report),
            f"vaelib @ file://{ROOT}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode and "Could not find a version" in run.stderr + run.stdout:
        pytest.skip(f"no package index to build vaelib's metadata: {run.stderr[-300:]}")
    assert run.returncode == 0, run.stderr[-2000:]
    installs = {
        item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]
    }
    assert installs == {"vaelib"}, (
        f"the Colab cell would also install {sorted(installs - {'vaelib'})}"
    )


def test_binder_files_agree_with_requirements():
    """repo2docker reads runtime.txt, requirements.txt and apt.txt, unless it prefers a file."""
    for shadowing in ("environment.yml", "Pipfile", "setup.py", ".binder", "binder"):
        assert not (ROOT / shadowing).exists(), (
            f"{shadowing} would make Binder ignore requirements.txt"
        )
    runtime = (ROOT / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"runtime.txt must read python-X.Y, got {runtime!r}"
    minor = int(match.group(2))
    requires = (ROOT / "pyproject.toml").read_text()
    low, high = re.search(r'requires-python = ">=3\.(\d+),<3\.(\d+)"', requires).groups()
    assert int(low) <= minor < int(high), "runtime.txt's Python is outside requires-python"
    # The Python that runtime.txt names is the one the pinned TensorFlow is tested with in CI.
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    pinned = [
        row
        for row in workflow["jobs"]["test"]["strategy"]["matrix"]["include"]
        if row["tensorflow"] == "pinned"
    ]
    assert f"{match.group(1)}.{minor}" in [row["python"] for row in pinned]
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^tensorflow==\d", requirements, re.M), "Binder needs the pinned TensorFlow"
    assert re.search(r"^-e \.$", requirements, re.M), "requirements.txt must install vaelib itself"
    assert "graphviz" in (ROOT / "apt.txt").read_text().split(), "chapter 1 draws graphs with dot"
