"""The calibrated town test (flags/town_test.py): against the independent implementation in
flags/betabinomial.py, the test–interval duality, batch = single, and the one-village rule.
Its size and power on the calibration grid are measured in notebooks/methods/test_calibration.ipynb
(a small seeded version is in tests/simulate/)."""

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from quchi_stats.errors import ParameterError
from quchi_stats.flags import below_test, fit_village_icc, town_test
from quchi_stats.flags.town_test import (
    anova_rho_batch,
    fit_rho_batch,
    town_bounds_batch,
    town_lr_batch,
)


def _district(seed=3, towns=9, villages=5, m=10, p=0.9, rho=0.05):
    rng = np.random.default_rng(seed)
    pv = rng.beta(p * (1 - rho) / rho, (1 - p) * (1 - rho) / rho, size=(towns, villages))
    y = rng.binomial(m, pv).astype(float)
    return pd.DataFrame({"town": np.repeat([f"镇{i}" for i in range(towns)], villages),
                         "y": y.ravel(), "m": float(m)})


def test_rho_and_signed_root_equal_the_independent_implementation():
    v = _district()
    ref = fit_village_icc(v, interval=False, homogeneity=False).rho
    res = town_test(v, 0.9)
    assert res.rho == pytest.approx(ref, abs=2e-5)  # bounded Brent (xatol 1e-5) vs golden section
    old = below_test(v, 0.9, rho=res.rho).to_frame().set_index("town")
    new = res.to_frame().set_index("town")
    np.testing.assert_allclose(new["z"], old.loc[new.index, "lr_z"], atol=1e-7)
    np.testing.assert_allclose(new["p_ml"], old.loc[new.index, "p_ml"], atol=1e-8)
    # the t reference on villages − towns degrees of freedom
    assert res.df == 45 - 9
    np.testing.assert_allclose(new["p_value"], stats.t.cdf(new["z"], 36), rtol=1e-12)


def test_the_test_rejects_exactly_when_the_one_sided_bound_is_below_the_standard():
    v = _district(seed=5, p=0.85)
    alpha = 0.05
    res = town_test(v, 0.9)
    upper = res.conf_int(1 - 2 * alpha).set_index("town")["ci_upper"]
    t = res.to_frame().set_index("town")
    assert ((t["p_value"] < alpha) == (upper[t.index] < 0.9)).all()
    # and at the bound itself the p-value is alpha
    for town, u in upper.items():
        if 0 < u < 1:
            p_at = town_test(v[v["town"] == town].assign(town=town), u, rho=res.rho,
                             df=res.df).to_frame()["p_value"].iloc[0]
            assert p_at == pytest.approx(alpha, abs=1e-6)


def test_interval_is_defined_at_p_hat_one_and_contains_the_ml_mean():
    v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "y": [10, 10, 10, 7, 9, 8.0],
                      "m": [10.0] * 6})
    t = town_test(v, 0.9, rho=0.05).to_frame().set_index("town")
    assert t.loc["甲", "ci_upper"] == 1.0 and 0.7 < t.loc["甲", "ci_lower"] < 1.0
    assert (t["ci_lower"] <= t["p_ml"]).all() and (t["p_ml"] <= t["ci_upper"]).all()


def test_one_village_is_wider_than_the_same_households_over_two_villages():
    rho = 0.08
    one = pd.DataFrame({"town": ["甲"], "y": [14.0], "m": [16.0]})
    two = pd.DataFrame({"town": ["甲", "甲"], "y": [7.0, 7.0], "m": [8.0, 8.0]})
    a = town_test(one, 0.9, rho=rho, df=20).to_frame().iloc[0]
    b = town_test(two, 0.9, rho=rho, df=20).to_frame().iloc[0]
    assert a["ci_upper"] - a["ci_lower"] > b["ci_upper"] - b["ci_lower"]
    assert a["p_value"] > b["p_value"]
    # a lone village of 8 households at 7/8 against 0.9 is no evidence at all (the old SRS-like
    # interval gave p = 0.003 for 8 of 8 households below the standard in one village)
    lone = town_test(pd.DataFrame({"town": ["甲"], "y": [7.0], "m": [8.0]}), 0.9, rho=rho,
                     df=20).to_frame().iloc[0]
    assert lone["p_value"] > 0.2


