"""Tests of the Binder and Colab set-up: what a well-meant edit breaks without
anyone noticing.

Binder (repo2docker) reads binder/ only: runtime.txt, requirements.txt,
postBuild. Colab runs each chapter's bootstrap cell, written by
tools/sync_notebooks.py from _config.yml, which also writes the launch links to
the chapter's exercises copy and the notices on the stubs. The bootstrap cell
is run here for real, in a subprocess, where its install must fail (no network,
no index): it must stop with a clear message, and do nothing where the course's
xent is installed.
"""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
# What the chapters need at run time, and JupyterLab with jupyterlab-myst to
# show them; the book's and the tests' tools stay out of Binder.
RUNTIME = {
    "torch",
    "numpy",
    "scipy",
    "matplotlib",
    "scikit-learn",
    "mpmath",
    "jupyterlab",
    "jupyterlab-myst",
}
BUILD_AND_TEST_TOOLS = {
    "jupyter-book",
    "pytest",
    "pytest-cov",
    "pytest-xdist",
    "hypothesis",
    "nbval",
    "sphinx-exercise",
    "sphinx-proof",
    "sphinxcontrib-bibtex",
}


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = load_tool("sync_notebooks")
course_tools = load_tool("_course")


def requirement_lines(path: Path) -> list[str]:
    lines = [
        line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
    ]
    return [line for line in lines if line]


