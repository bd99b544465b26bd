"""Write student copies of the chapters: the worked solutions removed, every
output cleared.

    python3 tools/make_student.py              # book/*.ipynb into student/
    python3 tools/make_student.py --out DIR book/05_*.ipynb
    python3 tools/make_student.py --exercises  # regenerate exercises/
    python3 tools/make_student.py --exercises --check  # exit 1 if stale

Standard library only: it runs with any Python 3.10+, without the course's
environment.

A student copy is the chapter without the cells tagged ``solution`` (the gated
``{solution-start}`` ... ``{solution-end}`` block of every exercise, see
CONTRIBUTING.md) and without the launch-links cell (tagged ``exercise-links``),
which points at the copy itself. The cells tagged ``starter`` (the stubs ``def
my_softmax(z): ...``) stay, without their ``remove-cell`` tag, which only hides
them on the website, and without the "[solved copy]" notice that
tools/sync_notebooks.py puts at their top in the book; the untagged check cells
(``check_softmax(my_softmax)``) stay too, so that learners get the automatic
feedback of ``xent.check``. All outputs and execution counts are cleared: the
learner runs the notebook. A first markdown cell names the course, its authors
and licenses (CC BY 4.0 for the text, MIT for the code), links to the original
chapter and says what was changed, as CC BY requires of a copy handed out.

Two kinds of folder:

- ``exercises/`` is generated and committed: Binder and Colab open these copies
  (the launch links in every chapter), and ``make test`` fails when they are
  out of date (``--check``). ``--exercises`` rewrites it and deletes copies
  whose chapter is gone.
- ``student/`` (and any ``--out DIR``) is where a learner works. A copy there
  is never overwritten once it has been changed: the tool records what it wrote
  in ``DIR/.make_student.json`` and keeps every copy that differs from it (or,
  with no record, from the new copy), and names them. Delete or rename such a
  copy to get a fresh one.

The copy is refused (exit status 1, nothing written for that chapter) if any
solution text survives the removal, which happens when a cell of a solution
block lacks the ``solution`` tag.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _course
from _course import (
    LINKS_TAG,
    NOTICE_PREFIX,
    SOLUTION_TAG,
    STARTER_TAG,
    WEBSITE_ONLY_TAG,
    Course,
    dumps_notebook,
    read_notebook,
    source,
    tags,
)

ROOT = _course.ROOT
EXERCISES = ROOT / "exercises"
RECORD = ".make_student.json"
# Text that only a solution contains: the gated directives (and the ungated
# ``{solution}``).
SOLUTION_MARKERS = ("{solution-start}", "{solution-end}", "{solution}")
ATTRIBUTION_ID = "attribution"


class SolutionLeft(ValueError):
    """Solution text survived in a student copy: some cell of a solution block
    is not tagged.
    """


def attribution(course: Course, name: str, title: str) -> str:
    chapter = f"the chapter “{title}”" if title else "a chapter"
    return (
        f"**Your copy of {chapter}**, from the course "
        f"[{course.title}]({course.url}) by "
        f"{course.author} (© {course.copyright}): the chapter "
        f"[`book/{name}`]({course.blob('book/' + name)}) with its worked "
        "solutions removed and "
        "its outputs cleared. Its text and figures are licensed under "
        "[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/), its code "
        f"under the [MIT license]({course.blob('LICENSE')}); both come "
        "without warranty.\n"
        "\n"
        "Run the cells from the top (the first one installs the course's "
        "package `xent` where it is missing). Write your code where a cell "
        "says `# your code here`, then run the "
        "check cell under it: it tells you what to fix."
    )


def strip_notice(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(NOTICE_PREFIX.rstrip()):
        lines.pop(0)
    return "".join(lines)


def student_copy(
    nb: dict, name: str = "", course: Course | None = None
) -> dict:
    """Return the student copy of a notebook (the argument is not modified).

    Parameters
    ----------
    nb : dict
        A chapter (nbformat 4, as json.load or nbformat.read gives it).
    name : str
        Its file name, for the attribution cell's link.
    course : Course, optional
        The facts of _config.yml (default: read them).

    Returns
    -------
    dict
        The chapter without the cells tagged ``solution`` or
        ``exercise-links``, with no outputs, with the ``remove-cell`` tag and
        the "[solved copy]" notice taken off the ``starter``
        cells, and an attribution cell first.

    Raises
    ------
    SolutionLeft
        If a remaining cell still contains ``{solution-start}``,
        ``{solution-end}`` or
        ``{solution}``.
    """
    course = course or Course()
    nb = copy.deepcopy(dict(nb))
    title = _course.chapter_title(nb)
    cells = []
    for cell in nb["cells"]:
        cell = copy.deepcopy(dict(cell))
        cell_tags = tags(cell)
        if SOLUTION_TAG in cell_tags or LINKS_TAG in cell_tags:
            continue
        metadata = cell.setdefault("metadata", {})
        if STARTER_TAG in cell_tags:
            metadata["tags"] = [t for t in cell_tags if t != WEBSITE_ONLY_TAG]
            _course.set_source(cell, strip_notice(source(cell)))
        for key in ("execution", "collapsed", "scrolled"):
            metadata.pop(key, None)
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        leftover = [m for m in SOLUTION_MARKERS if m in source(cell)]
        if leftover:
            raise SolutionLeft(
                f"cell {len(cells) + 1} ({cell['cell_type']}) still "
                f"contains {leftover[0]}: tag "
                f"every cell of the solution block with {SOLUTION_TAG!r}"
            )
        cells.append(cell)
    first = {
        "cell_type": "markdown",
        "id": ATTRIBUTION_ID,
        "metadata": {},
        "source": "",
    }
    if nb.get("nbformat_minor", 0) < 5:
        del first["id"]
    _course.set_source(first, attribution(course, name, title))
    nb["cells"] = [first, *cells]
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fresh_copies(paths, course: Course | None = None) -> dict[str, str]:
    """``{file name: text of its student copy}`` for the chapters.

    Raises
    ------
    SolutionLeft
        For the first chapter whose copy would still contain solution text.
    """
    course = course or Course()
    copies = {}
    for path in paths:
        path = Path(path)
        try:
            copies[path.name] = dumps_notebook(
                student_copy(read_notebook(path), path.name, course)
            )
        except SolutionLeft as exc:
            raise SolutionLeft(f"{path.name}: {exc}") from None
    return copies


def write_student_copies(paths, out_dir: Path, course: Course | None = None):
    """Write ``out_dir/<name>.ipynb`` for each chapter, keeping every copy
    the learner changed.

    Returns
    -------
    (written, kept) : tuple of lists of Path
        The copies written (new or replaced) and those kept because they were
        changed.

    Raises
    ------
    SolutionLeft
        For the first chapter whose copy would still contain solution text
        (nothing written).
    """
    copies = fresh_copies(paths, course)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record_path = out_dir / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    written, kept = [], []
    for name, text in copies.items():
        target = out_dir / name
        if target.exists():
            current = target.read_text(encoding="utf-8", errors="replace")
            if current == text:
                record[name] = _sha(text)
                continue
            if record.get(name) != _sha(current):
                kept.append(target)  # changed since it was written: learner's
                continue
        target.write_text(text, encoding="utf-8")
        record[name] = _sha(text)
        written.append(target)
    record_path.write_text(
        json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return written, kept


def sync_exercises(
    paths,
    out_dir: Path = EXERCISES,
    check: bool = False,
    course=None,
    prune: bool = True,
):
    """Make ``out_dir`` hold exactly the student copies of ``paths``.

    Return the names that were (with ``check``: that would be) written or
    deleted; with ``prune`` False (some chapters only), nothing is deleted.
    """
    copies = fresh_copies(paths, course)
    changed = []
    for name, text in copies.items():
        target = out_dir / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            changed.append(name)
            if not check:
                out_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    extras = sorted(out_dir.glob("*.ipynb")) if out_dir.exists() else []
    for extra in extras if prune else []:
        if extra.name not in copies:
            changed.append(f"{extra.name} (no chapter)")
            if not check:
                extra.unlink()
    return changed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="chapters (default: book/*.ipynb)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "student",
        help="folder (default: student/)",
    )
    parser.add_argument(
        "--exercises",
        action="store_true",
        help="regenerate exercises/ from book/",
    )
    parser.add_argument(
        "--check", action="store_true", help="with --exercises: only check"
    )
    args = parser.parse_args(argv)
    if args.check and not args.exercises:
        parser.error("--check goes with --exercises")
    paths = args.notebooks or _course.chapters()
    try:
        if args.exercises:
            changed = sync_exercises(
                paths, check=args.check, prune=not args.notebooks
            )
            if args.check and changed:
                print(
                    "exercises/ is out of date ("
                    + ", ".join(changed)
                    + "): run "
                    "`make exercises` (python3 tools/make_student.py "
                    "--exercises) and commit it",
                    file=sys.stderr,
                )
                return 1
            for name in changed if not args.check else []:
                print(f"exercises: {name}")
            return 0
        written, kept = write_student_copies(paths, args.out)
    except SolutionLeft as exc:
        print(f"make_student: {exc}", file=sys.stderr)
        return 1
    for target in written:
        print(f"wrote {target}")
    if kept:
        print(
            f"kept {len(kept)} cop{'y' if len(kept) == 1 else 'ies'} you "
            "changed (never "
            "overwritten; delete or rename one to get a fresh copy): "
            + ", ".join(str(k) for k in kept),
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
