"""Tests of tools/make_student.py: student copies keep the exercises and lose
every solution.

A small synthetic chapter, written here by the conventions of CONTRIBUTING.md,
is turned into a student copy and executed top to bottom in a fresh kernel: the
check cells run against the stubs and report "not implemented yet" without
raising. A learner's changed copy survives making the copies again. Every real
chapter of book/ is turned into a student copy, checked for leftovers of its
solutions, and executed to its END in a fresh kernel from exercises/ (where
Binder opens it), with the stubs untouched: any error output fails, and every
failing cell is listed. ``XENT_STUDENT_EXECUTE=0`` skips that execution for a
quick local run.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = load_tool("make_student")
sync_notebooks = load_tool("sync_notebooks")
course_tools = load_tool("_course")
COURSE = course_tools.Course()
# The synthetic chapter pins the xent of this clone, so that its bootstrap cell
# does nothing whatever repository.package_ref says (tests/test_binder.py tests
# the cell itself).
LOCAL = course_tools.Course()
LOCAL.package_ref = "v" + importlib.import_module("xent").__version__

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
MARKERS = ("{solution-start}", "{solution-end}", "{solution")


def md(source, tags=()):
    return nbformat.v4.new_markdown_cell(
        source, metadata={"tags": list(tags)} if tags else {}
    )


def code(source, tags=()):
    return nbformat.v4.new_code_cell(
        source, metadata={"tags": list(tags)} if tags else {}
    )


def solution_block(label, explanation, source):
    return [
        md(
            f"```{{solution-start}} {label}\n:class: dropdown\n```\n"
            f"{explanation}",
            ["solution"],
        ),
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
    "    s = np.exp(z - m).sum(axis=-1, keepdims=True)\n"
    "    return (m + np.log(s))[..., 0]"
)


def synthetic_chapter() -> nbformat.NotebookNode:
    """A chapter as the authors write it, before tools/sync_notebooks.py has
    run.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        md("# A synthetic chapter\n\nFor the tests of the student copies."),
        code(
            "import numpy as np\nimport xent\n\n"
            "np.set_printoptions(precision=4, suppress=True)"
        ),
        code("print(xent.softmax(np.array([0.0, 0.0])))"),
        md(
            "## Exercises\n\n```{exercise} Reading\n:label: ch99-reading\n\n"
            "What is softmax([0, 0])?\n```"
        ),
        *solution_block(
            "ch99-reading",
            "Both logits are equal.",
            "reading_answer = xent.softmax([0.0, 0.0])\nprint(reading_answer)",
        ),
        md(
            "```{exercise} Softmax\n:label: ch99-softmax\n\n"
            "Write `my_softmax(z)`.\n```"
        ),
        code(
            "def my_softmax(z):\n    ...  # your code here",
            ["starter", "remove-cell"],
        ),
        *solution_block(
            "ch99-softmax", "Subtract the row maximum.", SOFTMAX_SOLUTION
        ),
        code(
            "from xent.check import check_softmax\ncheck_softmax(my_softmax)"
        ),
        md(
            "```{exercise} Log-sum-exp\n:label: ch99-lse\n\n"
            "Write `my_logsumexp(z)`.\n```"
        ),
        code(
            "def my_logsumexp(z):\n"
            "    raise NotImplementedError  # your code here",
            ["starter", "remove-cell"],
        ),
        *solution_block("ch99-lse", "The same shift.", LOGSUMEXP_SOLUTION),
        code(
            "from xent.check import check_logsumexp\n"
            "check_logsumexp(my_logsumexp)"
        ),
    ]
    nb.cells[2].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="[0.5 0.5]\n")
    ]
    nb.cells[2].execution_count = 3
    return nbformat.from_dict(
        sync_notebooks.synced(nb, "99_synthetic.ipynb", LOCAL)
    )


def tags(cell) -> list:
    return cell.metadata.get("tags", [])


