"""The audit record: write, verify, refuse to overwrite, detect tampering."""

from __future__ import annotations

import json

import pytest

from quchi_stats.errors import DataError, OutputExistsError, VerificationError
from quchi_stats.io import read_table, write_csv
from quchi_stats.sampling import (
    DesignPlan,
    draw_from_file,
    read_manifest,
    verify_manifest,
    write_sample,
)

PLAN = DesignPlan(year=2018, villages_total=6,
                  households_per_village={"registered": 3, "exited": 2, "non_registered": 2})


@pytest.fixture
def register_file(tmp_path, small_register):
    path = tmp_path / "register_2018.csv"
    write_csv(small_register, path, chinese_headers=True)
    return path


def test_write_then_verify(tmp_path, register_file):
    res = draw_from_file(register_file, PLAN, seed=42)
    out = write_sample(res, tmp_path / "sample_2018", register_file)
    assert not out.unchanged
    m = read_manifest(out.manifest_path)
    assert m["seed"] == 42 and m["year"] == 2018
    assert m["register"]["file"] == "../register_2018.csv"
    assert m["plan"]["villages_total"] == 6
    assert m["sample"]["rows"] == len(res.sample)
    report = verify_manifest(out.manifest_path)
    assert report.rows == len(res.sample)
    assert "核验通过" in str(report)
    # the sample file reads back through the contract reader
    back = read_table(out.sample_path, "sample")
    assert back["household_id"].tolist() == res.sample["household_id"].tolist()


def test_identical_redraw_is_a_noop_and_different_one_needs_force(tmp_path, register_file):
    folder = tmp_path / "s"
    write_sample(draw_from_file(register_file, PLAN, seed=1), folder, register_file)
    before = (folder / "sample.csv").read_bytes()
    again = write_sample(draw_from_file(register_file, PLAN, seed=1), folder, register_file)
    assert again.unchanged
    other = draw_from_file(register_file, PLAN, seed=2)
    with pytest.raises(OutputExistsError, match="不会被覆盖.*--force"):
        write_sample(other, folder, register_file)
    assert (folder / "sample.csv").read_bytes() == before  # nothing lost
    replaced = write_sample(other, folder, register_file, force=True)
    assert not replaced.unchanged
    assert read_manifest(folder)["seed"] == 2


def test_tampered_sample_fails_verification(tmp_path, register_file):
    out = write_sample(draw_from_file(register_file, PLAN, seed=3), tmp_path / "s", register_file)
    text = out.sample_path.read_text(encoding="utf-8-sig").splitlines()
    out.sample_path.write_text("\n".join(text[:-1]) + "\n", encoding="utf-8-sig")
    with pytest.raises(VerificationError, match="样本文件缺失或在抽样后被修改过"):
        verify_manifest(out.manifest_path)


def test_changed_register_fails_verification(tmp_path, register_file):
    out = write_sample(draw_from_file(register_file, PLAN, seed=3), tmp_path / "s", register_file)
    register_file.write_bytes(register_file.read_bytes() + b"\n")
    with pytest.raises(VerificationError, match="SHA-256 与清单记录不同"):
        verify_manifest(out.manifest_path)


def test_changed_seed_in_manifest_fails_verification(tmp_path, register_file):
    out = write_sample(draw_from_file(register_file, PLAN, seed=3), tmp_path / "s", register_file)
    m = json.loads(out.manifest_path.read_text(encoding="utf-8"))
    m["seed"] = 4
    out.manifest_path.write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(VerificationError, match="重新抽样的结果与清单记录的样本不同"):
        verify_manifest(out.manifest_path)


def test_moved_register_can_be_named(tmp_path, register_file):
    out = write_sample(draw_from_file(register_file, PLAN, seed=5), tmp_path / "s", register_file)
    moved = tmp_path / "elsewhere.csv"
    register_file.rename(moved)
    with pytest.raises(DataError, match="可用 --register 指定"):
        verify_manifest(out.manifest_path)
    assert verify_manifest(out.manifest_path, register=moved).rows > 0


def test_bad_manifest(tmp_path):
    with pytest.raises(DataError, match="找不到抽样清单"):
        read_manifest(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="不是有效的抽样清单"):
        read_manifest(tmp_path)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from quchi_stats.errors import QuchiStatsError  # noqa: E402

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.sampled_from(["format", "seed", "year", "register", "plan",
                                                        "sample", "file", "sha256", "x"]),
                                       inner, max_size=6), max_leaves=12)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=_JSON)
