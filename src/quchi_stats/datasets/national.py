"""A synthetic register at provincial or national scale (合成数据), generated in memory in seconds.

For benchmarks and scale tests only: ``towns × villages_per_town`` villages with a random number of
households each (mean ``households / villages``), about 10 % of them 建档立卡 and a third of those
exiting in ``year``; towns and villages are categorical columns and 户编号 are integers, so 30
million households take under 1 GiB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import check_int

__all__ = ["national_register", "simulate_results"]


def national_register(households: int = 30_000_000, *, towns: int = 30_000,
                      villages_per_town: int = 10, year: int = 2018,
                      seed: int = 0) -> pd.DataFrame:
    """A canonical register (the columns :func:`~quchi_stats.sampling.draw_sample` needs).

    Examples
    --------
    >>> reg = national_register(20_000, towns=20, villages_per_town=5, seed=1)
    >>> len(reg), reg["town"].nunique(), reg["village"].nunique()
    (20000, 20, 100)
    """
    func = "national_register"
    households = check_int("households", households, func, minimum=1)
    towns = check_int("towns", towns, func, minimum=1)
    villages_per_town = check_int("villages_per_town", villages_per_town, func, minimum=1)
    n_vill = towns * villages_per_town
    if households < n_vill:
        households = n_vill
    rng = np.random.default_rng(seed)
    # village sizes: a lognormal share of the households, at least one each
    share = rng.lognormal(0.0, 0.5, n_vill)
    size = 1 + np.floor(share / share.sum() * (households - n_vill)).astype(np.int64)
    size[: households - int(size.sum())] += 1
    village = np.repeat(np.arange(n_vill, dtype=np.int32), size)
    town = (village // villages_per_town).astype(np.int32)
    width_t, width_v = len(str(towns)), len(str(villages_per_town))
    town_names = np.array([f"镇{t:0{width_t}d}" for t in range(towns)], dtype=object)
    village_names = np.array([f"镇{t:0{width_t}d}村{v:0{width_v}d}" for t in range(towns)
                              for v in range(villages_per_town)], dtype=object)
    # poverty differs between villages: a beta-distributed share registered per village
    p_reg = rng.beta(2, 18, n_vill)
    registered = rng.random(households) < p_reg[village]
    exits = registered & (rng.random(households) < 0.3)
    exit_year = np.where(exits, float(year), np.where(registered & (rng.random(households) < 0.3),
                                                      float(year - 1), np.nan))
    priority = rng.random(n_vill) < 0.1
    return pd.DataFrame({
        "town": pd.Categorical.from_codes(town, categories=town_names),
        "village": pd.Categorical.from_codes(village, categories=village_names),
        "household_id": np.arange(households, dtype=np.int64) + 4_400_000_000_000_000,
        "household_size": rng.integers(1, 7, households, dtype=np.int8),
        "registered": registered,
        "exit_year": exit_year,
        "priority_village": priority[village],
    })


def simulate_results(sample: pd.DataFrame, *, rates: dict[str, float] | None = None,
                     seed: int = 0) -> pd.DataFrame:
    """0/1 field results for the primary households of a drawn sample (every household visited).

    ``rates`` gives the chance of a "good" answer per column (default: ``identified_correctly``
    0.98, ``exit_correct`` 0.98, ``not_missed`` 0.99, ``satisfied`` 0.93); exit checks only for
    ``exited`` households, 漏评 checks only for ``non_registered`` ones, satisfaction for the
    registered and exited (NaN elsewhere, as in real results).
    """
    rates = rates or {"identified_correctly": 0.98, "exit_correct": 0.98, "not_missed": 0.99,
                      "satisfied": 0.93}
    rng = np.random.default_rng(seed)
    prim = sample[sample["role"] == "primary"]
    frame = prim["frame"].to_numpy()
    out = {}
    applies = {"identified_correctly": frame == "registered", "exit_correct": frame == "exited",
               "not_missed": frame == "non_registered", "satisfied": frame != "non_registered"}
    for col, p in rates.items():
        value = (rng.random(len(prim)) < p).astype(float)
        out[col] = np.where(applies.get(col, np.ones(len(prim), bool)), value, np.nan)
    return prim.assign(**out).reset_index(drop=True)
