"""The data contract: one canonical name and Chinese label per column, aliases unambiguous."""

from __future__ import annotations

from quchi_stats.io import LABELS_ZH, PERSONAL_COLUMNS, TABLES
from quchi_stats.io.readers import _header_key


def test_aliases_are_unambiguous_within_each_table():
    for schema in TABLES.values():
        seen: dict[str, str] = {}
        for col in schema.columns:
            for alias in col.all_names():
                key = _header_key(alias)
                assert seen.setdefault(key, col.name) == col.name, (schema.kind, alias)


def test_canonical_names_are_snake_case_and_labels_consistent():
    for schema in TABLES.values():
        for col in schema.columns:
            assert col.name.isascii() and col.name == col.name.lower()
            assert LABELS_ZH[col.name] == col.label


def test_contract_columns_present():
    reg = TABLES["register"].names
    for c in ("town", "village", "household_id", "household_size", "registered", "exit_year",
              "category", "able_to_work", "income_per_capita", "priority_village"):
        assert c in reg
    sample = TABLES["sample"].names
    for c in ("frame", "role", "reserve_rank", "pi_village", "pi_household", "pi", "weight",
              "n_villages_in_town", "n_households_in_frame_of_village"):
        assert c in sample
    assert PERSONAL_COLUMNS == {"head_name", "id_number", "phone"}