def test_fuzzed_manifests_verify_or_raise_our_error(tmp_path_factory, doc):
    d = tmp_path_factory.mktemp("m")
    (d / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")
    try:
        verify_manifest(d)
    except QuchiStatsError as exc:
        assert "\n" not in str(exc)


# --- issue 10, class 6: a manifest is read as strictly as the spec ---------------------------------

import copy  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

from quchi_stats.sampling.manifest import MANIFEST_FIELDS, check_manifest  # noqa: E402


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """A register, a drawn sample and its manifest (read-only: tests copy the manifest)."""
    from tests.conftest import make_register

    base = tmp_path_factory.mktemp("drawn")
    reg = make_register({"甲镇": [(12, 4, 20), (6, 2, 15), (20, 5, 30)],
                         "乙镇": [(8, 3, 12), (15, 6, 25), (5, 1, 9)]})
    path = base / "register_2018.csv"
    write_csv(reg, path, chinese_headers=True)
    plan = DesignPlan(year=2018, villages_total=4,
                      households_per_village={"registered": 2, "exited": 1, "non_registered": 1})
    out = write_sample(draw_from_file(path, plan, seed=11), base / "sample_2018", path)
    return base, json.loads(out.manifest_path.read_text(encoding="utf-8"))


def _place(drawn, content, tag="m") -> object:
    """A manifest folder beside the drawn one (so ../register_2018.csv resolves), with the sample."""
    base, _ = drawn
    folder = base / tag
    folder.mkdir(exist_ok=True)
    shutil.copy(base / "sample_2018" / "sample.csv", folder / "sample.csv")
    data = content if isinstance(content, bytes) else (
        content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)).encode("utf-8")
    (folder / "manifest.json").write_bytes(data)
    return folder


def _edit(doc, path, value):
    doc = copy.deepcopy(doc)
    parent = doc
    for seg in path[:-1]:
        parent = parent[seg]
    parent[path[-1]] = value
    return doc


def _rename(doc, path, new):
    doc = copy.deepcopy(doc)
    parent = doc
    for seg in path[:-1]:
        parent = parent[seg]
    parent[new] = parent.pop(path[-1])
    return doc


