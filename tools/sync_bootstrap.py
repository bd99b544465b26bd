"""Former name of tools/sync_notebooks.py, which now writes the Colab bootstrap
cell together with the other generated cells (launch links to the exercises,
stub notices).

    python tools/sync_bootstrap.py [--check]
    # = python tools/sync_notebooks.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_notebooks import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