def assert_no_solution_left(
    book: nbformat.NotebookNode, student: nbformat.NotebookNode
) -> None:
    nbformat.validate(student)
    assert not any("solution" in tags(c) for c in student.cells)
    for cell in student.cells:
        for marker in MARKERS:
            assert marker not in cell.source, (
                f"{marker!r} left in {cell.source[:60]!r}"
            )
    solutions = [
        c.source.strip()
        for c in book.cells
        if "solution" in tags(c) and c.source.strip()
    ]
    for source in solutions:
        assert not any(source in c.source for c in student.cells), (
            f"solution left: {source[:60]!r}"
        )
    # the attribution first, then everything else, in order, without outputs,
    # notices or links
    assert (
        student.cells[0].id == "attribution"
        and "CC BY 4.0" in student.cells[0].source
    )
    kept = [
        make_student.strip_notice(c.source)
        for c in book.cells
        if "solution" not in tags(c) and "exercise-links" not in tags(c)
    ]
    assert [c.source for c in student.cells[1:]] == kept
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in student.cells
        if c.cell_type == "code"
    )
    starters = [c for c in student.cells if "starter" in tags(c)]
    assert len(starters) == sum("starter" in tags(c) for c in book.cells)
    assert all("remove-cell" not in tags(c) for c in starters)
    assert not any("[solved copy]" in c.source for c in student.cells)


def execute(
    nb: nbformat.NotebookNode, cwd: Path, timeout: int = 120
) -> nbformat.NotebookNode:
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(cwd)}},
    ).execute()
    return nb


