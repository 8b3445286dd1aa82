"""Estimators equal to R ``survey`` (tests/reference/make_reference.R) to 1e-6 relative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import DataError, ParameterError, QuchiStatsWarning
from quchi_stats.estimation import (
    estimate_mean,
    estimate_proportion,
    estimate_ratio,
    estimate_total,
    proportion_interval,
)
from tests.estimation.conftest import assert_r

# published in the issue (R survey's documentation values)
PUBLISHED = {
    "dstrat": (662.2873632, 9.408940803),
    "dclus1": (644.1693989, 23.54224069),
    "dclus2": (670.8118081, 30.09902738),
}


@pytest.mark.parametrize("name", ["dstrat", "dclus1", "dclus2"])
def test_svymean_published_values(api, name):
    row = estimate_mean(api[name], "api00").to_frame().iloc[0]
    est, se = PUBLISHED[name]
    assert row["estimate"] == pytest.approx(est, rel=1e-6)
    assert row["se"] == pytest.approx(se, rel=1e-6)


@pytest.mark.parametrize(("name", "case"), [
    ("dstrat", "svymean api00 dstrat"), ("dclus1", "svymean api00 dclus1"),
    ("dclus1_wr", "svymean api00 dclus1 wr"), ("dclus2", "svymean api00 dclus2"),
    ("dclus2_wr", "svymean api00 dclus2 wr")])
def test_svymean_with_deff_and_df(api, r_values, name, case):
    row = estimate_mean(api[name], "api00").to_frame().iloc[0]
    for stat in ("estimate", "se", "deff"):
        assert_r(row[stat], r_values[(case, stat)], f"{case} {stat}")
    assert row["df"] == r_values[(case, "df")]


def test_svyratio(api, r_values):
    row = estimate_ratio(api["dstrat"], "api.stu", "enroll").to_frame().iloc[0]
    assert row["estimate"] == pytest.approx(0.8369568869, rel=1e-6)
    assert row["se"] == pytest.approx(0.007757103167, rel=1e-6)
    row = estimate_ratio(api["dclus2"], "api.stu", "enroll").to_frame().iloc[0]
    case = "svyratio api.stu/enroll dclus2"
    assert_r(row["estimate"], r_values[(case, "estimate")], case)
    assert_r(row["se"], r_values[(case, "se")], case)


def test_svytotal(api, r_values):
    row = estimate_total(api["dclus1"], "enroll").to_frame().iloc[0]
    for stat in ("estimate", "se", "deff"):
        assert_r(row[stat], r_values[("svytotal enroll dclus1", stat)], stat)
    row = estimate_total(api["dclus2"], "enroll").to_frame().iloc[0]  # NAs in enroll dropped
    for stat in ("estimate", "se"):
        assert_r(row[stat], r_values[("svytotal enroll dclus2", stat)], stat)


@pytest.mark.parametrize(("method", "r_method", "lower", "upper"), [
    ("korn-graubard", "beta", 0.0002161468, 0.1375077639),
    ("logit", "xlogit", 0.0023046913, 0.1777477668),
])
def test_svyciprop_published(api, method, r_method, lower, upper):
    lo, hi = estimate_proportion(api["dclus1"], "ell0", method=method).ci
    assert lo == pytest.approx(lower, rel=1e-6)
    assert hi == pytest.approx(upper, rel=1e-6)


def test_svyciprop_two_stage(api, r_values):
    for method, r_method in (("korn-graubard", "beta"), ("logit", "xlogit")):
        case = f"svyciprop sch.wide dclus2 {r_method}"
        res = estimate_proportion(api["dclus2"], "sch_wide_yes", method=method)
        assert_r(res.estimate, r_values[(case, "estimate")], case)
        assert_r(res.ci[0], r_values[(case, "ci_lower")], case)
        assert_r(res.ci[1], r_values[(case, "ci_upper")], case)


def test_wald_equals_r_mean_where_r_stays_in_0_1(api, r_values):
    case = "svyciprop ell==0 dclus1 mean"
    lo, hi = estimate_proportion(api["dclus1"], "ell0", method="wald").ci
    assert r_values[(case, "ci_lower")] < 0 and lo == 0.0  # R returns a negative bound
    assert_r(hi, r_values[(case, "ci_upper")], case)


@pytest.mark.parametrize(("method", "r_method"), [
    ("korn-graubard", "beta"), ("logit", "xlogit"), ("wald", "mean")])
def test_svyby_domains_keep_the_full_design(api, r_values, method, r_method):
    table = estimate_proportion(api["dclus1"], "sch_wide_yes", by="stype",
                                method=method).to_frame()
    assert table["stype"].tolist() == ["E", "H", "M"]
    for _, row in table.iterrows():
        case = f"svyby sch.wide stype dclus1 {r_method} {row['stype']}"
        for stat in ("estimate", "se", "ci_lower", "ci_upper"):
            expected = r_values[(case, stat)]
            if stat == "ci_upper" and expected > 1:
                assert row[stat] == 1.0  # R's Wald bound above 1, ours clipped
                continue
            assert_r(row[stat], expected, f"{case} {stat}")
        assert row["df"] == r_values[(f"domain df dclus1 {row['stype']}", "df")]
    h = table.set_index("stype").loc["H"]
    if method == "korn-graubard":  # the published case, domain df 7
        assert h["ci_lower"] == pytest.approx(0.5217609712, rel=1e-6)
        assert h["ci_upper"] == pytest.approx(0.9439076937, rel=1e-6)
        assert h["df"] == 7


def test_svyby_two_stage_domains(api, r_values):
    table = estimate_proportion(api["dclus2"], "sch_wide_yes", by="stype",
                                method="korn-graubard").to_frame()
    for _, row in table.iterrows():
        case = f"svyby sch.wide stype dclus2 beta {row['stype']}"
        for stat in ("estimate", "se", "ci_lower", "ci_upper"):
            assert_r(row[stat], r_values[(case, stat)], f"{case} {stat}")
    means = estimate_mean(api["dclus2"], "api00", by="stype").to_frame()
    for _, row in means.iterrows():
        case = f"svyby api00 stype dclus2 {row['stype']}"
        assert_r(row["se"], r_values[(case, "se")], case)


def test_svyby_means_with_deff_and_ratios(api, r_values):
    for _, row in estimate_mean(api["dstrat"], "api00", by="stype").to_frame().iterrows():
        case = f"svyby api00 stype dstrat {row['stype']}"
        for stat in ("estimate", "se", "deff"):
            assert_r(row[stat], r_values[(case, stat)], f"{case} {stat}")
    ratios = estimate_ratio(api["dclus1"], "api.stu", "enroll", by="stype").to_frame()
    for _, row in ratios.iterrows():
        case = f"svyby ratio api.stu/enroll stype dclus1 {row['stype']}"
        assert_r(row["estimate"], r_values[(case, "estimate")], case)
        assert_r(row["se"], r_values[(case, "se")], case)


def test_domain_estimate_is_not_plain_subsetting(api):
    """A domain analysed as if it were its own sample loses the other PSUs' zeros: different se."""
    full = estimate_mean(api["dclus1"], "api00", by="stype").to_frame().set_index("stype")
    sub = api["dclus1"].data[api["dclus1"].data["stype"] == "H"]
    alone = estimate_mean(SurveyDesign(sub, psu="dnum", weights="pw", fpc="fpc"),
                          "api00").to_frame().iloc[0]
    assert alone["estimate"] == pytest.approx(full.loc["H", "estimate"])
    # 39.45 (subset as its own sample) against 38.02 (full design, = R svyby)
    assert abs(alone["se"] - full.loc["H", "se"]) > 0.02 * full.loc["H", "se"]


