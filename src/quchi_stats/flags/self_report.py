"""第九条 数据失真: a town's self-assessed (自评) rate above what the spot-check supports.

The self-reported rate is compared with the verified estimate on the good-rate scale (the
self-assessment's 漏评率 is an error rate and is turned into 1 − rate; its 识别准确率, 退出准确率
and 群众认可度 are good rates). For each town × indicator the one-sided p-value of
H0: true rate ≥ reported rate (the spec's interval method) says how surprising the spot-check would be
if the report were true; the p-values are adjusted across all comparisons (Holm by default) and a town
is flagged when the adjusted p-value is below alpha — that is, when the report lies above the upper
bound of the verified interval even after allowing for the number of comparisons made.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..estimation.intervals import one_sided_pvalue
from ..labels import DISTRICT
from ..spec import AssessmentSpec
from .thresholds import adjust_pvalues
from .town_test import TEST_METHODS, town_test

#: Self-report columns that hold an error rate rather than a good rate.
SELF_REPORT_ERROR_RATES = frozenset({"missed_rate"})

__all__ = ["compare_self_report"]


def compare_self_report(estimates: pd.DataFrame, self_report: pd.DataFrame,
                        spec: AssessmentSpec, *, models: Mapping | None = None) -> pd.DataFrame:
    """One row per town × indicator with a self-report column in the spec.

    ``estimates`` are good-rate estimates with ``indicator``, ``town``, ``estimate``, ``ci_lower``,
    ``ci_upper``. Output: ``reported`` (as the town wrote it), ``reported_good`` (as a good rate),
    the verified estimate and interval, ``above_upper`` (report above the upper bound),
    ``p_value``, ``p_adjusted`` and ``flag`` (adjusted p-value below alpha).

    With ``spec.test_method == "beta-binomial"`` and the indicator's
    :class:`~quchi_stats.flags.town_test.TownTestResult` in ``models``, the p-value is the same
    calibrated test as 第七条（四）, against the reported rate (the district ρ and t reference of
    that indicator); otherwise the design-based one-sided p-value.
    """
    rows = []
    sr = self_report.set_index("town")
    for ind in spec.indicators:
        if not ind.self_report or ind.self_report not in sr:
            continue
        est = estimates[(estimates["indicator"] == ind.name) & (estimates["town"] != DISTRICT)]
        for _, e in est.iterrows():
            if e["town"] not in sr.index or pd.isna(sr.loc[e["town"], ind.self_report]):
                continue
            reported = float(sr.loc[e["town"], ind.self_report])
            # the contract's self-report columns are good rates except 漏评率 (an error rate)
            good = 1 - reported if ind.self_report in SELF_REPORT_ERROR_RATES else reported
            p0 = float(np.clip(good, 1e-9, 1 - 1e-9))
            model = (models or {}).get(ind.name) if spec.test_method in TEST_METHODS else None
            if model is not None:
                vc = model.villages[model.villages["town"] == e["town"]]
                pv = town_test(vc, p0, rho=model.rho, df=model.df,
                               method=model.method).table["p_value"].iloc[0]
            else:
                pv = one_sided_pvalue(e["estimate"], e["se"] ** 2, max(e["n"], 1), e["df"], p0,
                                      method=spec.interval_method, level_for_n=spec.level,
                                      deff_floor=spec.deff_floor)[0]
            rows.append({"town": e["town"], "indicator": ind.name, "label": ind.label,
                         "reported": reported, "reported_good": good,
                         "estimate": e["estimate"], "ci_lower": e["ci_lower"],
                         "ci_upper": e["ci_upper"], "above_upper": bool(good > e["ci_upper"]),
                         "p_value": float(pv)})
    cols = ["town", "indicator", "label", "reported", "reported_good", "estimate", "ci_lower",
            "ci_upper", "above_upper", "p_value"]
    out = pd.DataFrame(rows, columns=cols)
    out["p_adjusted"] = adjust_pvalues(out["p_value"].to_numpy(dtype=float), spec.multiplicity)
    out["flag"] = (out["p_adjusted"] < spec.alpha).astype(bool)
    return out
