"""Simulation studies of the spot-check: interval coverage (:mod:`.coverage`) and design power
(:mod:`.power`)."""

from .coverage import CoverageResult, coverage_study, simulate_town_samples
from .power import DEFAULT_INDICATORS, DesignPowerResult, compare_designs, simulate_design

__all__ = ["DEFAULT_INDICATORS", "CoverageResult", "DesignPowerResult",
           "compare_designs", "coverage_study", "simulate_design", "simulate_town_samples"]
