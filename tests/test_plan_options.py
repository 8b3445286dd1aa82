"""plan_options: the command line takes its design options from the one declaration DesignPlan uses (issue 12)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from quchi_stats import plan_options
from quchi_stats.cli import _build_parser
from quchi_stats.sampling import DesignPlan


def _subparser(name: str):
    parser = _build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


def test_design_defaults_and_choices_are_designplans():
    plan = DesignPlan(year=2018)
    args = _subparser("design").parse_args(["--year", "2018"])
    assert args.villages == plan.villages_total
    assert args.allocation == plan.village_allocation
    assert args.min_villages == plan.min_villages_per_town
    assert args.village_method == plan.village_method
    assert args.household_method == plan.household_method
    assert args.reserves == plan.reserves
    # every default of DesignPlan is the declared one
    for f in dataclasses.fields(DesignPlan):
        if f.name != "year":
            assert getattr(plan, f.name) == plan_options.PLAN_DEFAULTS[f.name], f.name
    choices = {a.dest: a.choices for a in _subparser("power")._actions if a.choices}
    assert choices["allocation"] == plan_options.ALLOCATION_METHODS
    assert choices["village_method"] == plan_options.SELECTION_METHODS


def test_shared_options_are_defined_once_and_help_comes_first():
    for name in ("report", "fieldlist", "check", "power"):
        sub = _subparser(name)
        flags = [s for a in sub._actions for s in a.option_strings]
        assert flags[:2] == ["-h", "--help"], name
        assert flags.count("--year") == 1 and "--data" in flags and "--encoding" in flags
    # --debug is accepted after the command, and a shared required option is still required
    assert _subparser("check").parse_args(["--year", "2018", "--debug"]).debug is True


def test_building_the_parser_imports_neither_numpy_nor_pandas():
    code = ("import sys, quchi_stats.cli as c; c._build_parser(); "
            "print(any(m in sys.modules for m in ('numpy', 'pandas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
