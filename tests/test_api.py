"""The top-level API: ``import quchi_stats as qs`` gives the main functions, imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import quchi_stats as qs


def test_every_name_in_all_resolves_and_is_listed_by_dir():
    for name in qs.__all__:
        assert getattr(qs, name) is not None, name
    listed = dir(qs)
    assert set(qs.__all__) <= set(listed)
    assert {"estimation", "sampling", "SurveyDesign", "run_assessment"} <= set(listed)


def test_top_level_names_are_the_library_objects():
    from quchi_stats.assessment import run_assessment
    from quchi_stats.design import SurveyDesign
    from quchi_stats.estimation import estimate_proportion
    from quchi_stats.sampling import DesignPlan, draw_sample
    from quchi_stats.simulate import simulate_design
    from quchi_stats.spec import load_spec

    assert qs.SurveyDesign is SurveyDesign and qs.estimate_proportion is estimate_proportion
    assert qs.DesignPlan is DesignPlan and qs.draw_sample is draw_sample
    assert qs.run_assessment is run_assessment and qs.load_spec is load_spec
    assert qs.simulate_design is simulate_design
    from quchi_stats.estimation import Fieldwork

    assert qs.Fieldwork is Fieldwork  # the year's fieldwork (issue 12), lazily as the others
    assert issubclass(qs.DataError, qs.QuchiStatsError)
    assert qs.estimation.estimate_mean is qs.estimate_mean  # subpackages as attributes


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'estimate_median'"):
        qs.estimate_median  # noqa: B018
    with pytest.raises(ImportError):
        from quchi_stats import estimate_median  # noqa: F401


def test_import_is_lazy():
    code = ("import sys, quchi_stats, quchi_stats.cli; "
            "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'quchi_stats.design', "
            "'quchi_stats.estimation') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_all_lists_the_eager_and_the_lazy_names():
    eager = {n for n in qs.__all__ if n not in qs._LAZY}
    assert set(qs._LAZY) <= set(qs.__all__)
    assert eager == {"DataError", "OutputExistsError", "OutputLockedError", "ParameterError",
                     "PersonalDataError", "QuchiStatsError", "QuchiStatsWarning",
                     "VerificationError", "__version__"}
