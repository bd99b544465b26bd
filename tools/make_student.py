"""Write student copies of the chapters: the worked solutions removed, every output cleared.

    python tools/make_student.py                          # every book/*.ipynb into student/
    python tools/make_student.py --out DIR book/03_*.ipynb

A student copy is the chapter without the cells tagged ``solution`` (the gated
``{solution-start}`` ... ``{solution-end}`` block of every exercise, see CONTRIBUTING.md). The cells
tagged ``starter`` (the stubs ``def my_softmax(z): ...``) stay, without their ``remove-cell`` tag,
which only hides them on the website; the untagged check cells (``check_softmax(my_softmax)``) stay
too, so that learners get the automatic feedback of ``xent.check``. All outputs and execution counts
are cleared: the learner runs the notebook.

The copy is refused (exit status 1, nothing written for that chapter) if any solution text survives
the removal, which happens when a cell of a solution block lacks the ``solution`` tag.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
SOLUTION_TAG = "solution"
STARTER_TAG = "starter"
WEBSITE_ONLY_TAG = "remove-cell"
# Text that only a solution contains: the gated directives (and the ungated ``{solution}``).
SOLUTION_MARKERS = ("{solution-start}", "{solution-end}", "{solution}")


class SolutionLeft(ValueError):
    """Solution text survived in a student copy: some cell of a solution block is not tagged."""


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return the student copy of a notebook (the argument is not modified).

    Parameters
    ----------
    nb : NotebookNode
        A chapter (nbformat 4).

    Returns
    -------
    NotebookNode
        The chapter without the cells tagged ``solution``, with no outputs, and with the
        ``remove-cell`` tag taken off the ``starter`` cells.

    Raises
    ------
    SolutionLeft
        If a remaining cell still contains ``{solution-start}``, ``{solution-end}`` or
        ``{solution}``.
    """
    nb = nbformat.from_dict(nb)  # a deep copy
    resources: dict = {}
    # Preprocessors are disabled by default; called directly they run only with enabled=True.
    remove = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True)
    nb, resources = remove(nb, resources)
    nb, resources = ClearOutputPreprocessor(enabled=True)(nb, resources)
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if STARTER_TAG in tags and WEBSITE_ONLY_TAG in tags:
            cell.metadata["tags"] = [t for t in tags if t != WEBSITE_ONLY_TAG]
        cell.metadata.pop("execution", None)
        leftover = [m for m in SOLUTION_MARKERS if m in cell.source]
        if leftover:
            raise SolutionLeft(
                f"cell {index} ({cell.cell_type}) still contains {leftover[0]}: tag every cell of the "
                f"solution block with {SOLUTION_TAG!r}"
            )
    nb.metadata.pop("widgets", None)
    return nb


def write_student_copies(paths, out_dir: Path) -> list[Path]:
    """Write ``out_dir/<name>.ipynb`` for each chapter; return the paths written.

    Raises
    ------
    SolutionLeft
        For the first chapter whose copy would still contain solution text (copies of the
        chapters before it are written).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        path = Path(path)
        try:
            copy = student_copy(nbformat.read(path, as_version=4))
        except SolutionLeft as exc:
            raise SolutionLeft(f"{path.name}: {exc}") from None
        target = out_dir / path.name
        nbformat.validate(copy)
        nbformat.write(copy, target)
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: book/*.ipynb)")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder (default: student/)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    try:
        written = write_student_copies(paths, args.out)
    except SolutionLeft as exc:
        print(f"make_student: {exc}", file=sys.stderr)
        return 1
    for target in written:
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
