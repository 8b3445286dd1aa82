"""The choices and defaults of a sample design, declared once.

:class:`~quchi_stats.sampling.DesignPlan` takes its defaults from here and checks its choices
against these tuples, and the command line builds its options from the same names (this module
imports nothing heavy, so the CLI starts without numpy or pandas).
"""

from __future__ import annotations

__all__ = [
    "ALLOCATION_METHODS",
    "HOUSEHOLD_METHODS",
    "MAX_RISK_FACTOR",
    "PLAN_DEFAULTS",
    "SELECTION_METHODS",
    "VILLAGE_ORDERS",
]

#: How the district's villages are shared among towns (:func:`~quchi_stats.sampling.allocate`).
ALLOCATION_METHODS = ("proportional", "equal", "neyman", "sqrt")
#: How villages (first stage) are selected (:func:`~quchi_stats.sampling.select`).
SELECTION_METHODS = ("srswor", "systematic", "pps_systematic", "sampford")
#: The order of a town's villages for systematic selection (implicit stratification).
VILLAGE_ORDERS = ("name", "size")
#: How households are selected within a village and frame.
HOUSEHOLD_METHODS = ("systematic", "srswor")

#: The defaults of :class:`~quchi_stats.sampling.DesignPlan` (and of ``design``/``power``).
PLAN_DEFAULTS: dict[str, object] = {
    "villages_total": 45,
    "village_allocation": "equal",
    "min_villages_per_town": 2,
    "village_method": "pps_systematic",
    "village_order": "name",
    "certainty_priority_villages": False,
    "households_per_village": {"registered": 10, "exited": 8, "non_registered": 8},
    "household_fraction": None,
    "min_households_per_village": 2,
    "household_method": "systematic",
    "reserves": 3,
    "anticipated_p": 0.95,
    "anticipated_deff": 1.5,
    "towns": (),
    "risk_factor": 1.0,
}

#: Largest oversampling factor of risk households (``risk_factor``).
MAX_RISK_FACTOR = 100.0
