"""Write the generated cells of every chapter from _config.yml: the Colab
bootstrap cell, the launch links to the chapter's exercises copy, and the
"[solved copy]" notice on every stub.

    python tools/sync_notebooks.py          # rewrite what is missing or stale
    python tools/sync_notebooks.py --check  # exit 1 if one is out of date

The repository lives in one place, ``repository:`` in ``_config.yml``: ``url``
and ``branch`` make the launch links, ``package_ref`` (a tag such as
``v0.2.0``, or a commit) is the version of the course's package the Colab cell
installs. A fork sets them there and runs this tool, then ``make exercises``
(book/instructors.md, "Using a fork").

1. **Bootstrap** (first code cell, tagged ``bootstrap`` and ``remove-cell``:
   hidden on the website). Where the course's ``xent`` imports (Binder, ``make
   lab``, a clone) it does nothing and prints nothing. Elsewhere (Colab, a bare
   kernel) it installs ``xent-course[course]`` from the pinned ref with pip,
   then checks that what imports as ``xent`` is the course's package (it has
   ``softmax_cross_entropy`` and ``xent.check``; PyPI has an unrelated
   ``xent``) and is not older than the pin, and raises a RuntimeError that says
   what went wrong and what to do if the install failed or the wrong ``xent``
   is found. Plain Python (``subprocess`` and ``sys.executable -m pip``, not
   ``%pip``, which does not fail), so that it can be tested.
2. **Launch links** (a markdown cell tagged ``exercise-links``, just before the
   first ``{exercise}``): open the chapter's student copy,
   ``exercises/<chapter>.ipynb``, in Binder or in Colab. If the cell of the
   first exercise begins with other text (the ``## Exercises`` heading), that
   text is split off into a cell of its own, so that the links sit between the
   heading and the exercise.
3. **Stub notice**: the cells tagged ``starter`` start with two comment lines
   beginning ``# [solved copy]``: in the book, "Run All" runs the worked
   solution after the stub and checks it, not the learner's code.
   tools/make_student.py takes them out of the student copies.

Only these cells are changed; outputs stay, so nothing needs re-executing.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _course
from _course import (
    BOOTSTRAP_TAG,
    EXERCISE_RE,
    LINKS_TAG,
    NOTICE,
    NOTICE_PREFIX,
    STARTER_TAG,
    WEBSITE_ONLY_TAG,
    Course,
    read_notebook,
    source,
    tags,
)

ROOT = _course.ROOT

BOOTSTRAP = '''\
# Colab or a bare kernel: install the course's package xent ({ref} of
# {url}).
# Where it is installed (Binder, `make lab`, a clone) this does nothing.
import importlib
import importlib.util
import os
import re
import subprocess
import sys

XENT_REF, XENT_NEEDS = "{ref}", {needs!r}
XENT_URL = "{url}"
XENT_PIP = f"xent-course[course] @ git+{{XENT_URL}}@{{XENT_REF}}"


def _xent_problem():
    """None if the course's xent imports, else what is wrong."""
    for name in [m for m in sys.modules if m.split(".")[0] == "xent"]:
        del sys.modules[name]
    importlib.invalidate_caches()
    try:
        import xent
    except ImportError:
        return "xent is not installed"
    except Exception as exc:  # a broken install
        return f"importing xent failed ({{exc!r}})"
    version = getattr(xent, "__version__", "(no version)")
    ours = importlib.util.find_spec("xent.check") is not None
    if not (ours and hasattr(xent, "softmax_cross_entropy")):
        return f"another package named xent ({{version}}, {{xent.__file__}})"
    found = tuple(int(n) for n in re.findall(r"\\d+", version)[:3])
    if found < XENT_NEEDS:
        return f"xent {{version}} is older than {{XENT_REF}}"
    return None


