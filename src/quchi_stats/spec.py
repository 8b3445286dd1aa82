"""The yearly assessment spec: indicators, thresholds and coding, from a TOML file.

Specs for 2016–2018 ship in ``quchi_stats/specs/assessment_YYYY.toml`` with the source of every
threshold cited beside it; users copy one, edit it and pass it with ``--spec``. Every rate is a
"good" rate (higher is better) with a lower threshold; ``display = "complement"`` reports an
indicator as ``1 − rate`` (错退率, 漏评率) with the threshold as an upper limit.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ._strict import Field, check_table, decode_utf8, describe, doc_range, read_text_capped
from .errors import DataError, ParameterError
from .io.readers import check_columns
from .io.schema import RESULTS, SATISFACTION_LEVELS, SELF_REPORT
from .sampling.draw import FRAME_NAMES

__all__ = [
    "FOLLOWUP_FIELDS",
    "INDICATOR_FIELDS",
    "LQAS_FIELDS",
    "MULTIPLICITY_FAMILIES",
    "RESULT_COLUMNS",
    "SPEC_FIELDS",
    "TEST_METHODS",
    "AssessmentSpec",
    "FollowupRule",
    "Indicator",
    "check_spec_year",
    "latest_bundled_year",
    "load_spec",
    "spec_fields_markdown",
    "write_spec",
]


@dataclass(frozen=True)
class Indicator:
    """One assessed rate.

    ``column`` is a field-results column (or ``satisfied``) read on the households of ``frames``;
    ``good`` says which answer is good (``"yes"``, or ``"no"`` for 漏评); ``unit`` is
    ``"person"`` (weighted by household size) or ``"household"``; the good rate must be
    ``>= threshold``.
    """

    name: str
    label: str
    frames: tuple[str, ...]
    column: str
    threshold: float
    unit: str = "household"
    good: str = "yes"
    display: str = "rate"
    reported_as: str = ""
    source: str = ""
    self_report: str | None = None

    def shown(self, rate: float) -> float:
        """The rate as reported (``1 − rate`` for complements)."""
        return 1.0 - rate if self.display == "complement" else rate

    @property
    def shown_threshold(self) -> float:
        return self.shown(self.threshold)

    @property
    def comparison(self) -> str:
        return "<" if self.display == "complement" else "≥"


@dataclass(frozen=True)
class FollowupRule:
    """The pre-registered two-phase 复核 rule (the spec's ``[followup]`` section).

    A town × indicator of ``indicators`` whose phase-1 one-sided p-value ``p1`` is in the
    continuation region ``alpha_stop < p1 <= alpha_futility`` is screened: its town gets
    ``villages`` more villages drawn by ``village_method`` from its villages not yet visited (all
    of them when fewer remain), with ``households`` per frame in each (``census_frames`` taken
    whole), plus ``reserves``; no more than ``max_extra_households`` households in all. The final
    decision combines ``p1`` and the phase-2 p-value by the inverse normal method with the
    pre-fixed weights ``weight_phase1`` and ``sqrt(1 − weight_phase1²)``
    (:mod:`quchi_stats.followup`).

    With ``method = "conditional"`` a pair is screened when ``p1 <= alpha_futility`` (no
    ``alpha_stop``), and ``alpha_futility_by_indicator`` may give some indicators their own
    screening level (:meth:`futility`; the others keep ``alpha_futility``). The conditional test
    is valid given phase 1 whatever the screen, so the levels only move power and cost.

    Examples
    --------
    >>> rule = FollowupRule(indicators=("s", "e"), method="conditional", alpha_futility=0.2,
    ...                     alpha_futility_by_indicator={"s": 0.4})
    >>> rule.futility("s"), rule.futility("e")
    (0.4, 0.2)
    >>> rule.to_dict()["alpha_futility_by_indicator"]
    {'s': 0.4}
    >>> "alpha_futility_by_indicator" in FollowupRule(indicators=("s",)).to_dict()
    False
    """

    indicators: tuple[str, ...]
    alpha_stop: float = 0.0005
    alpha_futility: float = 0.3
    weight_phase1: float = 0.7071
    villages: int = 5
    households: dict[str, int] = field(
        default_factory=lambda: {"registered": 10, "exited": 8, "non_registered": 8})
    census_frames: tuple[str, ...] = ()
    village_method: str = "pps_systematic"
    reserves: int = 3
    max_extra_households: int = 1000
    method: str = "inverse-normal"
    alpha_share: float | None = None
    alpha_futility_by_indicator: dict[str, float] = field(default_factory=dict)

    def futility(self, indicator: str) -> float:
        """The screening level α0 of ``indicator``: its own in ``alpha_futility_by_indicator``,
        else ``alpha_futility``."""
        return float(self.alpha_futility_by_indicator.get(indicator, self.alpha_futility))

    def share(self, n_rule_pairs: int, n_pairs: int) -> float:
        """The part of the spec's ``alpha`` the conditional method gives the 复核 decisions: the
        rule's ``alpha_share``, or by default the rule's share of the family's town × indicator
        pairs (``n_rule_pairs / n_pairs``, a weighted Bonferroni split with equal weights)."""
        if self.alpha_share is not None:
            return float(self.alpha_share)
        return n_rule_pairs / n_pairs if n_pairs else 1.0

    @property
    def weight_phase2(self) -> float:
        return float((1.0 - self.weight_phase1 ** 2) ** 0.5)

    def to_dict(self) -> dict:
        """The rule as plain JSON-able values (what the manifests record)."""
        return {"indicators": list(self.indicators), "alpha_stop": self.alpha_stop,
                "alpha_futility": self.alpha_futility, "weight_phase1": self.weight_phase1,
                "villages": self.villages, "households": dict(self.households),
                "census_frames": list(self.census_frames),
                "village_method": self.village_method, "reserves": self.reserves,
                "max_extra_households": self.max_extra_households,
                # recorded only when not the defaults, so that rules recorded before these keys
                # existed still read back equal (their SHA-256 is unchanged)
                **({} if self.method == "inverse-normal" else {"method": self.method}),
                **({} if self.alpha_share is None else {"alpha_share": self.alpha_share}),
                **({} if not self.alpha_futility_by_indicator else
                   {"alpha_futility_by_indicator": {k: float(v) for k, v in
                                                    self.alpha_futility_by_indicator.items()}})}

    @classmethod
    def from_dict(cls, data: dict) -> FollowupRule:
        d = dict(data)
        by = {k: float(v) for k, v in d.pop("alpha_futility_by_indicator", {}).items()}
        return cls(indicators=tuple(d.pop("indicators")),
                   census_frames=tuple(d.pop("census_frames", ())),
                   alpha_futility_by_indicator=by,
                   households={k: int(v) for k, v in d.pop("households").items()}, **d)


@dataclass(frozen=True)
class AssessmentSpec:
    """All settings of one year's assessment (see the shipped TOML files for their meaning)."""

    year: int
    indicators: tuple[Indicator, ...]
    county: str = ""
    towns: tuple[str, ...] = ()
    alpha: float = 0.05
    multiplicity: str = "holm"
    multiplicity_family: str = "all"
    test_method: str = "beta-binomial-adjusted"
    interval_method: str = "jeffreys"
    level: float = 0.95
    power_shortfall: float = 0.05
    deff_floor: float = 1.0
    max_reject_share: float = 0.05
    exit_line: float = 0.0
    identification_line_2014: float = 4000.0
    satisfied_levels: tuple[str, ...] = ("satisfied", "basically_satisfied")
    bunching_window: float = 250.0
    funnel_overdispersion: bool = False
    design: str = "two-stage"
    lqas_rule: dict = field(default_factory=dict)
    columns: dict = field(default_factory=dict)
    """The user's header aliases (``[columns]``: header -> column), used for every table read."""
    followup: FollowupRule | None = None
    path: str = ""

    def indicator(self, name: str) -> Indicator:
        for ind in self.indicators:
            if ind.name == name:
                return ind
        raise KeyError(name)


_SAT_LOOKUP = {**{v: k for k, v in SATISFACTION_LEVELS.items()}, **{k: k for k in SATISFACTION_LEVELS}}

#: Largest spec file read (a real spec is about 5 KB).
MAX_SPEC_BYTES = 1_000_000
#: Field-results columns an indicator can be computed on (0/1 after coding); ``satisfied`` is
#: coded from 满意度 with ``satisfied_levels``.
RESULT_COLUMNS = (*(c.name for c in RESULTS.columns if c.kind == "yesno"), "satisfied")
#: Self-assessment columns an indicator can be compared with (第九条).
SELF_REPORT_COLUMNS = tuple(c.name for c in SELF_REPORT.columns if c.kind == "rate")


def _ci_methods() -> tuple[str, ...]:
    from .estimation.intervals import CI_METHODS  # lazy: pulls in scipy

    return tuple(CI_METHODS)


_MONEY = {"lo": 0, "lo_open": True, "hi": 100_000}
#: How a town is tested against its standard (第七条（四）) and its interval computed.
TEST_METHODS = ("beta-binomial", "beta-binomial-adjusted", "design")
#: Multiplicity families of the 第七条（四） tests.
MULTIPLICITY_FAMILIES = ("all", "indicator")
#: Every key of a spec file, declared once: the loader checks a file against these (unknown keys,
#: types, ranges, required keys) and docs/flags.md lists them (``spec_fields_markdown``).
INDICATOR_FIELDS: tuple[Field, ...] = (
    Field("name", "str", "指标代号（英文字母、数字、下划线）", required=True, min_len=1, max_len=64,
          pattern=r"[A-Za-z_][A-Za-z0-9_]*"),
    Field("label", "str", "指标中文名（报告和图中显示）", min_len=1, max_len=200),
    Field("frames", "list", "计算该指标的抽样框", required=True, min_len=1, max_len=3, unique=True,
          item=Field("frames", "choice", choices=FRAME_NAMES)),
    Field("column", "choice", "核查结果中的列（satisfied 由满意度按 satisfied_levels 编码）",
          required=True, choices=RESULT_COLUMNS),
    Field("threshold", "number", "“好”比率的标准（下限）", required=True, lo=0, hi=1, lo_open=True,
          hi_open=True),
    Field("unit", "choice", "按人（person，以户人数加权）或按户（household）计", default="household",
          choices=("person", "household")),
    Field("good", "choice", "哪个回答为“好”（漏评为 no）", default="yes", choices=("yes", "no")),
    Field("display", "choice", "报告为比率本身（rate）或 1 − 比率（complement，如错退率）",
          default="rate", choices=("rate", "complement")),
    Field("reported_as", "str", "报告中对标准的写法", default="", max_len=200),
    Field("source", "str", "标准的出处", default="", max_len=500),
    Field("self_report", "choice", "乡镇自评表中对应的列（第九条对照）", choices=SELF_REPORT_COLUMNS),
)
LQAS_FIELDS: tuple[Field, ...] = (
    Field("n", "int", "LQAS 每镇样本户数", required=True, lo=1, hi=10_000),
    Field("d", "int", "LQAS 判定阈值：“好”的户数不少于 d 判为达标（1 ≤ d ≤ n）", required=True, lo=1,
          hi=10_000),
)
_FRAME_COUNT = {"lo": 0, "hi": 10_000}
#: Households per frame in each new village of a follow-up, by default.
_FOLLOWUP_HOUSEHOLDS = (("registered", 10), ("exited", 8), ("non_registered", 8))
FOLLOWUP_FIELDS: tuple[Field, ...] = (
    Field("indicators", "list", "复核筛查的指标（[[indicator]] 的 name）", required=True, min_len=1,
          max_len=50, unique=True, item=Field("indicators", "str", min_len=1, max_len=64)),
    Field("alpha_stop", "number", "第一阶段即判定的单侧 P 值上限 α1（P ≤ α1 不复核，直接判定）",
          default=0.0005, lo=0, lo_open=True, hi=0.5, hi_open=True),
    Field("alpha_futility", "number", "复核区间上限 α0：α1 < P ≤ α0 的镇 × 指标复核，P > α0 不复核",
          default=0.3, lo=0, lo_open=True, hi=1),
    Field("weight_phase1", "number", "逆正态合并中第一阶段的权 w1（w2 = √(1 − w1²)），事先固定",
          default=0.7071, lo=0, lo_open=True, hi=1, hi_open=True),
    Field("villages", "int", "被筛出的镇再抽的村数（未入样的村不足时全部抽取）", default=5, lo=1,
          hi=1000),
    Field("households", "table", "新抽村每村每框抽户数", default={}, fields=tuple(
        Field(f, "int", f"{f} 框每村抽户数", default=d, **_FRAME_COUNT)
        for f, d in _FOLLOWUP_HOUSEHOLDS)),
    Field("census_frames", "list", "新抽村中全部入样（普查）的抽样框，如当年退出户 exited",
          default=[], min_len=0, max_len=3, unique=True,
          item=Field("census_frames", "choice", choices=FRAME_NAMES)),
    Field("village_method", "choice", "复核抽村方法（在未入样的村中）", default="pps_systematic",
          choices=("pps_systematic", "sampford", "systematic", "srswor")),
    Field("reserves", "int", "新抽村每框备选户数", default=3, lo=0, hi=100),
    Field("max_extra_households", "int", "复核最多增加的户数（按 P 值从小到大依次安排）",
          default=1000, lo=1, hi=1_000_000),
    Field("method", "choice", "复核判定方法：conditional（条件检验：被筛出的镇全部村补抽未入户的户，"
          "检验全镇实际比率；推荐）| inverse-normal（逆正态合并，只在未入样的村中再抽）",
          default="inverse-normal", choices=("inverse-normal", "conditional")),
    Field("alpha_share", "number", "conditional 方法中复核判定分得的显著性水平比例（其余给不在规则内的"
          "镇 × 指标）；不填：按规则内镇 × 指标占全部的比例", lo=0, lo_open=True, hi=1),
    Field("alpha_futility_by_indicator", "table", "（仅 conditional 方法）个别指标自己的筛查水平 α0："
          "指标 name = (0, 1] 内的数，如 { satisfaction_rate = 0.4 }；未列出的指标用 alpha_futility",
          open_table=True, default={}),
)
SPEC_FIELDS: tuple[Field, ...] = (
    Field("year", "int", "考核年度（须与 --year 相同）", required=True, lo=2000, hi=2100),
    Field("county", "str", "县（区）名称，用于报告标题、正文和笔记本", default="", max_len=50),
    Field("towns", "list", "乡镇的列出顺序（不填：按农户台账中首次出现的顺序）", default=[], max_len=500,
          unique=True, item=Field("towns", "str", min_len=1, max_len=50)),
    Field("alpha", "number", "显著性水平（单侧）", default=0.05, lo=0, lo_open=True, hi=0.5),
    Field("multiplicity", "choice", "多重比较校正方法", default="holm",
          choices=("holm", "hochberg", "bh", "none")),
    Field("multiplicity_family", "choice",
          "多重比较校正的族：all（全部 镇×指标 为一族，控制全年的误判）| indicator（每个指标的各镇为一族）",
          default="all", choices=MULTIPLICITY_FAMILIES),
    Field("test_method", "choice",
          "各镇“低于标准”的检验和区间：beta-binomial-adjusted（借用全县（区）村内相关系数，用方差分析估计，"
          "全满/全空的镇用 mid-p 界；默认）| beta-binomial（村内相关系数用 Cox–Reid 调整似然估计）"
          "| design（各镇自身设计效应）",
          default="beta-binomial-adjusted", choices=TEST_METHODS),
    Field("interval_method", "choice",
          "置信区间方法（全县（区）估计；test_method = \"design\" 时也用于各镇）",
          default="jeffreys", choices=_ci_methods),
    Field("level", "number", "置信水平", default=0.95, lo=0.5, hi=1, hi_open=True),
    Field("power_shortfall", "number", "把握度按真实比率比标准低多少计算", default=0.05, lo=0,
          lo_open=True, hi=0.5),
    Field("max_reject_share", "number", "缺少结果的已入户户占有效样本的比例上限", default=0.05, lo=0,
          hi=0.5),
    Field("deff_floor", "number", "判定检验中设计效应的下限（仅 test_method = \"design\"）",
          default=1.0, lo=0, lo_open=True, hi=10),
    Field("exit_line", "number", "当年退出收入线（元/人）", required=True, **_MONEY),
    Field("identification_line_2014", "number", "识别线（2014 年价格，元/人）", default=4000.0,
          **_MONEY),
    Field("satisfied_levels", "list", "计为“认可”的满意度回答", default=["满意", "基本满意"], min_len=1,
          max_len=4, unique=True, item=Field("satisfied_levels", "choice",
                                            choices=tuple(_SAT_LOOKUP))),
    Field("bunching_window", "number", "“数字脱贫”检验：退出线上方多少元以内视为刚过线", default=250.0,
          lo=0, lo_open=True, hi=10_000),
    Field("funnel_overdispersion", "bool", "漏斗图是否按超离散放宽控制限", default=False),
    Field("design", "choice", "抽查设计", default="two-stage", choices=("two-stage", "lqas")),
    Field("lqas", "table", "LQAS 判定规则（design = \"lqas\" 时必需）", fields=LQAS_FIELDS),
    Field("followup", "table", "事先登记的两阶段复核规则（docs/followup.md）", fields=FOLLOWUP_FIELDS),
    Field("indicator", "tables", "考核指标，每个一节 [[indicator]]", required=True, min_len=1,
          max_len=50, fields=INDICATOR_FIELDS),
    Field("columns", "table", "列名对照：导出表头 = \"列名\"（如 \"农户编码\" = \"户编号\"），读每张表时使用",
          open_table=True, default={}),
)


def spec_fields_markdown() -> str:
    """The spec's keys as a Markdown table (the one in docs/flags.md)."""
    rows = ["| key | type and range | required / default | meaning |", "|---|---|---|---|"]
    for prefix, fields in (("", SPEC_FIELDS), ("[lqas] ", LQAS_FIELDS),
                           ("[followup] ", FOLLOWUP_FIELDS), ("[[indicator]] ", INDICATOR_FIELDS)):
        for f in fields:
            if f.kind in ("table", "tables"):
                need = "required" if f.required else "optional"
            else:
                need = ("required" if f.required
                        else "optional" if f.default is None else f"default `{_toml(f.default)}`")
            rows.append(f"| `{prefix}{f.key}` | {doc_range(f)} | {need} | {f.doc} |")
    return "\n".join(rows)


def _toml(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


def load_spec(year_or_path: int | str | Path, *, year: int | None = None) -> AssessmentSpec:
    """Load the shipped spec of a year, or a user's TOML file, checking every key strictly.

    Parameters
    ----------
    year_or_path : int, str or Path
        A year (the shipped ``assessment_YYYY.toml``) or the path of a TOML file (UTF-8, with or
        without BOM; at most 1 MB).
    year : int, optional
        The assessment year of the run (``--year``): the spec's ``year`` must equal it.

    Raises
    ------
    DataError
        One line naming the file and the key: an unknown key (with the nearest valid one), a
        value of the wrong type or out of its range (see docs/flags.md), a missing key, a spec
        for another year, a file that is not UTF-8 (GBK is named) or not TOML.

    Examples
    --------
    >>> spec = load_spec(2018)
    >>> spec.exit_line, [i.label for i in spec.indicators][:4]
    (7365.0, ['识别准确率', '错退率', '漏评率', '群众认可度'])
    """
    func = "load_spec"
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise ParameterError(f"The 'year' parameter of {func} must be an int. Got {year!r}.")
    if isinstance(year_or_path, bool):
        raise ParameterError(f"The 'year_or_path' parameter of {func} must be a year or a path. "
                             f"Got {year_or_path!r}.")
    if isinstance(year_or_path, int):
        ref = resources.files("quchi_stats") / "specs" / f"assessment_{year_or_path}.toml"
        if not ref.is_file():
            raise DataError(f"没有 {year_or_path} 年的内置考核参数；请用 --spec 指定 TOML 文件")
        name = f"assessment_{year_or_path}.toml"
        text = decode_utf8(ref.read_bytes(), name, "考核参数文件")
    elif isinstance(year_or_path, str | os.PathLike):
        path = Path(year_or_path)
        if not path.is_file():
            raise DataError("考核参数文件不存在" if not path.exists() else "考核参数应为普通的 TOML 文件",
                            file=str(path))
        name = path.name
        text = read_text_capped(path, name, MAX_SPEC_BYTES, "考核参数文件")
    else:
        raise ParameterError(f"The 'year_or_path' parameter of {func} must be a year or a path. "
                             f"Got {type(year_or_path).__name__}.")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"TOML 格式错误：{exc}", file=name) from None
    except RecursionError:
        raise DataError("TOML 嵌套层数过深（数组或表嵌套了上千层），不是有效的考核参数", file=name) from None
    except ValueError as exc:  # an integer of thousands of digits
        raise DataError(f"TOML 中有无法读取的数值（{_first_line(exc)}）", file=name) from None
    spec = _build(check_table(raw, SPEC_FIELDS, name), name)
    if year is not None:
        check_spec_year(spec, year)
    return spec


def _first_line(exc: Exception) -> str:
    if "digits" in str(exc):
        return "整数位数过多"
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def check_spec_year(spec: AssessmentSpec, year: int) -> None:
    """Refuse a spec written for another year than the run's."""
    if spec.year != year:
        raise DataError(f"year = {spec.year}，与本次考核年度 {year} 不符：考核参数须是当年的"
                        f"（退出线等逐年不同）", file=spec.path or None)


def _build(raw: dict, name: str) -> AssessmentSpec:
    """An :class:`AssessmentSpec` from a document already checked by ``check_table``; only the
    rules that tie keys together are checked here."""
    inds = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw["indicator"]):
        iname = item["name"]
        if iname in seen:
            raise DataError(f"[[indicator]] 第 {i + 1} 项 name = \"{iname}\" 与第 {seen[iname] + 1} 项重复",
                            file=name)
        seen[iname] = i
        inds.append(Indicator(
            name=iname, label=item.get("label", iname), frames=tuple(item["frames"]),
            column=item["column"], threshold=float(item["threshold"]), unit=item["unit"],
            good=item["good"], display=item["display"], reported_as=item["reported_as"],
            source=item["source"], self_report=item.get("self_report")))
    lqas = raw.get("lqas", {})
    if raw["design"] == "lqas" and not lqas:
        raise DataError('design = "lqas" 需要 [lqas] 表（n 和 d）', file=name)
    if lqas and lqas["d"] > lqas["n"]:
        raise DataError(f"[lqas] d 应不超过 n = {lqas['n']}（实际为 {lqas['d']}）", file=name)
    followup = _followup(raw.get("followup"), inds, float(raw["alpha"]), name)
    return AssessmentSpec(
        year=raw["year"], indicators=tuple(inds), county=raw["county"],
        towns=tuple(raw["towns"]), alpha=float(raw["alpha"]),
        multiplicity=raw["multiplicity"], multiplicity_family=raw["multiplicity_family"],
        test_method=raw["test_method"], interval_method=raw["interval_method"],
        level=float(raw["level"]), power_shortfall=float(raw["power_shortfall"]),
        deff_floor=float(raw["deff_floor"]), max_reject_share=float(raw["max_reject_share"]),
        exit_line=float(raw["exit_line"]),
        identification_line_2014=float(raw["identification_line_2014"]),
        satisfied_levels=tuple(dict.fromkeys(_SAT_LOOKUP[v] for v in raw["satisfied_levels"])),
        bunching_window=float(raw["bunching_window"]),
        funnel_overdispersion=raw["funnel_overdispersion"], design=raw["design"],
        lqas_rule=dict(lqas), columns=check_columns(raw.get("columns", {}), name),
        followup=followup, path=name)


