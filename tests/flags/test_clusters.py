"""Villages where 漏评 clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quchi_stats.flags import village_cluster_test


def test_hotspot_found_and_clean_villages_not():
    rows = [{"town": "甲", "village": f"v{v}", "missed": 0.0} for v in range(30) for _ in range(8)]
    rows[5]["missed"] = 1.0  # one stray case in v0
    rows += [{"town": "乙", "village": "hot", "missed": float(i < 3)} for i in range(8)]
    out = village_cluster_test(pd.DataFrame(rows), "missed").set_index("village")
    assert out.loc["hot", "p_adjusted"] < 0.01
    assert (out.drop("hot")["p_adjusted"] > 0.05).all()
    assert np.isclose(out.loc["hot", "reference_rate"], 1 / 240)


def _district(risk_share: dict[str, int], rates: dict[bool, float], m: int = 10) -> pd.DataFrame:
    """Villages of ``m`` sampled households, ``risk_share[v]`` of them risk households; each group
    has its cases at its rate in every village (rounded), the same in every village."""
    rows = []
    for v, k in risk_share.items():
        for risk, n in ((True, k), (False, m - k)):
            cases = round(n * rates[risk])
            rows += [{"town": "甲", "village": v, "risk": risk, "missed": float(i < cases)}
                     for i in range(n)]
    return pd.DataFrame(rows)


def test_oversampled_risk_households_do_not_make_a_cluster():
    # every village has the same rate within each group; 乙村's sample is mostly risk households
    # (oversampled), the others' mostly not: pooled, 乙村 looks like a cluster, per group it is not
    share = {f"v{i}": 2 for i in range(20)} | {"乙村": 10}
    df = _district(share, {True: 0.5, False: 0.0})
    plain = village_cluster_test(df, "missed").set_index("village")
    grouped = village_cluster_test(df, "missed", group="risk").set_index("village")
    assert plain.loc["乙村", "p_adjusted"] < 0.05  # the artefact the groups remove (watch list at 5 %)
    assert grouped.loc["乙村", "p_value"] > 0.3
    assert (grouped["p_adjusted"] > 0.05).all()
    # a real cluster within the risk group is still found
    hot = df.copy()
    hot.loc[(hot["village"] == "v3") & ~hot["risk"], "missed"] = 1.0
    found = village_cluster_test(hot, "missed", group="risk").set_index("village")
    assert found.loc["v3", "p_adjusted"] < 0.01


def test_groups_sum_exact_binomials_and_one_group_is_the_plain_test():
    from scipy import stats

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"town": "甲", "village": np.repeat([f"v{i}" for i in range(12)], 9),
                       "risk": rng.random(108) < 0.4})
    df["missed"] = (rng.random(108) < np.where(df["risk"], 0.3, 0.05)).astype(float)
    one = village_cluster_test(df.assign(g="all"), "missed", group="g")
    plain = village_cluster_test(df, "missed")
    np.testing.assert_allclose(one["p_value"], plain["p_value"], rtol=1e-12)
    got = village_cluster_test(df, "missed", group="risk").set_index("village")
    # by hand for one village: P(X1 + X2 >= x), X_g ~ Bin(n_g, rate of group g elsewhere)
    v = df[df["village"] == "v0"]
    rest = df[df["village"] != "v0"]
    n1, n2 = int(v["risk"].sum()), int((~v["risk"]).sum())
    r1, r2 = rest.loc[rest["risk"], "missed"].mean(), rest.loc[~rest["risk"], "missed"].mean()
    x = int(v["missed"].sum())
    want = sum(stats.binom.pmf(k, n1, r1) * stats.binom.sf(x - k - 1, n2, r2) for k in range(n1 + 1))
    assert x > 0 and np.isclose(got.loc["v0", "p_value"], want, rtol=1e-10)
    assert np.isclose(got.loc["v0", "reference_rate"], (n1 * r1 + n2 * r2) / (n1 + n2))
