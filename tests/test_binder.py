"""Tests of the Binder and Colab set-up: what a well-meant edit breaks without anyone noticing.

Binder (repo2docker) reads binder/ only: runtime.txt, requirements.txt, postBuild. Colab runs each
chapter's bootstrap cell, written by tools/sync_bootstrap.py from the URL in _config.yml.
"""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
# Only what the chapters need at run time; the book's and the tests' tools stay out of Binder.
RUNTIME = {"torch", "numpy", "scipy", "matplotlib", "scikit-learn", "mpmath"}
BUILD_AND_TEST_TOOLS = {"jupyter-book", "pytest", "pytest-cov", "pytest-xdist", "hypothesis", "nbval",
                        "sphinx-exercise", "sphinx-proof", "sphinxcontrib-bibtex"}


def load_sync_bootstrap():
    spec = importlib.util.spec_from_file_location("sync_bootstrap", ROOT / "tools" / "sync_bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def pins(path: Path) -> dict:
    """``{name: version}`` of the ``name==version`` lines (options and ``-e .`` skipped)."""
    out = {}
    for line in requirement_lines(path):
        if line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert match, f"{path.name}: not pinned with ==: {line!r}"
        out[match.group(1).lower()] = match.group(2)
    return out


def git_mode(path: Path) -> str | None:
    """The mode git records for a tracked file (``100755``), or None if git does not track it."""
    try:
        out = subprocess.run(["git", "ls-files", "-s", "--", str(path.relative_to(ROOT))], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.split()[0] if out.strip() else None


def test_python_is_pinned():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    minor = int(runtime.split(".")[1])
    required = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert required and minor >= int(required.group(1))


def test_torch_is_the_cpu_wheel_of_the_root_version():
    lines = requirement_lines(BINDER / "requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    binder_torch = pins(BINDER / "requirements.txt")["torch"]
    root_torch = pins(ROOT / "requirements.txt")["torch"]
    assert binder_torch.endswith("+cpu"), "without +cpu pip takes the multi-GB CUDA build from PyPI"
    assert binder_torch.removesuffix("+cpu") == root_torch.removesuffix("+cpu")


def test_every_binder_package_is_pinned_like_the_root():
    binder = pins(BINDER / "requirements.txt")  # asserts == on every line
    root = pins(ROOT / "requirements.txt")
    assert set(binder) == RUNTIME
    for name in RUNTIME - {"torch"}:
        assert binder[name] == root[name], f"{name}: binder {binder[name]}, root {root[name]}"
    assert not set(binder) & BUILD_AND_TEST_TOOLS
    options = [line for line in requirement_lines(BINDER / "requirements.txt") if line.startswith("-")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]  # no -e .: see postBuild


def test_post_build_installs_the_package_and_is_executable():
    post_build = BINDER / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in text  # repo2docker does not stop on a failing line otherwise
    commands = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "python -m pip install --no-cache-dir --no-deps -e ." in commands
    mode = git_mode(post_build)
    if mode is not None:  # tracked: what a clone gets
        assert mode == "100755", "git update-index --chmod=+x binder/postBuild"
    else:  # not committed yet: git will record the working tree's bit
        assert os.stat(post_build).st_mode & stat.S_IXUSR


def test_binder_is_launchable_from_the_book():
    config = (ROOT / "_config.yml").read_text()
    assert re.search(r"^\s+binderhub_url:\s*https://mybinder\.org", config, flags=re.M)
    assert re.search(r"^\s+colab_url:\s*https://colab\.research\.google\.com", config, flags=re.M)


@pytest.mark.skipif(not CHAPTERS, reason="no chapters in book/ yet")
def test_every_chapter_has_the_current_bootstrap_cell(capsys):
    sync = load_sync_bootstrap()
    assert sync.main(["--check"]) == 0, capsys.readouterr().out
    url = sync.repository_url()
    assert url.startswith("https://github.com/")
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "bootstrap" in first.metadata.get("tags", []), path.name
        assert f'"xent @ git+{url}"' in first.source, path.name
        assert first.source == sync.bootstrap_source(url)


def test_the_bootstrap_check_notices_a_missing_cell(tmp_path, monkeypatch, capsys):
    sync = load_sync_bootstrap()
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 1. A chapter"), nbformat.v4.new_code_cell("import xent")]
    nbformat.write(nb, tmp_path / "book" / "01_x.ipynb")
    monkeypatch.setattr(sync, "ROOT", tmp_path)
    assert sync.main(["--check"]) == 1
    assert "01_x.ipynb" in capsys.readouterr().out
