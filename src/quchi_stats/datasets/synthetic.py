"""A synthetic Qujiang district (合成数据) for examples, tests and the notebooks.

Real registers hold personal data and are not public, so :func:`generate_district` builds a
realistic district from a seed, byte-identical on rerun, and :func:`write_district` writes the
layout of a data directory (see :class:`~quchi_stats.io.DataDir`). Every number here is invented;
every file says 合成数据. The facts it follows are those of ``shared/DOMAIN.md``:

* 9 towns (codes 440205100–440205109 without 105), 90 administrative villages (小坑 5, 樟市 11,
  枫湾 9, 马坝 17, others 9–10), about 43,000 households; 10 省定贫困村 (樟市 4, 罗坑 3, 白土 3) holding
  about 450 registered households;
* about 1,950 registered poor households at the 2016 baseline (mean size 2.3, about 65 % able to
  work; 一般 60 % / 低保 30 % / 特困 10 %), exiting 28 % / 34 % / 38 % in 2016 / 2017 / 2018, with
  yearly additions (新识别, ~3 %) and removals (清退, ~1 %);
* per-capita incomes around Guangdong's lines (identification 4,000 yuan at 2014 prices; exit lines
  6,433 / 6,883 / 7,365 yuan for able-to-work households);
* true rates varying by town and village (logit-normal village effects): 错评 ~2 %, 漏评 ~0.5 %,
  错退 ~1 %, satisfaction (满意+基本满意) ~95 %, 两不愁三保障 items ~99 %;
* injected problems for later checks: low satisfaction in 沙溪镇 (2017: ~74 %, 2018: ~68 %) and
  大塘镇 (2018: ~76 %);
  数字脱贫 villages in 乌石镇 (2017: one, 2018: two) with exited incomes bunched just above the exit
  line and 错退 ~20 %, whose town self-reports 100 % exit accuracy; a 漏评 hotspot (the poorest
  village of 枫湾镇, 漏评 ~25 %);
  罗坑镇 missing its 2017 reduction target.

Optional risk columns (``risk_columns=True``; off by default, so ``data_samples/`` is unchanged):
the register then carries 低保, 危房, 大病/慢性病, 残疾 and 独居老人 (是/否; the columns of
:data:`~quchi_stats.io.schema.RISK_COLUMNS` that ``design --risk-factor`` oversamples). They are
static household facts drawn from their own random stream (``default_rng([seed, 13])``), so every
other column, and every other random draw, is the same as without them: 低保 is 是 for a poor
household of the 低保 category and for about 2 % of the others; 危房 about 2 %, 大病/慢性病 about 4 %,
残疾 about 3 %, 独居老人 about 3 % of all households (about 13 % of the non-registered households are
risk households, any flag 是). Their 漏评 probability is ``risk_missed_ratio`` (default 6) times
that of the other households of their village (:data:`RISK_MISSED_RATIO`), the village's mean
about kept: ``p_other = p / (s·r + 1 − s)`` and ``p_risk = min(r·p_other, 0.9)``, ``s`` the
district share of risk households among the non-registered (about 13 %), so the town and district
漏评 rates stay about as without the columns — mostly who is missed changes, and with it the
income of a household that becomes, or stops being, a 漏评 household (in the 漏评 hotspot village,
25 %, a risk household is missed with probability 0.9, the cap). The random draws are the same, so
every other fact of every household is the same too. The truth files give the finite-population
rates as always.

Personal fields (户主姓名, 证件号码, 联系电话) are invented too: 证件号码 carry a deliberately wrong
check digit and phone numbers start with 100, so none can be a real person's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError, check_int
from ..io.schema import CATEGORIES, LABELS_ZH, SATISFACTION_LEVELS, VISIT_STATUSES, YES_NO
from ..io.writers import atomic_write_bytes, csv_bytes, neutralise_cell, write_csv
from ..labels import DISTRICT
from ..sampling.draw import DesignPlan, assign_frames
from ..sampling.manifest import draw_from_file, write_sample

#: The nine towns of 曲江区 with poverty tasks: name -> statistical code (DOMAIN.md), in code
#: order (the order Qujiang's shipped specs list in ``towns``).
TOWNS: dict[str, str] = {
    "马坝镇": "440205100", "大塘镇": "440205101", "枫湾镇": "440205102",
    "小坑镇": "440205103", "沙溪镇": "440205104", "乌石镇": "440205106",
    "樟市镇": "440205107", "白土镇": "440205108", "罗坑镇": "440205109",
}

__all__ = [
    "EXIT_LINES",
    "IDENTIFICATION_LINE_2014",
    "TOWNS",
    "YEARS",
    "District",
    "generate_district",
    "write_district",
]

YEARS = (2016, 2017, 2018)
#: Guangdong exit lines for able-to-work households (yuan per capita).
EXIT_LINES = {2016: 6433, 2017: 6883, 2018: 7365}
#: Relative-poverty identification line, 2014 prices.
IDENTIFICATION_LINE_2014 = 4000
#: Seeds of the yearly draws shipped in ``data_samples/``.
DRAW_SEEDS = {2016: 20161231, 2017: 20171231, 2018: 20181231}
#: Years drawn with a pre-registered two-phase 复核 (docs/followup.md): the seed of the phase-2
#: draw. The year's spec with its [followup] rule is written as ``spec_YYYY.toml``.
FOLLOWUP_SEEDS = {2018: 20190301}
#: The bundled rule: the conditional method with the settings the office template offers
#: (:data:`~quchi_stats.spec.FOLLOWUP_TEMPLATE`, measured in benchmarks/followup_goals.py).
FOLLOWUP_SECTION = """[followup]                   # 事先登记的两阶段复核规则（docs/followup.md）
method = "conditional"       # 条件检验：被筛出的镇在全部村中补抽第一阶段未核查的户，检验全镇实际比率
indicators = ["identification_accuracy", "exit_accuracy", "satisfaction_rate"]
alpha_futility = 0.2         # 第一阶段单侧 P ≤ 此值的镇 × 指标进入复核
alpha_futility_by_indicator = { satisfaction_rate = 0.3 }  # 群众认可度：P ≤ 0.3 即复核
households = { registered = 6, exited = 4, non_registered = 4 }  # 每村每类补抽户数
census_frames = ["exited"]   # 被复核镇的当年退出户全部核查
reserves = 2
max_extra_households = 1500
"""

# town, villages, households, baseline poverty intensity (relative)
_TOWN_SPEC = [
    ("马坝镇", 17, 10500, 0.6), ("大塘镇", 10, 4600, 1.0), ("枫湾镇", 9, 4300, 1.1),
    ("小坑镇", 5, 2100, 1.5), ("沙溪镇", 10, 4500, 1.0), ("乌石镇", 9, 4200, 1.1),
    ("樟市镇", 11, 5000, 1.2), ("白土镇", 10, 4400, 1.1), ("罗坑镇", 9, 3400, 1.4),
]
_PRIORITY = {"樟市镇": 4, "罗坑镇": 3, "白土镇": 3}
_LOW_SATISFACTION = {2016: {}, 2017: {"沙溪镇": 0.74}, 2018: {"沙溪镇": 0.68, "大塘镇": 0.76}}
_DIGITAL_EXIT = {2016: 0, 2017: 1, 2018: 2}  # 数字脱贫 villages in 乌石镇
_DIGITAL_TOWN = "乌石镇"
_HOTSPOT_TOWN = "枫湾镇"
_TARGET_MISSED = {2017: "罗坑镇"}
_SURNAMES = list("陈李黄张刘林何罗郑梁谢邓朱叶曾钟廖温赖邱")
_GIVEN = list("建国华明强伟平军文金春秀英兰芳玉桂珍丽红永海生福")
#: Share of households with each optional risk flag (``risk_columns=True``); 低保 also for every
#: poor household of the 低保 category.
RISK_SHARES = {"dibao": 0.02, "dilapidated_house": 0.02, "serious_illness": 0.04,
               "disability": 0.03, "elderly_alone": 0.03}
#: 漏评 probability of a risk household relative to another of its village (``risk_columns=True``).
RISK_MISSED_RATIO = 6.0


@dataclass(frozen=True)
class District:
    """A generated district: the households (static), their yearly states, and truths."""

    households: pd.DataFrame
    villages: pd.DataFrame
    years: dict[int, pd.DataFrame]
    seed: int


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def generate_district(seed: int = 20160101, *, scale: float = 1.0, risk_columns: bool = False,
                      risk_missed_ratio: float = RISK_MISSED_RATIO) -> District:
    """Generate the synthetic district.

    Parameters
    ----------
    seed : int
        Seeds the generator (the shipped ``data_samples/`` use the default).
    scale : float
        Multiplies the number of households per village (``scale=0.05`` gives a small district
        for fast tests; villages and towns stay as they are).
    risk_columns : bool
        Add the optional risk columns (低保, 危房, 大病/慢性病, 残疾, 独居老人) to the households
        and the registers, with 漏评 more likely among risk households (see the module's
        docstring). Off by default: the district is then exactly that of earlier versions.
    risk_missed_ratio : float
        With ``risk_columns``: a risk household's 漏评 probability relative to another household
        of its village (>= 1).

    Returns
    -------
    District
    """
    seed = check_int("seed", seed, "generate_district", minimum=0)
    r = risk_missed_ratio
    if isinstance(r, bool) or not isinstance(r, int | float) or not 1 <= r < float("inf"):
        raise ParameterError("The 'risk_missed_ratio' parameter of generate_district must be "
                             f">= 1. Got {r!r:.40}.")
    rng = np.random.default_rng(seed)

    # --- villages -------------------------------------------------------------------------
    vrows = []
    for town, n_v, n_hh, intensity in _TOWN_SPEC:
        code = TOWNS[town]
        shares = rng.gamma(6.0, size=n_v)
        sizes = np.maximum(np.round(n_hh * scale * shares / shares.sum()).astype(int), 8)
        n_priority = _PRIORITY.get(town, 0)
        priority = np.zeros(n_v, bool)
        priority[rng.permutation(n_v)[:n_priority]] = True
        for i in range(n_v):
            vrows.append({"town": town, "village": f"{town[:2]}{i + 1:02d}村",
                          "village_code": f"{code}{201 + i:03d}", "n_households": int(sizes[i]),
                          "priority_village": bool(priority[i]), "intensity": intensity})
    villages = pd.DataFrame(vrows)
    nv = len(villages)
    villages["poverty_rate"] = np.where(
        villages["priority_village"], 0.099,
        0.0395 * villages["intensity"] * rng.gamma(5.0, 0.2, size=nv))
    # village effects on the logit scale (fixed across years)
    villages["eff_id"] = rng.normal(0, 0.5, nv)
    villages["eff_exit"] = rng.normal(0, 0.5, nv)
    villages["eff_missed"] = rng.normal(0, 0.5, nv)
    villages["eff_sat"] = rng.normal(0, 0.45, nv)
    hot = villages.index[villages["town"] == _HOTSPOT_TOWN]
    villages["missed_hotspot"] = False
    # 漏评 clusters where poverty is deepest: the poorest village of the town
    villages.loc[villages.loc[hot, "poverty_rate"].idxmax(), "missed_hotspot"] = True
    rng.choice(hot)  # keep the random stream of earlier versions
    dig = villages.index[(villages["town"] == _DIGITAL_TOWN)].to_numpy()
    dig_order = rng.permutation(dig)
    villages["digital_exit_from"] = 0
    villages.loc[dig_order[0], "digital_exit_from"] = 2017
    villages.loc[dig_order[1], "digital_exit_from"] = 2018
    # 数字脱贫 villages carry many poor households (that is where exit pressure bites)
    villages.loc[dig_order[:2], "poverty_rate"] = 0.14

    # --- households -----------------------------------------------------------------------
    vidx = np.repeat(np.arange(nv), villages["n_households"].to_numpy())
    N = vidx.size
    seq = np.concatenate([np.arange(1, n + 1) for n in villages["n_households"]])
    hid = np.char.add(villages["village_code"].to_numpy()[vidx].astype(str),
                      np.char.zfill(seq.astype(str), 4))
    baseline = rng.random(N) < villages["poverty_rate"].to_numpy()[vidx]
    size = np.where(baseline, 1 + rng.poisson(1.3, N), 1 + rng.poisson(2.3, N))
    cat_draw = rng.random(N)
    category = np.where(cat_draw < 0.6, "general", np.where(cat_draw < 0.9, "dibao", "tekun"))
    able_p = np.select([category == "general", category == "dibao"], [0.85, 0.5], 0.0)
    able = rng.random(N) < able_p
    # additions (新识别) and removals (清退)
    add_year = np.zeros(N, int)
    not_base = np.flatnonzero(~baseline)
    n_base = int(baseline.sum())
    for y in YEARS:
        k = int(round(0.03 * n_base))
        pool = not_base[add_year[not_base] == 0]
        w = villages["poverty_rate"].to_numpy()[vidx[pool]]
        pick = rng.choice(pool, size=k, replace=False, p=w / w.sum())
        add_year[pick] = y
    poor = baseline | (add_year > 0)
    size = np.where(add_year > 0, 1 + rng.poisson(1.3, N), size)
    category = np.where(poor, category, "")
    able = np.where(poor, able, rng.random(N) < 0.9)
    remove_year = np.zeros(N, int)
    exit_year = np.zeros(N, int)
    for y in YEARS:
        active = np.flatnonzero(poor & ((add_year == 0) | (add_year <= y)) & (remove_year == 0)
                                & (exit_year == 0))
        k = int(round(0.01 * n_base))
        gone = rng.choice(active, size=k, replace=False)
        remove_year[gone] = y
    # exits: baseline 28/34/38 %; additions exit in a later year (or the same for 2018)
    u = rng.random(N)
    base_exit = np.where(u < 0.28, 2016, np.where(u < 0.62, 2017, 2018))
    exit_year = np.where(baseline, base_exit, 0)
    add_exit = np.minimum(add_year + rng.integers(1, 3, N), 2018)
    exit_year = np.where(add_year > 0, add_exit, exit_year)
    # a household removed before its exit never exits
    exit_year = np.where((remove_year > 0) & (remove_year <= exit_year), 0, exit_year)
    exit_year = np.where(poor, exit_year, 0)

    names = (np.array(_SURNAMES)[rng.integers(0, len(_SURNAMES), N)].astype(object)
             + np.array(_GIVEN)[rng.integers(0, len(_GIVEN), N)].astype(object)
             + np.array(_GIVEN)[rng.integers(0, len(_GIVEN), N)].astype(object))
    birth = (pd.Timestamp("1940-01-01")
             + pd.to_timedelta(rng.integers(0, 365 * 55, N), unit="D")).strftime("%Y%m%d")
    body = np.char.add(np.char.add("440205", birth.to_numpy().astype(str)),
                       np.char.zfill(rng.integers(0, 1000, N).astype(str), 3))
    id_number = np.char.add(body, _wrong_check_digits(body))
    phone = np.char.add("100", np.char.zfill(rng.integers(0, 10**8, N).astype(str), 8))

    households = pd.DataFrame({
        "town": villages["town"].to_numpy()[vidx], "village": villages["village"].to_numpy()[vidx],
        "household_id": hid, "household_size": size, "baseline": baseline,
        "add_year": add_year, "remove_year": remove_year, "exit_year": exit_year,
        "category": category, "able_to_work": able,
        "priority_village": villages["priority_village"].to_numpy()[vidx],
        "head_name": names, "id_number": id_number, "phone": phone, "vidx": vidx,
    })
    if risk_columns:  # their own stream: every other draw is as without them
        rrng = np.random.default_rng([seed, 13])
        for c, share in RISK_SHARES.items():
            flag = rrng.random(N) < share
            if c == "dibao":
                flag |= category == "dibao"
            households[c] = flag
    years = {y: _year_state(households, villages, y, rng, float(r)) for y in YEARS}
    return District(households, villages, years, seed)


def _wrong_check_digits(body: np.ndarray) -> np.ndarray:
    """A check digit that is *not* the ISO 7064 MOD 11-2 one, so no number can be real."""
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    digits = np.array([[int(c) for c in s] for s in body])
    right = "10X98765432"
    correct = np.array([right[i] for i in (digits @ weights) % 11])
    wrong = np.where(correct == "0", "1", "0")
    return wrong


def _year_state(hh: pd.DataFrame, villages: pd.DataFrame, year: int,
                rng: np.random.Generator, risk_ratio: float = RISK_MISSED_RATIO) -> pd.DataFrame:
    """Register state, incomes and latent truths of every household in ``year``."""
    N = len(hh)
    v = hh["vidx"].to_numpy()
    poor = (hh["baseline"] | (hh["add_year"] > 0)).to_numpy()
    added = hh["add_year"].to_numpy()
    registered = poor & ((added == 0) | (added <= year))
    removed = (hh["remove_year"].to_numpy() > 0) & (hh["remove_year"].to_numpy() <= year)
    registered &= ~removed
    ey = hh["exit_year"].to_numpy()
    exited_by = registered & (ey > 0) & (ey <= year)
    exit_now = registered & (ey == year)
    able = hh["able_to_work"].to_numpy()
    digital = (villages["digital_exit_from"].to_numpy()[v] > 0) & (
        villages["digital_exit_from"].to_numpy()[v] <= year)
    hotspot = villages["missed_hotspot"].to_numpy()[v]

    # latent truths
    p_wrong_id = _expit(_logit(0.02) + villages["eff_id"].to_numpy()[v])
    p_wrong_exit = np.where(digital, 0.20, _expit(_logit(0.01) + villages["eff_exit"].to_numpy()[v]))
    p_missed = np.where(hotspot, 0.25, _expit(_logit(0.005) + villages["eff_missed"].to_numpy()[v]))
    if "dibao" in hh:  # risk households missed more often, the village's mean kept
        risk = np.zeros(N, bool)
        for c in RISK_SHARES:
            risk |= hh[c].to_numpy(bool)
        share = float(risk[~registered].mean()) if (~registered).any() else 0.0
        p_other = p_missed / (share * risk_ratio + 1 - share)
        p_missed = np.where(risk, np.minimum(risk_ratio * p_other, 0.9), p_other)
    town = hh["town"].to_numpy()
    base_sat = np.full(N, 0.965)
    for t, s in _LOW_SATISFACTION[year].items():
        base_sat[town == t] = s
    p_sat = _expit(np.log(base_sat / (1 - base_sat)) + villages["eff_sat"].to_numpy()[v])
    identified_correctly = rng.random(N) >= p_wrong_id
    exit_correct = rng.random(N) >= p_wrong_exit
    missed = rng.random(N) < p_missed
    satisfied = rng.random(N) < p_sat
    sat_level = np.where(satisfied, np.where(rng.random(N) < 0.7, "satisfied", "basically_satisfied"),
                         np.where(rng.random(N) < 0.8, "dissatisfied", "very_dissatisfied"))
    lacking = np.where(exit_now & ~exit_correct, 0.25, 0.01)
    items = {k: rng.random(N) >= lacking for k in
             ("food_clothing", "compulsory_education", "basic_medical", "housing_safety")}

    # incomes (yuan per capita, year prices)
    id_line = IDENTIFICATION_LINE_2014 * 1.03 ** (year - 2014)
    exit_line = EXIT_LINES[year]
    nonpoor_inc = 14500 * 1.07 ** (year - 2016) * np.exp(rng.normal(0, 0.42, N))
    nonpoor_inc = np.maximum(nonpoor_inc, id_line * 1.15 * np.exp(rng.normal(0.1, 0.05, N)))
    missed_inc = id_line * np.exp(rng.normal(-0.15, 0.12, N))
    poor_inc = id_line * np.exp(rng.normal(-0.2, 0.18, N))
    # exited able-to-work households: smooth density above the line; wrong exits below it
    above = exit_line * (1.0 + rng.gamma(2.0, 0.12, N))
    prior_exit_line = np.array([EXIT_LINES.get(int(e), exit_line) for e in np.maximum(ey, 2016)])
    grown = prior_exit_line * (1.0 + rng.gamma(2.0, 0.12, N)) * 1.08 ** (year - np.maximum(ey, 2016))
    bunched = exit_line + rng.uniform(0, 250, N)
    wrong = exit_line * np.exp(-rng.gamma(2.0, 0.06, N))
    unable_inc = 5200 * 1.05 ** (year - 2016) * np.exp(rng.normal(0, 0.12, N))
    exited_inc = np.where(exit_now, np.where(~exit_correct, wrong,
                                             np.where(digital & (rng.random(N) < 0.7), bunched,
                                                      above)), grown)
    exited_inc = np.where(able, exited_inc, unable_inc)
    income = np.where(~registered, np.where(missed, missed_inc, nonpoor_inc),
                      np.where(exited_by, exited_inc, np.where(able, poor_inc, unable_inc * 0.8)))
    return pd.DataFrame({
        "registered": registered, "exit_year": np.where(exited_by, ey, 0),
        "income_per_capita": np.round(income).astype(int),
        "identified_correctly": identified_correctly, "exit_correct": exit_correct,
        "missed": missed, "satisfaction": sat_level, **items,
        "digital_village": digital, "missed_hotspot": hotspot,
    })


def register_frame(district: District, year: int) -> pd.DataFrame:
    """The register as of ``year``-12-31, canonical columns (personal fields included)."""
    hh = district.households
    st = district.years[year]
    registered = st["registered"].to_numpy()
    was_poor = (hh["baseline"] | (hh["add_year"].between(1, year))).to_numpy()
    out = pd.DataFrame({
        "town": hh["town"], "village": hh["village"], "household_id": hh["household_id"],
        "household_size": hh["household_size"],
        "registered": np.where(registered, "是", "否"),
        "exit_year": pd.array(np.where(st["exit_year"] > 0, st["exit_year"], 0), dtype="Int64"),
        "category": np.where(registered, pd.Series(hh["category"]).map(CATEGORIES).fillna(""), ""),
        "able_to_work": np.where(registered | was_poor, np.where(hh["able_to_work"], "是", "否"),
                                 np.where(hh["able_to_work"], "是", "否")),
        "income_per_capita": st["income_per_capita"],
        "priority_village": np.where(hh["priority_village"], "是", "否"),
        "head_name": hh["head_name"], "id_number": hh["id_number"], "phone": hh["phone"],
    })
    for c in RISK_SHARES:  # the optional risk columns (generate_district(risk_columns=True))
        if c in hh:
            out[c] = np.where(hh[c], "是", "否")
    out.loc[out["exit_year"] == 0, "exit_year"] = pd.NA
    return out


def truth_frame(district: District, year: int) -> pd.DataFrame:
    """True finite-population rates per town and district (households and persons) for ``year``."""
    hh = district.households
    st = district.years[year]
    reg = register_frame(district, year)
    reg_c = reg.assign(registered=reg["registered"].map(YES_NO).astype(bool))  # the file's 是/否
    frame = assign_frames(reg_c, year).to_numpy()
    size = hh["household_size"].to_numpy()
    sat_ok = st["satisfaction"].isin(["satisfied", "basically_satisfied"]).to_numpy()
    both = ("registered", "exited")
    # the definitions of the shipped assessment specs (quchi_stats/specs/assessment_YYYY.toml)
    indicators = {
        "identification_accuracy": (("registered",), st["identified_correctly"].to_numpy()),
        "exit_accuracy": (("exited",), st["exit_correct"].to_numpy()),
        "missed_rate": (("non_registered",), st["missed"].to_numpy()),
        "satisfaction_rate": (both, sat_ok),
        **{k: (both, st[k].to_numpy()) for k in
           ("food_clothing", "compulsory_education", "basic_medical", "housing_safety")},
    }
    problems = _injected(district, year)
    rows = []
    towns = [t for t in TOWNS if t in set(hh["town"])]
    for scope in [*towns, DISTRICT]:  # the total row: the same value as the estimates' (labels.DISTRICT)
        in_scope = np.ones(len(hh), bool) if scope == DISTRICT else (hh["town"] == scope).to_numpy()
        for ind, (fr, y) in indicators.items():
            m = in_scope & np.isin(frame, fr)
            n_h = int(m.sum())
            rows.append({
                "year": year, "town": scope, "indicator": ind, "frame": "+".join(fr),
                "households": n_h, "persons": int(size[m].sum()),
                "household_rate": round(float(y[m].mean()), 6) if n_h else np.nan,
                "person_rate": round(float((y[m] * size[m]).sum() / size[m].sum()), 6)
                if n_h else np.nan,
                "injected_problem": "；".join(problems.get(scope, [])),
            })
    return pd.DataFrame(rows)


def _injected(district: District, year: int) -> dict[str, list[str]]:
    vil = district.villages
    out: dict[str, list[str]] = {}
    for t in _LOW_SATISFACTION[year]:
        out.setdefault(t, []).append("low_satisfaction")
    dig = vil[(vil["digital_exit_from"] > 0) & (vil["digital_exit_from"] <= year)]
    for _, r in dig.iterrows():
        out.setdefault(r["town"], []).append(f"digital_exit:{r['village']}")
    if len(dig):
        # the town reports 100 % exit accuracy; inflated where its true rate is below 99 %
        st = district.years[year]
        hh = district.households
        m = ((hh["town"] == _DIGITAL_TOWN) & st["registered"] & (st["exit_year"] == year)).to_numpy()
        size = hh["household_size"].to_numpy()[m]
        true_rate = float((st["exit_correct"].to_numpy()[m] * size).sum() / size.sum())
        if true_rate < 0.99:
            out.setdefault(_DIGITAL_TOWN, []).append("self_report_inflated")
    for _, r in vil[vil["missed_hotspot"]].iterrows():
        out.setdefault(r["town"], []).append(f"missed_hotspot:{r['village']}")
    if year in _TARGET_MISSED:
        out.setdefault(_TARGET_MISSED[year], []).append("target_missed")
    return out


def self_report_frame(district: District, year: int, truth: pd.DataFrame,
                      rng: np.random.Generator) -> pd.DataFrame:
    """Towns' self-assessed rates: optimistic, closing part of the gap to a perfect score (persons
    for 识别/退出/漏评, households for 认可度, as the spec counts them); the 数字脱贫 town claims 100 %
    exit accuracy."""
    rows = []
    t = truth[truth["town"] != DISTRICT].set_index(["town", "indicator"])
    unit = {"identification_accuracy": "person_rate", "exit_accuracy": "person_rate",
            "missed_rate": "person_rate", "satisfaction_rate": "household_rate"}
    for town in dict.fromkeys(truth.loc[truth["town"] != DISTRICT, "town"]):
        def good(ind: str, town: str = town) -> float:
            rate = float(t.loc[(town, ind), unit[ind]])
            rate = 1 - rate if ind == "missed_rate" else rate
            return rate + rng.uniform(0.1, 0.4) * (1 - rate)  # an optimistic report
        exit_acc = good("exit_accuracy")
        if _DIGITAL_TOWN == town and _DIGITAL_EXIT[year]:
            exit_acc = 1.0
        rows.append({"town": town, "year": year,
                     "identification_accuracy": good("identification_accuracy"),
                     "exit_accuracy": exit_acc, "missed_rate": 1 - good("missed_rate"),
                     "satisfaction_rate": good("satisfaction_rate")})
    return pd.DataFrame(rows)


def targets_frame(district: District, year: int, rng: np.random.Generator) -> pd.DataFrame:
    """Planned exits per town: a little under the realised exits, except the town that missed."""
    hh = district.households
    st = district.years[year]
    exits = st["registered"].to_numpy() & (st["exit_year"].to_numpy() == year)
    rows = []
    for town in [t for t in TOWNS if t in set(hh["town"])]:
        m = exits & (hh["town"] == town).to_numpy()
        k = int(m.sum())
        persons = int(hh["household_size"].to_numpy()[m].sum())
        f = 1.15 if _TARGET_MISSED.get(year) == town else rng.uniform(0.85, 0.93)
        rows.append({"town": town, "year": year, "planned_exit_households": int(round(k * f)),
                     "planned_exit_persons": int(round(persons * f))})
    return pd.DataFrame(rows)


def results_frame(district: District, year: int, sample: pd.DataFrame,
                  rng: np.random.Generator, *, response_rate: float = 0.94) -> pd.DataFrame:
    """Simulated field results for a drawn sample: visits, substitutions with reserves, answers.

    A primary household is visited with probability ``response_rate``; otherwise it is recorded as
    无法入户 and the village-frame's reserves are tried in ``reserve_rank`` order (each visited with
    the same probability), the first reached recorded as 替补. In a village whose non-registered
    frame was split into risk households and the others (``risk_factor > 1``), each group uses
    its own reserves.
    """
    from ..sampling.draw import split_villages

    st = district.years[year].set_index(district.households["household_id"])
    rows: list[dict] = []
    keys = [sample["town"], sample["village"], sample["frame"]]
    split = split_villages(sample)
    if split:  # the risk group in split villages; one group elsewhere
        in_split = [(t, v) in split for t, v in zip(sample["town"], sample["village"], strict=True)]
        keys.append(pd.Series(np.where(in_split, sample["risk"].fillna(False).astype(bool), False),
                              index=sample.index))
    for key, grp in sample.groupby(keys, sort=False):
        frame = key[2]
        reserves = grp[grp["role"] == "reserve"].sort_values("reserve_rank")["household_id"].tolist()
        for hid in grp.loc[grp["role"] == "primary", "household_id"]:
            if rng.random() < response_rate:
                rows.append(_answers(st, hid, frame, "completed", year))
                continue
            rows.append({"household_id": hid, "year": year, "visit_status": "unreachable"})
            while reserves:
                r = reserves.pop(0)
                if rng.random() < response_rate:
                    rows.append(_answers(st, r, frame, "substitute", year))
                    break
                rows.append({"household_id": r, "year": year, "visit_status": "unreachable"})
    cols = ["household_id", "year", "visit_status", "identified_correctly", "exit_correct",
            "missed", "satisfaction", "food_clothing", "compulsory_education", "basic_medical",
            "housing_safety"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    yes = {True: "是", False: "否"}
    for c in ("identified_correctly", "exit_correct", "missed", "food_clothing",
              "compulsory_education", "basic_medical", "housing_safety"):
        out[c] = out[c].map(yes)
    out["satisfaction"] = out["satisfaction"].map(SATISFACTION_LEVELS)
    out["visit_status"] = out["visit_status"].map(VISIT_STATUSES)
    return out


def _answers(st: pd.DataFrame, hid: str, frame: str, status: str, year: int) -> dict:
    s = st.loc[hid]
    row = {"household_id": hid, "year": year, "visit_status": status,
           "satisfaction": s["satisfaction"]}
    if frame == "registered":
        row["identified_correctly"] = bool(s["identified_correctly"])
    elif frame == "exited":
        row["exit_correct"] = bool(s["exit_correct"])
    else:
        row["missed"] = bool(s["missed"])
    if frame != "non_registered":
        for k in ("food_clothing", "compulsory_education", "basic_medical", "housing_safety"):
            row[k] = bool(s[k])
    return row


#: Which file of each year is written in another format, to exercise the readers.
_GBK_FILES = {"register_2016.csv"}
_XLSX_FILES = {"results_2017"}


def write_district(out_dir: str | Path, *, seed: int = 20160101, scale: float = 1.0,
                   plan_overrides: dict | None = None, risk_columns: bool = False) -> list[Path]:
    """Generate the district and write a complete data directory for 2016–2018.

    Registers, drawn samples (with manifests, drawn by :func:`quchi_stats.sampling.draw_sample`),
    field results, self-assessments, reduction targets and truths. ``register_2016.csv`` is GBK and
    ``results_2017.xlsx`` Excel, so every reader path is exercised. Existing files are replaced
    (a generated directory is not an audit record). ``risk_columns=True`` adds the optional risk
    columns to the registers (see :func:`generate_district`); ``plan_overrides`` may then set
    ``risk_factor`` to draw the samples with risk households oversampled.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    district = generate_district(seed, scale=scale, risk_columns=risk_columns)
    written: list[Path] = []
    for year in YEARS:
        rng = np.random.default_rng([seed, year])
        reg = register_frame(district, year)
        name = f"register_{year}.csv"
        enc = "gb18030" if name in _GBK_FILES else "utf-8-sig"
        reg_path = out / name
        written.append(atomic_write_bytes(reg_path, csv_bytes(
            reg, encoding=enc, chinese_headers=True, allow_personal=True)))
        plan = DesignPlan(year=year, **(plan_overrides or {}))
        result = draw_from_file(reg_path, plan, DRAW_SEEDS[year])
        spec_path, rule = None, None
        if year in FOLLOWUP_SEEDS:
            spec_path, rule = _followup_spec(out, year)
            written.append(spec_path)
        outcome = write_sample(result, out / f"sample_{year}", reg_path, force=True,
                               followup=rule)
        written += [outcome.sample_path, outcome.manifest_path]
        truth = truth_frame(district, year)
        written.append(write_csv(truth, out / f"truth_{year}.csv"))
        res = results_frame(district, year, result.sample, rng)
        res = res.rename(columns=LABELS_ZH)
        if f"results_{year}" in _XLSX_FILES:
            written.append(_write_xlsx(res, out / f"results_{year}.xlsx"))
        else:
            written.append(atomic_write_bytes(out / f"results_{year}.csv",
                                              csv_bytes(res, encoding="utf-8-sig")))
        if spec_path is not None:
            written += _followup(district, out, year, spec_path, res, seed)
        sr = self_report_frame(district, year, truth, rng)
        if year == 2016:  # percentages as text, as some towns write them
            for c in ("identification_accuracy", "exit_accuracy", "missed_rate",
                      "satisfaction_rate"):
                sr[c] = (sr[c] * 100).map(lambda x: f"{x:.1f}%")
        else:
            for c in ("identification_accuracy", "exit_accuracy", "missed_rate",
                      "satisfaction_rate"):
                sr[c] = sr[c].round(4)
        written.append(write_csv(sr, out / f"self_report_{year}.csv", chinese_headers=True))
        written.append(write_csv(targets_frame(district, year, rng), out / f"targets_{year}.csv",
                                 chinese_headers=True))
    return written


