"""Build an otter-grader assignment for every chapter with coding exercises.

    python tools/make_assignments.py                       # every chapter
    python tools/make_assignments.py book/05_gradients.ipynb --out DIR
    python tools/make_assignments.py --no-assign ...       # masters only

For each chapter this writes ``assignments/<chapter>/<chapter>.ipynb``, an
otter-grader 7 *master notebook*, and runs ``otter assign`` on it, which
writes otter's standard layout:

- ``assignments/<chapter>/dist/student/<chapter>.ipynb``: the student
  notebook, with a ``grader.check("<question>")`` cell after each question;
- ``assignments/<chapter>/dist/autograder/``: the solutions notebook and
  ``autograder.zip`` for Gradescope or ``otter run``.

The master is built from the chapter's own cells, tagged as for the website
and the student copies (see CONTRIBUTING.md), so there is no second copy of
any exercise:

- an ``{exercise}`` markdown cell with a ``:label:`` starts a question named
  after the label (``ch05-implement`` becomes ``ch05_implement``);
- its stub (tagged ``starter``) becomes otter's prompt, its worked solution
  (the cells tagged ``solution``) otter's solution;
- a question is autograded when the untagged code cells that follow its
  ``{solution-end}`` call an :mod:`xent.check` checker (found by reading the
  code, not by a tag). Each call ``check_x(fn)`` gives a public test (the
  checker itself, 2 points) and a hidden one (the same checker on cases it
  does not show: random inputs from a seed fixed here, 1 point); an exercise
  whose text says NumPy only gets a hidden test that the function does not
  call the :mod:`xent` library (:func:`xent.check.library_calls`, 1 point);
- every other exercise is a manually graded question (2 points) whose
  worked solution is the grader's key;
- every other cell of the chapter is kept as it is, so that the exercises
  run in the chapter's context.

The autograder gets a copy of the :mod:`xent` package and a requirements
file with the course's pins (``dist/autograder/autograder.zip``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "assignments"
SOLUTION_TAG = "solution"
STARTER_TAG = "starter"
POINTS_PUBLIC, POINTS_HIDDEN, POINTS_NUMPY_ONLY, POINTS_MANUAL = 2, 1, 1, 2
NUMPY_ONLY = re.compile(
    r"numpy only|only numpy|not `?xent`?|without `?xent`?", re.IGNORECASE
)
# The autograder's environment: these pins of requirements.txt (the
# chapters' imports), plus the xent package copied into the zip.
AUTOGRADER_PACKAGES = ("numpy", "scipy", "matplotlib", "scikit-learn", "torch")
SEED = 20261202

# Hidden cases: inputs the public checkers never show, as source code run in
# the hidden test (``rng`` is a seeded numpy Generator there).
HIDDEN_CASES = {
    "check_softmax": "one",
    "check_log_softmax": "one",
    "check_logsumexp": "one",
    "check_softmax_cross_entropy": "targets",
    "check_softmax_cross_entropy_grad": "targets",
    "check_binary_cross_entropy_with_logits": "binary_logits",
    "check_binary_cross_entropy": "binary_probs",
    "check_entropy": "distribution",
    "check_cross_entropy": "two_distributions",
    "check_kl_divergence": "two_distributions",
    "check_label_smoothing": "smoothing",
}
HIDDEN_SOURCE = {
    "one": [
        (
            "random logits of scale 300, shape (6, 7)",
            "(rng.normal(0.0, 300.0, (6, 7)),)",
        ),
        (
            "random float32 logits, shape (2, 3, 5)",
            "(rng.normal(0.0, 30.0, (2, 3, 5)).astype(np.float32),)",
        ),
    ],
    "targets": [
        (
            "random logits of scale 300, 6 examples, 7 classes",
            "(rng.normal(0.0, 300.0, (6, 7)), rng.integers(0, 7, 6))",
        ),
        (
            "random float32 logits, 5 examples, 4 classes",
            "(rng.normal(0.0, 30.0, (5, 4)).astype(np.float32), "
            "rng.integers(0, 4, 5))",
        ),
    ],
    "binary_logits": [
        (
            "random logits of scale 30, shape (5, 4)",
            "(rng.normal(0.0, 30.0, (5, 4)), "
            "(rng.random((5, 4)) < 0.5).astype(np.float64))",
        ),
    ],
    "binary_probs": [
        (
            "random probabilities, shape (5, 4)",
            "(rng.uniform(0.01, 0.99, (5, 4)), "
            "(rng.random((5, 4)) < 0.5).astype(np.float64))",
        ),
    ],
    "distribution": [
        (
            "random distributions, shape (3, 2, 6)",
            "(rng.dirichlet(np.ones(6), size=(3, 2)),)",
        ),
    ],
    "two_distributions": [
        (
            "random pairs of distributions, shape (4, 5)",
            "(rng.dirichlet(np.ones(5), size=4), "
            "rng.dirichlet(np.ones(5), size=4))",
        ),
    ],
    "smoothing": [
        (
            "7 examples, 6 classes, eps = 0.15",
            "(rng.integers(0, 6, 7), 0.15), {'num_classes': 6}",
        ),
    ],
}


@dataclass
class Question:
    """One exercise of a chapter and the cells that belong to it."""

    label: str
    exercise: nbformat.NotebookNode
    starters: list = field(default_factory=list)
    solution: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    others: list = field(default_factory=list)  # untagged code before checks

    @property
    def name(self) -> str:
        return re.sub(r"\W", "_", self.label)

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(checker, function expression)`` for each checker call."""
        return [(c[0], c[1]) for c in self.call_details]

    @property
    def call_details(self) -> list[tuple[str, str, str, str]]:
        """``(checker, function, the call, its keyword options)`` as source."""
        import xent.check

        found = []
        for cell in self.checks:
            for node in ast.walk(ast.parse(cell.source)):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in xent.check.CHECKERS
                    and node.args
                ):
                    options = ", ".join(ast.unparse(k) for k in node.keywords)
                    found.append(
                        (
                            node.func.id,
                            ast.unparse(node.args[0]),
                            ast.unparse(node),
                            options,
                        )
                    )
        return found

    @property
    def manual(self) -> bool:
        return not self.calls

    @property
    def numpy_only(self) -> bool:
        return bool(NUMPY_ONLY.search(self.exercise.source))


