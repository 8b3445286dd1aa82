"""第七条（一）: registered and verified exits against the plan."""

from __future__ import annotations

import pandas as pd

from quchi_stats.flags import check_targets
from quchi_stats.labels import Verdict, code_label


def _targets(exit_years: dict[str, list], planned: dict[str, tuple[int, int]],
             accuracy: dict[str, tuple[float, float, float]], size: int = 2) -> pd.DataFrame:
    """check_targets for towns with these households' exit years, (households, persons) planned
    and exit accuracy (estimate, lower, upper), one row per town."""
    towns = list(exit_years)
    years = [y for t in towns for y in exit_years[t]]
    reg = pd.DataFrame({"town": [t for t in towns for _ in exit_years[t]],
                        "household_id": [str(i) for i in range(len(years))],
                        "household_size": [size] * len(years), "registered": [True] * len(years),
                        "exit_year": pd.array(years, dtype="Int64")})
    targets = pd.DataFrame({"town": towns, "year": 2018,
                            "planned_exit_households": [planned[t][0] for t in towns],
                            "planned_exit_persons": [planned[t][1] for t in towns]})
    acc = pd.DataFrame({"town": towns, **{c: [accuracy[t][i] for t in towns] for i, c in
                                          enumerate(("estimate", "ci_lower", "ci_upper"))}})
    return check_targets(reg, targets, 2018, acc, acc).set_index("town")


def test_registered_and_verified_shortfalls():
    out = _targets({"甲": [2018] * 10, "乙": [2018] * 8 + [2017, pd.NA]},
                   {"甲": (10, 20), "乙": (9, 16)}, {"甲": (0.9, 0.8, 0.95), "乙": (1.0, 0.9, 1.0)})
    # 甲: 10 registered exits meet the plan of 10, but at most 9.5 verified: short
    assert out.loc["甲", "exit_households"] == 10 and not out.loc["甲", "registered_short"]
    assert out.loc["甲", "verified_households_upper"] == 9.5 and out.loc["甲", "verified_short"]
    assert out.loc["甲", "flag"] == Verdict.VERIFIED_SHORT  # a code; the report words it
    assert code_label(Verdict, out.loc["甲", "flag"]) == "核实退出（上限）未达计划"
    # 乙: 8 registered exits against 9 planned
    assert out.loc["乙", "flag"] == Verdict.REGISTERED_SHORT
    assert code_label(Verdict, out.loc["乙", "flag"]) == "登记退出未达计划"
    assert out.loc["乙", "exit_persons"] == 16


def test_flag_column_holds_codes_not_words():
    """The ``flag`` column holds Verdict codes (None when the plan is met), never words."""
    out = _targets({"甲": [2018] * 4, "乙": [2018] * 4}, {"甲": (4, 4), "乙": (5, 5)},
                   {"甲": (1.0, 1.0, 1.0), "乙": (1.0, 1.0, 1.0)}, size=1)
    assert out.loc["甲", "flag"] is None  # the plan is met: no code, and no word
    assert out.loc["乙", "flag"] == "registered_short"
    for value in out["flag"]:
        assert value is None or (value.isascii() and Verdict(value) in set(Verdict))
