"""第七条（一）: registered and verified exits against the plan."""

from __future__ import annotations

import pandas as pd

from quchi_stats.flags import check_targets


def test_registered_and_verified_shortfalls():
    reg = pd.DataFrame({
        "town": ["甲"] * 10 + ["乙"] * 10, "household_id": [str(i) for i in range(20)],
        "household_size": [2] * 20, "registered": [True] * 20,
        "exit_year": [2018] * 10 + [2018] * 8 + [2017, pd.NA]})
    reg["exit_year"] = reg["exit_year"].astype("Int64")
    targets = pd.DataFrame({"town": ["甲", "乙"], "year": 2018,
                            "planned_exit_households": [10, 9], "planned_exit_persons": [20, 16]})
    acc = pd.DataFrame({"town": ["甲", "乙"], "estimate": [0.9, 1.0], "ci_lower": [0.8, 0.9],
                        "ci_upper": [0.95, 1.0]})
    out = check_targets(reg, targets, 2018, acc, acc).set_index("town")
    # 甲: 10 registered exits meet the plan of 10, but at most 9.5 verified: short
    assert out.loc["甲", "exit_households"] == 10 and not out.loc["甲", "registered_short"]
    assert out.loc["甲", "verified_households_upper"] == 9.5 and out.loc["甲", "verified_short"]
    assert out.loc["甲", "flag"] == "核实退出（上限）未达计划"
    # 乙: 8 registered exits against 9 planned
    assert out.loc["乙", "flag"] == "登记退出未达计划"
    assert out.loc["乙", "exit_persons"] == 16