def pins(path: Path) -> dict:
    """``{name: version}`` of the ``name==version`` lines (options and ``-e .``
    skipped).
    """
    out = {}
    for line in requirement_lines(path):
        if line.startswith("-"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert match, f"{path.name}: not pinned with ==: {line!r}"
        out[match.group(1).lower()] = match.group(2)
    return out


def git_mode(path: Path) -> str | None:
    """The mode git records for a tracked file (``100755``), or None if git
    does not track it.
    """
    try:
        out = subprocess.run(
            ["git", "ls-files", "-s", "--", str(path.relative_to(ROOT))],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.split()[0] if out.strip() else None


def test_python_is_pinned():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime), runtime
    minor = int(runtime.split(".")[1])
    required = re.search(
        r'requires-python = ">=3\.(\d+)"',
        (ROOT / "pyproject.toml").read_text(),
    )
    assert required and minor >= int(required.group(1))


def test_torch_is_the_cpu_wheel_of_the_root_version():
    lines = requirement_lines(BINDER / "requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    binder_torch = pins(BINDER / "requirements.txt")["torch"]
    root_torch = pins(ROOT / "requirements.txt")["torch"]
    assert binder_torch.endswith("+cpu"), (
        "without +cpu pip takes the multi-GB CUDA build from PyPI"
    )
    assert binder_torch.removesuffix("+cpu") == root_torch.removesuffix("+cpu")


def test_every_binder_package_is_pinned_like_the_root():
    binder = pins(BINDER / "requirements.txt")  # asserts == on every line
    root = pins(ROOT / "requirements.txt")
    assert set(binder) == RUNTIME
    for name in RUNTIME - {"torch"}:
        assert binder[name] == root[name], (
            f"{name}: binder {binder[name]}, root {root[name]}"
        )
    assert not set(binder) & BUILD_AND_TEST_TOOLS
    options = [
        line
        for line in requirement_lines(BINDER / "requirements.txt")
        if line.startswith("-")
    ]
    assert options == [
        "--extra-index-url https://download.pytorch.org/whl/cpu"
    ]  # no -e .: see postBuild


def test_post_build_installs_the_package_and_is_executable():
    post_build = BINDER / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash\n")
    assert (
        "set -euo pipefail" in text
    )  # repo2docker does not stop on a failing line otherwise
    commands = [
        line
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "python -m pip install --no-cache-dir --no-deps -e ." in commands
    mode = git_mode(post_build)
    if mode is not None:  # tracked: what a clone gets
        assert mode == "100755", "git update-index --chmod=+x binder/postBuild"
    else:  # not committed yet: git will record the working tree's bit
        assert os.stat(post_build).st_mode & stat.S_IXUSR


def test_binder_is_launchable_from_the_book():
    config = (ROOT / "_config.yml").read_text()
    assert re.search(
        r"^\s+binderhub_url:\s*https://mybinder\.org", config, flags=re.M
    )
    assert re.search(
        r"^\s+colab_url:\s*https://colab\.research\.google\.com",
        config,
        flags=re.M,
    )


def test_the_config_reader_agrees_with_yaml():
    yaml = pytest.importorskip("yaml")
    full = yaml.safe_load((ROOT / "_config.yml").read_text())
    mine = course_tools.read_config()
    for key in ("title", "author", "copyright"):
        assert mine[key] == str(full[key])

    def as_written(value):  # YAML's false is the text "false"
        return str(value).lower() if isinstance(value, bool) else str(value)

    for block in ("repository", "launch_buttons"):
        assert mine[block] == {
            k: as_written(v) for k, v in full[block].items()
        }


def test_the_package_pin_is_a_tag_or_a_commit():
    course = course_tools.Course()
    ref = course.package_ref
    assert re.fullmatch(r"[\w.\-/]+", ref), ref
    if re.fullmatch(r"v\d+(\.\d+)*", ref):  # a release tag: the least version
        version = tuple(int(p) for p in ref[1:].split("."))
        assert course.package_version == version
    else:  # a commit or another tag: only the package's identity is checked
        assert course.package_version == ()


def test_the_pin_is_not_ahead_of_the_package():
    # Otherwise every chapter's bootstrap cell would reinstall xent in a clone
    # (and fail offline).
    import xent

    found = tuple(int(n) for n in re.findall(r"\d+", xent.__version__)[:3])
    course = course_tools.Course()
    assert course.package_version <= found, (
        f"repository.package_ref {course.package_ref} is ahead of xent "
        f"{xent.__version__}"
    )


@pytest.mark.skipif(not CHAPTERS, reason="no chapters in book/ yet")
def test_every_chapter_has_its_current_generated_cells(capsys):
    assert sync.main(["--check"]) == 0, capsys.readouterr().out
    course = course_tools.Course()
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert first.metadata.get("tags", []) == [
            "bootstrap",
            "remove-cell",
        ], path.name
        assert first.source == sync.bootstrap_source(course)
        starters = [
            c for c in nb.cells if "starter" in c.metadata.get("tags", [])
        ]
        assert all(
            c.source.startswith(course_tools.NOTICE) for c in starters
        ), path.name
        links = [
            c
            for c in nb.cells
            if "exercise-links" in c.metadata.get("tags", [])
        ]
        assert len(links) == (
            1
            if any(course_tools.EXERCISE_RE.search(c.source) for c in nb.cells)
            else 0
        )
        for cell in links:
            exercise = nb.cells[nb.cells.index(cell) + 1]
            assert course_tools.EXERCISE_RE.match(exercise.source), (
                f"{path.name}: links not just before"
            )
            assert not any(
                course_tools.EXERCISE_RE.search(c.source)
                for c in nb.cells[: nb.cells.index(cell)]
            )
            targets = re.findall(r"\]\((https://[^)]+)\)", cell.source)
            assert targets[:2] == [
                course.binder(f"exercises/{path.name}"),
                course.colab_link(f"exercises/{path.name}"),
            ]
            assert (ROOT / "exercises" / path.name).exists()


def test_the_links_are_built_from_the_config():
    course = course_tools.Course(
        {
            "repository": {
                "url": "https://github.com/me/fork",
                "branch": "spring",
                "package_ref": "v1.2.3",
            },
            "launch_buttons": {},
        }
    )
    text = sync.links_source(course, "03_x.ipynb")
    assert (
        "(https://mybinder.org/v2/gh/me/fork/spring"
        "?urlpath=lab/tree/exercises/03_x.ipynb)" in text
    )
    assert (
        "(https://colab.research.google.com/github/me/fork/blob/spring/"
        "exercises/03_x.ipynb)" in text
    )
    source = sync.bootstrap_source(course)
    assert 'XENT_REF, XENT_NEEDS = "v1.2.3", (1, 2, 3)' in source
    assert 'XENT_URL = "https://github.com/me/fork"' in source
    assert max(len(line) for line in source.splitlines()) <= 79


def test_the_check_notices_a_missing_cell(tmp_path, capsys):
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text((ROOT / "_config.yml").read_text())
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell("import xent"),
    ]
    nbformat.write(nb, tmp_path / "book" / "01_x.ipynb")
    assert sync.main(["--check"], root=tmp_path) == 1
    assert "01_x.ipynb" in capsys.readouterr().out
    assert sync.main([], root=tmp_path) == 0
    assert sync.main(["--check"], root=tmp_path) == 0


# --- the bootstrap cell, run for real
# ----------------------------------------------------------


def run_bootstrap(tmp_path, *, ref=None, python_args=(), pythonpath=None):
    """Run the bootstrap cell's code as a script; pip may only fail, and only
    into tmp_path.
    """
    course = course_tools.Course()
    if ref is not None:
        course.package_ref = ref
    script = tmp_path / "bootstrap.py"
    script.write_text(sync.bootstrap_source(course))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PIP_TARGET=str(tmp_path / "target"),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_CONFIG_FILE=os.devnull,
    )
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, *python_args, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_the_bootstrap_stops_clearly_when_the_install_fails(tmp_path):
    result = run_bootstrap(
        tmp_path, python_args=["-S"]
    )  # -S: no site-packages, so no xent
    assert result.returncode == 1
    assert "xent is not installed: installing xent" in result.stdout
    message = result.stderr.strip().splitlines()
    assert any(
        line.startswith("RuntimeError: Could not install xent v")
        and "(xent is not installed)" in line
        for line in message
    ), result.stderr
    assert "Check the network and run this cell again." in result.stderr
    assert not (tmp_path / "target" / "xent").exists()


def test_the_bootstrap_refuses_an_unrelated_xent(tmp_path):
    fake = tmp_path / "fake"
    (fake / "xent").mkdir(parents=True)
    (fake / "xent" / "__init__.py").write_text(
        '__version__ = "0.5.0"\n\ndef xent(x):\n    return x\n'
    )
    result = run_bootstrap(tmp_path, pythonpath=fake)
    assert result.returncode == 1
    assert (
        f"another package named xent (0.5.0, {fake / 'xent' / '__init__.py'})"
        in result.stderr
    )
    assert "pip uninstall -y xent" in result.stderr


def test_the_bootstrap_replaces_an_old_course_xent(tmp_path):
    old = tmp_path / "old"
    (old / "xent").mkdir(parents=True)
    (old / "xent" / "__init__.py").write_text(
        '__version__ = "0.0.9"\n\ndef softmax_cross_entropy():\n    pass\n'
    )
    (old / "xent" / "check.py").write_text("")
    result = run_bootstrap(tmp_path, pythonpath=old)
    assert result.returncode == 1
    assert "(xent 0.0.9 is older than v" in result.stderr


def test_the_bootstrap_does_nothing_where_the_course_xent_is_installed(
    tmp_path,
):
    import xent

    result = run_bootstrap(
        tmp_path, ref=f"v{xent.__version__}", pythonpath=ROOT
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
