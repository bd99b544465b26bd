"""`make lab`: the learner's one command. It makes the copies and opens
JupyterLab on them, with jupyterlab-myst enabled (so that {exercise} and
{prf:...} render, not as raw code).

The real command is started (in the environment running these tests, which
`make lab` would have created), with the copies in a temporary folder, and must
serve JupyterLab within a minute; then it is stopped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent
JUPYTER = VENV / "bin" / "jupyter"
STAMP = VENV / ".installed"
needs_jupyter = pytest.mark.skipif(
    not JUPYTER.exists(), reason="no jupyter in this environment"
)


def make(*args, **kwargs):
    # -o: take the environment as built (never reinstall it from a test)
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            str(STAMP),
            f"VENV={VENV}",
            *args,
        ],
        cwd=ROOT,
        **kwargs,
    )


def test_make_lab_makes_the_copies_then_opens_jupyterlab_on_them():
    out = make(
        "-n", "lab", capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        f"{VENV}/bin/python tools/make_student.py --out student",
        f"{VENV}/bin/jupyter lab --ServerApp.root_dir=student ",
    ]


def test_make_student_needs_no_environment():
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "student"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines() == [
        "python3 tools/make_student.py --out student"
    ]


@needs_jupyter
def test_jupyterlab_myst_is_enabled():
    out = subprocess.run(
        [str(JUPYTER), "labextension", "list"], capture_output=True, text=True
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.stdout + out.stderr)
    assert re.search(r"jupyterlab-myst v\S+ enabled OK", text), text
    assert "is not compatible with the current JupyterLab" not in text, text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_jupyter
def test_make_lab_serves_jupyterlab_on_the_copies(tmp_path):
    port = free_port()
    folder = tmp_path / "student"
    args = (
        f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 "
        "--IdentityProvider.token=xent-test"
    )
    if (
        os.geteuid() == 0
    ):  # CI runs as root, which JupyterLab refuses unless told
        args += " --allow-root"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(
        [
            "make",
            "-o",
            str(STAMP),
            f"VENV={VENV}",
            f"STUDENT_DIR={folder}",
            f"LAB_ARGS={args}",
            "lab",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/lab?token=xent-test", timeout=5
                ) as r:
                    status, page = (
                        r.status,
                        r.read().decode("utf-8", "replace"),
                    )
                break
            except OSError:
                time.sleep(1)
        if status != 200:
            stop(proc)
            pytest.fail(
                f"JupyterLab did not answer on port {port}:\n"
                f"{proc.stdout.read()[-3000:]}"
            )
        assert "JupyterLab" in page
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/contents?token=xent-test", timeout=10
        ) as r:
            listing = r.read().decode()
        chapters = sorted(p.name for p in (ROOT / "book").glob("*.ipynb"))
        assert chapters and all(
            name in listing for name in chapters
        )  # the copies, at its root
        assert sorted(p.name for p in folder.glob("*.ipynb")) == chapters
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End make and JupyterLab (their own process group, the test's)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