def _tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def _calls_a_checker(cell) -> bool:
    import xent.check

    if cell.cell_type != "code" or _tags(cell):
        return False
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return False
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id in xent.check.CHECKERS
        for n in ast.walk(tree)
    )


def _is_exercise(cell) -> bool:
    return cell.cell_type == "markdown" and "{exercise}" in cell.source


def parse_chapter(nb) -> list:
    """The chapter as a list of plain cells and :class:`Question` s."""
    items, cells, i = [], nb.cells, 0
    while i < len(cells):
        cell = cells[i]
        if not _is_exercise(cell):
            items.append(cell)
            i += 1
            continue
        label = re.search(r":label:\s*(\S+)", cell.source)
        question = Question(label.group(1) if label else f"q{i}", cell)
        i += 1
        while i < len(cells) and not _is_exercise(cells[i]):
            c = cells[i]
            if STARTER_TAG in _tags(c):
                question.starters.append(c)
            elif SOLUTION_TAG in _tags(c):
                question.solution.append(c)
            elif _calls_a_checker(c) and question.solution:
                question.checks.append(c)
            else:
                break
            i += 1
        items.append(question)
    return items


# ----------------------------------------------------------------------------
# the master notebook
# ----------------------------------------------------------------------------


def _raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def _code(text: str):
    return nbformat.v4.new_code_cell(text)


def _plain_exercise(source: str) -> str:
    """The ``{exercise}`` directive as Markdown that Jupyter shows.

    Text around the directive (a ``## Exercises`` heading) is kept.
    """
    lines = source.split("\n")
    start = next(i for i, ln in enumerate(lines) if "{exercise}" in ln)
    fence = re.match(r"\s*(`{3,})", lines[start]).group(1)
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() == fence),
        len(lines),
    )
    title = lines[start].split("{exercise}", 1)[1].strip()
    body = [ln for ln in lines[start + 1 : end] if not ln.startswith(":")]
    head = f"**Exercise: {title}**" if title else "**Exercise**"
    block = [head, *body]
    return "\n".join(lines[:start] + block + lines[end + 1 :]).strip()


def _solution_markdown(source: str) -> str:
    """A ``{solution-start}`` cell without its directive fence."""
    text = re.sub(
        r"^```+\{solution-start\}[^\n]*\n(:[^\n]*\n)*```+\n?",
        "",
        source.strip(),
    )
    return text.strip()


