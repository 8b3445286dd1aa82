"""第九条: self-reports above what the spot-check supports."""

from __future__ import annotations

import pandas as pd

from quchi_stats.flags import compare_self_report
from quchi_stats.spec import load_spec


def test_report_above_the_interval_is_flagged_after_adjustment():
    spec = load_spec(2018)
    est = pd.DataFrame({
        "indicator": ["exit_accuracy"] * 3, "town": ["甲", "乙", "全区"],
        "estimate": [0.85, 0.99, 0.95], "se": [0.04, 0.01, 0.01], "n": [40, 40, 80],
        "df": [4, 4, 8], "ci_lower": [0.7, 0.93, 0.9], "ci_upper": [0.93, 1.0, 0.99]})
    sr = pd.DataFrame({"town": ["甲", "乙"], "exit_accuracy": [1.0, 0.995]})
    out = compare_self_report(est, sr, spec).set_index("town")
    assert list(out.index) == ["甲", "乙"]  # the district row is not a town
    assert bool(out.loc["甲", "flag"]) and bool(out.loc["甲", "above_upper"])
    assert not bool(out.loc["乙", "flag"])
    assert out.loc["甲", "p_adjusted"] >= out.loc["甲", "p_value"]
    # 漏评率 is reported as an error rate: 0.1 % reported is a good rate of 99.9 %
    est2 = est.assign(indicator="missed_rate", estimate=[0.95, 0.999, 0.97])
    out2 = compare_self_report(est2, pd.DataFrame({"town": ["甲", "乙"], "missed_rate": [0.001, 0.0]}),
                               spec).set_index("town")
    assert out2.loc["甲", "reported_good"] == 0.999 and bool(out2.loc["甲", "above_upper"])
