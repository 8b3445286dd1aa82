"""Parity with R ``survey`` 4.1.1 where quchi_stats used to differ (issue 11, item 7).

Reference values: tests/reference/make_reference.R (section "parity with R"), docs/estimation.md.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import DataError, QuchiStatsWarning
from quchi_stats.estimation import estimate_mean, estimate_proportion, one_sided_pvalue, proportion_interval

from .conftest import REF, assert_r

R_METHOD = {"korn-graubard": "beta", "logit": "xlogit", "wald": "mean", "likelihood": "likelihood"}


def _check_ci(row, r_values, case, rtol=1e-6, se=True):
    assert_r(row["estimate"], r_values[(case, "estimate")], f"{case} estimate")
    if se:
        assert_r(row["se"], r_values[(case, "se")], f"{case} se")
    assert_r(row["ci_lower"], r_values[(case, "ci_lower")], f"{case} lower", rtol)
    assert_r(row["ci_upper"], r_values[(case, "ci_upper")], f"{case} upper", rtol)


@pytest.fixture(scope="module")
def nhanes() -> SurveyDesign:
    data = pd.read_csv(REF / "nhanes.csv")
    return SurveyDesign(data, strata="SDMVSTRA", psu="SDMVPSU", weights="WTMEC2YR", nest=True)


@pytest.fixture(scope="module")
def clus1() -> pd.DataFrame:
    data = pd.read_csv(REF / "api_clus1.csv")
    data["sch_wide_yes"] = (data["sch.wide"] == "Yes").astype(int)
    return data


# ---- domains with missing y ------------------------------------------------------------------
@pytest.mark.parametrize("method", ["korn-graubard", "logit", "wald"])
def test_domains_with_missing_y_count_their_rows_like_r(nhanes, r_values, method):
    table = estimate_proportion(nhanes, "HI_CHOL", by="race", method=method).to_frame()
    assert list(table["race"]) == [1, 2, 3, 4]
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"nhanes HI_CHOL race {R_METHOD[method]} {row['race']}")
        assert row["df"] == r_values[(f"domain df nhanes race {row['race']}", "df")]


def test_missing_y_keeps_a_psu_in_the_df(nhanes):
    """Race 4 has a PSU whose rows all lack HI_CHOL: R (and we) count it; dropping the rows
    would give 14."""
    data = nhanes.data
    table = estimate_proportion(nhanes, "HI_CHOL", by="race").to_frame().set_index("race")
    assert table.loc[4, "df"] == 15
    assert table.loc[4, "n"] == int(data.loc[data["race"] == 4, "HI_CHOL"].notna().sum())
    kept = data[data["HI_CHOL"].notna()]
    dropped = SurveyDesign(kept, strata="SDMVSTRA", psu="SDMVPSU", weights="WTMEC2YR", nest=True)
    assert estimate_proportion(dropped, "HI_CHOL", by="race").to_frame().set_index(
        "race").loc[4, "df"] == 14


# ---- svyciprop(method = "likelihood") --------------------------------------------------------
def test_likelihood_interval_against_r(api, r_values):
    # R profiles a quasi-binomial svyglm and interpolates the profile with splines: ~1e-5 here
    row = estimate_proportion(api["dclus2"], "sch_wide_yes", method="likelihood").to_frame().iloc[0]
    _check_ci(row, r_values, "svyciprop sch.wide dclus2 likelihood", rtol=1e-4, se=False)
    table = estimate_proportion(api["dclus1"], "sch_wide_yes", by="stype",
                                method="likelihood").to_frame()
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"svyby sch.wide stype dclus1 likelihood {row['stype']}",
                  rtol=1e-4)
    # p̂ = 4/183: R's coarse profile grid is off by 0.3 % (R with del=0.01 gives 0.10812073)
    row = estimate_proportion(api["dclus1"], "ell0", method="likelihood").to_frame().iloc[0]
    _check_ci(row, r_values, "svyciprop ell==0 dclus1 likelihood", rtol=5e-3, se=False)
    assert row["ci_upper"] == pytest.approx(0.10812073, rel=1e-4)


def test_likelihood_interval_nhanes_with_missing_values(nhanes, r_values):
    # R's dispersion with missing values in the domain differs from n/(n − 1) (docs): ≤ 0.2 %
    table = estimate_proportion(nhanes, "HI_CHOL", by="race", method="likelihood").to_frame()
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"nhanes HI_CHOL race likelihood {row['race']}", rtol=2.5e-3)


def test_likelihood_interval_solves_the_scaled_deviance():
    from scipy import stats

    p, v, n, df = np.array([0.3, 0.9, 1.0, 0.0]), np.array([0.002, 0.0004, 0.0, 0.0]), 50, 6
    ci = proportion_interval(p, v, n, df, method="likelihood")
    cut = stats.t.ppf(0.975, df) ** 2 * n / (n - 1)
    ne = np.where(v > 0, p * (1 - p) / np.where(v > 0, v, 1), n)

    def dev(q, i):
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = (np.nan_to_num(p[i] * np.log(p[i] / q)) +
                  np.nan_to_num((1 - p[i]) * np.log((1 - p[i]) / (1 - q))))
        return 2 * ne[i] * kl

    for i in range(2):
        assert ci.lower[i] < p[i] < ci.upper[i]
        assert dev(ci.lower[i], i) == pytest.approx(cut, rel=1e-9)
        assert dev(ci.upper[i], i) == pytest.approx(cut, rel=1e-9)
    assert ci.upper[2] == 1.0 and dev(ci.lower[2], 2) == pytest.approx(cut, rel=1e-9)
    assert ci.lower[3] == 0.0 and dev(ci.upper[3], 3) == pytest.approx(cut, rel=1e-9)
    # the one-sided p-value at the interval's upper bound is α/2
    pv = one_sided_pvalue(p[:2], v[:2], n, df, ci.upper[:2], method="likelihood")
    assert pv == pytest.approx([0.025, 0.025], rel=1e-6)


# ---- lonely PSUs by domain, survey.adjust.domain.lonely, and the jackknife --------------------
@pytest.mark.parametrize("adjust_domain", [False, True])
@pytest.mark.parametrize("lonely", ["remove", "adjust", "average", "certainty"])
def test_lonely_psu_rules_by_domain(clus1, r_values, lonely, adjust_domain):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuchiStatsWarning)
        d = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu=lonely,
                         adjust_domain_lonely=adjust_domain)
    tag = f"lonely {lonely}" + (" domain-adjusted" if adjust_domain else "")
    for _, row in estimate_mean(d, "api00", by="stype").to_frame().iterrows():
        case = f"{tag} api00 stype {row['stype']}"
        assert_r(row["estimate"], r_values[(case, "estimate")], case)
        assert_r(row["se"], r_values[(case, "se")], case)
    table = estimate_proportion(d, "sch_wide_yes", by="stype", method="korn-graubard").to_frame()
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"{tag} sch.wide stype beta {row['stype']}")


def test_average_scales_by_the_strata_of_the_domain(clus1, r_values):
    """H has no school in the lonely district: "average" leaves it as "remove" does (R)."""
    d = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu="average")
    se = estimate_mean(d, "api00", by="stype").to_frame().set_index("stype")["se"]
    assert se["H"] == pytest.approx(r_values[("lonely remove api00 stype H", "se")], rel=1e-9)
    assert se["E"] > r_values[("lonely remove api00 stype E", "se")] * 1.03


@pytest.mark.parametrize("lonely", ["remove", "adjust", "average", "certainty"])
def test_jackknife_follows_lonely_psu(clus1, r_values, lonely):
    d = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu=lonely)
    row = estimate_mean(d, "api00", variance="jackknife").to_frame().iloc[0]
    case = f"jackknife JKn lonely {lonely}"
    assert_r(row["estimate"], r_values[(case, "estimate")], case)
    assert_r(row["se"], r_values[(case, "se")], case)


def test_jackknife_adjust_by_brute_force(clus1):
    """The "adjust" replicate of the lonely PSU, computed by hand from reweighted data."""
    d = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu="adjust")
    w, y, h = clus1["pw"].to_numpy(float), clus1["api00"].to_numpy(float), clus1["dnum"].to_numpy()
    reps, scales = [], []
    strata = np.unique(h)
    for s in strata:
        rows = np.flatnonzero(h == s)
        for j in rows:
            wr = w.copy()
            if rows.size > 1:
                wr[rows] *= rows.size / (rows.size - 1)
                scales.append((rows.size - 1) / rows.size)
            else:
                wr *= strata.size / (strata.size - 1)
                scales.append((strata.size - 1) / strata.size)
            wr[j] = 0
            reps.append(np.sum(wr * y) / np.sum(wr))
    reps = np.array(reps)
    v = np.sum(np.array(scales) * (reps - reps.mean()) ** 2)
    se = estimate_mean(d, "api00", variance="jackknife").to_frame()["se"].iloc[0]
    assert se == pytest.approx(np.sqrt(v), rel=1e-10)


def test_adjust_domain_lonely_is_off_by_default(clus1):
    d = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu="adjust")
    on = SurveyDesign(clus1, strata="dnum", weights="pw", lonely_psu="adjust",
                      adjust_domain_lonely=True)
    assert d.adjust_domain_lonely is False
    off_se = estimate_mean(d, "api00", by="stype").to_frame()["se"]
    on_se = estimate_mean(on, "api00", by="stype").to_frame()["se"]
    assert (on_se > off_se * 1.005).all()
    # the overall mean has no domain-lonely stratum
    assert estimate_mean(on, "api00").to_frame()["se"].iloc[0] == pytest.approx(
        estimate_mean(d, "api00").to_frame()["se"].iloc[0], rel=1e-12)


# ---- NA in a by column; zero weights ---------------------------------------------------------
def test_missing_by_values_leave_every_domain_with_a_counted_warning(clus1, r_values):
    data = clus1.assign(stype_na=clus1["stype"].where(clus1["snum"] % 7 != 0))
    d = SurveyDesign(data, psu="dnum", weights="pw")
    with pytest.warns(QuchiStatsWarning, match="分组列“stype_na”有 27 行为空"):
        means = estimate_mean(d, "api00", by="stype_na").to_frame()
    assert list(means["stype_na"]) == ["E", "H", "M"]
    for _, row in means.iterrows():
        case = f"by with NA api00 {row['stype_na']}"
        assert_r(row["estimate"], r_values[(case, "estimate")], case)
        assert_r(row["se"], r_values[(case, "se")], case)
    with pytest.warns(QuchiStatsWarning, match="27 行"):
        table = estimate_proportion(d, "sch_wide_yes", by="stype_na",
                                    method="korn-graubard").to_frame()
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"by with NA sch.wide beta {row['stype_na']}")
    assert table["n"].sum() == len(data) - 27
    with pytest.raises(DataError, match="分组列全部为空"):
        estimate_mean(SurveyDesign(data.assign(g=np.nan), psu="dnum", weights="pw"), "api00",
                      by="g")


def test_zero_weights_are_kept_as_r_keeps_them(clus1, r_values):
    data = clus1.assign(pw0=np.where(clus1["snum"] % 5 == 0, 0.0, clus1["pw"]))
    with pytest.warns(QuchiStatsWarning, match="权数列“pw0”有 35 行为 0"):
        d = SurveyDesign(data, psu="dnum", weights="pw0")
    assert d.df == r_values[("zero weights", "df")]
    assert d.n == len(data)
    row = estimate_mean(d, "api00").to_frame().iloc[0]
    for stat in ("estimate", "se", "deff"):
        assert_r(row[stat], r_values[("zero weights api00", stat)], f"zero weights {stat}")
    row = estimate_proportion(d, "sch_wide_yes", method="korn-graubard").to_frame().iloc[0]
    _check_ci(row, r_values, "zero weights sch.wide beta", se=False)
    table = estimate_proportion(d, "sch_wide_yes", by="stype", method="korn-graubard").to_frame()
    for _, row in table.iterrows():
        _check_ci(row, r_values, f"zero weights sch.wide stype beta {row['stype']}")
        assert row["df"] == r_values[(f"domain df zero weights {row['stype']}", "df")]
    with pytest.raises(DataError, match="权数全部为 0"):
        SurveyDesign(data.assign(pw0=0.0), psu="dnum", weights="pw0")