@pytest.mark.parametrize("lonely", ["remove", "adjust", "average", "certainty"])
def test_lonely_psu_options(api, r_values, lonely):
    data = api["dclus1"].data
    d = SurveyDesign(data, strata="dnum", weights="pw", lonely_psu=lonely)
    row = estimate_mean(d, "api00").to_frame().iloc[0]
    assert_r(row["se"], r_values[(f"lonely {lonely}", "se")], lonely)
    published = {"remove": 5.805777578, "adjust": 5.828057902, "average": 6.009550728}
    if lonely in published:
        assert row["se"] == pytest.approx(published[lonely], rel=1e-6)


def test_lonely_psu_fail_names_the_stratum(api):
    with pytest.raises(DataError, match="只有 1 个 PSU"):
        SurveyDesign(api["dclus1"].data, strata="dnum", weights="pw")


def test_person_level_rate_uses_the_denominator():
    df = pd.DataFrame({"town": ["甲"] * 4, "village": [1, 1, 2, 2], "w": 1.0,
                       "ok": [1, 0, 1, 1], "size": [1, 4, 2, 3]})
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    assert estimate_proportion(d, "ok").estimate == pytest.approx(0.75)
    assert estimate_proportion(d, "ok", denominator="size").estimate == pytest.approx(0.6)


