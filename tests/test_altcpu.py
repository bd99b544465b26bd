"""tools/altcpu.py: the alternative CPU configuration of `make test` takes
effect, and the tool notices when it does not (numpy ignores a name that is
not one of its targets, silently, for instance)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "altcpu", ROOT / "tools" / "altcpu.py"
)
altcpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(altcpu)


def test_numpy_targets_are_read_from_numpy():
    from numpy._core._multiarray_umath import __cpu_dispatch__

    assert altcpu.numpy_targets() == list(__cpu_dispatch__)
    env = altcpu.environment()
    assert env["NPY_DISABLE_CPU_FEATURES"] == " ".join(__cpu_dispatch__)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert (
        "OPENBLAS_CORETYPE" not in env
    )  # the machine's setting stays (tools/altcpu.py)


def test_the_configuration_takes_effect():
    problems, _ = altcpu.check(altcpu.environment())
    assert problems == []


def test_an_ineffective_configuration_is_refused():
    pytest.importorskip("torch")
    env = {
        **altcpu.environment(),
        "ATEN_CPU_CAPABILITY": "",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX",
    }  # names numpy 2.4 ignores
    env.pop("ATEN_CPU_CAPABILITY")
    problems, _ = altcpu.check(env)
    text = "\n".join(problems)
    assert "PyTorch uses 1 threads, not 2" in text
    assert "OpenBLAS uses 1 threads, not 2" in text
    if altcpu.numpy_targets():
        assert "numpy still dispatches to" in text


def test_the_command_runs_under_the_configuration():
    code = (
        "import os, torch; print(os.environ['ATEN_CPU_CAPABILITY'], "
        "torch.backends.cpu.get_cpu_capability())"
    )
    pytest.importorskip("torch")
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "altcpu.py"),
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert (
        out[0].startswith("altcpu: checked") and out[-1] == "default DEFAULT"
    )
