"""Execute every notebook under notebooks/ in place, so the committed outputs match the code.

Run after changing the library or data_samples/: ``.venv/bin/python tools/run_notebooks.py``.
The yearly notebooks (``YYYY_analysis.ipynb``) are made anew by ``quchi-stats notebook`` from the
template shipped in the package, exactly as a user makes theirs. The test suite executes the same
notebooks fresh (tests/test_notebooks.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from quchi_stats import cli

ROOT = Path(__file__).resolve().parents[1]


def main(names: list[str]) -> None:
    paths = sorted((ROOT / "notebooks").rglob("*.ipynb"))
    for path in paths:
        if names and path.stem not in names:
            continue
        yearly = re.fullmatch(r"(\d{4})_analysis", path.stem)
        if yearly:  # the command, as in the README
            status = cli.main(["notebook", "--year", yearly.group(1), "--data",
                               str(ROOT / "data_samples"), "--out", str(path), "--force"])
            if status:
                raise SystemExit(status)
            continue
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        nbformat.write(nb, path)
        print(f"executed {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
