"""Release coordinates of the course, and cutting a release.

The repository's URL lives in ``_config.yml`` (``repository.url``: Jupyter Book's
launch buttons and thebe read it) and the version in ``vaelib/__init__.py``
(``__version__``); the release tag is ``v`` + the version. Every chapter's first
code cell installs ``vaelib`` from that tag on Colab. This script derives that
cell from those two places, checks it, and cuts a release:

    python scripts/release.py --check       # every notebook's install cell agrees (exit 1 if not)
    python scripts/release.py 0.2.0         # set the version, rewrite the cells, commit, tag v0.2.0
    python scripts/release.py --print-install-command

(``make release VERSION=0.2.0`` runs the second.) Push the tag with
``git push origin main v0.2.0`` so that Colab can install it.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
MARKER = '"google.colab" in sys.modules'


def repository_url(root: pathlib.Path = ROOT) -> str:
    """``repository.url`` of ``_config.yml``, without a trailing slash or ``.git``."""
    url = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    return url.rstrip("/").removesuffix(".git")


def version(root: pathlib.Path = ROOT) -> str:
    """``vaelib.__version__``, read from the file (without importing TensorFlow)."""
    match = VERSION_LINE.search((root / "vaelib" / "__init__.py").read_text())
    if not match:
        raise ValueError('vaelib/__init__.py has no line __version__ = "..."')
    return match.group(1)


def install_cell(url: str, tag: str) -> str:
    """The first code cell of every chapter: on Colab, install vaelib at the book's release.

    pip's default strategy ("only-if-needed") keeps every requirement that is
    already satisfied, so Colab's own TensorFlow, Keras and NumPy stay as they are.
    """
    return f'import sys\n\nif {MARKER}:\n    %pip install -q "vaelib @ git+{url}@{tag}"'


def notebooks(root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    return sorted((root / "book").glob("*.ipynb"))


def install_cell_index(nb: dict, path: pathlib.Path) -> int:
    """Index of the notebook's install cell: the first code cell, which must mention Colab."""
    code = [i for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "code"]
    if not code or MARKER not in "".join(nb["cells"][code[0]]["source"]):
        raise ValueError(f"{path}: the first code cell must be the Colab install cell ({MARKER})")
    return code[0]


def mismatches(root: pathlib.Path = ROOT) -> list[str]:
    """One line per notebook whose install cell differs from :func:`install_cell`."""
    expected = install_cell(repository_url(root), "v" + version(root))
    wrong = []
    for path in notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        try:
            cell = nb["cells"][install_cell_index(nb, path)]
        except ValueError as error:
            wrong.append(str(error))
            continue
        if "".join(cell["source"]) != expected:
            wrong.append(
                f"{path.relative_to(root)}: install cell is {''.join(cell['source'])!r}, "
                f"expected {expected!r}"
            )
    return wrong


def set_version(new: str, root: pathlib.Path = ROOT) -> list[pathlib.Path]:
    """Writes ``new`` into ``vaelib/__init__.py`` and every install cell.

    Returns the changed files."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", new):
        raise ValueError(f"version must look like 1.2.3, got {new!r}")
    init = root / "vaelib" / "__init__.py"
    init.write_text(VERSION_LINE.sub(f'__version__ = "{new}"', init.read_text(), count=1))
    cell_text = install_cell(repository_url(root), "v" + new)
    changed = [init]
    for path in notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cell = nb["cells"][install_cell_index(nb, path)]
        if "".join(cell["source"]) != cell_text:
            cell["source"] = cell_text.splitlines(True)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


def release(new: str, root: pathlib.Path = ROOT) -> None:
    """Sets the version, commits, and tags ``v<new>``; refuses a dirty tree or an existing tag."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=root, check=True, text=True, capture_output=True
        ).stdout

    if git("status", "--porcelain").strip():
        raise SystemExit("release: the working tree has uncommitted changes; commit them first")
    if git("tag", "--list", f"v{new}").strip():
        raise SystemExit(f"release: tag v{new} already exists")
    changed = set_version(new, root)
    git("add", *[str(p.relative_to(root)) for p in changed])
    git(
        "commit",
        "-q",
        "-m",
        f"Release v{new}: vaelib.__version__ and every chapter's Colab install pin",
    )
    git("tag", "-a", f"v{new}", "-m", f"vaelib {new}")
    print(f"tagged v{new}; push it with: git push origin main v{new}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", nargs="?", help="the new version, e.g. 0.2.0")
    parser.add_argument("--check", action="store_true", help="only check the install cells")
    parser.add_argument(
        "--print-install-command",
        action="store_true",
        help="print the pip command of the install cell",
    )
    args = parser.parse_args(argv)
    if args.print_install_command:
        print(install_cell(repository_url(), "v" + version()).splitlines()[-1].strip())
        return 0
    if args.check or not args.version:
        wrong = mismatches()
        print("\n".join(wrong) or f"every install cell pins v{version()} of {repository_url()}")
        return 1 if wrong else 0
    release(args.version)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
