"""Villages where a problem clusters (漏评 clusters in villages): each sampled village's count
against the rate in the other sampled villages, an exact one-sided binomial test per village,
Benjamini–Hochberg across villages."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .thresholds import adjust_pvalues

__all__ = ["village_cluster_test"]


def village_cluster_test(data: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per village: households assessed, with the problem (``column`` = 1), the rate among the
    other villages, ``p_value`` (P(X >= x) at that rate) and ``p_adjusted`` (BH).

    Examples
    --------
    >>> df = pd.DataFrame({"town": "甲", "village": np.repeat(list("ABCDE"), 8),
    ...                    "missed": [0.0] * 32 + [1, 1, 1, 0, 0, 0, 0, 0]})
    >>> r = village_cluster_test(df, "missed")
    >>> bool(r.loc[r["village"] == "E", "p_adjusted"].iloc[0] < 0.01)
    True
    """
    d = data[data[column].notna()]
    g = d.groupby(["town", "village"], sort=False)[column]
    out = pd.DataFrame({"assessed": g.size(), "cases": g.sum()}).reset_index()
    total_n, total_x = float(out["assessed"].sum()), float(out["cases"].sum())
    ref = (total_x - out["cases"]) / np.maximum(total_n - out["assessed"], 1)
    # a rate of zero elsewhere would make any case "impossible": floor at half a case
    ref = np.maximum(ref, 0.5 / np.maximum(total_n - out["assessed"], 1))
    out["reference_rate"] = ref
    out["p_value"] = np.where(out["cases"] > 0,
                              stats.binom.sf(out["cases"] - 1, out["assessed"], ref), 1.0)
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), "bh")
    return out
