"""The yearly assessment spec: indicators, thresholds and coding, from a TOML file.

Specs for 2016–2018 ship in ``quchi_stats/specs/assessment_YYYY.toml`` with the source of every
threshold cited beside it; users copy one, edit it and pass it with ``--spec``. Every rate is a
"good" rate (higher is better) with a lower threshold; ``display = "complement"`` reports an
indicator as ``1 − rate`` (错退率, 漏评率) with the threshold as an upper limit.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .errors import DataError
from .io.schema import SATISFACTION_LEVELS
from .sampling.draw import FRAME_NAMES

__all__ = ["AssessmentSpec", "Indicator", "load_spec"]


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
class AssessmentSpec:
    """All settings of one year's assessment (see the shipped TOML files for their meaning)."""

    year: int
    indicators: tuple[Indicator, ...]
    alpha: float = 0.05
    multiplicity: str = "holm"
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
    path: str = ""

    def indicator(self, name: str) -> Indicator:
        for ind in self.indicators:
            if ind.name == name:
                return ind
        raise KeyError(name)


_SAT_LOOKUP = {**{v: k for k, v in SATISFACTION_LEVELS.items()}, **{k: k for k in SATISFACTION_LEVELS}}


def load_spec(year_or_path: int | str | Path) -> AssessmentSpec:
    """Load the shipped spec of a year, or a user's TOML file.

    Examples
    --------
    >>> spec = load_spec(2018)
    >>> spec.exit_line, [i.label for i in spec.indicators][:4]
    (7365.0, ['识别准确率', '错退率', '漏评率', '群众认可度'])
    """
    if isinstance(year_or_path, int):
        ref = resources.files("quchi_stats") / "specs" / f"assessment_{year_or_path}.toml"
        if not ref.is_file():
            raise DataError(f"没有 {year_or_path} 年的内置考核参数；请用 --spec 指定 TOML 文件")
        text, name = ref.read_text(encoding="utf-8"), f"assessment_{year_or_path}.toml"
    else:
        path = Path(year_or_path)
        if not path.is_file():
            raise DataError("考核参数文件不存在", file=str(path))
        text, name = path.read_text(encoding="utf-8"), path.name
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"TOML 格式错误：{exc}", file=name) from None
    return _build(raw, name)


def _need(raw: dict, key: str, name: str, where: str = "") -> object:
    if key not in raw:
        raise DataError(f"{where}缺少“{key}”", file=name)
    return raw[key]


def _prob(value: object, key: str, name: str, where: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise DataError(f"{where}“{key}”应为 0 与 1 之间的小数，实际为 {value!r}", file=name)
    return float(value)


def _positive(value: object, key: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise DataError(f"“{key}”应为正数，实际为 {value!r}", file=name)
    return float(value)


def _build(raw: dict, name: str) -> AssessmentSpec:
    inds = []
    seen = set()
    for i, item in enumerate(_need(raw, "indicator", name), start=1):
        where = f"第 {i} 个 [[indicator]] "
        iname = str(_need(item, "name", name, where))
        if iname in seen:
            raise DataError(f"{where}的 name“{iname}”重复", file=name)
        seen.add(iname)
        frames = tuple(_need(item, "frames", name, where))
        bad = [f for f in frames if f not in FRAME_NAMES]
        if bad or not frames:
            raise DataError(f"{where}的 frames 应取自 {list(FRAME_NAMES)}，实际为 {list(frames)}",
                            file=name)
        choices = {"unit": ("person", "household"), "good": ("yes", "no"),
                   "display": ("rate", "complement")}
        for key, allowed in choices.items():
            if key in item and item[key] not in allowed:
                raise DataError(f"{where}的 {key} 应为 {'/'.join(allowed)}，实际为 {item[key]!r}",
                                file=name)
        inds.append(Indicator(
            name=iname, label=str(item.get("label", iname)), frames=frames,
            column=str(_need(item, "column", name, where)),
            threshold=_prob(_need(item, "threshold", name, where), "threshold", name, where),
            unit=item.get("unit", "household"), good=item.get("good", "yes"),
            display=item.get("display", "rate"), reported_as=str(item.get("reported_as", "")),
            source=str(item.get("source", "")), self_report=item.get("self_report")))
    levels = []
    for lev in raw.get("satisfied_levels", ["满意", "基本满意"]):
        if lev not in _SAT_LOOKUP:
            raise DataError(f"satisfied_levels 中的“{lev}”不是满意度选项（满意/基本满意/不满意/很不满意）",
                            file=name)
        levels.append(_SAT_LOOKUP[lev])
    mult = raw.get("multiplicity", "holm")
    if mult not in ("holm", "bh", "none"):
        raise DataError(f"multiplicity 应为 holm/bh/none，实际为 {mult!r}", file=name)
    design = raw.get("design", "two-stage")
    if design not in ("two-stage", "lqas"):
        raise DataError(f"design 应为 two-stage/lqas，实际为 {design!r}", file=name)
    from .estimation.intervals import CI_METHODS

    method = raw.get("interval_method", "jeffreys")
    if method not in CI_METHODS:
        raise DataError(f"interval_method 应为 {'/'.join(CI_METHODS)} 之一，实际为 {method!r}",
                        file=name)
    return AssessmentSpec(
        year=int(_need(raw, "year", name)), indicators=tuple(inds),
        alpha=_prob(raw.get("alpha", 0.05), "alpha", name), multiplicity=mult,
        interval_method=method, level=_prob(raw.get("level", 0.95), "level", name),
        power_shortfall=_prob(raw.get("power_shortfall", 0.05), "power_shortfall", name),
        deff_floor=_positive(raw.get("deff_floor", 1.0), "deff_floor", name),
        max_reject_share=_prob(raw.get("max_reject_share", 0.05), "max_reject_share", name),
        exit_line=float(raw.get("exit_line", 0.0)),
        identification_line_2014=float(raw.get("identification_line_2014", 4000)),
        satisfied_levels=tuple(levels), bunching_window=float(raw.get("bunching_window", 250)),
        funnel_overdispersion=bool(raw.get("funnel_overdispersion", False)),
        design=design, lqas_rule=dict(raw.get("lqas", {})), path=name)