def test_batch_of_replicates_equals_each_district_alone():
    a, b = _district(seed=1), _district(seed=2, rho=0.15)
    both = pd.concat([a, b], ignore_index=True)
    y, m = both["y"].to_numpy(), both["m"].to_numpy()
    g = np.repeat(np.arange(18), 5)
    rep = np.repeat([0, 1], 9)
    rho = fit_rho_batch(y, m, g, rep, 2)
    ra, rb = town_test(a, 0.9), town_test(b, 0.9)
    np.testing.assert_allclose(rho, [ra.rho, rb.rho], atol=1e-12)
    z, _ = town_lr_batch(y, m, g, 18, rho[rep], np.full(18, 0.9))
    np.testing.assert_allclose(z, np.r_[ra.table["z"], rb.table["z"]], atol=1e-12)
    lo, _hi, _ = town_bounds_batch(y, m, g, 18, rho[rep], stats.t.ppf(0.975, 36))
    np.testing.assert_allclose(lo, np.r_[ra.table["ci_lower"], rb.table["ci_lower"]], atol=1e-12)


def test_no_clustering_gives_rho_zero_and_the_binomial_likelihood_ratio():
    v = pd.DataFrame({"town": ["甲"] * 4 + ["乙"] * 4, "y": [9, 9, 9, 9, 8, 8, 8, 8.0],
                      "m": [10.0] * 8})
    res = town_test(v, 0.95)
    assert res.rho == 0.0
    x, n = 32, 40
    lr = 2 * (x * np.log(0.8 / 0.95) + (n - x) * np.log(0.2 / 0.05))
    assert res.to_frame().set_index("town").loc["乙", "z"] == pytest.approx(-np.sqrt(lr))


def test_parameters_are_checked():
    v = _district()
    with pytest.raises(ParameterError, match="'rho' parameter of town_test"):
        town_test(v, 0.9, rho=1.5)
    with pytest.raises(ParameterError, match="'df' parameter of town_test"):
        town_test(v, 0.9, df=0)
    with pytest.raises(ParameterError, match="'p0' parameter"):
        town_test(v, 1.2)


# --- test_method = "beta-binomial-adjusted" ---------------------------------------------------

def _anova_icc(v: pd.DataFrame) -> float:
    """The textbook one-way ANOVA ICC of villages within towns (Fleiss 1981, ch. 13), written
    out from the mean squares."""
    ssb = ssw = dfb = dfw = n0num = 0.0
    for _, t in v.groupby("town"):
        pv, m = t["y"] / t["m"], t["m"]
        ph = t["y"].sum() / m.sum()
        ssb += float((m * (pv - ph) ** 2).sum())
        ssw += float((m * pv * (1 - pv)).sum())
        dfb += len(t) - 1
        dfw += float((m - 1).sum())
        n0num += float(m.sum() - (m**2).sum() / m.sum())
    msb, msw, n0 = ssb / dfb, ssw / dfw, n0num / dfb
    return max((msb - msw) / (msb + (n0 - 1) * msw), 0.0)