#: What a user must check in a spec written for a new year (key → why), printed by ``spec``.
KEYS_TO_CHECK: tuple[tuple[str, str], ...] = (
    ("year", "考核年度"),
    ("county", "县（区）名称（报告标题和正文）"),
    ("towns", "乡镇的列出顺序（不填则按台账中首次出现的顺序）"),
    ("exit_line", "当年有劳动能力贫困户的退出收入线（元/人），每年由省里公布，必须改成当年的数"),
    ("[[indicator]] threshold",
     "各指标的判定标准（识别准确率、错退率、漏评率、群众认可度、两不愁三保障）及其出处 source"),
    ("alpha / multiplicity / multiplicity_family",
     "显著性水平和多重比较校正（默认 0.05、holm、全年 镇×指标 一族）"),
)


def latest_bundled_year() -> int:
    """The latest year with a shipped spec."""
    years = [int(m.group(1)) for f in (resources.files("quchi_stats") / "specs").iterdir()
             if (m := re.fullmatch(r"assessment_(\d{4})\.toml", f.name))]
    return max(years)


#: The two-phase 复核 that :func:`write_spec` offers, commented out (docs/followup.md): the
#: conditional method with the settings measured in benchmarks/followup_goals.py.
FOLLOWUP_TEMPLATE = """# 两阶段复核（可选，docs/followup.md）。要启用，去掉下面 [followup] 各行开头的 "# "，
# 并在抽样（quchi-stats design --spec）之前定好：抽样时规则记入抽样清单，之后不能改动。
# [followup]
# method = "conditional"       # 条件检验：被筛出的镇在全部村中补抽第一阶段未核查的户，检验全镇实际比率
# indicators = ["identification_accuracy", "exit_accuracy", "satisfaction_rate"]
# alpha_futility = 0.2         # 第一阶段单侧 P ≤ 此值的镇 × 指标进入复核
# alpha_futility_by_indicator = { satisfaction_rate = 0.3 }  # 群众认可度：P ≤ 0.3 即复核
# households = { registered = 6, exited = 4, non_registered = 4 }  # 每村每类补抽户数
# census_frames = ["exited"]   # 被复核镇的当年退出户全部核查
# max_extra_households = 1500  # 复核最多增加的户数

"""


