"""The yearly analysis notebook of a data directory: written from the template shipped here, and run.

``quchi-stats notebook --year Y --data DIR --out FILE.ipynb`` calls :func:`write_notebook`. The
template, ``yearly_analysis.ipynb`` beside this module, holds narrative and calls of the library
only; what it shows that the report does not (:func:`overview_table`, and
:func:`truth_comparison` for synthetic data) is computed here, where it is tested. It takes three
parameters, injected as papermill does (a cell tagged ``injected-parameters`` after the cell tagged
``parameters``): ``year``, ``data_dir`` and ``spec`` (a TOML file, or ``None`` for the bundled spec
of the year). Its title names the spec's county. Warnings are not silenced: the counted repairs of
the input are part of the record.

Writing needs the standard library only (``execute=False``, ``--no-execute``). Running the
notebook needs nbclient, nbformat and ipykernel: the ``notebook`` extra
(``pip install "quchi-stats[notebook]"``).
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ..errors import (
    DataError,
    MissingDependencyError,
    NotebookExecutionError,
    OutputExistsError,
    ParameterError,
    check_int,
    mask_personal,
)

__all__ = ["EXECUTION_MODULES", "INSTALL_HINT", "TEMPLATE", "WARNING_COLUMNS_ZH", "notebook_dict",
           "overview_table", "recorded_warnings", "require_execution", "show_warnings",
           "truth_comparison", "warnings_table", "write_notebook"]

TEMPLATE = Path(__file__).with_name("yearly_analysis.ipynb")
"""The yearly notebook's template (nbformat 4 JSON, no outputs)."""

EXECUTION_MODULES = ("nbclient", "nbformat", "ipykernel")
"""What running the notebook imports (the ``notebook`` extra)."""

INSTALL_HINT = 'pip install "quchi-stats[notebook]"'

#: Cells with this tag are kept only for synthetic data (a ``truth_YYYY`` file in the directory).
SYNTHETIC_ONLY = "synthetic-only"

#: The headers of :func:`overview_table`, in order (keys of ``Assessment.overview``).
OVERVIEW_ZH = (
    ("towns", "乡镇数"), ("villages", "行政村数"), ("households", "农户数"),
    ("registered", "建档立卡户"), ("exits", "当年退出户"), ("sampled_villages", "抽查村数"),
    ("primary", "正选户"), ("visited", "实际入户（含替补）"), ("rejects", "缺少核查结果的户"),
)

#: The problems the synthetic district injects (``truth_YYYY.csv``, ``injected_problem``).
PROBLEMS_ZH = {
    "low_satisfaction": "群众认可度偏低",
    "digital_exit": "数字脱贫",
    "self_report_inflated": "自评错退率虚报",
    "missed_hotspot": "漏评集中",
    "target_missed": "未完成年度减贫任务",
}


def overview_table(a) -> pd.DataFrame:
    """The year at a glance, one row with Chinese headers, from ``Assessment.overview``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> a = SimpleNamespace(year=2019, overview={"towns": 6, "villages": 65, "households": 9000})
    >>> overview_table(a).to_dict("records")
    [{'乡镇数': 6, '行政村数': 65, '农户数': 9000}]
    """
    ov = a.overview
    t = pd.DataFrame({zh: [ov[key]] for key, zh in OVERVIEW_ZH if key in ov},
                     index=pd.Index([a.year], name="年度"))
    return t


#: The headers of :func:`warnings_table`: where a warning was raised (a module, never a path), what
#: it says, and how often it was said.
WARNING_COLUMNS_ZH = ("来源", "信息", "次数")

#: What :func:`show_warnings` says when a block raised no warning (nothing repaired, nothing noted).
NO_WARNINGS_ZH = "没有提示：这一步未做任何修复。"


@contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised in the ``with`` block (the counted repairs of reading the
    input, a weighting class merged …), each time it is raised, instead of printing it: the
    notebook shows them as a table (:func:`warnings_table`), never silences them. Filters outside
    the block are restored when it ends.

    >>> with recorded_warnings() as caught:
    ...     warnings.warn("跳过 2 行标题")
    >>> [str(w.message) for w in caught]
    ['跳过 2 行标题']
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning recorded, none printed or dropped
        yield caught


def _source_module(filename: str) -> str:
    """The module a warning came from, without the install path: ``…/site-packages/quchi_stats/
    followup/conditional.py`` is ``quchi_stats.followup.conditional`` (on any system's path); a
    file outside a package we know is named by its file name alone."""
    parts = [p for p in re.split(r"[\\/]", filename) if p]
    if parts and parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    for root in ("quchi_stats", "pandas", "numpy", "scipy", "matplotlib"):
        if root in parts:
            i = len(parts) - 1 - parts[::-1].index(root)
            return ".".join(p for p in parts[i:] if p != "__init__")
    return re.split(r"[\\/]", filename)[-1]


def warnings_table(caught: Sequence[warnings.WarningMessage]) -> pd.DataFrame:
    """The warnings :func:`recorded_warnings` caught, one row per distinct (source, message) in
    the order first raised, with how often each was raised: 来源 (the module, never the path on
    this computer), 信息 (the message: a repair says how many households it concerned) and 次数.

    >>> with recorded_warnings() as caught:
    ...     for _ in range(2):
    ...         warnings.warn("统一了 3 户的数值写法")
    >>> warnings_table(caught).to_dict("records")  # doctest: +ELLIPSIS
    [{'来源': '...', '信息': '统一了 3 户的数值写法', '次数': 2}]
    """
    counts: dict[tuple[str, str], int] = {}
    for w in caught:
        key = (_source_module(w.filename), " ".join(str(w.message).split()))
        counts[key] = counts.get(key, 0) + 1
    return pd.DataFrame([(src, msg, n) for (src, msg), n in counts.items()],
                        columns=list(WARNING_COLUMNS_ZH))


def show_warnings(caught: Sequence[warnings.WarningMessage]) -> None:
    """Show in a notebook what :func:`recorded_warnings` caught: :func:`warnings_table` when a
    warning was raised, else one line saying there was none (not an empty table)."""
    table = warnings_table(caught)
    if table.empty:
        print(NO_WARNINGS_ZH)
        return
    from IPython.display import display  # a notebook's kernel has IPython

    display(table)


def _problems_zh(text: object) -> str:
    """``low_satisfaction；digital_exit:V`` as ``群众认可度偏低、数字脱贫（V）``."""
    if not isinstance(text, str) or not text.strip():
        return ""
    out = []
    for item in filter(None, (p.strip() for p in text.split("；"))):
        code, _, where = item.partition(":")
        name = PROBLEMS_ZH.get(code, code)
        out.append(f"{name}（{where}）" if where else name)
    return "、".join(out)


def truth_comparison(a, data: str | Path) -> pd.DataFrame:
    """Synthetic data only: each town's injected problems (``truth_YYYY.csv`` of ``data``) beside
    what the assessment ``a`` flagged and put on the watch list, Chinese headers, towns in the
    truth file's order. A town with a flag and no problem is a false alarm; a problem with
    neither, a miss.

    Raises :class:`~quchi_stats.errors.DataError` when the directory has no truth file (real data
    never has one).
    """
    from ..assessment import DISTRICT
    from ..io.datadir import DataDir

    path = DataDir(Path(data)).truth(a.year)
    truth = pd.read_csv(path, dtype={"town": str, "injected_problem": str})
    towns = truth.loc[truth["town"] != DISTRICT].drop_duplicates("town")

    def joined(table: pd.DataFrame) -> list[str]:
        items = {} if table.empty else table.groupby("town", sort=False)["item"].agg("、".join)
        return [items.get(t, "") for t in towns["town"]]

    return pd.DataFrame({
        "乡镇": towns["town"].to_numpy(),
        "注入的问题": [_problems_zh(p) for p in towns["injected_problem"]],
        "标记": joined(a.flags),
        "需关注": joined(a.watch),
    })


