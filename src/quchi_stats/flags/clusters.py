"""Villages where a problem clusters (漏评 clusters in villages): each sampled village's count
against the rate in the other sampled villages, an exact one-sided binomial test per village,
Benjamini–Hochberg across villages.

Where the sample holds groups drawn at different rates (the risk households of a draw with
``risk_factor > 1``, which are also likelier to be 漏评), the reference rate is taken per group
and the village's count is compared with the sum of one binomial per group, conditional on the
village's own mix: otherwise a village with many risk households would look like a cluster for the
oversampling alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .thresholds import adjust_pvalues

__all__ = ["village_cluster_test"]


def village_cluster_test(data: pd.DataFrame, column: str, group: str | None = None) -> pd.DataFrame:
    """Per village: households assessed, with the problem (``column`` = 1), the rate among the
    other villages, ``p_value`` (P(X >= x) at that rate) and ``p_adjusted`` (BH).

    With ``group`` (a column of ``data``, e.g. ``"risk"``; missing values form a group of their
    own), the rate among the other villages is taken within each group and ``X`` is the sum of one
    binomial per group at the village's own numbers assessed in each; ``reference_rate`` is then the
    rate those give the village's mix. One group gives the plain test.

    Examples
    --------
    >>> df = pd.DataFrame({"town": "甲", "village": np.repeat(list("ABCDE"), 8),
    ...                    "missed": [0.0] * 32 + [1, 1, 1, 0, 0, 0, 0, 0]})
    >>> r = village_cluster_test(df, "missed")
    >>> bool(r.loc[r["village"] == "E", "p_adjusted"].iloc[0] < 0.01)
    True
    """
    d = data[data[column].notna()]
    keys = ["town", "village"]
    if group is None or group not in d:
        g = d.groupby(keys, sort=False)[column]
        out = pd.DataFrame({"assessed": g.size(), "cases": g.sum()}).reset_index()
        ref = _reference(out["assessed"], out["cases"])
        out["reference_rate"] = ref
        out["p_value"] = np.where(out["cases"] > 0,
                                  stats.binom.sf(out["cases"] - 1, out["assessed"], ref), 1.0)
    else:
        labels = d[group].astype("string").fillna("<NA>").to_numpy(dtype=object)
        cells = d.assign(_group=labels).groupby([*keys, "_group"], sort=False)[column].agg(
            assessed="size", cases="sum").reset_index()
        by = cells.groupby("_group", sort=False)
        cells["rate"] = _reference(cells["assessed"], cells["cases"],
                                   by["assessed"].transform("sum"), by["cases"].transform("sum"))
        rows = []
        for (town, village), c in cells.groupby(keys, sort=False):
            n, x = int(c["assessed"].sum()), int(c["cases"].sum())
            pmf = np.ones(1)
            for m, r in zip(c["assessed"].to_numpy(int), c["rate"].to_numpy(float), strict=True):
                pmf = np.convolve(pmf, stats.binom.pmf(np.arange(m + 1), m, r))
            rows.append({"town": town, "village": village, "assessed": n, "cases": x,
                         "reference_rate": float(np.dot(c["assessed"], c["rate"]) / n),
                         "p_value": float(min(1.0, pmf[x:].sum())) if x > 0 else 1.0})
        out = pd.DataFrame(rows, columns=[*keys, "assessed", "cases", "reference_rate", "p_value"])
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(), "bh")
    return out


def _reference(assessed: pd.Series, cases: pd.Series, total_n=None, total_x=None) -> np.ndarray:
    """Each row's rate among the other rows (of the totals given, by default all rows); a rate of
    zero elsewhere would make any case "impossible": floored at half a case."""
    total_n = float(assessed.sum()) if total_n is None else np.asarray(total_n, float)
    total_x = float(cases.sum()) if total_x is None else np.asarray(total_x, float)
    rest = np.maximum(total_n - assessed.to_numpy(float), 1)
    return np.maximum((total_x - cases.to_numpy(float)) / rest, 0.5 / rest)
