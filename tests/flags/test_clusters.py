"""Villages where 漏评 clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from quchi_stats.flags import village_cluster_test


def test_hotspot_found_and_clean_villages_not():
    rows = [{"town": "甲", "village": f"v{v}", "missed": 0.0} for v in range(30) for _ in range(8)]
    rows[5]["missed"] = 1.0  # one stray case in v0
    rows += [{"town": "乙", "village": "hot", "missed": float(i < 3)} for i in range(8)]
    out = village_cluster_test(pd.DataFrame(rows), "missed").set_index("village")
    assert out.loc["hot", "p_adjusted"] < 0.01
    assert (out.drop("hot")["p_adjusted"] > 0.05).all()
    assert np.isclose(out.loc["hot", "reference_rate"], 1 / 240)