def test_yes_no_bool_and_missing_values():
    df = pd.DataFrame({"v": [1, 1, 2, 2, 3, 3], "w": 1.0,
                       "a": ["是", "否", "是", None, "Y", "1"],
                       "b": pd.array([True, False, True, pd.NA, True, True], dtype="boolean"),
                       "c": [1, 0, 1, np.nan, 1, 1]})
    d = SurveyDesign(df, psu="v", weights="w")
    ests = [estimate_proportion(d, c) for c in ("a", "b", "c")]
    for r in ests:
        assert r.estimate == pytest.approx(0.8)
        assert r.to_frame()["n"].iloc[0] == 5
    bad = df.assign(a=["是", "否", "也许", None, "Y", "1"])
    with pytest.raises(DataError, match="第 4 行，列“a”：应为是/否"):
        estimate_proportion(SurveyDesign(bad, psu="v", weights="w"), "a")
    with pytest.raises(DataError, match="需要 0/1 变量"):
        estimate_proportion(SurveyDesign(df.assign(c=[2, 0, 1, 1, 1, 1]), psu="v", weights="w"), "c")


@pytest.mark.parametrize("dtype", ["object", "str", "category"])
def test_towns_in_order_of_first_appearance_whatever_the_path(dtype):
    """The towns come in order_towns' order (first appearance in the data) whether they are the
    strata (read per PSU), another column, or the first of two by columns, missing values
    included: the order is computed from codes, not by a pass over the values."""
    from quchi_stats.io.schema import order_towns

    rng = np.random.default_rng(3)
    n = 400
    village = rng.integers(0, 40, n)
    names = np.array(["丙", "甲", "丁", "乙"], dtype=object)
    town = pd.Series(names[(village * 7 + 3) % 4], dtype=dtype)
    df = pd.DataFrame({"town": town, "village": village, "w": rng.uniform(1, 3, n),
                       "ok": rng.integers(0, 2, n), "sex": rng.integers(0, 2, n)})
    expected = order_towns(df["town"].dropna())
    assert sorted(expected) != expected  # the order is not the sorted one
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    assert estimate_proportion(d, "ok", by="town").to_frame()["town"].tolist() == expected
    other = df.assign(town=df["town"].where(np.arange(n) % 11 != 0)).iloc[rng.permutation(n)]
    expected = order_towns(other["town"].dropna())
    d = SurveyDesign(other, psu="village", weights="w")
    with pytest.warns(QuchiStatsWarning, match="行为空"):
        assert estimate_proportion(d, "ok", by="town").to_frame()["town"].tolist() == expected
    with pytest.warns(QuchiStatsWarning, match="行为空"):
        two = estimate_proportion(d, "ok", by=["town", "sex"]).to_frame()
    assert list(dict.fromkeys(two["town"])) == expected
    assert two.groupby("town", sort=False)["sex"].apply(list).tolist() == [[0, 1]] * 4