def write_spec(year: int, out: str | Path, *, county: str | None = None,
               source: str | Path | None = None, force: bool = False) -> Path:
    """Write an editable spec for ``year``: the latest shipped spec (or ``source``) with its
    ``year`` (and ``county``, when given) set, every comment kept, checked by :func:`load_spec`.

    The user must still check the keys of :data:`KEYS_TO_CHECK` — above all the year's exit
    line, which no earlier spec can know.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``force`` is False.
    DataError
        ``source`` is not a valid spec.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> p = write_spec(2019, d / "spec_2019.toml", county="某某县")
    >>> s = load_spec(p, year=2019)
    >>> s.year, s.county
    (2019, '某某县')
    """
    from .errors import OutputExistsError, check_int

    year = check_int("year", year, "write_spec", minimum=2000)
    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(f"{out} 已存在；如需替换，请加 --force。")
    if source is None:
        base = latest_bundled_year()
        name = f"assessment_{base}.toml"
        text = decode_utf8((resources.files("quchi_stats") / "specs" / name).read_bytes(), name,
                           "考核参数文件")
    else:
        src = Path(source)
        load_spec(src)  # a broken source is refused before anything is written
        text = read_text_capped(src, src.name, MAX_SPEC_BYTES, "考核参数文件")
    if county is not None and (not county.strip() or any(ord(c) < 32 for c in county)):
        from .errors import ParameterError

        raise ParameterError(f"The 'county' parameter of write_spec must be a non-empty name on "
                             f"one line. Got {county!r}.")
    text = re.sub(r"(?m)^year\s*=\s*\d+", f"year = {year}", text, count=1)
    text = re.sub(r"(?m)^(# Assessment spec for )\d{4}", lambda m: f"{m.group(1)}{year}", text,
                  count=1)
    text = re.sub(r"(?m)^(#.*?)(\d{4})( 年度)", lambda m: f"{m.group(1)}{year}{m.group(3)}", text,
                  count=1)
    if county is not None:
        line = f"county = {json.dumps(county, ensure_ascii=False)}  # 县（区）名称：报告标题和正文"
        previous = re.search(r'(?m)^county\s*=\s*"([^"]*)"', text)
        if previous:
            text = re.sub(r"(?m)^county\s*=.*$", lambda m: line, text, count=1)
        else:
            text = re.sub(r"(?m)^(year = \d+.*)$", lambda m: m.group(1) + "\n" + line, text, count=1)
        text = re.sub(r"(?m)\A# (.*?)扶贫开发", lambda m: f"# {county}扶贫开发", text, count=1)
        if previous is None or previous.group(1) != county:  # another county's towns do not apply
            text = re.sub(r"(?m)^towns\s*=.*$",
                          lambda m: "towns = []  # 乡镇顺序：填本县（区）各镇，如 [\"甲镇\", \"乙镇\"]；"
                                    "不填则按农户台账中首次出现的顺序", text, count=1)
    if not re.search(r"(?m)^\s*#?\s*\[followup\]", text):  # offer the 复核, switched off
        text = re.sub(r"(?m)^\[\[indicator\]\]", lambda m: FOLLOWUP_TEMPLATE + m.group(0), text,
                      count=1)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        load_spec(tmp, year=year)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return out


