"""From a drawn sample and its field results to a ``SurveyDesign`` of the respondents.

Nonresponse is handled by a weighting-class adjustment. A class is a village × frame (falling back
to town × frame in a town where some drawn village-frame has no respondent). Respondents are the
primary households visited (完成) and the reserve households that replaced unreachable ones (替补);
a reserve household stands in the class of the household it replaced and carries the same base
weight (1/π of its village-frame). In each class::

    factor = Σ base weights of the primary households drawn / Σ base weights of the respondents

so the respondents' adjusted weights add up to the class's estimated frame size, whether the gap was
filled by reserves, by reweighting, or both (Kalton & Flores-Cervantes 2003; Valliant, Dever &
Kreuter 2018, ch. 13). This assumes that, within a class, the households reached resemble those not
reached (missing at random within village and frame).
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd

from ..design import SurveyDesign
from ..errors import DataError, ParameterError, QuchiStatsWarning, check_choice
from ..io.schema import RESULTS, SAMPLE, TableSchema
from ..labels import COLUMN_LABELS_ZH
from ..sampling.draw import _FRAME_ZH, FRAME_NAMES, risk_groups, split_villages

__all__ = ["RESPONSE_LABELS_ZH", "Fieldwork", "fieldwork_design", "response_summary"]

SATISFIED_DEFAULT = ("satisfied", "basically_satisfied")

#: Chinese headers of :func:`response_summary` (the label registry's, :mod:`quchi_stats.labels`).
RESPONSE_LABELS_ZH = {c: COLUMN_LABELS_ZH[c] for c in (
    "town", "frame", "primary", "completed", "unreachable", "no_record", "substitute", "respondents",
    "response_rate", "factor")}


#: The columns fieldwork_design reads (the two-stage variance also reads the FPC columns).
_SAMPLE_COLUMNS = ("town", "village", "household_id", "frame", "role", "weight")
_TWO_STAGE_COLUMNS = ("n_villages_in_town", "n_households_in_frame_of_village")
_RESULT_COLUMNS = ("household_id", "visit_status")


def _warn(message: str) -> None:
    """A :class:`QuchiStatsWarning` shown at the first caller outside this module (and outside
    ``functools``, whose ``cached_property`` computes the fieldwork on first use)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename in (__file__, functools.__file__):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, QuchiStatsWarning, stacklevel=level)