def test_first_rows_reads_in_chunks_until_every_code_is_seen():
    from quchi_stats.design import _first_rows

    rng = np.random.default_rng(5)
    codes = rng.integers(-1, 3, 100_000)  # −1: a row without a code
    codes[[70_000, 99_999]] = [3, 4]  # two codes first seen late, one (5) never
    reads = []

    def codes_of(a, b):
        reads.append((a, b))
        return codes[a:b]

    first = _first_rows(codes_of, codes.size, 6)
    expected = [int(np.argmax(codes == c)) if (codes == c).any() else codes.size for c in range(6)]
    assert first.tolist() == expected
    assert reads[0] == (0, 4096) and reads[-1][1] == codes.size
    reads.clear()
    assert _first_rows(codes_of, codes.size, 3).tolist() == expected[:3] and len(reads) == 1
    # rows sorted by their code (a drawn sample's villages), runs crossing the chunks' edges
    runs = np.repeat(np.array([-1, 2, 0, 4, 1, 3, -1, 0]), [5, 4090, 3, 60_000, 1, 35_000, 7, 890])
    first = _first_rows(lambda a, b: runs[a:b], runs.size, 6)
    assert first.tolist() == [int(np.argmax(runs == c)) if (runs == c).any() else runs.size
                              for c in range(6)]


def test_result_columns_and_display():
    df = pd.DataFrame({"town": ["甲"] * 4 + ["乙"] * 4, "village": [1, 1, 2, 2, 3, 3, 4, 4],
                       "w": 2.0, "ok": [1, 1, 1, 0, 1, 1, 1, 1]})
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    res = estimate_proportion(d, "ok", by="town")
    frame = res.to_frame()
    assert list(frame.columns) == ["town", "estimate", "se", "ci_lower", "ci_upper", "level", "n",
                                   "n_eff", "df", "deff", "cv", "method"]
    assert frame["town"].tolist() == ["甲", "乙"]  # in order of first appearance in the data
    assert "置信下限" in str(res) and "<table" in res._repr_html_()
    assert list(res.to_frame(chinese=True).columns[:2]) == ["乡镇", "估计值"]
    with pytest.raises(ValueError, match="2 domains"):
        _ = res.estimate
    # p_hat = 1 in 乙: defined, non-degenerate interval
    yi = frame.set_index("town").loc["乙"]
    assert yi["estimate"] == 1.0 and 0 < yi["ci_lower"] < 1 and yi["ci_upper"] == 1.0


def test_parameter_errors():
    df = pd.DataFrame({"v": [1, 2], "w": 1.0, "y": [1, 0]})
    d = SurveyDesign(df, psu="v", weights="w")
    with pytest.raises(ParameterError, match=r"The 'level' parameter of estimate_proportion must be in \(0, 1\). Got 1.5."):
        estimate_proportion(d, "y", level=1.5)
    with pytest.raises(ParameterError, match="'method' parameter of estimate_proportion"):
        estimate_proportion(d, "y", method="exact")
    with pytest.raises(ParameterError, match="'variance' parameter"):
        estimate_mean(d, "y", variance="bootstrap")
    with pytest.raises(ParameterError, match="must be a SurveyDesign"):
        estimate_mean(df, "y")
    with pytest.raises(ParameterError, match="no column 'z'"):
        estimate_mean(d, "z")


