"""第七条 flags: thresholds with multiplicity and power, funnel limits, the beta-binomial model of
towns and villages (district ICC, one-sided test, empirical Bayes), LQAS, bunching (数字脱贫),
reduction targets, and self-report checks."""

from .betabinomial import (
    BelowTest,
    ConvergenceError,
    VillageICCFit,
    below_test,
    fit_village_icc,
    town_effective_n,
    village_counts,
)
from .bunching import BunchingResult, bunching_test, village_share_test
from .clusters import village_cluster_test
from .funnel import funnel_limits, funnel_table, overdispersion
from .lqas import lqas_classify
from .self_report import compare_self_report
from .shrinkage import (
    BETWEEN_BOUNDARY,
    BETWEEN_ESTIMATED,
    BETWEEN_FIT_FAILED,
    BetweenTownFit,
    fit_beta_binomial,
    fit_between_towns,
    shrink,
    shrink_villages,
)
from .targets import check_targets
from .thresholds import (
    CLASS_FINE,
    CLASS_LOW,
    CLASS_SIGNIFICANT,
    MULTIPLICITY_METHODS,
    adjust_family,
    adjust_pvalues,
    adjust_rows,
    classify,
    threshold_power,
)
from .town_test import TownTestResult, town_test

__all__ = [
    "BETWEEN_BOUNDARY",
    "BETWEEN_ESTIMATED",
    "BETWEEN_FIT_FAILED",
    "CLASS_FINE",
    "CLASS_LOW",
    "CLASS_SIGNIFICANT",
    "MULTIPLICITY_METHODS",
    "BelowTest",
    "BetweenTownFit",
    "BunchingResult",
    "ConvergenceError",
    "TownTestResult",
    "VillageICCFit",
    "adjust_family",
    "adjust_pvalues",
    "adjust_rows",
    "below_test",
    "bunching_test",
    "check_targets",
    "classify",
    "compare_self_report",
    "fit_beta_binomial",
    "fit_between_towns",
    "fit_village_icc",
    "funnel_limits",
    "funnel_table",
    "lqas_classify",
    "overdispersion",
    "shrink",
    "shrink_villages",
    "threshold_power",
    "town_effective_n",
    "town_test",
    "village_cluster_test",
    "village_counts",
    "village_share_test",
]
