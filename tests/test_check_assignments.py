"""tools/make_assignments.py: otter-grader assignments built from the chapters.

The master notebook is checked for every chapter (fast, no otter). One chapter
is then built with ``otter assign`` and graded with ``otter run``: its worked
solutions get full marks, the untouched student notebook zero on the coding
questions, and a classic mistake partial marks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import make_assignments as ma  # noqa: E402

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
OTTER = Path(sys.executable).with_name("otter")


def _question_names(items):
    return [q.name for q in items if isinstance(q, ma.Question)]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_master_notebook_follows_the_chapter(path):
    nb = nbformat.read(path, as_version=4)
    items = ma.parse_chapter(nb)
    questions = [q for q in items if isinstance(q, ma.Question)]
    exercises = [c for c in nb.cells if ma._is_exercise(c)]
    assert len(questions) == len(exercises)  # every exercise is a question
    master = ma.master_notebook(nb, path.stem)
    text = "\n".join(c.source for c in master.cells)
    assert master.cells[0].source.startswith("# ASSIGNMENT CONFIG")
    assert text.count("# BEGIN QUESTION") == len(questions)
    assert text.count("# END QUESTION") == len(questions)
    # nothing the student copy must not show is outside a solution block
    for marker in ("{solution-start}", "{solution-end}", "{exercise}"):
        assert marker not in text
    for q in questions:
        if q.manual:
            continue
        assert q.starters, f"{q.label}: a checked exercise without a stub"
        assert "test_public_0" in text and "test_hidden_0" in text
    if any(q.numpy_only and not q.manual for q in questions):
        assert "test_numpy_only_0" in text
    # every untagged, non-exercise cell of the chapter is kept, in order
    plain = [c.source for c in items if not isinstance(c, ma.Question)]
    kept = iter(c.source for c in master.cells)
    assert all(source in kept for source in plain)  # a subsequence


def test_checked_exercises_are_found_by_content():
    nb = nbformat.read(ROOT / "book" / "06_kl_divergence.ipynb", as_version=4)
    (q,) = [
        q
        for q in ma.parse_chapter(nb)
        if isinstance(q, ma.Question) and not q.manual
    ]
    assert q.calls == [("check_kl_divergence", "my_kl_divergence")]
    assert q.numpy_only  # its statement says NumPy only
    nb = nbformat.read(ROOT / "book" / "05_gradients.ipynb", as_version=4)
    (q,) = [
        q
        for q in ma.parse_chapter(nb)
        if isinstance(q, ma.Question) and not q.manual
    ]
    assert not q.numpy_only  # this one may call xent.softmax


def _run(autograder: Path, notebook: Path, out: Path) -> subprocess.Popen:
    out.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env["MPLBACKEND"] = "Agg"
    return subprocess.Popen(
        [
            str(OTTER),
            "run",
            "-a",
            str(autograder),
            "-o",
            str(out),
            "--no-logo",
            str(notebook),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _scores(out: Path) -> dict:
    results = json.loads((out / "results.json").read_text())
    return {
        t["name"]: (t["score"], t["max_score"])
        for t in results["tests"]
        if "score" in t
    }


@pytest.mark.skipif(not OTTER.exists(), reason="otter-grader not installed")
def test_otter_grades_solutions_stubs_and_a_classic_mistake(tmp_path):
    name = "06_kl_divergence"
    chapter = ROOT / "book" / f"{name}.ipynb"
    folder = ma.build(chapter, tmp_path, only_exercises=True)
    dist = folder / "dist"
    (autograder,) = (dist / "autograder").glob("*.zip")
    student = dist / "student" / f"{name}.ipynb"
    solutions = dist / "autograder" / f"{name}.ipynb"
    # a classic mistake: log(p / q), which overflows for a subnormal q
    mistake = nbformat.read(student, as_version=4)
    stub = "def my_kl_divergence(p, q):"
    (cell,) = [c for c in mistake.cells if stub in c.source]
    cell.source = (
        f"{stub}\n"
        "    p, q = np.asarray(p), np.asarray(q)\n"
        "    with np.errstate(divide='ignore', invalid='ignore'):\n"
        "        t = np.where(p > 0, p * np.log(p / q), 0.0)\n"
        "    return t.sum(axis=-1)\n"
    )
    submissions = {}
    for kind, nb_path in (("solutions", solutions), ("student", student)):
        target = tmp_path / kind / f"{name}.ipynb"
        target.parent.mkdir()
        shutil.copy(nb_path, target)
        submissions[kind] = target
    target = tmp_path / "mistake" / f"{name}.ipynb"
    target.parent.mkdir()
    nbformat.write(mistake, target)
    submissions["mistake"] = target
    runs = {
        kind: _run(autograder, path, tmp_path / f"out_{kind}")
        for kind, path in submissions.items()
    }
    for kind, proc in runs.items():
        output = proc.communicate(timeout=600)[0].decode()
        assert proc.returncode == 0, f"{kind}:\n{output}"
    full = _scores(tmp_path / "out_solutions")
    assert full == {"ch06_implement": (4, 4)}, full
    zero = _scores(tmp_path / "out_student")
    assert zero == {"ch06_implement": (0, 4)}, zero
    partial = _scores(tmp_path / "out_mistake")
    score, total = partial["ch06_implement"]
    assert total == 4 and 0 < score < 4, partial
