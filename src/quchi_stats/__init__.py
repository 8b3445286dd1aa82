"""quchi_stats — 县级扶贫开发工作成效考核统计工具 (any county: the spec names it and its towns).

Design the yearly spot-check (抽查) sample, estimate the assessment's rates with honest intervals,
flag towns under 考核办法 第七条, and write the 考核报告.

The main functions and classes are available at the top level, as scientific Python users expect::

    import quchi_stats as qs

    d = qs.SurveyDesign(df, strata="town", psu="village", weights="w")
    qs.estimate_proportion(d, "satisfied", by="town").conf_int(level=0.9)
    result = qs.draw_sample(register, qs.DesignPlan(year=2018), seed=20181231)
    a = qs.run_assessment(2018)

They are imported on first use (PEP 562), so ``import quchi_stats`` — and the start of the
``quchi-stats`` command — stays cheap: only the errors are imported eagerly.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("quchi-stats")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from .errors import (
    DataError,
    OutputExistsError,
    OutputLockedError,
    ParameterError,
    PersonalDataError,
    QuchiStatsError,
    QuchiStatsWarning,
    VerificationError,
)

#: Public name -> the submodule that defines it (imported on first access).
_LAZY: dict[str, str] = {
    # the design and the estimators
    "SurveyDesign": "design",
    "EstimateResult": "estimation",
    "CI_METHODS": "estimation",
    "estimate_mean": "estimation",
    "estimate_proportion": "estimation",
    "estimate_ratio": "estimation",
    "estimate_total": "estimation",
    "fieldwork_design": "estimation",
    "Fieldwork": "estimation",
    "one_sided_pvalue": "estimation",
    "proportion_interval": "estimation",
    # the draw
    "DesignPlan": "sampling",
    "DrawResult": "sampling",
    "draw_sample": "sampling",
    "verify_manifest": "sampling",
    "verify_sample": "sampling",
    "write_sample": "sampling",
    # the assessment and its report
    "Assessment": "assessment",
    "run_assessment": "assessment",
    "AssessmentSpec": "spec",
    "load_spec": "spec",
    "write_report": "report",
    "write_notebook": "notebook",
    # design power
    "compare_designs": "simulate",
    "simulate_design": "simulate",
    # reading data
    "DataDir": "io",
    "read_table": "io",
    "load_fieldwork": "datasets",
    "load_register": "datasets",
    # the error a beta-binomial fit raises
    "ConvergenceError": "flags",
}

#: Subpackages reachable as attributes (``qs.estimation``) without importing them first.
_SUBMODULES = ("assessment", "datasets", "design", "errors", "estimation", "flags", "io",
               "notebook", "plots", "report", "sampling", "simulate", "spec")

__all__ = [
    "CI_METHODS",
    "Assessment",
    "AssessmentSpec",
    "ConvergenceError",
    "DataDir",
    "DataError",
    "DesignPlan",
    "DrawResult",
    "EstimateResult",
    "Fieldwork",
    "OutputExistsError",
    "OutputLockedError",
    "ParameterError",
    "PersonalDataError",
    "QuchiStatsError",
    "QuchiStatsWarning",
    "SurveyDesign",
    "VerificationError",
    "__version__",
    "compare_designs",
    "draw_sample",
    "estimate_mean",
    "estimate_proportion",
    "estimate_ratio",
    "estimate_total",
    "fieldwork_design",
    "load_fieldwork",
    "load_register",
    "load_spec",
    "one_sided_pvalue",
    "proportion_interval",
    "read_table",
    "run_assessment",
    "simulate_design",
    "verify_manifest",
    "verify_sample",
    "write_notebook",
    "write_report",
    "write_sample",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later accesses skip this function
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})


if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from .assessment import Assessment, run_assessment
    from .datasets import load_fieldwork, load_register
    from .design import SurveyDesign
    from .estimation import (
        CI_METHODS,
        EstimateResult,
        Fieldwork,
        estimate_mean,
        estimate_proportion,
        estimate_ratio,
        estimate_total,
        fieldwork_design,
        one_sided_pvalue,
        proportion_interval,
    )
    from .flags import ConvergenceError
    from .io import DataDir, read_table
    from .report import write_report
    from .sampling import (
        DesignPlan,
        DrawResult,
        draw_sample,
        verify_manifest,
        verify_sample,
        write_sample,
    )
    from .simulate import compare_designs, simulate_design
    from .spec import AssessmentSpec, load_spec
