"""Funnel limits against Spiegelhalter (2005) values in METHODS.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.flags import funnel_limits, funnel_table, overdispersion
from quchi_stats.labels import FunnelPosition, code_label


def test_exact_and_arcsine_lower_limits():
    lo, hi = funnel_limits(0.95, [30, 60], 0.95)
    np.testing.assert_allclose(lo, [0.8402, 0.8794], atol=5e-5)
    lo, _ = funnel_limits(0.95, [30, 60], 0.95, method="arcsine")
    np.testing.assert_allclose(lo, [0.8452, 0.8811], atol=5e-5)
    assert (hi <= 1).all()
    # normal limits near 1 sit higher (they over-flag)
    lo_n, _ = funnel_limits(0.95, [30], 0.95, method="normal")
    assert lo_n[0] > 0.8402


def test_table_positions_and_overdispersion():
    towns = pd.DataFrame({"town": list("ABCD"), "estimate": [0.95, 0.70, 0.93, 0.86],
                          "n": [60, 60, 60, 60], "n_eff": [60.0, 60, 60, 60]})
    t = funnel_table(towns, 0.95)
    assert t.set_index("town")["position"].to_dict() == {
        "A": "within", "B": "below_998", "C": "within", "D": "below_95"}  # codes, not words
    shown = t["position"].map(lambda c: code_label(FunnelPosition, c))
    assert shown.tolist() == ["在控制限内", "低于 99.8% 下限", "在控制限内", "低于 95% 下限"]
    phi = overdispersion(towns["estimate"], towns["n"], 0.95)
    assert phi > 1
    wide = funnel_table(towns, 0.95, adjust_overdispersion=True)
    assert (wide["lower95"] < t["lower95"]).all()
    assert wide.attrs["phi"] == pytest.approx(phi)


def test_icc_overdispersion_uses_the_district_effective_sizes():
    towns = pd.DataFrame({"town": list("ABC"), "estimate": [0.95, 0.80, 0.90],
                          "n": [60, 60, 60], "n_eff": [80.0, 60, 30], "n_icc": [40.0, 40, 40]})
    plain = funnel_table(towns, 0.95)
    icc = funnel_table(towns, 0.95, adjust_overdispersion="icc")
    assert icc.attrs["overdispersion"] == "icc" and icc.attrs["phi"] == 1.0
    np.testing.assert_allclose(icc["n_funnel"], 40.0)
    np.testing.assert_allclose(plain["n_funnel"], [60.0, 60, 30])
    ref_lo, _ = funnel_limits(0.95, [40.0], 0.95)
    np.testing.assert_allclose(icc["lower95"], ref_lo[0])
    # True is still the winsorised factor
    assert funnel_table(towns, 0.95, adjust_overdispersion=True).attrs["overdispersion"] == \
        "winsorised"
    with pytest.raises(ParameterError):
        funnel_table(towns.drop(columns="n_icc"), 0.95, adjust_overdispersion="icc")
