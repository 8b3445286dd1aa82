"""The finite-population (model-based prediction) town test prototype."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quchi_stats.errors import DataError, ParameterError
from quchi_stats.flags.town_test import fit_rho_batch
from quchi_stats.flags.town_test_fp import fp_bounds, fp_predict_batch, fp_pvalues, fp_town_test


def _brute_force(sizes_by_village, observed_by_village, y_by_village, rho):
    """Royall's BLUP of Σ s_i y_i and its error variance (σ² = 1) by matrices: units with a common
    mean, village effects (ρ) and unit errors (1 − ρ)."""
    s, vill, obs, yv = [], [], [], []
    for v, (sz, ob, yy) in enumerate(zip(sizes_by_village, observed_by_village, y_by_village,
                                         strict=True)):
        s += list(sz)
        vill += [v] * len(sz)
        obs += list(ob)
        yv += list(yy)
    s, vill, obs, yv = map(np.asarray, (s, vill, obs, yv))
    obs = obs.astype(bool)
    V = np.where(vill[:, None] == vill[None, :], rho, 0.0) + np.eye(len(s)) * (1 - rho)
    Vss, Vrs = V[np.ix_(obs, obs)], V[np.ix_(~obs, obs)]
    Vrr = V[np.ix_(~obs, ~obs)]
    Xs, Xr = np.ones(obs.sum()), np.ones((~obs).sum())
    Vi = np.linalg.inv(Vss)
    beta = (Xs @ Vi @ yv[obs]) / (Xs @ Vi @ Xs)
    a = s[~obs]
    pred = s[obs] @ yv[obs] + a @ (Xr * beta + Vrs @ Vi @ (yv[obs] - Xs * beta))
    d = a @ Xr - a @ Vrs @ Vi @ Xs
    var = a @ (Vrr - Vrs @ Vi @ Vrs.T) @ a + d**2 / (Xs @ Vi @ Xs)
    return pred / s.sum(), var / s.sum() ** 2


@pytest.mark.parametrize("rho", [0.0, 0.05, 0.3])
def test_prediction_equals_royall_blup_by_matrices(rho):
    rng = np.random.default_rng(5)
    sizes = [rng.integers(1, 6, 7), rng.integers(1, 6, 5), rng.integers(1, 6, 9),
             rng.integers(1, 6, 4)]
    observed = [np.r_[np.ones(4), np.zeros(3)], np.r_[np.ones(5)], np.r_[np.ones(2), np.zeros(7)],
                np.zeros(4)]  # the last village is not sampled
    ys = [np.r_[1, 0, 1, 1, 0, 0, 0], np.r_[1, 1, 1, 0, 1], np.r_[1, 0, np.zeros(7)],
          np.zeros(4)]
    # household-level target (s = 1) and person-level target (s = sizes)
    for weights in ([np.ones(len(z)) for z in sizes], sizes):
        p_bf, v_bf = _brute_force(weights, observed, ys, rho)
        y = np.array([float((o * z).sum()) for o, z in zip(observed, ys, strict=True)])
        n = np.array([float(o.sum()) for o in observed])
        r1 = np.array([float(((1 - o) * w).sum()) for o, w in zip(observed, weights, strict=True)])
        r2 = np.array([float(((1 - o) * np.asarray(w) ** 2).sum())
                       for o, w in zip(observed, weights, strict=True)])
        t_obs = np.array([float((o * z * w).sum())
                          for o, z, w in zip(observed, ys, weights, strict=True)])
        tot = np.array([float(sum(np.sum(w) for w in weights))])
        g = np.zeros(4, np.intp)
        p_hat, K, _ = fp_predict_batch(y, n, r1, g, 1, np.array([rho]), r2=r2, t_obs=t_obs,
                                       total=tot)
        assert p_hat[0] == pytest.approx(p_bf, abs=1e-12)
        assert K[0] == pytest.approx(v_bf, rel=1e-9)


def test_every_household_observed_decides_on_the_realized_rate():
    v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "y": [9, 17, 8, 20, 19, 10],
                      "n": [10, 20, 10, 20, 20, 10], "N": [10, 20, 10, 20, 20, 10]})
    t = fp_town_test(v, 0.9).to_frame().set_index("town")
    assert t.loc["甲", "p_hat"] == pytest.approx(34 / 40)
    assert t.loc["乙", "p_hat"] == pytest.approx(49 / 50)
    assert t["se0"].tolist() == [0.0, 0.0]
    assert t.loc["甲", "p_value"] == 0.0 and t.loc["乙", "p_value"] == 1.0
    assert t.loc["甲", "ci_lower"] == t.loc["甲", "ci_upper"] == pytest.approx(34 / 40)


def test_srs_special_case_has_the_finite_population_correction():
    # ρ = 0, one town: Var(P̂ − P) = σ² (1 − f)/n whatever the villages
    y, n, N = np.array([7.0, 9.0, 0.0]), np.array([10.0, 10.0, 0.0]), np.array([25.0, 15.0, 20.0])
    p_hat, K, mu = fp_predict_batch(y, n, N - n, np.zeros(3, np.intp), 1, np.array([0.0]))
    f = 20 / 60
    assert K[0] == pytest.approx((1 - f) / 20)
    assert p_hat[0] == pytest.approx((16 + 40 * 0.8) / 60)
    assert mu[0] == pytest.approx(0.8)


def test_more_of_the_town_observed_means_less_prediction_variance():
    N = np.array([20.0, 20.0, 20.0, 20.0])
    g = np.zeros(4, np.intp)
    Ks = []
    for n in ([10, 10, 0, 0], [10, 10, 10, 0], [10, 10, 10, 10], [15, 15, 15, 15],
              [20, 20, 20, 20]):
        n = np.asarray(n, float)
        y = np.round(0.9 * n)
        Ks.append(fp_predict_batch(y, n, N - n, g, 1, np.array([0.05]))[1][0])
    assert all(a > b for a, b in itertools.pairwise(Ks))
    assert Ks[-1] == 0.0


def test_symmetry_and_monotonicity():
    v = pd.DataFrame({"town": ["甲"] * 3 + ["乙"] * 3, "y": [8, 7, 0, 9, 10, 0],
                      "n": [10, 10, 0, 10, 10, 0], "N": [18, 15, 22, 18, 15, 22]})
    a = fp_town_test(v, 0.9, rho=0.1).to_frame()
    flipped = v.assign(y=v["n"] - v["y"])
    b = fp_town_test(flipped, 0.1, rho=0.1).to_frame()
    assert np.allclose(a["z"], -b["z"])
    assert np.allclose(a["p_hat"], 1 - b["p_hat"])
    # one more good answer never lowers the p-value; a higher standard never raises it
    p = [fp_town_test(v.assign(y=[8, 7, 0, 9, 10, 0]).assign(
        y=lambda d, k=k: d["y"] + np.r_[k, 0, 0, 0, 0, 0]), 0.9, rho=0.1).to_frame()["p_value"][0]
        for k in range(3)]
    assert p[0] < p[1] < p[2]
    q = [fp_town_test(v, p0, rho=0.1).to_frame()["p_value"][0] for p0 in (0.8, 0.85, 0.9)]
    assert q[0] > q[1] > q[2]


def test_all_answers_good_gives_an_interval_and_no_flag():
    v = pd.DataFrame({"town": ["甲"] * 3, "y": [10, 10, 0], "n": [10, 10, 0], "N": [20, 20, 20]})
    t = fp_town_test(v, 0.9, rho=0.05, df=10).to_frame().iloc[0]
    assert t["p_hat"] == 1.0 and t["ci_upper"] == pytest.approx(1.0) and 0.5 < t["ci_lower"] < 1
    assert t["p_value"] > 0.5 and t["se0"] > 0


def test_test_and_interval_agree():
    rng = np.random.default_rng(3)
    p_hat = rng.uniform(0.6, 1.0, 200)
    K = rng.uniform(0.0005, 0.02, 200)
    p0 = 0.9
    df = 36
    _, pv = fp_pvalues(p_hat, K, p0, df)
    _, hi = fp_bounds(p_hat, K, stats.t.ppf(0.95, df))
    assert np.array_equal(pv < 0.05, hi < p0)


def test_bad_counts_and_parameters_are_refused():
    v = pd.DataFrame({"town": ["甲"], "y": [5], "n": [10], "N": [8]})
    with pytest.raises(DataError):
        fp_town_test(v, 0.9)
    with pytest.raises(ParameterError):
        fp_town_test(v.assign(N=20), 1.2)
    with pytest.raises(ParameterError):
        fp_town_test(v.assign(N=20), 0.9, rho=1.5)


def test_size_at_the_realized_rate_is_controlled():
    """Seeded: 8 towns × 8 villages of 16–30 households, 5 villages × 10 households sampled,
    village rates beta (mean 0.9, ρ 0.05); each town tested against its own realized rate.
    400 districts = 3,200 tests: the MC SE of a 5 % rate is 0.39 %; 4 SE allowed above 5 %."""
    rng = np.random.default_rng(20261202)
    R, T, Vt, S, m, mu, rho = 400, 8, 8, 5, 10, 0.9, 0.05
    N = rng.integers(16, 31, (T, Vt)).astype(float)
    a, b = mu * (1 - rho) / rho, (1 - mu) * (1 - rho) / rho
    p_v = rng.beta(a, b, (R, T, Vt))
    Y = rng.binomial(N.astype(int), p_v)
    sampled = np.zeros((R, T, Vt), bool)
    for t in range(T):
        pick = np.argsort(rng.random((R, Vt)), axis=1)[:, :S]
        np.put_along_axis(sampled[:, t], pick, True, axis=1)
    n = np.where(sampled, m, 0).astype(float)
    y = np.where(sampled, rng.hypergeometric(Y, N.astype(int) - Y, m), 0).astype(float)
    P = Y.sum(axis=2) / N.sum(axis=1)
    g = np.broadcast_to(np.arange(R * T).reshape(R, T, 1), (R, T, Vt)).ravel()
    rep_of_group = np.repeat(np.arange(R), T)
    s = n.ravel() > 0
    rho_hat = fit_rho_batch(y.ravel()[s], n.ravel()[s], g[s], rep_of_group, R)
    p_hat, K, _ = fp_predict_batch(y.ravel(), n.ravel(), np.broadcast_to(N, (R, T, Vt)).ravel()
                                   - n.ravel(), g, R * T, rho_hat[rep_of_group])
    inner = (P.ravel() > 0) & (P.ravel() < 1)
    _, pv = fp_pvalues(p_hat, K, np.where(inner, P.ravel(), 0.5), T * S - T)
    rate = float(np.mean(inner & (pv < 0.05)))
    se = np.sqrt(0.05 * 0.95 / (R * T))
    assert 0.02 < rate < 0.05 + 4 * se
