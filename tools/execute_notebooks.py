"""Re-execute chapters and store their outputs in place (never hand-edited).

    python tools/execute_notebooks.py                 # every chapter in book/
    python tools/execute_notebooks.py book/01_*.ipynb # some

Runs each notebook top to bottom in a fresh kernel with one thread (as `make
test` does), stores the outputs, drops volatile metadata, and prints the wall
time of each notebook. A folder argument stands for its notebooks.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    paths = []
    for arg in argv or [
        str(ROOT / "book")
    ]:  # a folder stands for its notebooks
        path = Path(arg)
        paths += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    for path in paths:
        print(f"{path}: {execute(path.resolve()):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
