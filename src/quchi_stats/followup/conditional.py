"""The conditional 复核 test: given phase 1, test the town's **actual** rate from phase 2.

The estimand of 第七条（四） is the town's finite-population rate this year,
``P = Σ s_i y_i / Σ s_i`` over every household of the indicator's frames in the town (``s_i`` the
persons of a person-level rate, 1 for a household rate). After phase 1, part of that total is
known exactly: the households phase 1 observed, ``t_obs = Σ_observed s_i y_i``. The rest,
``T_rest`` over the ``R = Σ_unobserved s_i``, is what phase 2 samples: in **every** village of the
town (visited in phase 1 or not) and frame, a simple random sample (systematic on the list) of the
households **not observed in phase 1**. So, given phase 1 and its results,

    H0: P ≥ p0   ⇔   T_rest / R ≥ q0 = (p0 Σ s_i − t_obs) / R,

and phase 2 is a stratified (village × frame) probability sample of exactly the households that
carry ``T_rest``. The test is **design-based and conditional on phase 1**: under H0 its p-value is
valid whatever phase 1 showed, which is what makes the screening harmless — a chance low in phase 1
is a known part of the total, not a bias (contrast the inverse-normal method of
:mod:`.combine`, which needs phase 2 to come from new villages only).

**Estimator.** Within cell ``c`` (village × frame), ``r̂_c = Σ s y / Σ s`` over its phase-2
answers, ``T̂_rest = Σ_c R_c r̂_c`` (a cell without an answer takes the answered cells' rate: the
count of such households is returned). ``P̂ = (t_obs + T̂_rest) / Σ s_i``.

**Test.** The stratified sample is worth ``n_eff = R² / Σ_c k_c`` independent draws, with
``k_c = R_c² (1 − f_c) / n_c · (mean s² / mean² s)`` (``f_c`` the cell's sampling fraction of its
unobserved households; the last factor the person weighting's design effect, 1 for households):
the variance of ``T̂_rest / R`` at a common rate ``q`` is ``q(1 − q)/n_eff``. The p-value is the
binomial lower tail ``P(Bin(n_eff, q0) ≤ n_eff · T̂_rest/R)``, continued to real arguments by the
regularized incomplete beta function (exact at integers; Korn & Graubard 1998's effective-size
idea applied to the conditional population). The binomial tail and not the normal: at rates near
0.98 the normal lower tail is far too thin (at n = 100 and 95 good of 98 expected the normal says
1.6 %, the binomial 5.1 %). Heterogeneous cells only lower the true variance below ``q(1 − q)``
(a mixture's variance exceeds the mean of its parts'), so the common-rate variance is
conservative.

**Interval.** Inverting the same tails (Clopper–Pearson at ``n_eff``, continuous ``x``) for the
rest's rate and mapping it to ``P``: the one-sided test at α rejects exactly when the upper bound
of the ``1 − 2α`` interval is below ``p0``.

When phase 2 took every unobserved household (``n_eff`` infinite) or nothing remains unobserved,
``P`` is known: ``p = 0`` when it is below ``p0``, else 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from ..spec import AssessmentSpec

__all__ = ["CONDITIONAL_COLUMNS", "ConditionalTest", "conditional_bounds",
           "conditional_test_batch", "conditional_tests"]

_EXACT = 1e-12


@dataclass(frozen=True)
class ConditionalTest:
    """Per group (replicate × town): ``p_hat`` (the town's rate), ``p_value``, ``n_eff``,
    ``q0`` (the unobserved households' null rate), ``rest_rate`` (their estimated rate),
    ``rest`` (their weight ``R``), ``uncovered`` (unobserved weight in cells without a phase-2
    answer) and ``total``."""

    p_hat: np.ndarray
    p_value: np.ndarray
    n_eff: np.ndarray
    q0: np.ndarray
    rest_rate: np.ndarray
    rest: np.ndarray
    uncovered: np.ndarray
    total: np.ndarray
    t_obs: np.ndarray


def conditional_test_batch(t_obs: np.ndarray, total: np.ndarray, g: np.ndarray, n_groups: int,
                           rest: np.ndarray, rest_households: np.ndarray, n2: np.ndarray,
                           sw: np.ndarray, swy: np.ndarray, sw2: np.ndarray,
                           p0: np.ndarray | float, *,
                           unc2: np.ndarray | None = None) -> ConditionalTest:
    """The conditional test of every group's finite-population rate.

    Parameters
    ----------
    t_obs, total : arrays (n_groups,)
        The observed part ``Σ s y`` over the households phase 1 observed, and ``Σ s`` over all
        households of the group's frames.
    g : array of int (cells,)
        Group of each cell (village × frame), 0 … ``n_groups`` − 1; every cell with unobserved
        households must be listed, sampled in phase 2 or not.
    rest, rest_households : arrays (cells,)
        The cell's unobserved weight ``R_c`` (``Σ s`` over its households phase 1 did not observe)
        and their number (the population of the cell's phase-2 sampling fraction).
    n2, sw, swy, sw2 : arrays (cells,)
        Phase-2 answers in the cell: their number, ``Σ s``, ``Σ s y`` and ``Σ s²``.
    p0 : float or array (n_groups,)
        The standard.
    unc2 : array (cells,), optional
        ``Σ s²`` over the cell's unobserved households that no phase-2 household represents
        directly: those outside the phase-2 frame (a phase-1 household that did not answer), and
        every unobserved household of a cell without a phase-2 answer. They are predicted at the
        cell's (or the town's) phase-2 rate; their own variation ``Σ s² q(1 − q)`` is added to the
        variance (as a finite-population prediction does). Default 0.

    Examples
    --------
    One town, one cell: 100 of 500 unobserved households drawn, 80 good; phase 1 saw 90 good of
    100. At p0 = 0.9 the rest must reach 0.9 and shows 0.8:

    >>> r = conditional_test_batch(np.array([90.]), np.array([600.]), np.array([0]), 1,
    ...                            np.array([500.]), np.array([500.]), np.array([100.]),
    ...                            np.array([100.]), np.array([80.]), np.array([100.]), 0.9)
    >>> round(float(r.p_hat[0]), 4), round(float(r.n_eff[0]), 1), bool(r.p_value[0] < 1e-3)
    (0.8167, 125.0, True)
    """
    g = np.asarray(g, np.intp)
    t_obs = np.asarray(t_obs, float)
    total = np.asarray(total, float)
    rest = np.asarray(rest, float)
    rest_hh = np.asarray(rest_households, float)
    n2 = np.asarray(n2, float)
    sw, swy, sw2 = (np.asarray(a, float) for a in (sw, swy, sw2))
    p0 = np.broadcast_to(np.asarray(p0, float), (n_groups,))
    answered = (n2 > 0) & (sw > 0)
    safe_sw = np.where(answered, sw, 1.0)
    rate_c = np.where(answered, swy / safe_sw, 0.0)
    R = np.bincount(g, weights=rest, minlength=n_groups)
    R_ans = np.bincount(g, weights=np.where(answered, rest, 0.0), minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(R_ans > 0, R / np.where(R_ans > 0, R_ans, 1.0), np.nan)
        rest_rate = np.bincount(g, weights=np.where(answered, rest * rate_c, 0.0),
                                minlength=n_groups) / np.where(R_ans > 0, R_ans, 1.0)
        f = np.where(answered, np.minimum(n2 / np.where(rest_hh > 0, rest_hh, 1.0), 1.0), 1.0)
        deff = np.where(answered, (sw2 / np.where(answered, n2, 1.0))
                        / (safe_sw / np.where(answered, n2, 1.0)) ** 2, 0.0)
        k_c = np.where(answered, (rest * scale[g]) ** 2 * (1.0 - f) / np.where(answered, n2, 1.0)
                       * deff, 0.0)
    k = np.bincount(g, weights=np.nan_to_num(k_c), minlength=n_groups)
    if unc2 is not None:
        k = k + np.bincount(g, weights=np.asarray(unc2, float), minlength=n_groups)
    uncovered = R - R_ans
    known = R <= _EXACT
    rest_rate = np.where(known, 0.0, rest_rate)
    with np.errstate(invalid="ignore", divide="ignore"):
        q0 = np.where(known, 0.0, (p0 * total - t_obs) / np.where(known, 1.0, R))
        p_hat = (t_obs + np.where(known, 0.0, R * rest_rate)) / total
        n_eff = np.where(k > 0, R ** 2 / np.where(k > 0, k, 1.0), np.inf)
    p_value = _lower_tail(rest_rate, n_eff, q0)
    # the rate is known: nothing unobserved, or phase 2 took every unobserved household
    exact = known | ~np.isfinite(n_eff)
    p_value = np.where(exact, np.where(p_hat < p0 - _EXACT, 0.0, 1.0), p_value)
    no_data = ~known & ~(R_ans > 0)
    p_value = np.where(no_data | ~(total > 0), np.nan, p_value)
    p_hat = np.where(no_data | ~(total > 0), np.nan, p_hat)
    return ConditionalTest(p_hat, p_value, n_eff, q0, rest_rate, R, uncovered, total, t_obs)


def _lower_tail(rate: np.ndarray, n_eff: np.ndarray, q0: np.ndarray) -> np.ndarray:
    """``P(Bin(n, q0) ≤ n·rate)`` continued to real ``n`` and ``x`` (1 when ``q0 ≤ 0``, 0 when
    ``q0 ≥ 1``; NaN where ``n`` is not finite)."""
    n = np.where(np.isfinite(n_eff) & (n_eff > 0), n_eff, 1.0)
    x = np.clip(n * np.nan_to_num(rate), 0.0, n)
    q = np.clip(np.nan_to_num(q0), 0.0, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # I_{1-q}(n - x, x + 1); x = n: the whole distribution (1)
        tail = np.where(x >= n, 1.0, special.betainc(np.maximum(n - x, 1e-300), x + 1.0,
                                                     1.0 - q))
    tail = np.where(q0 >= 1.0, 0.0, np.where(q0 <= 0.0, 1.0, tail))
    return np.where(np.isfinite(n_eff), tail, np.nan)


def conditional_bounds(res: ConditionalTest, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided interval of each group's rate at ``level``: the Clopper–Pearson bounds of the
    unobserved households' rate at ``n_eff`` (continuous ``x``) mapped to the town's rate (the
    point itself when the rate is known)."""
    a = (1.0 - level) / 2.0
    n = np.where(np.isfinite(res.n_eff), res.n_eff, 1.0)
    x = np.clip(n * np.nan_to_num(res.rest_rate), 0.0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo_q = np.where(x <= 0, 0.0, stats.beta.ppf(a, np.maximum(x, 1e-300), n - x + 1.0))
        hi_q = np.where(x >= n, 1.0, stats.beta.isf(a, x + 1.0, np.maximum(n - x, 1e-300)))
        exact = ~np.isfinite(res.n_eff) | (res.rest <= _EXACT)
        lo_q = np.where(exact, res.rest_rate, lo_q)
        hi_q = np.where(exact, res.rest_rate, hi_q)
        lo = (res.t_obs + res.rest * lo_q) / res.total
        hi = (res.t_obs + res.rest * hi_q) / res.total
    bad = np.isnan(res.p_hat)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


#: Columns of :func:`conditional_tests`.
CONDITIONAL_COLUMNS = ["indicator", "town", "p_value", "estimate_two_phase", "ci_lower",
                       "ci_upper", "n_eff", "q0", "rest_rate", "rest_share", "uncovered_share",
                       "observed_phase1", "villages", "households"]


def conditional_tests(register: pd.DataFrame, sample1: pd.DataFrame, results1: pd.DataFrame,
                      sample2: pd.DataFrame, results2: pd.DataFrame, spec: AssessmentSpec,
                      pairs: pd.DataFrame) -> pd.DataFrame:
    """The conditional test (:func:`conditional_test_batch`) of each screened town × indicator of
    ``pairs`` (``town``, ``indicator``) from the field results of both phases.

    The town's households are the register's, in the indicator's frames (persons for a
    person-level rate); those phase 1 observed (an answer to the indicator) are the known part;
    each village × frame's unobserved households are the population its phase-2 households were
    drawn from (``n_households_in_frame_of_village`` of the follow-up sample, the draw's record).
    Phase-2 households that did not answer are treated as missing at random within their village
    × frame (the cell's rate stands for them), as phase 1's non-response adjustment does.

    Returns one row per pair with phase-2 answers: :data:`CONDITIONAL_COLUMNS` (``p_value`` the
    one-sided p-value of H0: the town's actual rate ≥ its standard, given phase 1;
    ``estimate_two_phase`` and the interval at ``spec.level`` the town's actual good-rate;
    ``rest_share`` the unobserved share of the town's weight after phase 1; ``uncovered_share``
    the part of it in cells without a phase-2 answer; ``villages``/``households`` the phase-2
    villages and households answered).
    """
    from ..estimation import Fieldwork
    from ..sampling.draw import assign_frames

    rows: list[dict] = []
    if pairs.empty or results2.empty:
        return pd.DataFrame(columns=CONDITIONAL_COLUMNS)
    fw1 = Fieldwork(sample1, results1, lonely_psu="certainty",
                    satisfied_levels=spec.satisfied_levels)
    fw2 = Fieldwork(sample2, results2, lonely_psu="certainty",
                    satisfied_levels=spec.satisfied_levels)
    keys = ["town", "village", "frame"]
    drawn = (sample2.groupby(keys, sort=False)["n_households_in_frame_of_village"].first()
             if len(sample2) else pd.Series(dtype=float))
    framed = register.assign(frame=np.asarray(assign_frames(register, spec.year), dtype=str))
    for ind_name, sub in pairs.groupby("indicator", sort=False):
        ind = spec.indicator(ind_name)
        if not (fw1.has_respondents(ind.frames) and fw2.has_respondents(ind.frames)):
            continue  # no answer of this indicator's frames in a phase
        d1, d2 = fw1.indicator_design(ind), fw2.indicator_design(ind)
        if d1 is None or d2 is None:
            continue
        towns = list(dict.fromkeys(sub["town"]))
        reg = framed[framed["town"].isin(towns) & framed["frame"].isin(ind.frames)]
        weight = (pd.to_numeric(reg["household_size"], errors="coerce").fillna(1.0)
                  if ind.unit == "person" else pd.Series(1.0, index=reg.index))
        cells = (reg.assign(_s=weight.to_numpy(float))
                 .groupby(keys, sort=False).agg(total=("_s", "sum"), count=("_s", "size")))

        a1, a2 = _answered(d1, towns, ind.unit), _answered(d2, towns, ind.unit)
        obs = a1.groupby(keys, sort=False).agg(obs_s=("_s", "sum"), obs_n=("_s", "size"))
        ph2 = a2.groupby(keys, sort=False).agg(n2=("_s", "size"), sw=("_s", "sum"),
                                               swy=("_sy", "sum"), sw2=("_s2", "sum"))
        # unobserved households outside the phase-2 frame: phase-1 sample rows without an answer
        s1_ids = set(sample1["household_id"])
        out_frame = reg.assign(_s2=weight.to_numpy(float) ** 2)[
            reg["household_id"].isin(s1_ids).to_numpy()
            & ~reg["household_id"].isin(set(a1["household_id"])).to_numpy()]
        unc = out_frame.groupby(keys, sort=False).agg(unc2=("_s2", "sum"))
        all2 = reg.assign(_s2=weight.to_numpy(float) ** 2)[
            ~reg["household_id"].isin(set(a1["household_id"])).to_numpy()].groupby(
            keys, sort=False).agg(rest2=("_s2", "sum"))
        c = cells.join(obs, how="left").join(ph2, how="left").join(unc, how="left").join(
            all2, how="left").fillna(0.0)
        rest = np.maximum(c["total"].to_numpy() - c["obs_s"].to_numpy(), 0.0)
        rec = drawn.reindex(c.index).to_numpy(float)
        rest_hh = np.where(np.isfinite(rec), rec, c["count"].to_numpy() - c["obs_n"].to_numpy())
        town_of = c.index.get_level_values("town")
        g = pd.Index(towns).get_indexer(town_of)
        k = len(towns)
        t_obs = a1.groupby("town")["_sy"].sum().reindex(towns).fillna(0.0).to_numpy()
        total = c.groupby(level="town")["total"].sum().reindex(towns).fillna(0.0).to_numpy()
        res = conditional_test_batch(t_obs, total, g, k, rest, rest_hh, c["n2"].to_numpy(),
                                     c["sw"].to_numpy(), c["swy"].to_numpy(),
                                     c["sw2"].to_numpy(), ind.threshold,
                                     unc2=np.where(c["n2"].to_numpy() > 0, c["unc2"].to_numpy(),
                                                   c["rest2"].to_numpy()))
        lo, hi = conditional_bounds(res, spec.level)
        n_v = a2.groupby("town")["village"].nunique().reindex(towns).fillna(0).to_numpy()
        n_h = a2.groupby("town").size().reindex(towns).fillna(0).to_numpy()
        n_o = a1.groupby("town").size().reindex(towns).fillna(0).to_numpy()
        for i, t in enumerate(towns):
            if n_h[i] == 0 or not np.isfinite(res.p_hat[i]):
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                rows.append({"indicator": ind_name, "town": t, "p_value": float(res.p_value[i]),
                             "estimate_two_phase": float(res.p_hat[i]),
                             "ci_lower": float(lo[i]), "ci_upper": float(hi[i]),
                             "n_eff": float(res.n_eff[i]), "q0": float(res.q0[i]),
                             "rest_rate": float(res.rest_rate[i]),
                             "rest_share": float(res.rest[i] / res.total[i]),
                             "uncovered_share": float(res.uncovered[i] / res.total[i]),
                             "observed_phase1": int(n_o[i]), "villages": int(n_v[i]),
                             "households": int(n_h[i])})
    return pd.DataFrame(rows, columns=CONDITIONAL_COLUMNS)


def _answered(d, towns: list[str], unit: str) -> pd.DataFrame:
    """The answered households of ``towns`` with their weight ``_s`` (persons or 1), ``_sy`` and
    ``_s2``."""
    a = d.data[d.data["town"].isin(towns) & d.data["_good"].notna()]
    s = a["household_size"].astype(float).to_numpy() if unit == "person" else np.ones(len(a))
    return a.assign(_s=s, _sy=s * a["_good"].astype(float).to_numpy(), _s2=s * s,
                    frame=a["frame"].astype(str))
