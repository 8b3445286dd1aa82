"""Every notebook runs top to bottom, and no output carries personal data."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").rglob("*.ipynb"))
PERSONAL = re.compile(r"440205\d{11}[0-9X]|\b100\d{8}\b|户主姓名|证件号码|联系电话")


def test_there_are_notebooks():
    assert any(p.name == "00_sample_design.ipynb" for p in NOTEBOOKS)


#: Cheaper values for the simulation sizes of notebooks with a papermill ``parameters`` cell: this
#: test checks that a notebook runs top to bottom with no personal data in its outputs, not its
#: Monte Carlo figures (no assertion here depends on them). The committed notebook keeps its own
#: values and outputs (tools/run_notebooks.py executes it as written).
TEST_PARAMETERS = {"00_sample_design.ipynb": {"reps": 40, "compare_reps": 20}}


def _execute(path: Path, tmp_path: Path):
    params = TEST_PARAMETERS.get(path.name)
    if params is None:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        return nb
    import papermill

    source = nbformat.read(path, as_version=4)
    tagged = [c for c in source.cells if "parameters" in c.metadata.get("tags", [])]
    # the values are injected after this cell: without it the notebook's own would win
    assert len(tagged) == 1 and all(f"{k} = " in tagged[0].source for k in params)
    nb = papermill.execute_notebook(str(path), str(tmp_path / path.name), parameters=params,
                                    kernel_name="python3", cwd=str(tmp_path),
                                    progress_bar=False, execution_timeout=600)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and all(f"{k} = {v}" in injected[0].source
                                      for k, v in params.items())
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_without_personal_data(path, tmp_path):
    nb = _execute(path, tmp_path)
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", ""))
            for value in out.get("data", {}).values():
                text.append(value if isinstance(value, str) else str(value))
    joined = "\n".join(text)
    assert "Traceback" not in joined
    assert not PERSONAL.search(joined), PERSONAL.search(joined)
    # narrative in Chinese, marked as synthetic data
    assert "合成数据" in nb.cells[0].source


YEARLY = sorted(p for p in NOTEBOOKS if p.name.endswith("_analysis.ipynb"))
TEMPLATE = NOTEBOOKS[0].parents[0] / "templates" / "yearly_analysis.py" if NOTEBOOKS else None


def test_yearly_notebooks_exist_for_2016_to_2018():
    assert [p.name for p in YEARLY] == ["2016_analysis.ipynb", "2017_analysis.ipynb",
                                        "2018_analysis.ipynb"]


@pytest.mark.parametrize("path", YEARLY, ids=lambda p: p.name)
def test_yearly_notebook_is_the_template_with_its_year_and_paired_with_py(path):
    import jupytext

    root = Path(__file__).resolve().parents[1]
    template = jupytext.read(root / "notebooks" / "templates" / "yearly_analysis.py")
    nb = nbformat.read(path, as_version=4)
    year = int(path.name[:4])
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and f"year = {year}" in injected[0].source
    ours = [c.source for c in nb.cells if c not in injected]
    assert ours == [c.source for c in template.cells]
    paired = jupytext.read(path.with_suffix(".py"))
    assert [c.source.rstrip() for c in paired.cells] == [c.source.rstrip() for c in nb.cells]
    # committed with outputs, figures included, so they read on any viewer
    kinds = {k for c in nb.cells for o in c.get("outputs", []) for k in o.get("data", {})}
    assert "image/png" in kinds and "text/html" in kinds
