"""Error hierarchy and scikit-learn-style parameter messages."""

from __future__ import annotations

import pytest

from quchi_stats.errors import (
    DataError,
    OutputExistsError,
    ParameterError,
    QuchiStatsError,
    check_choice,
    check_int,
    check_probability,
)


def test_hierarchy():
    assert issubclass(ParameterError, QuchiStatsError) and issubclass(ParameterError, ValueError)
    assert issubclass(DataError, QuchiStatsError) and issubclass(DataError, ValueError)
    assert issubclass(OutputExistsError, FileExistsError)


def test_data_error_message_names_file_row_column():
    e = DataError("应为整数，实际为“x”", file="a.csv", row=7, column="人数")
    assert str(e) == "a.csv，第 7 行，列“人数”：应为整数，实际为“x”"
    assert (e.file, e.row, e.column) == ("a.csv", 7, "人数")


def test_parameter_messages():
    with pytest.raises(ParameterError, match=r"The 'level' parameter of f must be in \(0, 1\). Got 1.5."):
        check_probability("level", 1.5, "f")
    with pytest.raises(ParameterError, match="must be a number"):
        check_probability("level", "x", "f")
    assert check_probability("p", 1, "f", closed=True) == 1.0
    with pytest.raises(ParameterError, match="must be an integer >= 1. Got 0."):
        check_int("n", 0, "f", minimum=1)
    with pytest.raises(ParameterError, match="must be an integer. Got True."):
        check_int("n", True, "f")
    with pytest.raises(ParameterError, match="must be one of 'a', 'b'. Got 'c'."):
        check_choice("m", "c", ("a", "b"), "f")


def test_personal_data_is_masked_in_messages():
    from quchi_stats.errors import mask_personal

    assert mask_personal("44020519800101123X") == "440205********123X"
    assert mask_personal("电话13812345678。") == "电话138****5678。"
    assert mask_personal("户编号 4402051002010001") == "户编号 4402051002010001"  # 16 digits: kept
    e = DataError("户编号“44020519800101123X”重复", file="a.csv", row=3)
    assert "19800101" not in str(e)


def test_masking_keeps_full_width_digits_where_it_masks_nothing():
    from quchi_stats.errors import mask_personal

    assert mask_personal("马坝０１村与马坝01村") == "马坝０１村与马坝01村"
    masked = mask_personal("马坝村（１３８１２３４５６７８）")
    assert "5678" in masked and "1234" not in masked and "１" not in masked