if _problem := _xent_problem():
    print(f"{{_problem}}: installing xent {{XENT_REF}} (a minute)...")
    _pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-qU", "--no-color",
         XENT_PIP],
        capture_output=True, text=True,
        env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}},
    )
    _log = (_pip.stdout + _pip.stderr).strip().splitlines()[-6:]
    if _pip.returncode or (_problem := _xent_problem()):
        raise RuntimeError(
            f"Could not install xent {{XENT_REF}}, the course's package "
            f"({{_problem}}).\\n" + "\\n".join(_log) + "\\n"
            "Check the network and run this cell again. If another package "
            "named xent is in the way: pip uninstall -y xent, restart the "
            "kernel, run this cell again."
        )
    print("installed xent", importlib.import_module("xent").__version__)'''

LINKS = (
    "**Do these exercises in your own copy of this chapter**, where the "
    "stubs are empty and no worked solution runs after your code (in this "
    "notebook, *Run All* would check the worked solution instead): "
    "[open it in Binder]({binder}) or [in Colab]({colab}), or run "
    "`make lab` in a clone of "
    "[the repository]({url}) (its README says how)."
)


def bootstrap_source(course: Course) -> str:
    return BOOTSTRAP.format(
        ref=course.package_ref, url=course.url, needs=course.package_version
    )


def links_source(course: Course, name: str) -> str:
    path = f"exercises/{name}"
    return LINKS.format(
        binder=course.binder(path),
        colab=course.colab_link(path),
        url=course.url,
    )


def _cell(
    kind: str, text: str, cell_id: str, cell_tags=(), minor: int = 5
) -> dict:
    cell = {
        "cell_type": kind,
        "metadata": {"tags": list(cell_tags)} if cell_tags else {},
    }
    if minor >= 5:
        cell["id"] = cell_id
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    _course.set_source(cell, text)
    return cell


def _sync_bootstrap(nb: dict, course: Course) -> None:
    text = bootstrap_source(course)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if code and BOOTSTRAP_TAG in tags(code[0]):
        if source(code[0]) != text:
            _course.set_source(code[0], text)
        return
    index = nb["cells"].index(code[0]) if code else len(nb["cells"])
    new = _cell(
        "code",
        text,
        "bootstrap",
        [BOOTSTRAP_TAG, WEBSITE_ONLY_TAG],
        nb.get("nbformat_minor", 5),
    )
    nb["cells"].insert(index, new)


def _sync_links(nb: dict, course: Course, name: str) -> None:
    cells = [c for c in nb["cells"] if LINKS_TAG not in tags(c)]
    first = next(
        (
            i
            for i, c in enumerate(cells)
            if c["cell_type"] == "markdown" and EXERCISE_RE.search(source(c))
        ),
        None,
    )
    if first is None:  # a chapter without exercises: no links
        nb["cells"] = cells
        return
    text = source(cells[first])
    start = EXERCISE_RE.search(text).start()
    minor = nb.get("nbformat_minor", 5)
    if (
        text[:start].strip()
    ):  # the heading (and any text) before the first exercise: own cell
        head = copy.deepcopy(cells[first])
        _course.set_source(head, text[:start].rstrip("\n"))
        if "id" in head:
            head["id"] = (head["id"] + "-head")[:64]
        _course.set_source(cells[first], text[start:])
        cells.insert(first, head)
        first += 1
    old = next((c for c in nb["cells"] if LINKS_TAG in tags(c)), None)
    links = old or _cell("markdown", "", "exercise-links", [LINKS_TAG], minor)
    _course.set_source(links, links_source(course, name))
    cells.insert(first, links)
    nb["cells"] = cells


def _sync_notices(nb: dict) -> None:
    for cell in nb["cells"]:
        if STARTER_TAG in tags(cell):
            lines = source(cell).splitlines(keepends=True)
            while lines and lines[0].startswith(NOTICE_PREFIX.rstrip()):
                lines.pop(0)
            _course.set_source(cell, NOTICE + "".join(lines))


def synced(nb: dict, name: str, course: Course) -> dict:
    """The notebook with its generated cells up to date (the argument is not
    modified).
    """
    nb = copy.deepcopy(nb)
    _sync_bootstrap(nb, course)
    _sync_links(nb, course, name)
    _sync_notices(nb)
    return nb


def _same(a: dict, b: dict) -> bool:
    return json.loads(_course.dumps_notebook(a)) == json.loads(
        _course.dumps_notebook(b)
    )


def main(argv: list[str], root: Path | None = None) -> int:
    check = "--check" in argv
    root = root or ROOT
    course = Course(_course.read_config(root / "_config.yml"))
    stale = []
    for path in _course.chapters(root):
        nb = read_notebook(path)
        new = synced(nb, path.name, course)
        if _same(nb, new):
            continue
        stale.append(path.name)
        if not check:
            _course.write_notebook(new, path)
    if check and stale:
        print(
            "generated cells (bootstrap, exercise links, stub notices) "
            "missing or stale in: "
            + ", ".join(stale)
            + "\nrun: python tools/sync_notebooks.py, then make exercises"
        )
        return 1
    if stale:
        print("updated:", ", ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
