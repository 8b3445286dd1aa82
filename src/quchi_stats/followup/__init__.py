"""The pre-registered two-phase 复核 (issue 13, section 2): the rule applied to phase 1, the
phase-2 draw, the inverse-normal combination and the simulation of the whole procedure
(docs/followup.md)."""

from .audit import FollowupOutcome, run_followup, verify_followup
from .combine import combine_followup, critical_value, inverse_normal, overall_pvalue
from .draw import FOLLOWUP_COLUMNS, FollowupDraw, draw_followup, stage2_tests
from .rule import continuation, exhausted_towns, frames_needed

__all__ = [
    "FOLLOWUP_COLUMNS",
    "FollowupDraw",
    "FollowupOutcome",
    "combine_followup",
    "continuation",
    "critical_value",
    "draw_followup",
    "exhausted_towns",
    "frames_needed",
    "inverse_normal",
    "overall_pvalue",
    "run_followup",
    "stage2_tests",
    "verify_followup",
]