def _followup_spec(out: Path, year: int):
    """Write ``spec_YYYY.toml``: the shipped spec of the year with :data:`FOLLOWUP_SECTION`."""
    from importlib import resources

    from ..spec import load_spec

    text = (resources.files("quchi_stats") / "specs" / f"assessment_{year}.toml").read_text(
        encoding="utf-8")
    text = text.replace("[[indicator]]", FOLLOWUP_SECTION + "\n[[indicator]]", 1)
    path = atomic_write_bytes(out / f"spec_{year}.toml", text.encode("utf-8"))
    return path, load_spec(path, year=year).followup


def _followup(district: District, out: Path, year: int, spec_path: Path, res: pd.DataFrame,
              seed: int) -> list[Path]:
    """Run the registered 复核 on the year's phase-1 results (``quchi-stats followup``) and
    append the simulated phase-2 field results to ``results_YYYY.csv``."""
    import shutil

    from ..followup import run_followup

    folder = out / f"followup_{year}"
    if folder.is_dir():  # a generated directory is not an audit record: drawn afresh
        shutil.rmtree(folder)
    fo = run_followup(year, out, spec=spec_path, seed=FOLLOWUP_SEEDS[year])
    if not fo.written:
        return []
    res2 = results_frame(district, year, fo.draw.sample, np.random.default_rng([seed, year, 2]))
    both = pd.concat([res, res2.rename(columns=LABELS_ZH)], ignore_index=True)
    atomic_write_bytes(out / f"results_{year}.csv", csv_bytes(both, encoding="utf-8-sig"))
    return [folder / "sample.csv", folder / "manifest.json"]


def _write_xlsx(frame: pd.DataFrame, path: Path) -> Path:
    """Write an .xlsx with fixed metadata (so its cell contents are reproducible)."""
    import io
    import re
    import zipfile
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "入户核查结果"
    ws.append([neutralise_cell(c) for c in frame.columns])  # text never a formula (io.writers)
    for row in frame.itertuples(index=False):
        ws.append([None if (isinstance(v, float) and np.isnan(v)) else
                   (int(v) if isinstance(v, np.integer) else neutralise_cell(v)) for v in row])
    fixed = datetime(2019, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "quchi_stats 合成数据"
    buf = io.BytesIO()
    wb.save(buf)
    # fixed zip timestamps, so the workbook is byte-identical on rerun
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed_info = zipfile.ZipInfo(info.filename, date_time=(2019, 1, 1, 0, 0, 0))
            fixed_info.compress_type = zipfile.ZIP_DEFLATED
            fixed_info.external_attr = 0o644 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>2019-01-01T00:00:00Z\g<2>", data)
            dst.writestr(fixed_info, data)
    return atomic_write_bytes(path, out.getvalue())
