"""Write the Colab bootstrap cell at the top of every chapter, from the URL in _config.yml.

    python tools/sync_bootstrap.py          # rewrite the cells
    python tools/sync_bootstrap.py --check  # exit 1 if a chapter's cell is missing or stale

The repository URL lives in one place, `repository.url` in `_config.yml`. The cell installs `xent`
only where it is not importable (Colab, a bare kernel); everywhere else it does nothing. It is the
first code cell of each chapter, tagged `bootstrap` and `remove-cell` (hidden on the website).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TAGS = ["bootstrap", "remove-cell"]


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, flags=re.M)
    if not match:
        raise SystemExit("_config.yml: no repository.url")
    return match.group(1)


def bootstrap_source(url: str) -> str:
    return (
        "# Colab or a fresh kernel: install the course's package `xent` if it is missing.\n"
        "try:\n"
        "    import xent\n"
        "except ImportError:\n"
        f'    %pip install --quiet "xent @ git+{url}"'
    )


def chapters() -> list[Path]:
    return sorted((ROOT / "book").glob("*.ipynb"))


def first_code_cell(nb):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    source = bootstrap_source(repository_url())
    stale = []
    for path in chapters():
        nb = nbformat.read(path, as_version=4)
        cell = first_code_cell(nb)
        if cell is not None and "bootstrap" in cell.metadata.get("tags", []):
            if cell.source == source:
                continue
            if not check:
                cell.source = source
        elif not check:
            new = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
            new.execution_count = 1
            index = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
            nb.cells.insert(index, new)
        stale.append(path.name)
        if not check:
            nbformat.write(nb, path)
    if check and stale:
        print("stale or missing bootstrap cell:", ", ".join(stale))
        return 1
    if not check and stale:
        print("updated:", ", ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
