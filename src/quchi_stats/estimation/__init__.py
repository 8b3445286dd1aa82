"""Design-based estimation: rates with honest confidence intervals under the spot-check design."""

from .estimators import estimate_mean, estimate_proportion, estimate_ratio, estimate_total
from .fieldwork import Fieldwork, fieldwork_design, response_summary
from .intervals import CI_METHODS, one_sided_pvalue, proportion_interval
from .results import EstimateResult
from .variance import jackknife_variance, taylor_variance

__all__ = [
    "CI_METHODS",
    "EstimateResult",
    "Fieldwork",
    "estimate_mean",
    "estimate_proportion",
    "estimate_ratio",
    "estimate_total",
    "fieldwork_design",
    "jackknife_variance",
    "one_sided_pvalue",
    "proportion_interval",
    "response_summary",
    "taylor_variance",
]
