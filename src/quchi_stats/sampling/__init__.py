"""Spot-check (抽查) sample design: selection, allocation, sample size, the two-stage draw."""

from .allocation import ALLOCATION_METHODS, allocate, compare_allocations
from .sample_size import (
    LQASRule,
    MarginSampleSize,
    ThresholdSampleSize,
    expected_margin,
    lqas_design,
    lqas_rule,
    sample_size_margin,
    sample_size_threshold,
)
from .selection import (
    SELECTION_METHODS,
    Selection,
    inclusion_probabilities,
    select,
    select_pps_systematic,
    select_replicates,
    select_sampford,
    select_srswor,
    select_systematic,
)

__all__ = [
    "ALLOCATION_METHODS",
    "SELECTION_METHODS",
    "LQASRule",
    "MarginSampleSize",
    "Selection",
    "ThresholdSampleSize",
    "allocate",
    "compare_allocations",
    "expected_margin",
    "inclusion_probabilities",
    "lqas_design",
    "lqas_rule",
    "sample_size_margin",
    "sample_size_threshold",
    "select",
    "select_pps_systematic",
    "select_replicates",
    "select_sampford",
    "select_srswor",
    "select_systematic",
]

from .draw import FRAME_NAMES, DesignPlan, DrawResult, assign_frames, draw_sample, village_plan
from .manifest import (
    VerifyReport,
    WriteOutcome,
    draw_from_file,
    new_seed,
    read_manifest,
    verify_manifest,
    verify_sample,
    write_sample,
)

__all__ += [
    "FRAME_NAMES",
    "DesignPlan",
    "DrawResult",
    "VerifyReport",
    "WriteOutcome",
    "assign_frames",
    "draw_from_file",
    "draw_sample",
    "new_seed",
    "read_manifest",
    "verify_manifest",
    "verify_sample",
    "village_plan",
    "write_sample",
]