def test_pooled_design_effect_for_two_village_towns():
    rng = np.random.default_rng(5)
    rows = []
    for t, k in (("甲", 2), ("乙", 6), ("丙", 6)):
        for v in range(k):
            for _ in range(10):
                rows.append({"town": t, "village": f"{t}{v}", "w": 5.0,
                             "y": int(rng.random() < 0.9)})
    d = SurveyDesign(pd.DataFrame(rows), strata="town", psu="village", weights="w")
    plain = estimate_proportion(d, "y", by="town").to_frame().set_index("town")
    pooled = estimate_proportion(d, "y", by="town", pool_deff=True).to_frame().set_index("town")
    assert plain.loc["甲", "df"] == 1 and pooled.loc["甲", "df"] == 10
    assert pooled.loc["乙", "se"] == plain.loc["乙", "se"]  # towns with more df unchanged
    donors = plain.loc[["乙", "丙"]]
    deff = max(1.0, float((donors["n"] * donors["deff"]).sum() / donors["n"].sum()))
    p, n = plain.loc["甲", "estimate"], plain.loc["甲", "n"]
    assert pooled.loc["甲", "se"] == pytest.approx(np.sqrt(deff * p * (1 - p) / (n - 1) * (
        (100 - n) / 100)))
    expected = proportion_interval(p, pooled.loc["甲", "se"] ** 2, n, 10)
    assert pooled.loc["甲", "ci_lower"] == pytest.approx(expected.lower[0])
    assert pooled.loc["甲", "ci_upper"] == pytest.approx(expected.upper[0])


def test_p_value_column_against_a_threshold():
    df = pd.DataFrame({"town": ["甲"] * 30 + ["乙"] * 30, "village": np.repeat(np.arange(6), 10),
                       "w": 3.0, "ok": ([1] * 7 + [0] * 3) * 3 + [1] * 30})
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    res = estimate_proportion(d, "ok", by="town", p0=0.9).to_frame().set_index("town")
    assert res.loc["乙", "p_value"] == 1.0  # p_hat = 1 is never "significantly low"
    from quchi_stats.estimation import one_sided_pvalue
    row = res.loc["甲"]
    expected = one_sided_pvalue(row["estimate"], row["se"] ** 2, row["n"], row["df"], 0.9)[0]
    assert row["p_value"] == pytest.approx(expected)
    assert row["p_value"] < 0.05 and row["ci_upper"] < 0.9
    with pytest.raises(ParameterError, match="'p0' parameter"):
        estimate_proportion(d, "ok", p0=1.2)


@pytest.mark.parametrize("name", ["dstrat", "dclus1", "dclus2"])
def test_sparse_cells_equal_the_dense_grid(api, name, monkeypatch):
    """With many domains only occupied (PSU, domain) cells are kept; the numbers do not change."""
    from quchi_stats.estimation import variance

    design = api[name]
    calls = [
        lambda: estimate_proportion(design, "sch_wide_yes", by="stype"),
        lambda: estimate_proportion(design, "sch_wide_yes", by=["stype", "comp.imp"]),
        lambda: estimate_mean(design, "api00", by="stype"),
        lambda: estimate_ratio(design, "api.stu", "enroll", by="stype"),
        lambda: estimate_total(design, "enroll", by="stype"),
    ]
    dense = [c().to_frame() for c in calls]
    monkeypatch.setattr(variance, "_DENSE_CELLS", 0)
    for c, expected in zip(calls, dense, strict=True):
        got = c().to_frame()
        pd.testing.assert_frame_equal(got, expected, rtol=1e-10)


def test_two_domain_columns_match_the_cross_classification(api):
    both = estimate_proportion(api["dclus1"], "sch_wide_yes", by=["stype", "comp.imp"]).to_frame()
    data = api["dclus1"].data.assign(cell=lambda d: d["stype"] + "/" + d["comp.imp"])
    d = SurveyDesign(data, psu="dnum", weights="pw", fpc="fpc")
    one = estimate_proportion(d, "sch_wide_yes", by="cell").to_frame()
    assert (both["stype"] + "/" + both["comp.imp"]).tolist() == one["cell"].tolist()
    np.testing.assert_allclose(both[["estimate", "se", "df"]].to_numpy(float),
                               one[["estimate", "se", "df"]].to_numpy(float), rtol=1e-12)
