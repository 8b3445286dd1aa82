"""第七条 flags: thresholds with multiplicity and power, funnel limits, empirical Bayes, LQAS,
bunching (数字脱贫), reduction targets, and self-report checks."""

from .bunching import BunchingResult, bunching_test, village_share_test
from .clusters import village_cluster_test
from .funnel import funnel_limits, funnel_table, overdispersion
from .lqas import lqas_classify
from .self_report import compare_self_report
from .shrinkage import fit_beta_binomial, shrink
from .targets import check_targets
from .thresholds import (
    CLASS_FINE,
    CLASS_LOW,
    CLASS_SIGNIFICANT,
    adjust_pvalues,
    adjust_rows,
    classify,
    threshold_power,
)

__all__ = [
    "CLASS_FINE",
    "CLASS_LOW",
    "CLASS_SIGNIFICANT",
    "BunchingResult",
    "adjust_pvalues",
    "adjust_rows",
    "bunching_test",
    "check_targets",
    "classify",
    "compare_self_report",
    "fit_beta_binomial",
    "funnel_limits",
    "funnel_table",
    "lqas_classify",
    "overdispersion",
    "shrink",
    "threshold_power",
    "village_cluster_test",
    "village_share_test",
]
