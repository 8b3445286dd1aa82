"""R ``survey`` reference values (tests/reference/make_reference.R) and the api designs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="session")
def r_values() -> dict[tuple[str, str], float]:
    table = pd.read_csv(REF / "reference_values.csv", comment="#")
    return {(c, s): float(v) for c, s, v in table.itertuples(index=False)}


@pytest.fixture(scope="session")
def api() -> dict[str, SurveyDesign]:
    strat = pd.read_csv(REF / "api_strat.csv")
    clus1 = pd.read_csv(REF / "api_clus1.csv")
    clus2 = pd.read_csv(REF / "api_clus2.csv")
    for frame in (strat, clus1, clus2):
        frame["sch_wide_yes"] = (frame["sch.wide"] == "Yes").astype(int)
        frame["ell0"] = (frame["ell"] == 0).astype(int)
    return {
        "dstrat": SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc"),
        "dstrat_wr": SurveyDesign(strat, strata="stype", weights="pw"),
        "dclus1": SurveyDesign(clus1, psu="dnum", weights="pw", fpc="fpc"),
        "dclus1_wr": SurveyDesign(clus1, psu="dnum", weights="pw"),
        "dclus2": SurveyDesign(clus2, psu="dnum", ssu="snum", fpc="fpc1", fpc2="fpc2"),
        "dclus2_wr": SurveyDesign(clus2, psu="dnum", weights="pw"),
    }


def assert_r(value: float, expected: float, what: str, rtol: float = 1e-6) -> None:
    assert np.isfinite(expected), f"R gave no value for {what}"
    assert value == pytest.approx(expected, rel=rtol, abs=1e-12), what
