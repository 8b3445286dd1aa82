"""Allocation across towns: totals preserved, bounds respected, the textbook shares."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quchi_stats.errors import ParameterError
from quchi_stats.sampling import allocate

QUJIANG_VILLAGES = [17, 10, 9, 5, 10, 9, 11, 10, 9]


def test_proportional_largest_remainder():
    # 30 * N_h / 90 = 5.67, 3.33, 3, 1.67, ...; minimum 2 lifts 小坑 to 2 and the rest share 28.
    out = allocate(30, QUJIANG_VILLAGES, minimum=2)
    assert out.sum() == 30
    assert out.tolist() == [6, 3, 3, 2, 3, 3, 4, 3, 3]


def test_equal_allocation_with_cap_at_population():
    out = allocate(40, [17, 10, 9, 3, 10], method="equal")
    # lambda = 9.25 for the uncapped towns; ties of the remainder go to the first town
    assert out.tolist() == [10, 9, 9, 3, 9]


def test_sqrt_and_neyman_weights():
    sizes = [100, 400, 900]
    assert allocate(60, sizes, method="sqrt").tolist() == [10, 20, 30]
    # Neyman: N_h * sqrt(deff p(1-p)); equal p and deff reduce to proportional
    assert allocate(14, sizes, method="neyman", p=0.9).tolist() == [1, 4, 9]
    # a town with p = 0.5 needs more than one with p = 0.98
    out = allocate(20, [100, 100], method="neyman", p=[0.5, 0.98])
    assert out[0] > out[1]
    assert out.sum() == 20


def test_minimum_and_maximum():
    out = allocate(10, [50, 50, 2], minimum=3)
    assert out[2] == 2  # minimum capped at the population
    assert out.sum() == 10
    out = allocate(10, [50, 50, 50], maximum=[2, 50, 50])
    assert out[0] <= 2 and out.sum() == 10


@pytest.mark.parametrize(("total", "kwargs", "match"), [
    (3, {"minimum": 2}, "sum of the minima"),
    (200, {}, "must be <= the population"),
    (10, {"method": "neyman"}, "needs the anticipated proportions"),
    (10, {"method": "optimal"}, "'method' parameter of allocate"),
    (10, {"method": "neyman", "p": 1.2}, "must be in \\(0, 1\\)"),
])
def test_errors_are_clear(total, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        allocate(total, [17, 10, 9, 5], **kwargs)


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
       method=st.sampled_from(["proportional", "equal", "sqrt"]),
       minimum=st.integers(0, 3), data=st.data())
def test_total_preserved_and_bounds_hold(sizes, method, minimum, data):
    lo = np.minimum(minimum, sizes)
    total = data.draw(st.integers(int(lo.sum()), int(sum(sizes))))
    out = allocate(total, sizes, method=method, minimum=minimum)
    assert out.sum() == total
    assert np.all(out >= lo)
    assert np.all(out <= np.asarray(sizes))
