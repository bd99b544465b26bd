"""Extract the corpus of Chapter 9 from the docstrings of Python's stdlib.

    python tools/extract_corpus.py          # write the corpus file
    python tools/extract_corpus.py --check  # compare with the stored file

The chapter reads the frozen text in ``book/data/stdlib_docstrings.txt``
and verifies its size and SHA-256; it does not run this script. The text
depends on the Python version (the docstrings change between releases), so
the stored file was written once, with CPython 3.11.7; rerunning the
script on another interpreter gives a different file, and the chapter's
numbers would move with it. See ``book/data/README.md``.

The corpus is the docstring of each of twenty modules and of each of its
public functions and classes (sorted by name), in a fixed module order,
restricted to the newline and the 95 printable ASCII characters, without
duplicates (a class that two modules export has one docstring). In the
file, docstrings are separated by a line holding only a form feed
(``"\\n\\f\\n"``); a form feed cannot occur inside a docstring, since only
the newline and printable characters are kept.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from pathlib import Path

MODULES = [
    "argparse", "bisect", "collections", "datetime", "decimal", "fractions",
    "functools", "heapq", "itertools", "json", "logging", "math", "os",
    "pathlib", "random", "re", "statistics", "string", "textwrap", "typing",
]  # fmt: skip
ALPHABET = "\n" + "".join(chr(i) for i in range(32, 127))
SEPARATOR = "\n\f\n"
OUT = Path(__file__).resolve().parents[1] / "book/data/stdlib_docstrings.txt"


def docstrings(module_name):
    """Yield the cleaned docstrings of a module and its public members."""
    keep = set(ALPHABET)
    module = importlib.import_module(module_name)
    names = sorted(n for n in dir(module) if not n.startswith("_"))
    for obj in [module] + [getattr(module, name) for name in names]:
        if obj is module or inspect.isclass(obj) or inspect.isroutine(obj):
            doc = "".join(ch for ch in inspect.getdoc(obj) or "" if ch in keep)
            if doc:
                yield doc


def corpus() -> list[str]:
    """The unique docstrings of MODULES, in order."""
    docs = (doc for name in MODULES for doc in docstrings(name))
    return list(dict.fromkeys(docs))


def main(argv: list[str]) -> int:
    text = SEPARATOR.join(corpus())
    data = text.encode("ascii")
    digest = hashlib.sha256(data).hexdigest()
    version = sys.version.split()[0]
    if "--check" in argv:
        same = OUT.exists() and OUT.read_bytes() == data
        print(
            f"Python {version}: {'same as' if same else 'differs from'} "
            f"{OUT.name}"
        )
        return 0 if same else 1
    OUT.write_bytes(data)
    print(
        f"Python {version}: wrote {OUT} ({len(data)} bytes, "
        f"{text.count(SEPARATOR) + 1} docstrings, sha256 {digest})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
