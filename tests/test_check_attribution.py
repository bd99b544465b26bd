"""AUTHORS, CITATION.cff and the attribution line of the instructors page."""

from __future__ import annotations

from pathlib import Path

import yaml

import xent

ROOT = Path(__file__).resolve().parents[1]


def test_citation_file_matches_the_package():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["version"] == xent.__version__
    assert cff["license"] == ["MIT", "CC-BY-4.0"]
    assert cff["authors"] and all(
        "name" in a or "family-names" in a for a in cff["authors"]
    )


def test_authors_file_and_attribution_line():
    assert "# The xent authors" in (ROOT / "AUTHORS").read_text()
    page = (ROOT / "book" / "instructors.md").read_text()
    assert "CC BY 4.0" in page and "MIT License" in page
    assert 'Based on "xent: cross-entropy loss, from bits to billions' in page
    assert "worked solutions are **public**" in page