def _template() -> dict:
    return json.loads(TEMPLATE.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _path_literal(path: Path | None, base: Path) -> str:
    """A path as the notebook's parameter: relative to the notebook's folder (where it runs), so
    the notebook moves with its data; absolute when there is no relative path (another drive)."""
    if path is None:
        return "None"
    try:
        text = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # pragma: no cover - Windows, another drive
        text = str(path.resolve())
    return repr(Path(text).as_posix())


def notebook_dict(year: int, data: str | Path, out: str | Path, *,
                  spec: str | Path | None = None) -> dict:
    """The yearly notebook of ``data`` for ``year``, unexecuted, as nbformat 4 JSON data.

    The template's ``{{title}}``, ``{{year}}``, ``{{data_note}}`` and ``{{district}}`` are filled in
    (the title names the spec's county; ``{{district}}`` is its level, 全区, 全县 …), cells tagged
    ``synthetic-only`` are kept only when ``data`` holds the year's truth file, and the parameters
    are injected after the ``parameters`` cell, with paths relative to the folder of ``out``
    (where the notebook runs).

    Examples
    --------
    >>> from quchi_stats.datasets import data_path
    >>> nb = notebook_dict(2018, data_path(), data_path().parent / "notebooks" / "x.ipynb")
    >>> print("".join(nb["cells"][2]["source"]))
    # Parameters
    year = 2018
    data_dir = '../data_samples'
    spec = None
    """
    from ..io.datadir import DataDir
    from ..labels import district_label
    from ..spec import load_spec

    year = check_int("year", year, "notebook_dict", minimum=2000)
    data, out = Path(data), Path(out)
    if not data.is_dir():
        raise DataError("数据目录不存在", file=str(data))
    DataDir(data).register(year)  # the year's register is there (else: which file is missing)
    loaded = load_spec(spec if spec is not None else year, year=year)
    title = f"{loaded.county or '本县（区）'} {year} 年度扶贫开发工作成效考核"
    synthetic = any(data.glob(f"truth_{year}.*"))
    if synthetic:
        note = (f"> 数据目录 `{data.resolve().name}/` 中有真值文件 `truth_{year}.csv`："
                "这是 quchi_stats 生成的**合成数据**（模拟数据），不反映任何真实乡镇的情况；"
                "第 6 节把标记与注入的问题对照。")
    else:
        where = f"考核参数文件 `{Path(spec).name}`" if spec is not None else f"内置的 {year} 年度考核参数"
        note = f"> 数据目录 `{data.resolve().name}/`；{where}。"
    fill = {"{{title}}": title, "{{year}}": str(year), "{{data_note}}": note,
            "{{district}}": district_label(loaded.county)}  # 全区, 全县 … as the report says it
    nb = _template()
    cells = []
    for cell in nb["cells"]:
        if SYNTHETIC_ONLY in cell.get("metadata", {}).get("tags", []) and not synthetic:
            continue
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "markdown":
            text = _source(cell)
            for key, value in fill.items():
                text = text.replace(key, value)
            cell["source"] = _lines(text)
        cells.append(cell)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            base = out.parent
            params = (f"# Parameters\nyear = {year}\ndata_dir = {_path_literal(data, base)}\n"
                      f"spec = {_path_literal(Path(spec) if spec is not None else None, base)}\n")
            cells.append({"cell_type": "code", "execution_count": None, "id": "injected-parameters",
                          "metadata": {"tags": ["injected-parameters"]}, "outputs": [],
                          "source": _lines(params.rstrip("\n"))})
    nb["cells"] = cells
    return nb


def _dumps(nb: dict) -> bytes:
    """nbformat's own layout (indent 1, sorted keys, UTF-8), so a diff shows only changes."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def require_execution() -> None:
    """Import what running needs, or say in one line what to install."""
    import importlib

    missing = []
    for name in EXECUTION_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependencyError(
            f"执行笔记本需要 {'、'.join(missing)}，当前环境没有安装：请运行 {INSTALL_HINT}"
            "（或加 --no-execute 只写出不执行的笔记本）")


def _kernel_manager():
    """A kernel of the Python that runs quchi_stats (not whatever ``python3`` kernel a Jupyter
    installation registered), so the notebook imports this same quchi_stats."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            # the kernel's own log: errors only (it listens on localhost, and would warn that
            # TCP is unencrypted on every run)
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "--log-level=ERROR",
                                    "-f", "{connection_file}"],
                              display_name="Python 3", language="python", resource_dir="")

    return KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())