def _clean(cell):
    cell = copy.deepcopy(cell)
    cell.metadata.pop("tags", None)
    cell.metadata.pop("mystnb", None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def _answer(prompt: str, solution: str) -> nbformat.NotebookNode:
    """A code cell otter turns into ``prompt`` (student) or ``solution``."""
    text = ""
    if prompt:
        if '"""' in prompt:
            raise ValueError(f'a stub may not contain """: {prompt!r}')
        text += f'""" # BEGIN PROMPT\n{prompt}\n""" # END PROMPT\n'
    text += f"# BEGIN SOLUTION NO PROMPT\n{solution}\n# END SOLUTION"
    return _code(text)


def _test_cell(config: dict, function: str) -> nbformat.NotebookNode:
    head = '""" # BEGIN TEST CONFIG\n'
    head += "".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items())
    head += '""" # END TEST CONFIG\n'
    name = re.match(r"def (\w+)", function).group(1)
    return _code(head + function.rstrip() + f"\n\n{name}(globals())")


def _public_test(checker: str, call: str, n: int) -> str:
    return f"""def test_public_{n}(env):
    from xent.check import {checker}

    report = eval({call!r}, {{**env, {checker!r}: {checker}}})
    assert report, str(report)"""


def _hidden_test(checker: str, expr: str, n: int, options: str = "") -> str:
    cases = []
    for name, args in HIDDEN_SOURCE[HIDDEN_CASES[checker]]:
        if "), {" in args:  # positional arguments, then keyword arguments
            pos, kw = args.rsplit("), {", 1)
            cases.append(
                f"Case({('hidden: ' + name)!r}, {pos}), kwargs={{{kw})"
            )
        else:
            cases.append(f"Case({('hidden: ' + name)!r}, {args})")
    body = ",\n        ".join(cases)
    return f"""def test_hidden_{n}(env):
    import numpy as np
    from xent.check import Case, {checker}

    rng = np.random.default_rng({SEED + n})
    cases = [
        {body},
    ]
    checker = {checker}.checker_for({options}).with_cases(cases)
    report = checker(eval({expr!r}, dict(env)))
    assert report, str(report)"""


def _numpy_only_test(checker: str, expr: str, n: int) -> str:
    return f"""def test_numpy_only_{n}(env):
    from xent.check import library_calls, {checker}

    fn = eval({expr!r}, dict(env))
    case = {checker}.checker.cases[0]
    assert fn(*case.args, **case.kwargs) is not None, "not implemented yet"
    calls = library_calls(fn, *case.args, **case.kwargs)
    assert not calls, (
        "the exercise asks for NumPy only, but the function calls "
        + ", ".join(calls)
    )"""


def question_cells(q: Question) -> list:
    """The otter cells of one question."""
    points = (
        POINTS_MANUAL
        if q.manual
        else len(q.calls) * (POINTS_PUBLIC + POINTS_HIDDEN)
        + POINTS_NUMPY_ONLY * q.numpy_only * len(q.calls)
    )
    config = {"name": q.name, "points": points}
    if q.manual:
        config["manual"] = True
    cells = [
        _raw(
            "# BEGIN QUESTION\n"
            + "".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items())
        ),
    ]
    exercise = nbformat.v4.new_markdown_cell(
        _plain_exercise(q.exercise.source)
    )
    cells.append(exercise)
    explanation, code = [], []
    for c in q.solution:
        if c.cell_type == "markdown":
            text = _solution_markdown(c.source)
            if text and "{solution-end}" not in c.source:
                explanation.append(nbformat.v4.new_markdown_cell(text))
        elif c.source.strip():
            code.append(c.source.rstrip())
    answers = []
    if q.starters:  # the stub for the student, the solution for the key
        prompt = "\n\n".join(c.source.rstrip() for c in q.starters)
        answers.append(_answer(prompt, "\n\n\n".join(code)))
    else:  # one empty code cell per solution code cell
        answers.extend(_answer("", text) for text in code)
    cells.append(_raw("# BEGIN SOLUTION"))
    cells.extend(explanation)
    cells.extend(answers)
    cells.append(_raw("# END SOLUTION"))
    if not q.manual:
        cells.append(_raw("# BEGIN TESTS"))
        for n, (checker, expr, call, options) in enumerate(q.call_details):
            cells.append(
                _test_cell(
                    {"points": POINTS_PUBLIC}, _public_test(checker, call, n)
                )
            )
            cells.append(
                _test_cell(
                    {"hidden": True, "points": POINTS_HIDDEN},
                    _hidden_test(checker, expr, n, options),
                )
            )
            if q.numpy_only:
                cells.append(
                    _test_cell(
                        {"hidden": True, "points": POINTS_NUMPY_ONLY},
                        _numpy_only_test(checker, expr, n),
                    )
                )
        cells.append(_raw("# END TESTS"))
    cells.append(_raw("# END QUESTION"))
    # the chapter's own check cells: the learner's feedback, as in the book
    cells.extend(_clean(c) for c in q.checks)
    return cells


