"""The field teams' list: personal data only on request."""

from __future__ import annotations

import pytest

from quchi_stats.datasets import load_fieldwork, load_register
from quchi_stats.errors import DataError
from quchi_stats.sampling.fieldlist import field_list


def test_without_and_with_personal_data():
    sample, _ = load_fieldwork(2018)
    reg = load_register(2018)
    plain = field_list(sample, reg)
    assert not {"head_name", "id_number", "phone"} & set(plain.columns)
    assert len(plain) == len(sample)
    full = field_list(sample, reg, include_personal_data=True)
    assert {"head_name", "id_number", "phone"} <= set(full.columns)
    row = full.iloc[0]
    assert reg.set_index("household_id").loc[row["household_id"], "phone"] == row["phone"]


def test_household_not_in_register():
    sample, _ = load_fieldwork(2018)
    reg = load_register(2018)
    with pytest.raises(DataError, match="不在农户台账中"):
        field_list(sample, reg[reg["household_id"] != sample["household_id"].iloc[0]])