def test_adjusted_rho_is_the_anova_estimator_and_batches_equal_single_districts():
    a, b = _district(seed=1, rho=0.2), _district(seed=2, m=7, rho=0.1)
    b = b.assign(m=b["m"] + np.arange(len(b)) % 3)  # unequal villages
    ra = town_test(a, 0.9, method="beta-binomial-adjusted")
    rb = town_test(b, 0.9, method="beta-binomial-adjusted")
    assert ra.rho == pytest.approx(_anova_icc(a), rel=1e-12) and ra.rho > 0
    assert rb.rho == pytest.approx(_anova_icc(b), rel=1e-12)
    both = pd.concat([a, b], ignore_index=True)
    g = np.repeat(np.arange(18), 5)
    rep = np.repeat([0, 1], 9)
    rho = anova_rho_batch(both["y"].to_numpy(float), both["m"].to_numpy(float), g, rep, 2)
    np.testing.assert_allclose(rho, [ra.rho, rb.rho], rtol=1e-12)
    # at the same ρ the adjusted test is the default's likelihood ratio (only ρ̂ and the exact
    # bounds at full/empty towns differ)
    same = town_test(a, 0.9, rho=ra.rho).to_frame()
    np.testing.assert_allclose(ra.to_frame()["p_value"], same["p_value"], rtol=1e-12)
    # no contrast between villages, or one village per town: ρ̂ = 0
    flat = pd.DataFrame({"town": ["甲", "甲", "乙", "乙"], "y": [9.0, 9, 8, 8], "m": 10.0})
    assert town_test(flat, 0.9, method="beta-binomial-adjusted").rho == 0.0
    lone = pd.DataFrame({"town": ["甲", "乙"], "y": [9.0, 3], "m": 10.0})
    assert town_test(lone, 0.9, method="beta-binomial-adjusted").rho == 0.0


@pytest.mark.parametrize("p0", [0.9, 0.98, 0.1])
def test_adjusted_test_rejects_exactly_when_its_one_sided_bound_is_below_the_standard(p0):
    """Duality of the adjusted method, with a full town (p̂ = 1, mid-p lower bound) and an empty
    one (p̂ = 0: mid-p p-value and upper bound) among ordinary towns."""
    v = _district(seed=5, p=0.85)
    v.loc[v["town"] == "镇0", "y"] = v.loc[v["town"] == "镇0", "m"]
    v.loc[v["town"] == "镇1", "y"] = 0.0
    alpha = 0.05
    res = town_test(v, p0, method="beta-binomial-adjusted")
    t = res.to_frame().set_index("town")
    upper = res.conf_int(1 - 2 * alpha).set_index("town")["ci_upper"]
    assert ((t["p_value"] < alpha) == (upper[t.index] < p0)).all()
    for town, u in upper.items():
        if 0 < u < 1:
            p_at = town_test(v[v["town"] == town], u, rho=res.rho, df=res.df,
                             method="beta-binomial-adjusted").to_frame()["p_value"].iloc[0]
            assert p_at == pytest.approx(alpha, abs=1e-6)
    # the empty town's p-value is the mid-p ½ P(every village empty | p0, ρ̂)
    s = (1 - res.rho) / res.rho
    m = v.loc[v["town"] == "镇1", "m"].to_numpy()
    exact = np.exp(np.sum(special.gammaln(s * (1 - p0) + m) - special.gammaln(s * (1 - p0))
                          - special.gammaln(s + m) + special.gammaln(s)))
    assert t.loc["镇1", "p_value"] == pytest.approx(exact / 2, rel=1e-9)
    # the full town's lower bound is mid-p: ½ P(every village full | lower) = (1 − level)/2
    lo = t.loc["镇0", "ci_lower"]
    m0 = v.loc[v["town"] == "镇0", "m"].to_numpy()
    full = np.exp(np.sum(special.gammaln(s * lo + m0) - special.gammaln(s * lo)
                         - special.gammaln(s + m0) + special.gammaln(s)))
    assert full / 2 == pytest.approx(0.025, rel=1e-6)
    # below the likelihood-ratio bound of the default method (where P(all full) = exp(−t²/2) ≈ 0.13)
    default = town_test(v, p0, rho=res.rho).to_frame().set_index("town")
    assert lo < default.loc["镇0", "ci_lower"]


def test_method_is_checked():
    with pytest.raises(ParameterError, match="'method' parameter of town_test"):
        town_test(_district(), 0.9, method="beta-binomial-adj")
