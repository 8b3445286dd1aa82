"""Make notebooks/YYYY_analysis.ipynb (with outputs) and their paired .py from the one template.

``.venv/bin/python tools/make_yearly_notebooks.py`` — papermill executes the template with the
year as parameter; jupytext writes the reviewable .py beside each notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "notebooks" / "templates" / "yearly_analysis.py"
YEARS = (2016, 2017, 2018)


def main(years: list[int]) -> None:
    nb = jupytext.read(TEMPLATE)
    template_ipynb = ROOT / "notebooks" / "templates" / ".yearly_analysis.ipynb"
    jupytext.write(nb, template_ipynb)
    try:
        for year in years or YEARS:
            out = ROOT / "notebooks" / f"{year}_analysis.ipynb"
            pm.execute_notebook(str(template_ipynb), str(out), parameters={"year": year},
                                cwd=str(out.parent), kernel_name="python3", progress_bar=False)
            done = jupytext.read(out)
            done.metadata.setdefault("jupytext", {})["formats"] = "ipynb,py:percent"
            jupytext.write(done, out)
            jupytext.write(done, out.with_suffix(".py"), fmt="py:percent")
            print(f"wrote {out.relative_to(ROOT)} and its .py")
    finally:
        template_ipynb.unlink(missing_ok=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]])