def _followup(raw: dict | None, inds: list[Indicator], alpha: float,
              name: str) -> FollowupRule | None:
    """The [followup] rule, with the rules that tie its keys to the rest of the spec."""
    if raw is None:
        return None
    names = [i.name for i in inds]
    for k, iname in enumerate(raw["indicators"]):
        if iname not in names:
            raise DataError(f"[followup] indicators 第 {k + 1} 项“{iname}”不是 [[indicator]] 中的指标"
                            f"（可用：{'、'.join(names)}）", file=name)
    a1, a0 = float(raw["alpha_stop"]), float(raw["alpha_futility"])
    by = _futility_by(raw.get("alpha_futility_by_indicator") or {}, raw, name)
    if raw["method"] == "inverse-normal" and not a1 < alpha < a0:
        raise DataError(f"[followup] 应有 alpha_stop < alpha < alpha_futility（实际为 {a1:g}、"
                        f"{alpha:g}、{a0:g}）：否则两阶段检验无法达到水平 alpha", file=name)
    return FollowupRule(
        indicators=tuple(raw["indicators"]), alpha_stop=a1, alpha_futility=a0,
        weight_phase1=float(raw["weight_phase1"]), villages=int(raw["villages"]),
        households={f: int(raw["households"].get(f, d)) for f, d in _FOLLOWUP_HOUSEHOLDS},
        census_frames=tuple(raw["census_frames"]), village_method=raw["village_method"],
        reserves=int(raw["reserves"]), max_extra_households=int(raw["max_extra_households"]),
        method=raw["method"],
        alpha_share=None if raw.get("alpha_share") is None else float(raw["alpha_share"]),
        alpha_futility_by_indicator=by)


def _futility_by(table: dict, raw: dict, name: str) -> dict[str, float]:
    """``[followup] alpha_futility_by_indicator``, checked: only with the conditional method,
    keys among the rule's indicators, values numbers in (0, 1]."""
    if not table:
        return {}
    if raw["method"] != "conditional":
        raise DataError("[followup] alpha_futility_by_indicator 只能与 method = \"conditional\" 同用"
                        f"（实际 method = \"{raw['method']}\"）", file=name)
    out = {}
    for key, v in table.items():
        if key not in raw["indicators"]:
            raise DataError(f"[followup] alpha_futility_by_indicator 中的“{key}”不是 [followup] "
                            f"indicators 中的指标（可用：{'、'.join(raw['indicators'])}）", file=name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
            raise DataError(f"[followup] alpha_futility_by_indicator.{key} 应为 (0, 1] 内的数"
                            f"（实际为 {describe(v)}）", file=name)
        out[key] = float(v)
    return out
