"""第七条（一）: the year's poverty-reduction target (年度减贫任务) against registered and verified exits.

Registered exits are counted from the register (households whose 脱贫年度 is the year, and their
members). Verified exits = registered exits × the town's estimated exit accuracy, with the interval
``[exits × ci_lower, exits × ci_upper]`` (households with the household-level accuracy, persons with
the person-level one). A town is flagged when its registered exits fall short of the plan, or when
even the upper bound of its verified exits does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import Verdict

__all__ = ["check_targets"]


def check_targets(register: pd.DataFrame, targets: pd.DataFrame, year: int,
                  accuracy_households: pd.DataFrame,
                  accuracy_persons: pd.DataFrame) -> pd.DataFrame:
    """One row per town: planned, registered and verified exits (households and persons), flags.

    ``accuracy_*`` are estimate tables by town (``town``, ``estimate``, ``ci_lower``,
    ``ci_upper``) of the exit accuracy.
    """
    reg = register[(register["exit_year"] == year)
                   & register["registered"].fillna(False).astype(bool)]
    exits = reg.groupby("town").agg(exit_households=("household_id", "size"),
                                    exit_persons=("household_size", "sum"))
    t = targets[targets["year"] == year].set_index("town") if "year" in targets else \
        targets.set_index("town")
    out = t[["planned_exit_households", "planned_exit_persons"]].join(exits, how="left").fillna(
        {"exit_households": 0, "exit_persons": 0})
    for unit, acc in (("households", accuracy_households), ("persons", accuracy_persons)):
        a = acc.set_index("town")
        out[f"verified_{unit}"] = out[f"exit_{unit}"] * a["estimate"].reindex(out.index)
        out[f"verified_{unit}_lower"] = out[f"exit_{unit}"] * a["ci_lower"].reindex(out.index)
        out[f"verified_{unit}_upper"] = out[f"exit_{unit}"] * a["ci_upper"].reindex(out.index)
    out["registered_short"] = ((out["exit_households"] < out["planned_exit_households"]) | (
        out["exit_persons"] < out["planned_exit_persons"])).astype(bool)
    # a town without a verified exit accuracy (no exited household reached) cannot be judged on it
    upper_h = out["verified_households_upper"].astype(float)
    upper_p = out["verified_persons_upper"].astype(float)
    out["verified_short"] = ((upper_h < out["planned_exit_households"]).fillna(False)
                             | (upper_p < out["planned_exit_persons"]).fillna(False)).astype(bool)
    # the flag as a code (labels.Verdict, worded by the report): registered_short, else
    # verified_short, else None (no shortfall); the decision is the two boolean columns
    out["flag"] = pd.Series(np.where(out["registered_short"], Verdict.REGISTERED_SHORT.value,
                                     np.where(out["verified_short"], Verdict.VERIFIED_SHORT.value,
                                              None)), index=out.index, dtype=object)
    return out.reset_index()