def assignment_config(name: str) -> str:
    config = f"""# ASSIGNMENT CONFIG
name: {name}
init_cell: true
check_all_cell: false
run_tests: false
solutions_pdf: false
export_cell:
  pdf: false
  instructions: "Save the notebook, run this cell, and submit the zip file."
generate:
  pdf: false
  filtering: false
requirements: requirements.txt
autograder_files:
  - xent
tests:
  ok_format: false
"""
    return config


def exercises_only(nb):
    """The chapter's title, its setup cells and its exercises.

    The setup is every cell up to the first code cell that is neither tagged
    nor empty (the chapter's imports); the exercises start at the first
    ``{exercise}`` cell and run to the end of the chapter.
    """
    cells = nb.cells
    setup_end = next(
        (
            i
            for i, c in enumerate(cells)
            if c.cell_type == "code" and not _tags(c) and c.source.strip()
        ),
        -1,
    )
    first = next((i for i, c in enumerate(cells) if _is_exercise(c)), None)
    if first is None:
        return nb
    kept = [
        c
        for c in cells[: setup_end + 1]
        if c.cell_type == "code" or c is cells[0]
    ]
    nb = copy.deepcopy(nb)
    nb.cells = copy.deepcopy(kept) + nb.cells[first:]
    return nb


def master_notebook(nb, name: str, *, only_exercises: bool = False):
    """The otter-grader master notebook of a chapter."""
    if only_exercises:
        nb = exercises_only(nb)
    master = nbformat.v4.new_notebook()
    master.metadata = copy.deepcopy(nb.metadata)
    master.cells.append(_raw(assignment_config(name)))
    for item in parse_chapter(nb):
        if isinstance(item, Question):
            master.cells.extend(question_cells(item))
        else:
            master.cells.append(_clean(item))
    return master


def has_coding_exercises(nb) -> bool:
    return any(
        isinstance(q, Question) and not q.manual for q in parse_chapter(nb)
    )


def requirements() -> str:
    pins = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>~ ]", line.strip(), maxsplit=1)[0].lower()
        if name in AUTOGRADER_PACKAGES:
            pins.append(line.strip())
    return "\n".join(pins) + "\n"


def build(
    path: Path,
    out: Path,
    *,
    assign: bool = True,
    only_exercises: bool = False,
) -> Path | None:
    """Write the master notebook of one chapter and run ``otter assign``."""
    nb = nbformat.read(path, as_version=4)
    if not has_coding_exercises(nb):
        return None
    name = path.stem
    folder = out / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    master = master_notebook(nb, name, only_exercises=only_exercises)
    nbformat.write(master, folder / f"{name}.ipynb")
    (folder / "requirements.txt").write_text(requirements())
    shutil.copytree(
        ROOT / "xent",
        folder / "xent",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    data = path.parent / "data"
    if data.is_dir():  # chapters read book/data/
        shutil.copytree(data, folder / "data")
    if assign:
        otter = Path(sys.executable).with_name("otter")
        subprocess.run(
            [str(otter), "assign", f"{name}.ipynb", "dist", "--no-pdfs"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
        )
    return folder


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="chapters (default: book/*.ipynb)",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT, help="folder (default: assignments/)"
    )
    parser.add_argument(
        "--no-assign",
        action="store_true",
        help="write the master notebooks only",
    )
    parser.add_argument(
        "--exercises-only",
        action="store_true",
        help="keep only the chapter's setup and exercises "
        "(a lighter handout; faster to grade)",
    )
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        try:
            folder = build(
                path,
                args.out,
                assign=not args.no_assign,
                only_exercises=args.exercises_only,
            )
        except subprocess.CalledProcessError as exc:
            print(
                f"make_assignments: otter assign failed for {path.name}:\n"
                f"{exc.stdout}\n{exc.stderr}",
                file=sys.stderr,
            )
            return 1
        if folder is not None:
            print(f"wrote {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
