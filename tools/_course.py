"""What the course's tools share: _config.yml read with the standard library,
notebooks read and written as nbformat does, and the generated texts (tags, the
stub notice, the launch links).

Standard library only, so that ``python3 tools/make_student.py`` runs without
the course's virtual environment.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"

# Cell tags (CONTRIBUTING.md).
SOLUTION_TAG = "solution"
STARTER_TAG = "starter"
WEBSITE_ONLY_TAG = "remove-cell"
BOOTSTRAP_TAG = "bootstrap"
LINKS_TAG = "exercise-links"

# The lines tools/sync_notebooks.py puts at the top of every stub in the book
# (solved) notebooks, and tools/make_student.py takes out of the student
# copies: every line starts with the prefix.
NOTICE_PREFIX = "# [solved copy] "
NOTICE = (
    f"{NOTICE_PREFIX}Run All replaces this function with the worked solution\n"
    f"{NOTICE_PREFIX}below; do the exercise in your own copy (links above).\n"
)

# A directive that opens an exercise, with backticks or colons (```{exercise} /
# :::{exercise}).
EXERCISE_RE = re.compile(r"^(`{3,}|:{3,})\{exercise\}", re.M)


# --- _config.yml ---


def _scalar(text: str) -> str:
    text = text.strip()
    if text[:1] in "\"'":
        quote = text[0]
        return text[1 : text.index(quote, 1)]
    return re.sub(r"\s+#.*$", "", text).strip()


def read_config(path: Path = CONFIG) -> dict:
    """Top-level scalars and one level of mappings of a ``_config.yml``.

    Enough for the keys the tools read (``title``, ``author``, ``copyright``,
    ``repository.*``, ``launch_buttons.*``); lists and deeper levels are
    skipped. tests/test_binder.py checks it against PyYAML.
    """
    config: dict = {}
    block = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        top = re.match(r"^([A-Za-z_][\w-]*):\s*(.*)$", line)
        if top:
            key, rest = top.groups()
            if rest.strip():
                config[key], block = _scalar(rest), None
            else:
                config[key], block = {}, key
            continue
        sub = re.match(r"^  ([A-Za-z_][\w-]*):\s*(.*)$", line)
        if sub and block is not None and isinstance(config[block], dict):
            key, rest = sub.groups()
            if rest.strip():
                config[block][key] = _scalar(rest)
    return config


class Course:
    """The facts of _config.yml the tools need: where the repository is, which
    ref is pinned.
    """

    def __init__(self, config: dict | None = None):
        config = read_config() if config is None else config
        repo = config.get("repository") or {}
        launch = config.get("launch_buttons") or {}
        self.title = config.get("title", "xent")
        self.author = config.get("author", "")
        self.copyright = config.get("copyright", "")
        self.url = repo.get("url", "").rstrip("/")
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", self.url):
            raise SystemExit(
                f"_config.yml: repository.url {self.url!r} is not a GitHub "
                "repository"
            )
        self.slug = self.url.removeprefix("https://github.com/")
        self.branch = repo.get("branch", "main")
        self.package_ref = repo.get("package_ref", "")
        if not self.package_ref:
            raise SystemExit(
                "_config.yml: no repository.package_ref (the tag the Colab "
                "cell installs)"
            )
        self.binderhub = launch.get(
            "binderhub_url", "https://mybinder.org"
        ).rstrip("/")
        self.colab = launch.get(
            "colab_url", "https://colab.research.google.com"
        ).rstrip("/")

    @property
    def package_version(self) -> tuple[int, ...]:
        """The least version of xent the pinned ref stands for.

        (0, 2, 0) for tag v0.2.0; () for a commit or another tag (then only
        the package's identity is checked).
        """
        match = re.fullmatch(r"v?(\d+(?:\.\d+)*)", self.package_ref)
        return (
            tuple(int(part) for part in match.group(1).split("."))
            if match
            else ()
        )

    def blob(self, path: str) -> str:
        return f"{self.url}/blob/{self.branch}/{path}"

    def binder(self, path: str) -> str:
        ref = f"{self.slug}/{self.branch}"
        return f"{self.binderhub}/v2/gh/{ref}?urlpath=lab/tree/{path}"

    def colab_link(self, path: str) -> str:
        return f"{self.colab}/github/{self.slug}/blob/{self.branch}/{path}"


# --- notebooks, as nbformat reads and writes them ---


def read_notebook(path: Path) -> dict:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    if nb.get("nbformat") != 4:
        raise SystemExit(f"{path}: nbformat {nb.get('nbformat')}, expected 4")
    return nb


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def set_source(cell: dict, text: str) -> None:
    cell["source"] = text.splitlines(keepends=True)


def tags(cell: dict) -> list:
    return cell.get("metadata", {}).get("tags", [])


def dumps_notebook(nb: dict) -> str:
    """The text ``nbformat.write`` would write (v4: split lines, sorted keys,
    indent 1).
    """
    nb = copy.deepcopy(nb)
    for key in ("orig_nbformat", "orig_nbformat_minor", "signature"):
        nb.get("metadata", {}).pop(key, None)
    for cell in nb.get("cells", []):
        cell.get("metadata", {}).pop("trusted", None)
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(keepends=True)
        for output in cell.get("outputs", []):
            if isinstance(output.get("text"), str):
                output["text"] = output["text"].splitlines(keepends=True)
            for mime, value in output.get("data", {}).items():
                split = mime.startswith("text/") or mime in (
                    "image/svg+xml",
                    "application/javascript",
                )
                if isinstance(value, str) and split:
                    output["data"][mime] = value.splitlines(keepends=True)
    text = json.dumps(
        nb,
        sort_keys=True,
        indent=1,
        separators=(",", ": "),
        ensure_ascii=False,
    )
    return text if text.endswith("\n") else text + "\n"


def write_notebook(nb: dict, path: Path) -> None:
    Path(path).write_text(dumps_notebook(nb), encoding="utf-8")


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.ipynb"))


def chapter_title(nb: dict) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^# (.+)$", source(cell), re.M)
            if match:
                return match.group(1).strip()
    return ""
