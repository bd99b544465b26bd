"""The book's conventions, checked on every chapter's source.

Each rule here is one a reader or a learner would otherwise catch by eye:
hand-typed numbers that disagree with Sphinx's, figures without captions or
alt text, exercises without their tier, code wider than the website's column,
TeX macros that exist only on the website, authoring notes.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
# The numbered chapters and the appendix end with tiered exercises; a primer
# page (book/pytorch_primer.ipynb) may have fewer.
CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_|appendix_", p.name)]
TIERS = (
    "*Check your understanding.*",
    "*Compute or implement.*",
    "*Go further.*",
)
MAX_CODE_WIDTH = 79


def _cells(path: Path, kind: str | None = None) -> list:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if kind is None or c.cell_type == kind]


def _markdown(path: Path) -> str:
    return "\n\n".join(c.source for c in _cells(path, "markdown"))


def _exercises(path: Path) -> list[tuple[str, str]]:
    """(label, first words of the body) of every ``{exercise}`` directive."""
    found = []
    for block in re.findall(r"```\{exercise\}(.*?)```", _markdown(path), re.S):
        lines = block.split("\n")[1:]
        label = next(
            (
                ln.split(":label:")[1].strip()
                for ln in lines
                if ":label:" in ln
            ),
            "?",
        )
        body = [ln for ln in lines if ln.strip() and not ln.startswith(":")]
        found.append((label, body[0] if body else ""))
    return found


def test_there_are_chapters():
    assert len(CHAPTERS) >= 12


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_hand_typed_numbers(path):
    """Sphinx numbers chapters, sections, figures; a typed number disagrees."""
    text = _markdown(path)
    headings = [
        ln
        for ln in text.split("\n")
        if re.match(r"#{1,6} +\d+(\.\d+)*\.? ", ln)
    ]
    assert headings == [], f"numbered headings: {headings}"
    typed = [
        m.group(0)
        for m in re.finditer(
            r"\*\*Figure [A-Z\d]+\.\d+\.?\*\*"
            r"|\b(?:Section|Figure|Fig\.) \d+\.\d+",
            text,
        )
        # "Section 6.2" of a cited book is the book's own numbering.
        if "{cite" not in text[max(0, m.start() - 80) : m.start()]
    ]
    assert typed == [], f"hand-typed references (use {{numref}}): {typed}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_caption_name_and_alt_text(path):
    names = []
    for cell in _cells(path, "code"):
        images = [
            o
            for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})
            or "image/svg+xml" in o.get("data", {})
        ]
        if not images:
            continue
        meta = cell.metadata.get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        where = f"{path.name}: cell {cell.get('id')}"
        assert figure.get("caption", "").strip(), f"{where}: no caption"
        assert re.fullmatch(r"fig-[a-z0-9-]+", figure.get("name", "")), where
        alt = image.get("alt", "")
        assert len(alt.split()) >= 8, f"{where}: alt text too short: {alt!r}"
        names.append(figure["name"])
    assert len(names) == len(set(names)), f"duplicate figure names: {names}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_are_tiered(path):
    exercises = _exercises(path)
    assert len(exercises) >= 4, f"{len(exercises)} exercises"
    untiered = [lab for lab, first in exercises if not first.startswith(TIERS)]
    assert untiered == [], f"exercises without a tier label: {untiered}"
    tiers = {
        next(t for t in TIERS if first.startswith(t)) for _, first in exercises
    }
    assert tiers == set(TIERS), f"tiers used: {sorted(tiers)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_fits_the_column(path):
    wide = [
        (cell.get("id"), line)
        for cell in _cells(path, "code")
        if "bootstrap" not in cell.metadata.get("tags", [])
        for line in cell.source.split("\n")
        if len(line) > MAX_CODE_WIDTH
    ]
    assert wide == [], (
        f"{len(wide)} code lines over {MAX_CODE_WIDTH}: {wide[:3]}"
    )


@pytest.mark.parametrize(
    "path", [*NOTEBOOKS, *sorted(BOOK.glob("*.md"))], ids=lambda p: p.stem
)
def test_no_website_only_macros_or_authoring_notes(path):
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in _cells(path))
    else:
        text = path.read_text(encoding="utf-8")
    assert not re.search(r"\\(KL|E)(?![A-Za-z])", text), "TeX macro"
    for leak in ("seed document", "the seed's", "the brief"):
        assert leak not in text.lower(), leak


@pytest.mark.parametrize(
    "bad",
    [
        "## 2.1 A numbered section",
        "As **Figure 2.2.** shows",
        "see Section 4.5",
    ],
)
def test_the_numbering_rule_can_fail(tmp_path, bad):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# Title\n\n{bad}\n")]
    path = tmp_path / "fake.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError):
        test_no_hand_typed_numbers(path)
