"""Tests of tools/make_student.py: student copies keep the exercises and lose every solution.

A small synthetic chapter, written here by the conventions of CONTRIBUTING.md, is turned into a
student copy and executed top to bottom in a fresh kernel: the check cells run against the stubs
and report "not implemented yet" without raising. Every real chapter of book/ is turned into a
student copy, checked for leftovers of its solutions, and executed in a fresh kernel up to its
first exercise stub (the first unsolved exercise): removing the solutions must not break the
chapter before it. ``XENT_STUDENT_EXECUTE=0`` skips that execution for a quick local run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = load_tool("make_student")
sync_bootstrap = load_tool("sync_bootstrap")

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
MARKERS = ("{solution-start}", "{solution-end}", "{solution")


def md(source, tags=()):
    return nbformat.v4.new_markdown_cell(source, metadata={"tags": list(tags)} if tags else {})


def code(source, tags=()):
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})


def solution_block(label, explanation, source):
    return [
        md(f"```{{solution-start}} {label}\n:class: dropdown\n```\n{explanation}", ["solution"]),
        code(source, ["solution"]),
        md("```{solution-end}\n```", ["solution"]),
    ]


SOFTMAX_SOLUTION = (
    "def my_softmax(z):\n"
    "    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
    "    return e / e.sum(axis=-1, keepdims=True)"
)
LOGSUMEXP_SOLUTION = (
    "def my_logsumexp(z):\n"
    "    m = z.max(axis=-1, keepdims=True)\n"
    "    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]"
)


def synthetic_chapter() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        md("# 99. A synthetic chapter\n\nFor the tests of the student copies."),
        code(sync_bootstrap.bootstrap_source(sync_bootstrap.repository_url()), ["bootstrap", "remove-cell"]),
        code("import numpy as np\nimport xent\n\nnp.set_printoptions(precision=4, suppress=True)"),
        code("print(xent.softmax(np.array([0.0, 0.0])))"),
        md("## Exercises\n\n```{exercise} Reading\n:label: ch99-reading\n\nWhat is softmax([0, 0])?\n```"),
        *solution_block("ch99-reading", "Both logits are equal.", "reading_answer = xent.softmax([0.0, 0.0])\nprint(reading_answer)"),
        md("```{exercise} Softmax\n:label: ch99-softmax\n\nWrite `my_softmax(z)`.\n```"),
        code("def my_softmax(z):\n    ...  # your code here", ["starter", "remove-cell"]),
        *solution_block("ch99-softmax", "Subtract the row maximum.", SOFTMAX_SOLUTION),
        code("from xent.check import check_softmax\ncheck_softmax(my_softmax)"),
        md("```{exercise} Log-sum-exp\n:label: ch99-lse\n\nWrite `my_logsumexp(z)`.\n```"),
        code("def my_logsumexp(z):\n    raise NotImplementedError  # your code here", ["starter", "remove-cell"]),
        *solution_block("ch99-lse", "The same shift.", LOGSUMEXP_SOLUTION),
        code("from xent.check import check_logsumexp\ncheck_logsumexp(my_logsumexp)"),
    ]
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="[0.5 0.5]\n")]
    nb.cells[3].execution_count = 3
    return nb


def tags(cell) -> list:
    return cell.metadata.get("tags", [])


def assert_no_solution_left(book: nbformat.NotebookNode, student: nbformat.NotebookNode) -> None:
    nbformat.validate(student)
    assert not any("solution" in tags(c) for c in student.cells)
    for cell in student.cells:
        for marker in MARKERS:
            assert marker not in cell.source, f"{marker!r} left in {cell.source[:60]!r}"
    solutions = [c.source.strip() for c in book.cells if "solution" in tags(c) and c.source.strip()]
    for source in solutions:
        assert not any(source in c.source for c in student.cells), f"solution left: {source[:60]!r}"
    # everything else is kept, in order, without outputs
    kept = [c.source for c in book.cells if "solution" not in tags(c)]
    assert [c.source for c in student.cells] == kept
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in student.cells if c.cell_type == "code")
    starters = [c for c in student.cells if "starter" in tags(c)]
    assert len(starters) == sum("starter" in tags(c) for c in book.cells)
    assert all("remove-cell" not in tags(c) for c in starters)


def execute(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 120) -> nbformat.NotebookNode:
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text_outputs(cell) -> str:
    parts = []
    for out in cell.outputs:
        assert out.output_type != "error", out
        assert not (out.output_type == "stream" and out.name == "stderr"), out.text
        if out.output_type == "stream":
            parts.append(out.text)
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def synthetic(tmp_path):
    path = tmp_path / "book" / "99_synthetic.ipynb"
    path.parent.mkdir()
    nb = synthetic_chapter()
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def test_synthetic_student_copy(synthetic, tmp_path):
    out = tmp_path / "student"
    assert make_student.main(["--out", str(out), str(synthetic)]) == 0
    book = nbformat.read(synthetic, as_version=4)
    student = nbformat.read(out / synthetic.name, as_version=4)
    assert_no_solution_left(book, student)
    assert len(student.cells) == len(book.cells) - 9
    starters = [c for c in student.cells if "starter" in tags(c)]
    assert [tags(c) for c in starters] == [["starter"], ["starter"]]
    assert sum("check_softmax(my_softmax)" in c.source for c in student.cells) == 1
    assert tags(student.cells[1]) == ["bootstrap", "remove-cell"]  # the website tag of other cells stays


def test_synthetic_student_copy_runs_and_checks_report_not_implemented(synthetic, tmp_path):
    out = tmp_path / "student"
    make_student.write_student_copies([synthetic], out)
    student = execute(nbformat.read(out / synthetic.name, as_version=4), out)
    checks = [c for c in student.cells if "xent.check import" in c.source]
    assert text_outputs(checks[0]) == (
        "✗ check_softmax: not implemented yet (my_softmax returned None; if you did write it, "
        "check for a missing `return`)"
    )
    assert text_outputs(checks[1]).startswith(
        "✗ check_logsumexp: not implemented yet (my_logsumexp raised NotImplementedError)")
    for cell in student.cells:
        if cell.cell_type == "code":
            text_outputs(cell)  # no errors, nothing on stderr


def test_synthetic_book_with_solutions_passes_its_checks(synthetic, tmp_path):
    book = execute(nbformat.read(synthetic, as_version=4), synthetic.parent)
    checks = [c for c in book.cells if "xent.check import" in c.source]
    assert text_outputs(checks[0]) == "✓ check_softmax: all checks passed"
    assert text_outputs(checks[1]).startswith("✓ check_logsumexp: all required checks passed")


def test_cli_writes_copies(synthetic, tmp_path):
    out = tmp_path / "copies"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_student.py"), "--out", str(out), str(synthetic)],
                            capture_output=True, text=True, check=True)
    assert result.stdout == f"wrote {out / synthetic.name}\n" and result.stderr == ""


def test_an_untagged_solution_cell_is_refused(synthetic, tmp_path, capsys):
    nb = nbformat.read(synthetic, as_version=4)
    end = next(i for i, c in enumerate(nb.cells) if c.source.startswith("```{solution-end}"))
    nb.cells[end].metadata["tags"] = []
    nbformat.write(nb, synthetic)
    with pytest.raises(make_student.SolutionLeft, match=r"cell \d+ \(markdown\) still contains \{solution-end\}"):
        make_student.student_copy(nb)
    out = tmp_path / "student"
    assert make_student.main(["--out", str(out), str(synthetic)]) == 1
    assert "99_synthetic.ipynb: cell" in capsys.readouterr().err
    assert not (out / synthetic.name).exists()


def test_student_copy_leaves_its_argument_alone():
    nb = synthetic_chapter()
    before = nbformat.writes(nb)
    make_student.student_copy(nb)
    assert nbformat.writes(nb) == before


@pytest.mark.skipif(not CHAPTERS, reason="no chapters in book/ yet")
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_real_chapter_student_copy(chapter, tmp_path):
    (target,) = make_student.write_student_copies([chapter], tmp_path)
    book = nbformat.read(chapter, as_version=4)
    student = nbformat.read(target, as_version=4)
    assert_no_solution_left(book, student)
    if os.environ.get("XENT_STUDENT_EXECUTE", "1") != "0":
        first = next((i for i, c in enumerate(student.cells) if "starter" in tags(c)), len(student.cells))
        student.cells = student.cells[:first]
        for cell in execute(student, ROOT / "book", timeout=300).cells:
            if cell.cell_type == "code":
                text_outputs(cell)
