"""The two-phase estimate of a followed-up town whose phase 1 was drawn with risk oversampling: a
split village's non-registered frame is two sampling cells (risk households and the others, each with
its own n and N) in the phase-1 household-sampling variance, checked against a hand computation of
``two_phase_estimates``' formula on a small hand-built town."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quchi_stats.followup.final import two_phase_estimates
from quchi_stats.sampling.draw import split_villages
from quchi_stats.spec import load_spec

TOWN = "甲镇"
INDICATOR = "missed_rate"  # non-registered frame, persons (m = household size), good = not missed

#: Phase 1 (non-registered frame), one entry per sampling cell as drawn: (village, π_village, risk
#: group of the cell or None for a village drawn as one frame, N of the cell, n drawn,
#: [(risk, household size, missed or None when unreachable)] of the primaries). 甲镇01村 is split:
#: its risk sub-frame (N = 6, n = 3) and its other sub-frame (N = 60, n = 4, one unreachable).
#: 甲镇02村 was drawn as one frame (N = 15, n = 5) although its households carry risk flags.
PHASE1 = [
    ("甲镇01村", 0.5, "risk", 6, 3, [(True, 3, True), (True, 1, True), (True, 4, False)]),
    ("甲镇01村", 0.5, "other", 60, 4, [(False, 2, False), (False, 5, True), (False, 3, False),
                                      (False, 4, None)]),
    ("甲镇02村", 0.4, None, 15, 5, [(True, 2, True), (False, 3, False), (False, 1, False),
                                   (True, 4, False), (False, 2, False)]),
]
#: Phase 2, villages phase 1 did not visit: (village, π2|1, N, n, [(household size, missed)]).
PHASE2 = [
    ("甲镇03村", 0.5, 10, 3, [(2, False), (2, True), (3, False)]),
    ("甲镇04村", 0.25, 30, 4, [(1, False), (4, True), (2, False), (3, True)]),
    ("甲镇05村", 0.4, 12, 3, [(3, False), (2, False), (2, False)]),
]


def _sample_row(hid, village, pi_v, big_n, n, size):
    pi_h = n / big_n
    return {"year": 2018, "town": TOWN, "village": village, "household_id": hid,
            "household_size": size, "frame": "non_registered", "role": "primary",
            "reserve_rank": pd.NA, "pi_village": pi_v, "pi_household": pi_h, "pi": pi_v * pi_h,
            "weight": 1 / (pi_v * pi_h), "n_villages_in_town": 8,
            "n_households_in_frame_of_village": big_n,
            "n_households_sampled_in_frame_of_village": n, "certainty_village": False}


def _result_row(hid, missed):
    return {"household_id": hid, "visit_status": "unreachable" if missed is None else "completed",
            "missed": pd.NA if missed is None else missed}


def _tables(phase1=PHASE1):
    s1, r1, s2, r2 = [], [], [], []
    for c, (village, pi_v, _, big_n, n, hh) in enumerate(phase1):
        for i, (risk, size, missed) in enumerate(hh):
            hid = f"1{c}{i:02d}"
            s1.append({**_sample_row(hid, village, pi_v, big_n, n, size), "risk": risk})
            r1.append(_result_row(hid, missed))
    for c, (village, pi_v, big_n, n, hh) in enumerate(PHASE2):
        for i, (size, missed) in enumerate(hh):
            hid = f"2{c}{i:02d}"
            s2.append(_sample_row(hid, village, pi_v, big_n, n, size))
            r2.append(_result_row(hid, missed))

    def results(rows):
        r = pd.DataFrame(rows)
        r["missed"] = r["missed"].astype("boolean")
        return r

    s1 = pd.DataFrame(s1).astype({"risk": "boolean", "household_size": "Int64"})
    s2 = pd.DataFrame(s2).astype({"household_size": "Int64"})
    return s1, results(r1), s2, results(r2)


def _hand(pool_split_village: bool = False, phase1=PHASE1):
    """R̂, V and the households counted, from the tables above by the docstring's formula. Weights:
    phase 1 ``N/n_answered`` of the cell (1/π_household adjusted for non-response within the cell),
    phase 2 ``(1/π2|1) · N/n_answered``. ``pool_split_village``: the wrong variance, with 甲镇01村's
    two sub-frames taken as one cell (N = 66)."""
    cells1 = []  # (village, N, [(m, good)] of the answered households)
    for village, _, _, big_n, _, hh in phase1:
        cells1.append((village, big_n, [(size, 0.0 if missed else 1.0)
                                        for _, size, missed in hh if missed is not None]))
    villages2 = []  # (π2|1, N, [(m, good)])
    for _, pi_v, big_n, _, hh in PHASE2:
        villages2.append((pi_v, big_n, [(size, 0.0 if missed else 1.0) for size, missed in hh]))

    num = den = 0.0
    for _, big_n, hh in cells1:
        w = big_n / len(hh)
        num += sum(w * m * g for m, g in hh)
        den += sum(w * m for m, _ in hh)
    for pi_v, big_n, hh in villages2:
        w = big_n / len(hh) / pi_v
        num += sum(w * m * g for m, g in hh)
        den += sum(w * m for m, _ in hh)
    r = num / den

    if pool_split_village:
        (v, n_r, h_r), (_, n_o, h_o), *rest = cells1
        cells1 = [(v, n_r + n_o, h_r + h_o), *rest]
    v_a = 0.0
    for _, big_n, hh in cells1:
        u = np.array([m * (g - r) for m, g in hh])
        n = len(u)
        if n > 1:  # a cell of one household adds nothing
            v_a += big_n ** 2 * (1 - n / big_n) * u.var(ddof=1) / n
    tot = np.array([sum(big_n / len(hh) / pi_v * m * (g - r) for m, g in hh)
                    for pi_v, big_n, hh in villages2])
    k = len(tot)
    v_b = k / (k - 1) * ((tot - tot.mean()) ** 2).sum()
    var = (v_a + v_b) / den ** 2
    counted = sum(len(hh) for *_, hh in cells1) + sum(len(hh) for *_, hh in villages2)
    return r, var, counted


def _jeffreys_by_hand(r, var, counted, level):
    n_eff = min(r * (1 - r) / var, counted)
    x = r * n_eff
    a = (1 - level) / 2
    return (stats.beta(x + 0.5, n_eff - x + 0.5).ppf(a),
            stats.beta(x + 0.5, n_eff - x + 0.5).ppf(1 - a), n_eff)


def test_split_village_sub_frames_are_separate_cells_of_the_phase1_variance():
    spec = load_spec(2018)
    ind = spec.indicator(INDICATOR)
    assert ind.frames == ("non_registered",) and ind.unit == "person"
    s1, r1, s2, r2 = _tables()
    # the tables mark 甲镇01村 (and only it) as split, as a risk-oversampled draw does
    assert split_villages(s1) == {(TOWN, "甲镇01村")}

    pairs = pd.DataFrame({"town": [TOWN], "indicator": [INDICATOR]})
    got = two_phase_estimates(s1, r1, s2, r2, spec, pairs)
    assert len(got) == 1
    row = got.iloc[0]
    assert row["households_phase2_answered"] == 10

    # 甲镇01村's sub-frames are two cells, 甲镇02村 one cell whatever its households' risk flags
    r, var, counted = _hand()
    assert row["estimate_two_phase"] == pytest.approx(r, rel=1e-12)
    lo, hi, n_eff = _jeffreys_by_hand(r, var, counted, spec.level)
    assert n_eff < counted  # the interval depends on V here (not capped at the households)
    assert (row["ci_lower"], row["ci_upper"]) == (pytest.approx(lo, rel=1e-9),
                                                   pytest.approx(hi, rel=1e-9))

    # the check can tell: pooling the split village's sub-frames into one cell (N = 66) would
    # give a visibly different interval
    r_p, var_p, _ = _hand(pool_split_village=True)
    assert r_p == r
    lo_p, hi_p, _ = _jeffreys_by_hand(r_p, var_p, counted, spec.level)
    assert abs(lo_p - lo) > 0.01 and abs(hi_p - hi) > 0.01


#: 甲镇01村's risk sub-frame with one answering household (two unreachable).
PHASE1_LONELY = [
    ("甲镇01村", 0.5, "risk", 6, 3, [(True, 3, None), (True, 1, True), (True, 4, None)]),
    *PHASE1[1:],
]


def _answered(hh):
    return [(size, 0.0 if missed else 1.0) for _, size, missed in hh if missed is not None]


def test_a_risk_sub_frame_with_one_answer_is_collapsed_with_its_village_other_sub_frame():
    """One answering household leaves its sub-frame without a variance of its own: the village's
    two sub-frames are then one cell (N = 6 + 60, n = 1 + 3 answering), each household keeping its
    own sub-frame's weight (``z = n·w·u``), instead of a cell taken as exactly known. (Collapsing
    overstates the variance on average, not in every sample: here it is slightly narrower.)"""
    spec = load_spec(2018)
    s1, r1, s2, r2 = _tables(PHASE1_LONELY)
    pairs = pd.DataFrame({"town": [TOWN], "indicator": [INDICATOR]})
    row = two_phase_estimates(s1, r1, s2, r2, spec, pairs).iloc[0]
    r, var_lonely_known, counted = _hand(phase1=PHASE1_LONELY)
    assert row["estimate_two_phase"] == pytest.approx(r, rel=1e-12)

    (_, _, _, big_r, _, h_r), (_, _, _, big_o, _, h_o), (_, _, _, big_2, _, h_2) = PHASE1_LONELY
    a_r, a_o, a_2 = _answered(h_r), _answered(h_o), _answered(h_2)
    assert len(a_r) == 1
    # the collapsed cell: n = 4 answering households, N = 66, z = n · (N_g/n_g) · u
    n_c = len(a_r) + len(a_o)
    z = np.array([n_c * big / len(cell) * m * (g - r)
                  for big, cell in ((big_r, a_r), (big_o, a_o)) for m, g in cell])
    v_a = (1 - n_c / (big_r + big_o)) * z.var(ddof=1) / n_c
    u2 = np.array([m * (g - r) for m, g in a_2])  # 甲镇02村, one cell as before
    v_a += big_2 ** 2 * (1 - len(u2) / big_2) * u2.var(ddof=1) / len(u2)
    # phase 2: the new villages' expanded totals, with replacement
    tot = np.array([sum(big / len(hh) / pi * size * ((0.0 if missed else 1.0) - r)
                        for size, missed in hh) for _, pi, big, _, hh in PHASE2])
    v_b = len(tot) / (len(tot) - 1) * ((tot - tot.mean()) ** 2).sum()
    den = sum(big / len(_answered(hh)) * m for _, _, _, big, _, hh in PHASE1_LONELY
              for m, _ in _answered(hh))
    den += sum(big / len(hh) / pi * size for _, pi, big, _, hh in PHASE2 for size, _ in hh)
    lo, hi, _ = _jeffreys_by_hand(r, (v_a + v_b) / den ** 2, counted, spec.level)
    assert (row["ci_lower"], row["ci_upper"]) == (pytest.approx(lo, rel=1e-9),
                                                   pytest.approx(hi, rel=1e-9))
    # the check can tell: taking the lonely sub-frame as exactly known (its cell of one adding
    # nothing) gives another interval
    lo_k, hi_k, _ = _jeffreys_by_hand(r, var_lonely_known, counted, spec.level)
    assert abs(lo_k - lo) > 0.004 and abs(hi_k - hi) > 0.004
