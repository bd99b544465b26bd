#!/usr/bin/env bash
# Build a one-chapter preview of the site with -W, without executing (run tools/execute_notebooks.py
# first). Lets several authors check their chapter's MyST, math, exercises and citations at once
# without touching the shared _build/.   Usage: tools/preview.sh book/03_categorical_cross_entropy.ipynb
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chapter="$1"
name="$(basename "$chapter" .ipynb)"
dir="$(mktemp -d /tmp/preview-"$name"-XXXX)"
mkdir -p "$dir/book"
cp "$root"/book/notation.md "$root"/book/bibliography.md "$root"/book/references.bib "$dir/book/"
printf '# Preview\n\nA one-chapter preview of the xent book.\n' > "$dir/book/intro.md"
cp -r "$root"/book/_static "$dir/book/" 2>/dev/null || true
cp -r "$root"/_static "$dir/" 2>/dev/null || true  # the site's CSS, logo and favicon
cp "$root/$chapter" "$dir/book/"
sed -e 's/execute_notebooks: force/execute_notebooks: "off"/' "$root/_config.yml" > "$dir/_config.yml"
cat > "$dir/_toc.yml" <<TOC
format: jb-book
root: book/intro
chapters:
  - file: book/notation
  - file: book/$name
  - file: book/bibliography
TOC
"$root/.venv/bin/jupyter-book" build "$dir" -W --keep-going -q
echo "preview: $dir/_build/html/book/$name.html"
