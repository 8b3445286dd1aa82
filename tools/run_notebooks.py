"""Execute every notebook under notebooks/ in place, so the committed outputs match the code.

Run after changing the library or data_samples/: ``.venv/bin/python tools/run_notebooks.py``.
The test suite executes the same notebooks fresh (tests/test_notebooks.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def main(names: list[str]) -> None:
    paths = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    for path in paths:
        if names and path.stem not in names:
            continue
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nbformat.write(nb, path)
        print(f"executed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