def _mask_outputs(nb) -> None:
    """Mask ID and phone numbers in every text output (as the command line masks what it
    prints); the library's tables carry none, this makes sure."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = mask_personal(_source(out) if isinstance(out["text"], list)
                                            else out["text"])
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str | list):
                    out["data"][kind] = mask_personal("".join(value) if isinstance(value, list)
                                                      else value)
            if out.get("output_type") == "error":
                out["evalue"] = mask_personal(out.get("evalue", ""))
                out["traceback"] = [mask_personal(t) for t in out.get("traceback", [])]


def write_notebook(year: int, data: str | Path, out: str | Path, *,
                   spec: str | Path | None = None, execute: bool = True, force: bool = False,
                   timeout: int = 1800) -> Path:
    """Write the yearly analysis notebook of ``data`` for ``year`` to ``out`` and run it.

    Parameters
    ----------
    year : int
    data : path
        The data directory (``register_YYYY``, ``sample_YYYY/``, ``results_YYYY`` …).
    out : path
        The ``.ipynb`` to write. It runs in its own folder; the data directory and the spec are
        written into it relative to that folder.
    spec : path, optional
        The assessment spec (default: the bundled spec of the year); its ``county`` names the
        notebook.
    execute : bool
        Run every cell (nbclient, in a kernel of this Python) and save the outputs. ``False``
        writes the notebook unexecuted and needs the standard library only.
    force : bool
        Replace ``out`` if it exists.
    timeout : int
        Seconds one cell may run.

    Returns
    -------
    Path
        ``out``. When a cell fails, the notebook run up to the failing cell is written there and
        :class:`~quchi_stats.errors.NotebookExecutionError` names the cell and the error.
    """
    out = Path(out)
    if out.suffix.lower() != ".ipynb":
        raise ParameterError(f"The 'out' parameter of write_notebook must be a .ipynb file. "
                             f"Got {str(out)!r}.")
    if out.exists() and not force:
        raise OutputExistsError(f"{out} 已存在；如需替换，请加 --force。")
    if execute:
        require_execution()
    nb_data = notebook_dict(year, data, out, spec=spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    from ..io.writers import atomic_write_bytes

    if not execute:
        return atomic_write_bytes(out, _dumps(nb_data))
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.reads(_dumps(nb_data).decode("utf-8"), as_version=4)  # sources joined, as read
    client = NotebookClient(nb, km=_kernel_manager(), timeout=timeout, record_timing=False,
                            resources={"metadata": {"path": str(out.parent.resolve())}})
    failure: CellExecutionError | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        failure = exc
    _mask_outputs(nb)
    atomic_write_bytes(out, nbformat.writes(nb).encode("utf-8") + b"\n")
    if failure is not None:
        code_cells = [c for c in nb.cells if c.cell_type == "code"]
        where = next((i for i, c in enumerate(code_cells, 1)
                      if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        first = (failure.evalue or "").strip().splitlines()
        what = f"{failure.ename}：{first[0]}" if first else failure.ename
        raise NotebookExecutionError(mask_personal(
            f"笔记本在第 {where} 个代码单元格出错（{what}）；已写出执行到出错处的 {out}，可打开查看"))
    return out