# (id, how to build the file from the good manifest, a fragment of the message)
_CASES = [
    ("seed_5000_digits", lambda m: json.dumps(m).replace(f'"seed": {m["seed"]}', '"seed": ' + "9" * 5000),
     "整数位数过多"),
    ("seed_2_to_128", lambda m: _edit(m, ("seed",), 2 ** 128), "seed 应为不小于 0 且小于 "),
    ("seed_negative", lambda m: _edit(m, ("seed",), -1), "seed 应为不小于 0"),
    ("seed_as_text", lambda m: _edit(m, ("seed",), "11"), "seed 应为不小于 0 且小于"),
    ("seed_as_float", lambda m: _edit(m, ("seed",), 11.0), "（实际为 11.0）"),
    ("deep_nesting", lambda m: json.dumps(m)[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
     "JSON 嵌套层数过深"),
    ("unknown_key", lambda m: _rename(m, ("seed",), "sed"), "未知的键 sed（是否应为 seed？）"),
    ("unknown_nested_key", lambda m: _rename(m, ("register", "sha256"), "sha265"),
     "未知的键 register.sha265（是否应为 sha256？）"),
    ("unknown_plan_key", lambda m: _rename(m, ("plan", "reserves"), "reserve"),
     "未知的键 plan.reserve（是否应为 reserves？）"),
    ("bad_plan_value", lambda m: _edit(m, ("plan", "reserves"), -1), "plan 不是有效的抽样参数"),
    ("plan_for_another_year", lambda m: _edit(m, ("plan", "year"), 2017),
     "plan.year = 2017 与 year = 2018 不符"),
    ("sample_elsewhere", lambda m: _edit(m, ("sample", "file"), "../register_2018.csv"),
     "sample.file 应为 sample.csv 之一"),
    ("sha_not_hex", lambda m: _edit(m, ("sample", "sha256"), "z" * 64), "sample.sha256 格式不对"),
    ("missing_register", lambda m: {k: v for k, v in m.items() if k != "register"},
     "缺少 register（农户台账）"),
    ("register_as_text", lambda m: _edit(m, ("register",), "register_2018.csv"),
     "register 应为对象（实际为 字符串“register_2018.csv”）"),
    ("duplicate_key", lambda m: json.dumps(m)[:-1] + f', "seed": {m["seed"] + 1}' + "}", "键“seed”重复"),
    ("nan", lambda m: json.dumps(m).replace('"anticipated_p": 0.95', '"anticipated_p": NaN'),
     "不允许 NaN"),
    ("float_overflow", lambda m: json.dumps(m).replace('"anticipated_p": 0.95', '"anticipated_p": 1e999'),
     "超出范围"),
    ("newer_format", lambda m: _edit(m, ("format",), 2), "format = 2：本版本只读取格式 1 的清单"),
    ("top_level_array", lambda m: [m], "顶层应为对象"),
    ("rows_inconsistent", lambda m: _edit(m, ("sample", "rows"), m["sample"]["rows"] + 1),
     "sample.rows = "),
    ("rows_missing", lambda m: _edit(m, ("sample",), {k: v for k, v in m["sample"].items() if k != "rows"}),
     "sample 中缺少 rows"),
    ("gbk_file", lambda m: json.dumps(_edit(m, ("notes",), ["甲镇只有 3 个行政村"]),
                                      ensure_ascii=False).encode("gb18030"),
     "是 GBK/GB18030 编码"),
    ("too_large", lambda m: _edit(m, ("notes",), ["x" * 9_000] * 200), "文件过大"),
    ("note_too_long", lambda m: _edit(m, ("notes",), ["x" * 10_001]), "notes 第 1 项 应为 0–10000 个字符"),
]


@pytest.mark.parametrize(("build", "message"), [c[1:] for c in _CASES], ids=[c[0] for c in _CASES])
def test_hostile_manifests_are_one_line_data_errors(drawn, capsys, build, message):
    from quchi_stats.cli import main

    folder = _place(drawn, build(copy.deepcopy(drawn[1])))
    for call in (read_manifest, verify_manifest):
        with pytest.raises(DataError) as exc:
            call(folder)
        text = str(exc.value)
        assert text.startswith("manifest.json：") and "\n" not in text and len(text) < 500, text
        assert message in text, text
    assert main(["design", "--verify", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_manifest_with_bom_verifies(drawn):
    folder = _place(drawn, b"\xef\xbb\xbf" + json.dumps(drawn[1]).encode("utf-8"), "bom")
    assert verify_manifest(folder).rows == drawn[1]["sample"]["rows"]
    assert check_manifest(copy.deepcopy(drawn[1])) == drawn[1]


def test_seeds_are_bounded_where_they_are_drawn(small_register):
    from quchi_stats.errors import ParameterError
    from quchi_stats.sampling import draw_sample

    with pytest.raises(ParameterError, match="below 2\\*\\*128"):
        draw_sample(small_register, PLAN, 2 ** 128)
    with pytest.raises(ParameterError, match="below 2\\*\\*128"):
        draw_sample(small_register, PLAN, 10 ** 400)  # float() of it would overflow
    assert draw_sample(small_register, PLAN, 2 ** 128 - 1).seed == 2 ** 128 - 1


def _manifest_targets(doc):
    out = []
    for f in MANIFEST_FIELDS:
        if f.key in doc:
            out.append(((f.key,), f))
            for g in f.fields:
                if g.key in doc[f.key]:
                    out.append(((f.key, g.key), g))
    return out


def _bad_values(f):
    pool = {"int": ["1", 1.5, True, [1], {"a": 1}, None],
            "str": [1.5, True, ["x"], {"x": "y"}], "choice": [1, ["x"], "other"],
            "table": [1, "x", [1]], "list": ["x", {"a": 1}, [1]]}
    vals = [v for v in pool[f.kind] if not (v is None and f.nullable)]
    if f.kind == "int":
        vals += [f.lo - 1] + ([f.hi] if f.hi_open else [f.hi + 1])
    if f.kind == "str":
        vals += ["x" * (f.max_len + 1)] + (["x" * 63] if f.pattern else [])
    return vals


def test_every_manifest_field_mutated_is_refused_by_name(drawn):
    """Each key renamed, retyped or out of range -> a one-line DataError naming it; dropped ->
    refused when required."""
    doc = drawn[1]
    tried = 0
    for path, f in _manifest_targets(doc):
        key = path[-1]
        for bad in [("rename", key + "x")] + [("value", v) for v in _bad_values(f)]:
            m = _rename(doc, path, bad[1]) if bad[0] == "rename" else _edit(doc, path, bad[1])
            with pytest.raises(DataError) as exc:
                check_manifest(m)
            assert key in str(exc.value) and "\n" not in str(exc.value), (path, bad, exc.value)
            tried += 1
        dropped = copy.deepcopy(doc)
        parent = dropped
        for seg in path[:-1]:
            parent = parent[seg]
        del parent[key]
        if f.required:
            with pytest.raises(DataError, match=f"缺少 {key}"):
                check_manifest(dropped)
        else:
            check_manifest(dropped)
        tried += 1
    assert tried > 60


_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-(2 ** 130), 2 ** 130)
                       | st.floats() | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_manifest_fields_verify_or_raise_our_error(drawn, data):
    """Any value in any field (or the field dropped): verify passes or raises our one-line error."""
    doc = drawn[1]
    path, _ = data.draw(st.sampled_from(_manifest_targets(doc)
                                        + [(("plan", k), None) for k in doc["plan"]]))
    if data.draw(st.booleans()):
        m = copy.deepcopy(doc)
        parent = m
        for seg in path[:-1]:
            parent = parent[seg]
        del parent[path[-1]]
    else:
        m = _edit(doc, path, data.draw(_VALUES))
    text = json.dumps(m, ensure_ascii=False, allow_nan=True)
    folder = _place(drawn, text, "fz")
    try:
        verify_manifest(folder)
    except QuchiStatsError as exc:
        assert "\n" not in str(exc)
        return
    seed = read_manifest(folder)["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2 ** 128 and not math.isnan(float(seed))