def errors(nb: nbformat.NotebookNode) -> list[str]:
    """One line per error output: the cell's index (after the attribution) and
    the exception.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                first = (
                    cell.source.strip().splitlines()[0]
                    if cell.source.strip()
                    else ""
                )
                found.append(
                    f"cell {index} ({first[:50]!r}): "
                    f"{out.ename}: {out.evalue[:200]}"
                )
    return found


def text_outputs(cell) -> str:
    parts = []
    for out in cell.outputs:
        assert out.output_type != "error", out
        assert not (out.output_type == "stream" and out.name == "stderr"), (
            out.text
        )
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


def test_the_synthetic_chapter_has_its_generated_cells(synthetic):
    book = nbformat.read(synthetic, as_version=4)
    bootstrap = next(c for c in book.cells if c.cell_type == "code")
    assert tags(bootstrap) == ["bootstrap", "remove-cell"]
    heading = next(
        i for i, c in enumerate(book.cells) if c.source == "## Exercises"
    )
    links = book.cells[heading + 1]
    assert tags(links) == ["exercise-links"]
    assert "exercises/99_synthetic.ipynb" in links.source
    assert book.cells[heading + 2].source.startswith("```{exercise} Reading")
    starters = [c for c in book.cells if "starter" in tags(c)]
    assert all(c.source.startswith(course_tools.NOTICE) for c in starters)
    # idempotent: a second pass changes nothing
    assert sync_notebooks._same(
        sync_notebooks.synced(book, synthetic.name, LOCAL), book
    )


def test_synthetic_student_copy(synthetic, tmp_path):
    out = tmp_path / "student"
    assert make_student.main(["--out", str(out), str(synthetic)]) == 0
    book = nbformat.read(synthetic, as_version=4)
    student = nbformat.read(out / synthetic.name, as_version=4)
    assert_no_solution_left(book, student)
    assert (
        len(student.cells) == len(book.cells) - 9 - 1 + 1
    )  # solutions, links out; attribution in
    starters = [c for c in student.cells if "starter" in tags(c)]
    assert [tags(c) for c in starters] == [["starter"], ["starter"]]
    assert (
        starters[0].source == "def my_softmax(z):\n    ...  # your code here"
    )
    assert (
        sum("check_softmax(my_softmax)" in c.source for c in student.cells)
        == 1
    )
    assert tags(student.cells[2]) == [
        "bootstrap",
        "remove-cell",
    ]  # the website tag of other cells stays
    attribution = student.cells[0].source
    for needed in (
        "“A synthetic chapter”",
        COURSE.title,
        COURSE.author,
        COURSE.url,
        COURSE.blob("book/99_synthetic.ipynb"),
        "https://creativecommons.org/licenses/by/4.0/",
        COURSE.blob("LICENSE"),
        "MIT license",
        "worked solutions removed",
    ):
        assert needed in attribution, needed


def test_copies_are_written_as_nbformat_writes_them(synthetic, tmp_path):
    (target,), _ = make_student.write_student_copies([synthetic], tmp_path)
    text = target.read_text(encoding="utf-8")
    assert text == nbformat.writes(nbformat.read(target, as_version=4)) + "\n"


def test_synthetic_student_copy_runs_and_checks_report_not_implemented(
    synthetic, tmp_path
):
    out = tmp_path / "student"
    make_student.write_student_copies([synthetic], out)
    student = execute(nbformat.read(out / synthetic.name, as_version=4), out)
    assert errors(student) == []
    checks = [c for c in student.cells if "xent.check import" in c.source]
    assert text_outputs(checks[0]) == (
        "✗ check_softmax: not implemented yet (my_softmax returned None; "
        "if you did write it, "
        "check for a missing `return`)"
    )
    assert text_outputs(checks[1]).startswith(
        "✗ check_logsumexp: not implemented yet "
        "(my_logsumexp raised NotImplementedError)"
    )
    for cell in student.cells:
        if cell.cell_type == "code":
            text_outputs(cell)  # no errors, nothing on stderr


def test_synthetic_book_with_solutions_passes_its_checks(synthetic, tmp_path):
    book = execute(nbformat.read(synthetic, as_version=4), synthetic.parent)
    assert errors(book) == []
    checks = [c for c in book.cells if "xent.check import" in c.source]
    assert text_outputs(checks[0]) == "✓ check_softmax: all checks passed"
    assert text_outputs(checks[1]).startswith(
        "✓ check_logsumexp: all required checks passed"
    )


def test_cli_writes_copies(synthetic, tmp_path):
    out = tmp_path / "copies"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "make_student.py"),
            "--out",
            str(out),
            str(synthetic),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        result.stdout == f"wrote {out / synthetic.name}\n"
        and result.stderr == ""
    )


def test_make_student_needs_only_the_standard_library(synthetic, tmp_path):
    # -S: no site-packages (no nbformat, no nbconvert), -I: no PYTHONPATH
    out = tmp_path / "copies"
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-I",
            str(ROOT / "tools" / "make_student.py"),
            "--out",
            str(out),
            str(synthetic),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (out / synthetic.name).exists()


def edit_stub(path: Path, new_source: str) -> None:
    nb = nbformat.read(path, as_version=4)
    next(c for c in nb.cells if "starter" in tags(c)).source = new_source
    nbformat.write(nb, path)


def test_a_learners_changed_copy_is_never_overwritten(
    synthetic, tmp_path, capsys
):
    out = tmp_path / "student"
    other = synthetic.with_name("98_other.ipynb")
    other.write_text(synthetic.read_text())
    assert (
        make_student.main(["--out", str(out), str(synthetic), str(other)]) == 0
    )
    mine = "def my_softmax(z):\n    return np.exp(z) / np.exp(z).sum()  # mine"
    edit_stub(out / synthetic.name, mine)
    edited = (out / synthetic.name).read_bytes()
    # the chapter changes (say, after git pull): the untouched copy follows,
    # the edited one stays
    for chapter in (synthetic, other):
        nb = nbformat.read(chapter, as_version=4)
        nb.cells[0].source += "\n\nA new sentence."
        nbformat.write(nb, chapter)
    capsys.readouterr()
    assert (
        make_student.main(["--out", str(out), str(synthetic), str(other)]) == 0
    )
    captured = capsys.readouterr()
    assert (out / synthetic.name).read_bytes() == edited
    assert "A new sentence." in (out / other.name).read_text()
    assert f"wrote {out / other.name}" in captured.out
    assert (
        "kept 1 copy you changed" in captured.err
        and str(out / synthetic.name) in captured.err
    )
    # once more, with nothing new: still kept, nothing written
    assert (
        make_student.main(["--out", str(out), str(synthetic), str(other)]) == 0
    )
    captured = capsys.readouterr()
    assert captured.out == "" and str(out / synthetic.name) in captured.err
    assert (out / synthetic.name).read_bytes() == edited


def test_a_copy_without_a_record_is_kept_if_it_differs(
    synthetic, tmp_path, capsys
):
    # student/ made by an older make_student.py, which kept no record: a copy
    # that differs from the fresh one is taken for the learner's work
    out = tmp_path / "student"
    out.mkdir()
    (out / synthetic.name).write_text('{"learner": "work"}')
    assert make_student.main(["--out", str(out), str(synthetic)]) == 0
    assert (out / synthetic.name).read_text() == '{"learner": "work"}'
    assert str(out / synthetic.name) in capsys.readouterr().err


def test_make_clean_keeps_student_work():
    out = subprocess.run(
        ["make", "-n", "clean"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "rm -rf" in out and "student" not in out


def test_exercises_are_regenerated_and_checked(synthetic, tmp_path):
    folder = tmp_path / "exercises"
    assert make_student.sync_exercises([synthetic], folder, check=True) == [
        synthetic.name
    ]
    assert make_student.sync_exercises([synthetic], folder) == [synthetic.name]
    assert make_student.sync_exercises([synthetic], folder, check=True) == []
    (folder / "00_gone.ipynb").write_text("{}")
    edit_stub(folder / synthetic.name, "def my_softmax(z):\n    return z")
    assert make_student.sync_exercises([synthetic], folder, check=True) == [
        synthetic.name,
        "00_gone.ipynb (no chapter)",
    ]
    # some chapters only: the others' copies stay
    make_student.sync_exercises([synthetic], folder, prune=False)
    assert (folder / "00_gone.ipynb").exists()
    make_student.sync_exercises([synthetic], folder)
    assert sorted(p.name for p in folder.iterdir()) == [synthetic.name]
    assert make_student.sync_exercises([synthetic], folder, check=True) == []


def test_an_untagged_solution_cell_is_refused(synthetic, tmp_path, capsys):
    nb = nbformat.read(synthetic, as_version=4)
    end = next(
        i
        for i, c in enumerate(nb.cells)
        if c.source.startswith("```{solution-end}")
    )
    nb.cells[end].metadata["tags"] = []
    nbformat.write(nb, synthetic)
    with pytest.raises(
        make_student.SolutionLeft,
        match=r"cell \d+ \(markdown\) still contains \{solution-end\}",
    ):
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
def test_the_exercises_folder_is_up_to_date():
    stale = make_student.sync_exercises(
        CHAPTERS, ROOT / "exercises", check=True
    )
    assert not stale, f"run `make exercises` and commit exercises/: {stale}"


@pytest.mark.skipif(not CHAPTERS, reason="no chapters in book/ yet")
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_real_chapter_student_copy_runs_to_its_end(chapter, tmp_path):
    (target,), _ = make_student.write_student_copies([chapter], tmp_path)
    book = nbformat.read(chapter, as_version=4)
    student = nbformat.read(target, as_version=4)
    assert_no_solution_left(book, student)
    if os.environ.get("XENT_STUDENT_EXECUTE", "1") == "0":
        return
    # Run from exercises/, where Binder opens the copy (and student/ is at the
    # same depth).
    executed = execute(student, ROOT / "exercises", timeout=300)
    failed = errors(executed)
    assert not failed, (
        f"{chapter.name}: the student copy (stubs untouched) fails; call "
        "the xent.check checker "
        "first and guard hand-written checks against None:\n"
        + "\n".join(failed)
    )
    last = next(c for c in reversed(executed.cells) if c.cell_type == "code")
    assert last.get("execution_count") is not None, (
        "the copy did not run to its end"
    )


def test_record_is_json(synthetic, tmp_path):
    make_student.write_student_copies([synthetic], tmp_path)
    record = json.loads((tmp_path / ".make_student.json").read_text())
    assert (
        list(record) == [synthetic.name] and len(record[synthetic.name]) == 64
    )
