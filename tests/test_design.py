"""SurveyDesign: validated once, frozen, clear errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from quchi_stats.design import SurveyDesign
from quchi_stats.errors import DataError, ParameterError


def _df():
    return pd.DataFrame({"town": ["甲", "甲", "甲", "乙", "乙", "乙"],
                         "village": ["a", "a", "b", "c", "d", "d"],
                         "w": [2.0, 2, 3, 1, 1, 1], "N": [5, 5, 5, 4, 4, 4],
                         "M": [10, 10, 8, 3, 6, 6], "hh": [1, 2, 3, 4, 5, 6]})


def test_counts_and_df():
    d = SurveyDesign(_df(), strata="town", psu="village", weights="w")
    assert (d.n, d.n_strata, d.n_psu, d.df) == (6, 2, 4, 2)
    assert d.domain_df(np.array([True, True, True, False, False, False])) == 1
    assert d.domain_df(np.zeros(6, bool)) == 0
    assert "with replacement" in repr(d)


def test_frozen():
    d = SurveyDesign(_df(), strata="town", psu="village", weights="w")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.weights = "x"  # type: ignore[misc]


def test_weights_from_fpc_when_not_given():
    d = SurveyDesign(_df(), strata="town", psu="village", fpc="N", ssu="hh", fpc2="M",
                     lonely_psu="remove")
    # 甲: 2 of 5 villages; village a: 2 of 10 households -> 2.5 * 5 = 12.5
    assert d.w[0] == pytest.approx(12.5)
    assert "two-stage" in repr(d)


def test_fpc_as_fraction():
    df = _df().assign(f=[0.4, 0.4, 0.4, 0.5, 0.5, 0.5])
    a = SurveyDesign(df, strata="town", psu="village", weights="w", fpc="f")
    b = SurveyDesign(df, strata="town", psu="village", weights="w", fpc="N")
    np.testing.assert_allclose(a.f1, b.f1)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"psu": "nope"}, ParameterError, "names a column that is not in the data: 'nope'"),
    ({"fpc2": "M"}, ParameterError, "needs 'fpc'"),
    ({"lonely_psu": "drop"}, ParameterError, "'lonely_psu' parameter of SurveyDesign"),
])
def test_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SurveyDesign(_df(), strata="town", weights="w", **kwargs)


def test_data_errors():
    df = _df()
    with pytest.raises(DataError, match="第 4 行，列“w”：权数应为非负数，实际为“-1.0”"):
        SurveyDesign(df.assign(w=[2, 2, -1, 1, 1, 1.0]), strata="town", psu="village", weights="w")
    with pytest.raises(DataError, match="PSU“c”出现在多个层中"):
        SurveyDesign(df.assign(village=["a", "a", "c", "c", "d", "d"]), strata="town",
                     psu="village", weights="w")
    nested = SurveyDesign(df.assign(village=["a", "a", "b", "a", "b", "b"]), strata="town",
                          psu="village", weights="w", nest=True)
    assert nested.n_psu == 4
    with pytest.raises(DataError, match="fpc 在同一层内应相同"):
        SurveyDesign(df.assign(N=[5, 6, 5, 4, 4, 4]), strata="town", psu="village", fpc="N")
    with pytest.raises(DataError, match="fpc 与样本不符：抽中 2 个 PSU，fpc 为 1.5"):
        SurveyDesign(df.assign(N=[1.5] * 6), strata="town", psu="village", fpc="N")
    with pytest.raises(DataError, match="只有 1 个 PSU"):
        SurveyDesign(df.assign(village=["a", "a", "a", "c", "d", "d"]), strata="town",
                     psu="village")
    with pytest.raises(DataError, match="第 2 行，列“village”：抽样设计列不能为空"):
        SurveyDesign(df.assign(village=[None, "a", "b", "c", "d", "d"]), strata="town",
                     psu="village")
    with pytest.raises(DataError, match="没有任何数据行"):
        SurveyDesign(df.iloc[:0], strata="town")


def _strata_columns():
    """The same nine strata in the column types a user's data may have."""
    rng = np.random.default_rng(3)
    village = rng.integers(0, 40, 600) * 7 + 100  # PSU labels with gaps, not from 0
    town_of = np.array([f"镇{i}" for i in (5, 1, 8, 3, 0, 2, 7, 6, 4)])
    town = town_of[(village // 7) % 9]
    categories = [f"镇{i}" for i in (8, 7, 6, 5, 4, 3, 2, 1, 0)] + ["没有样本的镇"]
    return village, {
        "str": pd.Series(town, dtype="str"),
        "object": pd.Series(town.astype(object), dtype=object),
        "string (pd.NA)": pd.Series(town, dtype="string"),
        "categorical": pd.Series(pd.Categorical(town, categories=categories)),
        "int": pd.Series(np.char.lstrip(town.astype(str), "镇").astype(np.int64) * 10 - 20),
        "Int64": pd.Series(np.char.lstrip(town.astype(str), "镇").astype(np.int64), dtype="Int64"),
        "float": pd.Series(np.char.lstrip(town.astype(str), "镇").astype(float) / 2),
    }


@pytest.mark.parametrize("kind", list(_strata_columns()[1]))
def test_binding_codes_as_pandas_factorize_does(kind):
    village, columns = _strata_columns()
    strata = columns[kind]
    df = pd.DataFrame({"town": strata, "village": village, "w": 1.5})
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    s_code, s_lab = pd.factorize(strata, sort=True)
    p_code, _ = pd.factorize(pd.Series(village), sort=True)
    np.testing.assert_array_equal(d.stratum_code, s_code)
    np.testing.assert_array_equal(d.stratum_labels, np.asarray(s_lab))
    np.testing.assert_array_equal(d.psu_code, p_code)
    np.testing.assert_array_equal(d.psu_stratum[d.psu_code], d.stratum_code)
    np.testing.assert_array_equal(d.n_rows_in_psu, np.bincount(p_code))
    np.testing.assert_array_equal(d.n_psu_in_stratum,
                                  pd.Series(village).groupby(s_code).nunique().to_numpy())
    # the same design as one whose strata are plain integer codes
    coded = SurveyDesign(df.assign(town=s_code), strata="town", psu="village", weights="w")
    assert d.df == coded.df == 40 - 9
    np.testing.assert_array_equal(d.psu_stratum, coded.psu_stratum)


@pytest.mark.parametrize("kind", list(_strata_columns()[1]))
def test_missing_strata_and_psus_in_two_strata_name_the_first_row(kind):
    village, columns = _strata_columns()
    strata = columns[kind].copy()
    df = pd.DataFrame({"town": strata, "village": village, "w": 1.5})
    missing = df.copy()
    missing.loc[[17, 300], "town"] = None  # one row of a village
    with pytest.raises(DataError, match="第 19 行，列“town”：抽样设计列不能为空"):
        SurveyDesign(missing, strata="town", psu="village", weights="w")
    lone = df.copy()
    lone.loc[lone["village"] == village[40], "town"] = None  # every row of a village
    first = int(np.flatnonzero(village == village[40])[0])
    with pytest.raises(DataError, match=f"第 {first + 2} 行，列“town”：抽样设计列不能为空"):
        SurveyDesign(lone, strata="town", psu="village", weights="w")
    clash = df.copy()
    other = clash.loc[clash["town"] != clash.loc[5, "town"], "town"].iloc[0]
    rows = np.flatnonzero(village == village[5])
    clash.loc[rows[-1], "town"] = other  # the village's last row in another town
    with pytest.raises(DataError, match=f"PSU“{village[5]}”出现在多个层中"):
        SurveyDesign(clash, strata="town", psu="village", weights="w")


def test_pyarrow_strings_coded_as_pandas_factorize_codes_them():
    """pyarrow strings are coded by pyarrow's hash and sorted afterwards: the same codes and
    labels as ``pd.factorize(sort=True)``, missing values, empty strings and several chunks
    included."""
    pytest.importorskip("pyarrow")
    from quchi_stats.design import _codes

    values = ["乙镇", "", "a", None, "Z", "甲", "乙镇", "ä", "a", "镇10", "镇9"] * 3
    halves = pd.concat([pd.Series(values[:13], dtype="str"), pd.Series(values[13:], dtype="str")],
                       ignore_index=True)
    assert halves.array.__arrow_array__().num_chunks == 2
    for s in (pd.Series(values, dtype="str"), pd.Series(values, dtype="string[pyarrow]"), halves):
        codes, labels, _ = _codes(s)
        expected_codes, expected_labels = pd.factorize(s, sort=True)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(labels, np.asarray(expected_labels))


@pytest.mark.parametrize("size", [1, 3, 5, 7, 8, 9, 12, 15, 16])
def test_strata_of_one_byte_length_compared_as_integers_as_strings_are(size):
    """pyarrow strata whose labels all have ``size`` bytes are read per PSU from integer keys
    (strided views of pyarrow's buffer, no hash): the same codes, labels and errors as object
    strings, for slices of a frame too (a buffer offset) and whatever the bytes."""
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(size)
    pool = ["é", "镇", "a", "Z", "\x00", "ÿ", "b", "0", "9", "c"]  # seven of one byte
    labels = set()
    while len(labels) < 7:
        text, nbytes = "", 0
        while nbytes < size:
            c = pool[rng.integers(len(pool))]
            if nbytes + len(c.encode()) <= size:
                text, nbytes = text + c, nbytes + len(c.encode())
        labels.add(text)
    labels = np.array(sorted(labels, key=lambda t: rng.random()), dtype=object)
    village = rng.integers(0, 50, 2000) * 3 + 7
    town = labels[village % 7]
    for sl in (slice(None), slice(13, None), slice(5, 1995)):
        df = pd.DataFrame({"town": pd.Series(town, dtype="str"), "village": village,
                           "w": 1.0}).iloc[sl]
        _codes_as_objects_do(df)
        clash = df.copy()
        rows = np.flatnonzero(clash["village"].to_numpy() == clash["village"].iloc[3])
        other = labels[(clash["village"].iloc[3] + 1) % 7]
        clash.iloc[rows[-1], 0] = other  # the village's last row in another town
        _same_error_as_objects(clash, "出现在多个层中")  # the same row named


def _same_error_as_objects(df: pd.DataFrame, match: str) -> None:
    """Binding ``df`` (pyarrow ``town``) fails with the very message the same strings held as
    Python objects give (``match`` in it)."""
    with pytest.raises(DataError, match=match) as as_objects:
        SurveyDesign(df.assign(town=df["town"].astype(object)), strata="town", psu="village",
                     weights="w")
    with pytest.raises(DataError) as as_arrow:
        SurveyDesign(df, strata="town", psu="village", weights="w")
    assert str(as_arrow.value) == str(as_objects.value)


def _codes_as_objects_do(df: pd.DataFrame) -> None:
    """``df``'s pyarrow ``town`` strata code as the same strings held as Python objects do."""
    obj = df.assign(town=df["town"].astype(object))
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    o = SurveyDesign(obj, strata="town", psu="village", weights="w")
    np.testing.assert_array_equal(d.stratum_labels, o.stratum_labels)
    np.testing.assert_array_equal(d.psu_stratum, o.psu_stratum)
    np.testing.assert_array_equal(d.stratum_code, o.stratum_code)


@pytest.mark.parametrize("names", [["马坝镇"], ["ab镇镇", "cb镇镇"], ["镇镇镇镇镇"], ["x"]],
                         ids=["one town", "first byte differs", "15 bytes", "one byte"])
def test_strata_keys_of_every_bit_pattern(names):
    """Keys with the top bit set (UTF-8 bytes of Chinese), a single stratum, and labels that
    differ only in their first byte (keys close together) code as object strings do."""
    pytest.importorskip("pyarrow")
    k = len(names)
    town = np.array(names, dtype=object)[np.arange(40) % k]
    village = np.arange(40) // 2 * k + np.arange(40) % k
    df = pd.DataFrame({"town": pd.Series(town, dtype="str"), "v": village, "w": 1.0})
    d = SurveyDesign(df, strata="town", psu="v", weights="w", lonely_psu="remove")
    o = SurveyDesign(df.assign(town=town), strata="town", psu="v", weights="w",
                     lonely_psu="remove")
    np.testing.assert_array_equal(d.stratum_labels, o.stratum_labels)
    np.testing.assert_array_equal(d.psu_stratum, o.psu_stratum)


@pytest.mark.parametrize("long_label", [True, False],
                         ids=["a label of 33 bytes: take + equal", "all of 12 bytes or less: views"])
def test_strata_of_different_lengths_compared_per_psu_as_strings_are(long_label, monkeypatch):
    """pyarrow strata of different lengths in one chunk are compared row by row with their PSU's
    (as Arrow string views when the PSUs' strings have at most 12 bytes, else by pyarrow's take +
    equal; no hash): the same codes, labels and errors as object strings, for slices of a frame
    (a buffer offset), empty strings, NUL bytes, labels of exactly 12 bytes, a long label that
    starts as a short one, and missing values too."""
    pytest.importorskip("pyarrow")
    from quchi_stats import design as design_module

    views = []  # the views read (None where pyarrow has none)
    monkeypatch.setattr(design_module, "_string_views", lambda chunk, read=design_module.
                        _string_views: views.append(read(chunk)) or views[-1])
    rng = np.random.default_rng(12)
    labels = np.array(["镇1", "镇10", "镇2", "", "a\x00", "a", "新疆维吾尔自治区城关镇" if long_label
                       else "城关镇镇", "Z镇"], dtype=object)
    village = rng.integers(0, 60, 3000) * 5 + 3
    town = labels[village % len(labels)]
    for sl in (slice(None), slice(17, None), slice(4, 2990)):
        df = pd.DataFrame({"town": pd.Series(town, dtype="str"), "village": village,
                           "w": 1.0}).iloc[sl]
        assert df["town"].array.__arrow_array__().num_chunks == 1
        _codes_as_objects_do(df)
        # a prefix of a\x00; a label one byte longer than 镇1; 13 bytes starting as 城关镇镇 does
        for other in ("a", "镇10", "城关镇镇a"):
            clash = df.copy()
            v = clash["village"].iloc[5]
            rows = np.flatnonzero(clash["village"].to_numpy() == v)
            i = rows[len(rows) // 2]
            if clash["town"].iloc[i] == other:
                continue
            clash.iloc[i, 0] = other  # a row of the village in another town
            _same_error_as_objects(clash, "出现在多个层中")  # the same row named
        missing = df.copy()
        missing.iloc[7, 0] = None
        assert missing["town"].isna().sum() == 1
        _same_error_as_objects(missing, "抽样设计列不能为空")
    assert (len(views) > 0 and all(v is not None for v in views)) is not long_label


@pytest.mark.parametrize("dtype", [pd.StringDtype("python", na_value=np.nan), object],
                         ids=["str without pyarrow", "object"])
def test_python_strings_compared_by_object_then_by_value(dtype):
    """Python strings: a row holding the very object its PSU's first row holds has its stratum
    (a file's reader gives equal strings one object); the others are compared by value. Shared
    objects, equal strings in distinct objects, a clash and a missing value give the codes and
    the row a comparison of every row gives."""
    rng = np.random.default_rng(7)
    names = np.array(["镇1", "镇10", "镇2", "乙镇"], dtype=object)
    village = rng.integers(0, 30, 800) * 3 + 1
    town = names[village % 4]  # four objects shared by 800 rows
    copies = rng.random(800) < 0.3
    town[copies] = ["".join(list(t)) for t in town[copies]]  # equal strings, other objects
    df = pd.DataFrame({"town": pd.Series(town, dtype=dtype), "village": village, "w": 1.0})
    held = df["town"].to_numpy()
    assert 4 < len({id(t) for t in held}) < 400  # shared objects and copies both there
    d = SurveyDesign(df, strata="town", psu="village", weights="w")
    codes, labels = pd.factorize(pd.Series(town.astype(str)), sort=True)
    np.testing.assert_array_equal(d.stratum_code, codes)
    np.testing.assert_array_equal(d.stratum_labels, np.asarray(labels))

    def first_bad_row(values: pd.Series) -> int:
        first = values.groupby(df["village"]).transform("first")
        return int(np.flatnonzero((values != first).to_numpy())[0]) + 2

    for row, other in ((500, names), (650, ["".join(list(n)) for n in names])):
        clash = df.copy()
        v = clash.loc[row, "village"]
        clash.loc[row, "town"] = other[(v % 4 + 1) % 4]  # another town's (shared or own) object
        expected = first_bad_row(clash["town"].astype(object))
        with pytest.raises(DataError, match=f"第 {expected} 行.*PSU“{v}”出现在多个层中"):
            SurveyDesign(clash, strata="town", psu="village", weights="w")
    missing = df.copy()
    missing.loc[321, "town"] = None
    with pytest.raises(DataError, match="第 323 行，列“town”：抽样设计列不能为空"):
        SurveyDesign(missing, strata="town", psu="village", weights="w")
