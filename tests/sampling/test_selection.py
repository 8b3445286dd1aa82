"""Selection algorithms against R ``sampling``'s published values and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from quchi_stats.errors import ParameterError
from quchi_stats.sampling import (
    inclusion_probabilities,
    select,
    select_pps_systematic,
    select_replicates,
    select_sampford,
    select_srswor,
    select_systematic,
)

# R (sampling 2.10):
#   inclusionprobabilities(c(1:5,20,35,40,50,60), 5)
#   [1] 0.02857143 0.05714286 0.08571429 0.11428571 0.14285714 0.57142857 1 1 1 1
#   inclusionprobabilities(seq(10,100,10), 3)  -> k * 0.05454545, k = 1..10
R_VEC_1 = [1, 2, 3, 4, 5, 20, 35, 40, 50, 60]
R_PIK_1 = [0.0285714, 0.0571429, 0.0857143, 0.1142857, 0.1428571, 0.5714286, 1, 1, 1, 1]
R_VEC_2 = list(range(10, 101, 10))


def test_inclusion_probabilities_match_r_with_certainty_units():
    np.testing.assert_allclose(inclusion_probabilities(R_VEC_1, 5), R_PIK_1, atol=5e-8)


def test_inclusion_probabilities_match_r_without_certainty_units():
    expected = np.arange(1, 11) * 0.0545454545
    np.testing.assert_allclose(inclusion_probabilities(R_VEC_2, 3), expected, atol=1e-9)


def test_inclusion_probabilities_zero_sizes_and_sum():
    pik = inclusion_probabilities([0, 1, 1, 2, 0], 2)
    assert pik[0] == 0 and pik[4] == 0
    assert pik.sum() == pytest.approx(2)


@pytest.mark.parametrize(("n", "x"), [(5, [1, 2]), (-1, [1, 2])])
def test_inclusion_probabilities_rejects_bad_n(n, x):
    with pytest.raises(ParameterError, match="'n' parameter of inclusion_probabilities"):
        inclusion_probabilities(x, n)


def test_inclusion_probabilities_rejects_negative_sizes():
    with pytest.raises(ParameterError, match="sizes >= 0"):
        inclusion_probabilities([1, -2, 3], 1)


# R's UPsystematic rule: a = (c(0, cumsum(pik)) - u) %% 1; unit k selected where a[k] > a[k+1].
@pytest.mark.parametrize(("u", "expected"), [(0.1, [2, 6, 9]), (0.5, [4, 7, 10]), (0.9, [6, 8, 10])])
def test_pps_systematic_with_given_start_matches_r_rule(u, expected):
    sel = select_pps_systematic(R_VEC_2, 3, start=u)
    assert (sel.indices + 1).tolist() == expected


def test_pps_systematic_always_takes_certainty_units(rng):
    for _ in range(50):
        sel = select_pps_systematic(R_VEC_1, 5, rng)
        assert {6, 7, 8, 9} <= set(sel.indices.tolist())
        assert sel.n == 5


def _frequencies(draw, size: int, reps: int) -> np.ndarray:
    counts = np.zeros(size)
    for _ in range(reps):
        counts[draw().indices] += 1
    return counts / reps


def _assert_within_4se(freq: np.ndarray, pi: np.ndarray, reps: int) -> None:
    se = np.sqrt(pi * (1 - pi) / reps)
    certain = (pi == 0) | (pi == 1)
    np.testing.assert_array_equal(freq[certain], pi[certain])
    z = np.abs(freq[~certain] - pi[~certain]) / se[~certain]
    assert z.max() < 4, f"max |z| = {z.max():.2f}"


REPS = 4000


@pytest.mark.parametrize("method", ["srswor", "systematic", "pps_systematic", "sampford"])
@pytest.mark.parametrize(("x", "n"), [(R_VEC_1, 5), (R_VEC_2, 3), ([3, 1, 4, 1, 5, 9, 2, 6], 4)])
def test_empirical_inclusion_frequencies_match_pi(method, x, n):
    rng = np.random.default_rng(2024)
    sizes = np.asarray(x, float)
    pi = select(method, sizes, n, rng).pi
    if method in ("srswor", "systematic"):
        np.testing.assert_allclose(pi, n / sizes.size)
    else:
        np.testing.assert_allclose(pi, inclusion_probabilities(sizes, n))
    freq = _frequencies(lambda: select(method, sizes, n, rng), sizes.size, REPS)
    _assert_within_4se(freq, pi, REPS)


def test_every_draw_has_fixed_size_and_distinct_units(rng):
    for method in ("srswor", "systematic", "pps_systematic", "sampford"):
        for _ in range(200):
            sel = select(method, R_VEC_2, 4, rng)
            assert sel.n == 4
            assert np.unique(sel.indices).size == 4
            assert np.all(np.diff(sel.indices) > 0)


def test_systematic_spreads_units_evenly():
    sel = select_systematic(10, 5, start=0.0)
    assert np.all(np.diff(sel.indices) == 2)
    sel = select_systematic(7, 7, start=0.3)
    assert sel.indices.tolist() == list(range(7))


def test_sampford_joint_inclusion_positive_for_every_pair():
    rng = np.random.default_rng(7)
    x = [2, 3, 4, 5, 6]
    seen = set()
    for _ in range(3000):
        idx = tuple(select_sampford(x, 2, rng).indices.tolist())
        seen.add(idx)
    assert len(seen) == 10  # all C(5,2) pairs occur: variance estimable


def test_same_seed_same_selection():
    a = select_sampford(R_VEC_2, 4, np.random.default_rng(99)).indices
    b = select_sampford(R_VEC_2, 4, np.random.default_rng(99)).indices
    np.testing.assert_array_equal(a, b)


def test_edge_sizes():
    assert select_srswor(5, 0, np.random.default_rng(1)).n == 0
    assert select_systematic(0, 0).n == 0
    assert select_pps_systematic([1, 2], 0).n == 0
    with pytest.raises(ParameterError, match="needs either 'rng' or 'start'"):
        select_systematic(5, 2)
    with pytest.raises(ParameterError, match="'start' parameter"):
        select_systematic(5, 2, start=1.5)
    with pytest.raises(ParameterError, match="must be <= the number of units"):
        select_srswor(3, 4, np.random.default_rng(1))
    with pytest.raises(ParameterError, match="'method' parameter of select"):
        select("bernoulli", [1, 2], 1, np.random.default_rng(1))


def test_pps_systematic_with_sort_order_is_implicit_stratification():
    x = np.array([10, 100, 20, 90, 30, 80, 40, 70, 50, 60], float)
    order = -x  # largest first
    sel = select_pps_systematic(x, 3, start=0.1, order=order)
    # sorted list 100, 90, 80, 70, 60, …: pi = 3x/550, cumulated .545, 1.036, 1.473, 1.855, 2.182;
    # the start 0.1 crosses 0.1, 1.1, 2.1 at 100, 80 and 60 = positions 1, 5, 9 of x (0-based)
    sorted_units = np.argsort(order, kind="stable")
    expected = np.sort(sorted_units[select_pps_systematic(x[sorted_units], 3, start=0.1).indices])
    np.testing.assert_array_equal(sel.indices, expected)
    assert sel.indices.tolist() == [1, 5, 9]
    np.testing.assert_allclose(sel.pi, inclusion_probabilities(x, 3))


def test_pps_systematic_with_order_keeps_pi():
    rng = np.random.default_rng(31)
    x = np.array([3, 1, 4, 1, 5, 9, 2, 6], float)
    order = np.array([2, 7, 1, 8, 2, 8, 1, 8])
    pi = inclusion_probabilities(x, 3)
    freq = _frequencies(lambda: select("pps_systematic", x, 3, rng, order=order), x.size, REPS)
    _assert_within_4se(freq, pi, REPS)
    freq = _frequencies(lambda: select("systematic", x, 3, rng, order=order), x.size, REPS)
    _assert_within_4se(freq, np.full(x.size, 3 / 8), REPS)
    with pytest.raises(ParameterError, match="one key per unit"):
        select_pps_systematic(x, 3, rng, order=[1, 2])


class _FixedStart:
    """A generator stand-in whose uniforms are all ``u`` (to compare with a given start)."""

    def __init__(self, u: float) -> None:
        self.u = u

    def random(self, size: int) -> np.ndarray:
        return np.full(size, self.u)


@pytest.mark.parametrize("u", [0.0, 0.1, 0.5, 0.999])
@pytest.mark.parametrize("order", [None, "size"])
def test_replicates_follow_the_single_draw_rule(u, order):
    x = np.array([5, 1, 9, 30, 2, 7, 8, 14, 3, 20.0])
    keys = None if order is None else -x
    single = select_pps_systematic(x, 4, start=u, order=keys).indices
    many, pi = select_replicates("pps_systematic", x, 4, 3, _FixedStart(u), order=keys)
    assert (many == single).all()
    np.testing.assert_allclose(pi, inclusion_probabilities(x, 4))
    eq = select_systematic(10, 3, start=u).indices
    assert (select_replicates("systematic", x, 3, 2, _FixedStart(u))[0] == eq).all()


@pytest.mark.parametrize("method", ["pps_systematic", "systematic", "srswor", "sampford"])
def test_replicate_inclusion_frequencies_match_pi(method):
    x = np.array([5, 1, 9, 30, 2, 7, 8, 14, 3, 20.0])
    reps = 40_000
    idx, pi = select_replicates(method, x, 4, reps, np.random.default_rng(11))
    assert idx.shape == (reps, 4)
    assert (np.diff(idx, axis=1) > 0).all()  # distinct, ascending
    freq = np.bincount(idx.ravel(), minlength=x.size) / reps
    se = np.sqrt(pi * (1 - pi) / reps)
    assert np.all(np.abs(freq - pi) <= 4 * se + 1e-12)
    assert (pi[x == 30] == 1).all() if method in ("pps_systematic", "sampford") else True


def test_replicates_take_certainty_units_and_check_parameters():
    x = [1, 1, 1, 100]
    idx, pi = select_replicates("pps_systematic", x, 2, 100, np.random.default_rng(0))
    assert pi[3] == 1 and (idx == 3).any(axis=1).all()
    with pytest.raises(ParameterError, match="'method' parameter of select_replicates"):
        select_replicates("cluster", x, 2, 10, np.random.default_rng(0))
    with pytest.raises(ParameterError, match="'reps' parameter"):
        select_replicates("srswor", x, 2, 0, np.random.default_rng(0))
    assert select_replicates("srswor", x, 0, 5, np.random.default_rng(0))[0].shape == (5, 0)
