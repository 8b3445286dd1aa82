"""Canonical column names, their Chinese aliases and labels, and value codebooks.

This module is the one place that defines each column name and each Chinese label. Readers map any
alias (Chinese header as exported by 全国扶贫开发信息系统, or the English canonical name) to the
canonical English ``snake_case`` name; writers and reports use :data:`LABELS_ZH` to go back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..labels import COLUMN_LABELS_ZH, FRAME_LABELS_ZH

__all__ = [
    "ALLOCATION_LABELS_ZH",
    "CATEGORY_FORMS",
    "EXIT_STATUSES",
    "EXIT_STATUS_FORMS",
    "FRAMES",
    "LABELS_ZH",
    "LABOUR_FORMS",
    "PERSONAL_COLUMNS",
    "REGISTER",
    "RESULTS",
    "RESULT_LABELS_ZH",
    "RISK_COLUMNS",
    "SAMPLE",
    "SATISFACTION_LEVELS",
    "SELF_REPORT",
    "TABLES",
    "TARGETS",
    "VISIT_STATUSES",
    "YES_NO",
    "YES_NO_FORMS",
    "Column",
    "TableSchema",
    "ensure_no_personal_columns",
    "order_towns",
]

#: 是/否 codebook: every accepted spelling, mapped to bool (after NFKC and lower-casing).
YES_NO: dict[str, bool] = {
    "是": True, "否": False, "y": True, "n": False, "yes": True, "no": False,
    "1": True, "0": False, "true": True, "false": False, "1.0": True, "0.0": False,
}

#: 满意度 levels (canonical code -> Chinese), best first.
SATISFACTION_LEVELS: dict[str, str] = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "很不满意",
}

#: 入户状态 (canonical code -> Chinese).
VISIT_STATUSES: dict[str, str] = {
    "completed": "完成",
    "substitute": "替补",
    "unreachable": "无法入户",
}

#: Household categories (贫困户属性).
CATEGORIES: dict[str, str] = {
    "general": "一般贫困户",
    "dibao": "低保贫困户",
    "tekun": "特困供养贫困户",
    "dibao_tekun": "低保特困供养贫困户",
}

#: Other spellings of 贫困户属性 in the national system's exports (贫困户属性 aac006) and in older
#: ledgers (五保 is the former name of 特困供养), read as the codes above with a counted note.
CATEGORY_FORMS: dict[str, str] = {
    "低保户": "dibao", "五保贫困户": "tekun", "五保户": "tekun", "特困供养户": "tekun",
    "特困户": "tekun", "低保特困供养户": "dibao_tekun", "低保五保户": "dibao_tekun",
    "低保五保贫困户": "dibao_tekun",
}

#: 脱贫属性 / 脱贫状态 of the national system (aar010): canonical code -> Chinese.
EXIT_STATUSES: dict[str, str] = {
    "not_exited": "未脱贫",
    "exited": "已脱贫",
    "returned": "返贫",
}

#: The export's spellings and numeric codes of 脱贫状态 (aar010: 0 未脱贫, 1 已脱贫（享受政策）,
#: 3 返贫, 4 已脱贫（不再享受政策）), read as the codes above with a counted note.
EXIT_STATUS_FORMS: dict[str, str] = {
    "0": "not_exited", "1": "exited", "3": "returned", "4": "exited",
    "已脱贫(享受政策)": "exited", "已脱贫(不再享受政策)": "exited", "已脱贫享受政策": "exited",
    "已脱贫不再享受政策": "exited", "脱贫": "exited", "脱贫享受政策": "exited",
    "脱贫不享受政策": "exited", "脱贫不再享受政策": "exited", "返贫户": "returned",
}

#: 劳动技能 of the national system (普通劳动力 / 技能劳动力 / 弱劳动力或半劳动力 / 丧失劳动力 /
#: 无劳动力) and plain-word forms, read as 劳动能力 是/否: a weak or half labour force still has
#: labour capacity (有劳动能力); lost or no labour force has none.
LABOUR_FORMS: dict[str, bool] = {
    "普通劳动力": True, "技能劳动力": True, "弱劳动力或半劳动力": True, "弱劳动力": True,
    "半劳动力": True, "丧失劳动力": False, "无劳动力": False, "有劳动能力": True,
    "无劳动能力": False, "丧失劳动能力": False, "有劳动力": True,
}

#: Marks and words read as 是/否 beyond :data:`YES_NO`, with a counted note (after NFKC and
#: lower-casing).
YES_NO_FORMS: dict[str, bool] = {
    "√": True, "✓": True, "✔": True, "×": False, "✗": False, "✘": False,
    "有": True, "无": False, "没有": False, "是的": True, "不是": False, "对": True, "错": False,
}

#: The three sampling frames of a village (canonical code -> Chinese).
FRAMES: dict[str, str] = FRAME_LABELS_ZH  # the label registry (quchi_stats.labels)

@dataclass(frozen=True)
class Column:
    """One canonical column: its name, Chinese label, aliases, value kind and whether required.

    ``kind`` is one of ``"str"``, ``"int"``, ``"float"``, ``"yesno"``, ``"enum"``, ``"rate"``.
    ``nullable`` allows blank cells. ``minimum`` and ``maximum`` bound numbers (inclusive); numbers
    are always finite (``inf``, ``nan`` are refused).
    """

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    kind: str = "str"
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    codes: dict[str, str] = field(default_factory=dict)
    personal: bool = False

    def all_names(self) -> tuple[str, ...]:
        return (self.name, self.label, *self.aliases)


@dataclass(frozen=True)
class TableSchema:
    """The columns of one kind of table and a Chinese name for messages."""

    kind: str
    label: str
    columns: tuple[Column, ...]
    key: str | None = None

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


_TOWN = Column("town", "乡镇", ("乡(镇)", "乡（镇）", "镇", "镇街", "乡镇名称", "乡镇(街道)"))
_VILLAGE = Column("village", "行政村", ("村", "行政村名称", "村名称", "村名"))
_HH = Column("household_id", "户编号", ("户号", "户ID", "aac001"))
#: Upper bounds of the data contract (data_samples/README.md, docs/errors.md): far above any real
#: value, low enough that a typo such as 1e15 persons or an income of 1e308 is refused.
MAX_YEAR = 2100
MAX_HOUSEHOLD_SIZE = 100          # persons in one household
MAX_INCOME = 10_000_000.0         # yuan per person and year
MAX_COUNT = 10_000_000            # villages, households, persons, ranks, weights

_YEAR = Column("year", "年度", ("考核年度",), kind="int", minimum=2000, maximum=MAX_YEAR)
_SIZE = {"kind": "int", "minimum": 1, "maximum": MAX_HOUSEHOLD_SIZE}
_COUNT = {"kind": "int", "minimum": 1, "maximum": MAX_COUNT}
_PROB = {"kind": "float", "minimum": 0.0, "maximum": 1.0}
_RISK = {"kind": "yesno", "required": False, "nullable": True}

REGISTER = TableSchema("register", "农户台账", (
    _TOWN, _VILLAGE, _HH,
    Column("household_size", "人数", ("家庭人数", "户人数", "家庭人口数", "家庭人口", "aac017"),
           **_SIZE),
    Column("registered", "是否建档立卡", ("建档立卡",), kind="yesno"),
    Column("exit_year", "脱贫年度", ("退出年度", "脱贫年份", "aac023"), kind="int", nullable=True,
           minimum=2000, maximum=MAX_YEAR),
    Column("category", "贫困户属性", ("aac006",), kind="enum", nullable=True, codes=CATEGORIES),
    Column("able_to_work", "劳动能力", ("有劳动能力", "劳动技能"), kind="yesno", nullable=True),
    Column("income_per_capita", "人均可支配收入", ("人均纯收入", "人均收入"), kind="float",
           minimum=0.0, maximum=MAX_INCOME),
    Column("priority_village", "省定贫困村", ("是否省定贫困村", "相对贫困村"), kind="yesno"),
    Column("head_name", "户主姓名", ("姓名",), required=False, nullable=True, personal=True),
    Column("id_number", "证件号码", ("身份证号", "身份证号码", "户主证件号码", "户主身份证号码",
                                     "aac031"), required=False, nullable=True, personal=True),
    Column("phone", "联系电话", ("电话", "手机号码"), required=False, nullable=True, personal=True),
    Column("exit_status", "脱贫状态", ("脱贫属性", "aar010"), kind="enum", required=False,
           nullable=True, codes=EXIT_STATUSES),
    # optional risk flags (是/否, blank = 否): a non-registered household with any of them is a
    # risk household that ``DesignPlan(risk_factor=k)`` oversamples for 漏评
    Column("dibao", "低保", ("是否低保", "低保对象"), **_RISK),
    Column("dilapidated_house", "危房", ("是否危房", "住房为危房"), **_RISK),
    Column("serious_illness", "大病/慢性病", ("大病", "慢性病", "大病或慢性病", "大病慢性病",
                                              "患大病或慢性病"), **_RISK),
    Column("disability", "残疾", ("是否残疾", "有残疾人"), **_RISK),
    Column("elderly_alone", "独居老人", ("是否独居老人",), **_RISK),
), key="household_id")

#: The optional risk columns of the register (any one 是 makes a risk household).
RISK_COLUMNS: tuple[str, ...] = ("dibao", "dilapidated_house", "serious_illness", "disability",
                                 "elderly_alone")

SAMPLE = TableSchema("sample", "抽查样本", (
    _YEAR, _TOWN, _VILLAGE, _HH,
    Column("household_size", "人数", **_SIZE),
    Column("frame", "抽样框", kind="enum", codes=FRAMES),
    Column("role", "角色", kind="enum", codes={"primary": "正选", "reserve": "备选"}),
    Column("reserve_rank", "备选顺序", nullable=True, **_COUNT),
    Column("pi_village", "村入样概率", **_PROB),
    Column("pi_household", "户入样概率", **_PROB),
    Column("pi", "入样概率", **_PROB),
    Column("weight", "设计权数", kind="float", minimum=1.0, maximum=MAX_COUNT),
    Column("n_villages_in_town", "镇行政村数", **_COUNT),
    Column("n_villages_sampled_in_town", "镇抽中村数", **_COUNT),
    Column("n_households_in_frame_of_village", "村框内户数", **_COUNT),
    Column("n_households_sampled_in_frame_of_village", "村框内抽中户数", **_COUNT),
    Column("certainty_village", "必选村", kind="yesno"),
    # only in a draw with risk_factor > 1: 是 for a risk household of the non-registered frame
    # (drawn from its own sub-frame), 否 for another one, blank in the other frames
    Column("risk", "风险户", kind="yesno", required=False, nullable=True),
), key="household_id")

_YESNO_RESULT = {"kind": "yesno", "required": False, "nullable": True}
RESULTS = TableSchema("results", "入户核查结果", (
    _HH, _YEAR,
    # blank: a household not visited (an unused reserve row of the entry workbook); a row with
    # answers but no status is refused by io.entry.read_results
    Column("visit_status", "入户状态", ("走访状态",), kind="enum", nullable=True,
           codes=VISIT_STATUSES),
    Column("identified_correctly", "识别准确", ("识别是否准确",), **_YESNO_RESULT),
    Column("exit_correct", "退出准确", ("退出是否准确",), **_YESNO_RESULT),
    Column("missed", "漏评", ("是否漏评",), **_YESNO_RESULT),
    Column("satisfaction", "满意度", ("群众满意度",), kind="enum", required=False, nullable=True,
           codes=SATISFACTION_LEVELS),
    Column("food_clothing", "吃穿不愁", ("不愁吃不愁穿",), **_YESNO_RESULT),
    Column("compulsory_education", "义务教育保障", (), **_YESNO_RESULT),
    Column("basic_medical", "基本医疗保障", (), **_YESNO_RESULT),
    Column("housing_safety", "住房安全保障", (), **_YESNO_RESULT),
), key="household_id")

_RATE = {"kind": "rate", "required": False, "nullable": True}
SELF_REPORT = TableSchema("self_report", "乡镇自评", (
    _TOWN, _YEAR,
    Column("identification_accuracy", "识别准确率", (), **_RATE),
    Column("exit_accuracy", "退出准确率", (), **_RATE),
    Column("missed_rate", "漏评率", (), **_RATE),
    Column("satisfaction_rate", "群众认可度", ("群众满意度",), **_RATE),
), key="town")

TARGETS = TableSchema("targets", "年度减贫任务", (
    _TOWN, _YEAR,
    Column("planned_exit_households", "计划脱贫户数", (), kind="int", minimum=0, maximum=MAX_COUNT),
    Column("planned_exit_persons", "计划脱贫人数", (), kind="int", minimum=0, maximum=MAX_COUNT),
), key="town")

TABLES: dict[str, TableSchema] = {
    s.kind: s for s in (REGISTER, SAMPLE, RESULTS, SELF_REPORT, TARGETS)
}

#: Columns holding personal data: never written to any output.
PERSONAL_COLUMNS: frozenset[str] = frozenset(
    c.name for s in TABLES.values() for c in s.columns if c.personal)



def ensure_no_personal_columns(columns, where: str) -> None:
    """Raise :class:`~quchi_stats.errors.PersonalDataError` when ``columns`` include a personal
    column (户主姓名, 证件号码, 联系电话). A check that raises, not an ``assert``: ``python -O``
    removes asserts, and this guard must hold in every run."""
    from ..errors import PersonalDataError

    leaked = sorted(PERSONAL_COLUMNS.intersection(columns))
    if leaked:
        labels = "、".join(LABELS_ZH.get(c, c) for c in leaked)
        raise PersonalDataError(f"{where}含有个人信息列（{labels}），拒绝写出")


#: Canonical name -> Chinese label, for every column of every table.
LABELS_ZH: dict[str, str] = {c.name: c.label for s in TABLES.values() for c in s.columns}

#: Chinese headers of the per-town allocation table of a draw.
ALLOCATION_LABELS_ZH: dict[str, str] = {
    "town": "乡镇",
    "n_villages_in_town": "行政村数",
    "n_villages_sampled_in_town": "抽中村数",
    "certainty_villages": "必选村数",
    "n_registered": "抽中村建档立卡户",
    "n_exited": "抽中村当年退出户",
    "n_non_registered": "抽中村非建档立卡户",
    "n_registered_sampled": "抽建档立卡户",
    "n_exited_sampled": "抽退出户",
    "n_non_registered_sampled": "抽非建档立卡户",
    "margin_registered": "建档立卡户误差界",
    "margin_exited": "退出户误差界",
    "margin_non_registered": "非建档立卡户误差界",
    "n_non_registered_risk": "抽中村非建档立卡风险户",
    "n_non_registered_risk_sampled": "抽非建档立卡风险户",
}


def order_towns(towns: Iterable[str], order: Iterable[str] = ()) -> list[str]:
    """The distinct ``towns`` in the year's order: those ``order`` lists (the spec's ``towns``)
    as it lists them, then the others in order of first appearance.

    >>> order_towns(["乙镇", "甲镇", "乙镇", "丙镇"])
    ['乙镇', '甲镇', '丙镇']
    >>> order_towns(["乙镇", "甲镇", "丙镇"], order=["丙镇", "丁镇", "甲镇"])
    ['丙镇', '甲镇', '乙镇']
    """
    present = list(dict.fromkeys(towns))
    seen = set(present)
    listed = [t for t in dict.fromkeys(order) if t in seen]
    done = set(listed)
    return listed + [t for t in present if t not in done]


#: Chinese headers of estimate tables (``EstimateResult.to_frame(chinese=True)``).
RESULT_LABELS_ZH: dict[str, str] = {c: COLUMN_LABELS_ZH[c] for c in (
    "estimate", "se", "ci_lower", "ci_upper", "level", "n", "n_eff", "df", "deff", "cv", "method",
    "p_value")}  # the label registry's spellings (quchi_stats.labels)