def _require(table: pd.DataFrame, columns: Sequence[str], schema: TableSchema) -> None:
    """An explicit check of the columns read below, so that a missing column is reported as one
    (and a ``KeyError`` inside is never mistaken for it)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        names = "、".join(f"{schema.column(c).label}/{c}" for c in missing)
        raise DataError(f"缺少必需的列：{names}（{schema.label}）")


def _merge(sample: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    dup = results["household_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"户编号“{results['household_id'].iloc[i]}”在核查结果中重复", row=i + 2,
                        column="户编号")
    known = results["household_id"].isin(sample["household_id"])
    if not known.all():
        i = int(np.flatnonzero(~known.to_numpy())[0])
        raise DataError(f"户编号“{results['household_id'].iloc[i]}”不在抽查样本中", row=i + 2,
                        column="户编号")
    merged = sample.merge(results.drop(columns=[c for c in ("year",) if c in results]),
                          on="household_id", how="left", validate="one_to_one")
    bad = (merged["role"] == "primary") & (merged["visit_status"] == "substitute")
    if bad.any():
        hid = merged.loc[bad, "household_id"].iloc[0]
        raise DataError(f"户编号“{hid}”是正选户，入户状态却是“替补”")
    # a village-frame cannot use more reserves than it had primaries that could not be visited
    primary = merged["role"] == "primary"
    missing = primary & (merged["visit_status"].isna() | (merged["visit_status"] == "unreachable"))
    used = ~primary & merged["visit_status"].isin(["substitute", "completed"])
    # in a village whose non-registered frame was split by risk, each group is its own cell
    key = [merged["town"], merged["village"], merged["frame"],
           pd.Series(risk_groups(merged), index=merged.index)]
    cells = pd.DataFrame({"missing": missing, "used": used}).groupby(key).sum()
    over = cells[cells["used"] > cells["missing"]]
    if len(over):
        (town, village, frame, group), row = next(iter(over.iterrows()))
        raise DataError(f"{town}{village}（{_FRAME_ZH.get(frame, frame)}{_GROUP_ZH[group]}）用了 "
                        f"{int(row['used'])} 户备选户，但只有 {int(row['missing'])} 户正选户无法入户："
                        "替补多于所缺")
    return merged


_GROUP_ZH = {"": "", "risk": "·风险户", "other": "·其他户"}


def _cell_text(key: str) -> str:
    """A weighting class key (town, frame code and, in a split village, risk group, joined by
    ``\\x1f``) as people read it: 马坝镇·建档立卡户."""
    town, frame, *rest = key.split("\x1f")
    return "·".join([town, _FRAME_ZH.get(frame, frame), *rest])


def fieldwork_design(sample: pd.DataFrame, results: pd.DataFrame, *,
                     frames: str | Sequence[str] | None = None, nonresponse: str = "village",
                     stages: str = "ultimate", lonely_psu: str = "fail",
                     satisfied_levels: Sequence[str] = SATISFIED_DEFAULT) -> SurveyDesign:
    """The respondents of one year's spot-check as a :class:`SurveyDesign`.

    Parameters
    ----------
    sample : DataFrame
        The drawn sample (canonical columns, as written by ``quchi-stats design``).
    results : DataFrame
        Field results (canonical columns).
    frames : str or list of str, optional
        Which frames to keep (default: all). 错评 uses ``"registered"``, 错退 ``"exited"``,
        漏评 ``"non_registered"``.
    nonresponse : {"village", "town", "none"}
        Weighting classes: village × frame (falling back to town × frame), town × frame, or no
        adjustment (base weights; reserves then stand for the households they replaced).
    stages : {"ultimate", "two-stage"}
        ``"ultimate"`` (default): strata = town, PSU = village, with-replacement first stage —
        the standard variance for villages drawn with probability proportional to size.
        ``"two-stage"``: adds the first-stage FPC (villages per town) and the second-stage FPC
        (households in the village's frame) as R's ``ids=~village+household_id,
        fpc=~n_villages_in_town+n_households_in_frame_of_village``; one frame only. With PPS
        villages the first-stage FPC n/N is an approximation.
    lonely_psu : str
        Passed to :class:`SurveyDesign` (a town with one responding village).
    satisfied_levels : sequence of str
        满意度 answers counted as satisfied in the 0/1 column ``satisfied`` (default 满意 + 基本满意).

    Returns
    -------
    SurveyDesign
        Data: the respondents with the sample's columns, the results, ``base_weight``,
        ``nr_factor``, ``weight_adj`` (the design's weights), ``satisfied``, and 0/1 float columns
        for the 是/否 results. ``design.info["response"]`` holds the response summary.

    Examples
    --------
    >>> from quchi_stats.datasets import load_fieldwork
    >>> sample, results = load_fieldwork(2018)
    >>> d = fieldwork_design(sample, results, frames="exited")
    >>> d.strata, d.psu, d.weights
    ('town', 'village', 'weight_adj')
    """
    fw = Fieldwork(sample, results, frames=frames, nonresponse=nonresponse, stages=stages,
                   lonely_psu=lonely_psu, satisfied_levels=satisfied_levels)
    design = fw.design()
    design.info.update({"response": fw.response, "frames": list(fw.frames),
                        "nonresponse": nonresponse, "stages": stages, "rejects": fw.rejects})
    return design


class Fieldwork:
    """One year's spot-check, merged and reweighted once: the drawn households with their field
    results, the respondents with their adjusted weights, the response summary, the rejects, and
    the :class:`SurveyDesign` of each set of frames and of each indicator, each built on first use
    and kept.

    Nothing is computed when the object is made; the merge and the non-response adjustment run
    once, on the first use of any of them (their data errors are raised there). The parameters
    are those of :func:`fieldwork_design`; ``frames`` restricts every table and design to those
    frames (default: all). An assessment builds one per year
    (:func:`~quchi_stats.assessment.run_assessment`); the follow-up builds one per phase.

    Examples
    --------
    >>> from quchi_stats.datasets import load_fieldwork
    >>> from quchi_stats.spec import load_spec
    >>> spec = load_spec(2018)
    >>> fw = Fieldwork(*load_fieldwork(2018), lonely_psu="certainty",
    ...                satisfied_levels=spec.satisfied_levels)
    >>> d = fw.indicator_design(spec.indicator("exit_accuracy"))
    >>> d is fw.indicator_design(spec.indicator("exit_accuracy"))  # built once
    True
    >>> sorted(set(d.data["frame"])), d.weights
    (['exited'], 'weight_adj')
    """

    def __init__(self, sample: pd.DataFrame, results: pd.DataFrame, *,
                 frames: str | Sequence[str] | None = None, nonresponse: str = "village",
                 stages: str = "ultimate", lonely_psu: str = "certainty",
                 satisfied_levels: Sequence[str] = SATISFIED_DEFAULT) -> None:
        func = "Fieldwork"
        check_choice("nonresponse", nonresponse, ("village", "town", "none"), func)
        check_choice("stages", stages, ("ultimate", "two-stage"), func)
        self.frames: tuple[str, ...] = self._frames(frames, func)
        if stages == "two-stage" and len(self.frames) != 1:
            raise ParameterError(f"{func}(stages='two-stage') takes one frame. "
                                 f"Got {list(self.frames)}.")
        self.sample = sample
        self.results = results
        self.nonresponse = nonresponse
        self.stages = stages
        self.lonely_psu = lonely_psu
        self.satisfied_levels = tuple(satisfied_levels)
        self._designs: dict[tuple[str, ...], SurveyDesign] = {}
        self._indicators: dict[tuple, SurveyDesign | None] = {}

    @staticmethod
    def _frames(frames: str | Sequence[str] | None, func: str) -> tuple[str, ...]:
        """``frames`` as a tuple in the schema's order, each checked."""
        wanted = list(FRAME_NAMES) if frames is None else (
            [frames] if isinstance(frames, str) else list(frames))
        for f in wanted:
            check_choice("frames", f, FRAME_NAMES, func)
        return tuple(f for f in FRAME_NAMES if f in wanted)

    @cached_property
    def drawn(self) -> pd.DataFrame:
        """Every drawn household of the frames with its field results, ``base_weight``,
        ``nr_factor`` (the non-response adjustment of its class), ``_respondent`` and
        ``_primary``."""
        _require(self.sample, _SAMPLE_COLUMNS + (_TWO_STAGE_COLUMNS if self.stages == "two-stage"
                                                 else ()), SAMPLE)
        _require(self.results, _RESULT_COLUMNS, RESULTS)
        merged = _merge(self.sample, self.results)
        merged = merged[merged["frame"].isin(self.frames)].copy()
        status = merged["visit_status"]
        primary = merged["role"] == "primary"
        respondent = (primary & (status == "completed")) | (~primary & status.isin(
            ["substitute", "completed"]))
        missing = primary & status.isna()
        if missing.any():
            _warn(f"{int(missing.sum())} 个正选户没有入户记录，按无法入户处理（权数调整）。")
        merged["base_weight"] = merged["weight"].astype(float)
        merged["_respondent"] = respondent.to_numpy()
        merged["_primary"] = primary.to_numpy()
        merged["nr_factor"] = _adjustment(merged, self.nonresponse)
        return merged

    @cached_property
    def respondents(self) -> pd.DataFrame:
        """The respondents of the frames (the designs' data): the sample's columns, the results,
        ``base_weight``, ``nr_factor``, ``weight_adj``, ``satisfied`` and 0/1 float columns for
        the 是/否 results."""
        merged = self.drawn
        resp = merged[merged["_respondent"]].copy()
        resp["weight_adj"] = resp["base_weight"] * resp["nr_factor"]
        for col in ("identified_correctly", "exit_correct", "missed", "food_clothing",
                    "compulsory_education", "basic_medical", "housing_safety"):
            if col in resp:
                resp[col] = resp[col].astype("Float64").astype(float)
        if "satisfaction" in resp:
            sat = resp["satisfaction"]
            resp["satisfied"] = np.where(sat.isna(), np.nan,
                                         sat.isin(list(self.satisfied_levels)))
        return resp.drop(columns=["_respondent", "_primary"]).reset_index(drop=True)

    @cached_property
    def response(self) -> pd.DataFrame:
        """The response summary per town × frame (:func:`response_summary`)."""
        return response_summary(self.drawn)

    @cached_property
    def rejects(self) -> pd.DataFrame:
        """Visited households without the answer their frame is for (``household_id``,
        ``frame``, ``column``, ``reason``): left out of that indicator's estimate."""
        return _unanswered(self.respondents)

    def has_respondents(self, frames: str | Sequence[str] | None = None) -> bool:
        """Whether any household of ``frames`` (default: all of this fieldwork's) responded."""
        key = self._frames(frames, "Fieldwork.has_respondents")
        return bool(self.respondents["frame"].isin(key).any())

    def design(self, frames: str | Sequence[str] | None = None) -> SurveyDesign:
        """The design of the respondents of ``frames`` (default: all of this fieldwork's), built
        once; :class:`DataError` when none of them responded."""
        key = self.frames if frames is None else self._frames(frames, "Fieldwork.design")
        if key not in self._designs:
            self._designs[key] = self._build(key)
        return self._designs[key]

    def _build(self, frames: tuple[str, ...]) -> SurveyDesign:
        resp = self.respondents
        if frames != self.frames:
            resp = resp[resp["frame"].isin(frames)].reset_index(drop=True)
        if resp.empty:
            raise DataError("所选抽样框没有任何有效入户记录")
        kwargs = {"strata": "town", "psu": "village", "weights": "weight_adj",
                  "lonely_psu": self.lonely_psu}
        if self.stages == "two-stage":
            if "non_registered" in frames and split_villages(self.sample):
                # a split village holds two sub-frames with their own N: a second-stage FPC per
                # village cannot describe it (the ultimate-cluster variance is unaffected)
                raise ParameterError("The 'stages' parameter of Fieldwork must be 'ultimate' for the "
                                     "non-registered frame of a sample drawn with risk strata "
                                     "(risk_factor > 1). Got 'two-stage'.")
            kwargs.update(fpc="n_villages_in_town", ssu="household_id",
                          fpc2="n_households_in_frame_of_village")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuchiStatsWarning)
            design = SurveyDesign(resp, **kwargs)
        lonely = design.n_psu_in_stratum == 1
        if lonely.any() and self.lonely_psu != "fail":
            _warn(f"以下乡镇只有 1 个村有有效样本，按 lonely_psu='{self.lonely_psu}' 处理其方差："
                  + "、".join(map(str, design.stratum_labels[lonely])))
        return design

    def indicator_design(self, indicator) -> SurveyDesign | None:
        """The design of ``indicator`` (an :class:`~quchi_stats.spec.Indicator`: its ``frames``,
        ``column`` and ``good``) with its 0/1 good outcome as ``_good``, built once; None when the
        field results have no column for it (the indicator is skipped). :class:`DataError` when
        no household of its frames responded (see :meth:`has_respondents`)."""
        key = (tuple(indicator.frames), indicator.column, indicator.good)
        if key not in self._indicators:
            d = self.design(indicator.frames)
            if indicator.column not in d.data.columns:
                self._indicators[key] = None
            else:
                values = d.data[indicator.column]
                good = values if indicator.good == "yes" else 1.0 - values
                self._indicators[key] = SurveyDesign(
                    d.data.assign(_good=good), strata=d.strata, psu=d.psu, weights=d.weights,
                    lonely_psu=d.lonely_psu)
        return self._indicators[key]


_ANSWER_OF_FRAME = {"registered": "identified_correctly", "exited": "exit_correct",
                    "non_registered": "missed"}


def _unanswered(resp: pd.DataFrame) -> pd.DataFrame:
    """Visited households without the answer their frame is for: left out of that indicator's
    estimate, listed with the reason (the rejects file of the report)."""
    rows = []
    for frame, col in _ANSWER_OF_FRAME.items():
        if col not in resp:
            continue
        m = (resp["frame"] == frame) & resp[col].isna()
        for hid in resp.loc[m, "household_id"]:
            rows.append({"household_id": hid, "frame": frame, "column": col,
                         "reason": f"已入户但缺少“{_LABEL[col]}”结果，该户不计入此项指标"})
    return pd.DataFrame(rows, columns=["household_id", "frame", "column", "reason"])


_LABEL = {"identified_correctly": "识别准确", "exit_correct": "退出准确", "missed": "漏评"}


def _adjustment(merged: pd.DataFrame, nonresponse: str) -> np.ndarray:
    if nonresponse == "none":
        return np.ones(len(merged))
    w = merged["base_weight"].to_numpy()
    drawn_w = np.where(merged["_primary"], w, 0.0)
    resp_w = np.where(merged["_respondent"], w, 0.0)
    town_key = merged["town"].astype(str) + "\x1f" + merged["frame"].astype(str)
    # a village split by risk: risk and other households are separate classes (and so, in the
    # town fallback, are the town's split-village groups)
    group = risk_groups(merged)
    town_key = town_key + pd.Series(group, index=merged.index).map(
        {"": "", "risk": "\x1f风险户", "other": "\x1f其他户"})
    village_key = town_key + "\x1f" + merged["village"].astype(str)
    key = town_key if nonresponse == "town" else village_key
    drawn = pd.Series(drawn_w).groupby(key.to_numpy()).transform("sum").to_numpy()
    got = pd.Series(resp_w).groupby(key.to_numpy()).transform("sum").to_numpy()
    if nonresponse == "village":
        empty = (got == 0) & (drawn > 0)
        if empty.any():
            towns = sorted(set(town_key[empty]))
            _warn("以下乡镇×抽样框中有村没有任何有效样本，该镇改按镇×抽样框调整权数：" + "、".join(
                _cell_text(t) for t in towns))
            collapse = town_key.isin(towns).to_numpy()
            drawn_t = pd.Series(drawn_w).groupby(town_key.to_numpy()).transform("sum").to_numpy()
            got_t = pd.Series(resp_w).groupby(town_key.to_numpy()).transform("sum").to_numpy()
            drawn = np.where(collapse, drawn_t, drawn)
            got = np.where(collapse, got_t, got)
    lost = (got == 0) & (drawn > 0)
    if lost.any():
        where = sorted(set(town_key[lost]))
        _warn("以下乡镇×抽样框没有任何有效样本，无法估计：" + "、".join(
            _cell_text(t) for t in where))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(got > 0, drawn / np.where(got > 0, got, 1.0), np.nan)


def response_summary(merged: pd.DataFrame) -> pd.DataFrame:
    """Per town × frame: primaries drawn, completed, unreachable, without record, substitutes."""
    g = merged.assign(
        primary=merged["_primary"].astype(int),
        completed=(merged["_primary"] & (merged["visit_status"] == "completed")).astype(int),
        unreachable=(merged["_primary"] & (merged["visit_status"] == "unreachable")).astype(int),
        no_record=(merged["_primary"] & merged["visit_status"].isna()).astype(int),
        substitute=(~merged["_primary"] & merged["_respondent"]).astype(int),
        respondents=merged["_respondent"].astype(int),
    ).groupby(["town", "frame"], sort=False)[
        ["primary", "completed", "unreachable", "no_record", "substitute", "respondents"]].sum()
    g["response_rate"] = g["completed"] / g["primary"].where(g["primary"] > 0)
    fac = merged[merged["_respondent"]].groupby(["town", "frame"], sort=False)["nr_factor"].mean() \
        if "nr_factor" in merged else None
    if fac is not None:
        g["factor"] = fac
    return g.reset_index()
