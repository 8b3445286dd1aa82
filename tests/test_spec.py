"""The yearly assessment spec: shipped files, coding, and clear errors for a bad user file."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import json
import math
import tomllib
from pathlib import Path

import pytest

from quchi_stats.errors import DataError, ParameterError
from quchi_stats.spec import (
    INDICATOR_FIELDS,
    LQAS_FIELDS,
    RESULT_COLUMNS,
    SPEC_FIELDS,
    load_spec,
    spec_fields_markdown,
)


@pytest.mark.parametrize(("year", "line"), [(2016, 6433), (2017, 6883), (2018, 7365)])
def test_shipped_specs(year, line):
    spec = load_spec(year)
    assert spec.year == year and spec.exit_line == line
    assert spec.alpha == 0.05 and spec.multiplicity == "holm"
    names = [i.name for i in spec.indicators]
    assert names[:4] == ["identification_accuracy", "exit_accuracy", "missed_rate",
                         "satisfaction_rate"]
    exit_ = spec.indicator("exit_accuracy")
    assert (exit_.threshold, exit_.display, exit_.unit) == (0.98, "complement", "person")
    assert exit_.shown(0.97) == pytest.approx(0.03) and exit_.comparison == "<"
    sat = spec.indicator("satisfaction_rate")
    assert (sat.threshold, sat.unit, sat.frames) == (0.90, "household", ("registered", "exited"))
    assert spec.satisfied_levels == ("satisfied", "basically_satisfied")
    assert all(i.source for i in spec.indicators)  # every threshold cites its source
    assert spec.indicator("missed_rate").good == "no"


def test_user_spec_and_errors(tmp_path):
    text = (load_spec.__globals__["resources"].files("quchi_stats") / "specs"
            / "assessment_2018.toml").read_text(encoding="utf-8")
    p = tmp_path / "my.toml"
    p.write_text(text.replace('multiplicity = "holm"', 'multiplicity = "bh"'), encoding="utf-8")
    assert load_spec(p).multiplicity == "bh"
    p.write_text(text.replace("threshold = 0.90", "threshold = 90"), encoding="utf-8")
    with pytest.raises(DataError, match=r"my.toml：\[\[indicator\]\] 第 4 项 threshold 应为大于 0 且小于 1 的数"
                                        r"（实际为 90）"):
        load_spec(p)
    p.write_text(text.replace('frames = ["non_registered"]', 'frames = ["poor"]'), encoding="utf-8")
    with pytest.raises(DataError, match=r"第 3 项 frames 第 1 项 应为 registered、exited、non_registered 之一"):
        load_spec(p)
    p.write_text(text.replace('"满意", "基本满意"', '"满意", "还行"'), encoding="utf-8")
    with pytest.raises(DataError, match="satisfied_levels 第 2 项 应为 满意、.*（实际为 字符串“还行”）"):
        load_spec(p)
    p.write_text("year = ", encoding="utf-8")
    with pytest.raises(DataError, match="TOML 格式错误"):
        load_spec(p)
    with pytest.raises(DataError, match="没有 2030 年的内置考核参数"):
        load_spec(2030)


def test_funnel_overdispersion_option(tmp_path, bundled_assessments):
    from quchi_stats.assessment import run_assessment

    text = (load_spec.__globals__["resources"].files("quchi_stats") / "specs"
            / "assessment_2018.toml").read_text(encoding="utf-8")
    assert load_spec(2018).funnel_overdispersion is False
    p = tmp_path / "od.toml"
    p.write_text(text.replace("funnel_overdispersion = false", "funnel_overdispersion = true"),
                 encoding="utf-8")
    spec = load_spec(p)
    assert spec.funnel_overdispersion is True
    a = run_assessment(2018, spec=spec, history=False, power=False)  # the funnel needs no power
    plain = bundled_assessments[2018]  # run_assessment(2018), once for the session
    f, g = a.funnel["satisfaction_rate"], plain.funnel["satisfaction_rate"]
    # the option draws the limits at the sizes the district village ICC implies (docs/flags.md)
    assert f.attrs["overdispersion"] == "icc" and g.attrs["overdispersion"] == "none"
    import numpy as np

    from quchi_stats.flags.funnel import funnel_limits

    lo, _ = funnel_limits(f.attrs["theta0"], f["n_icc"].to_numpy(float), 0.998)
    np.testing.assert_allclose(f["lower998"], lo)
    assert not np.allclose(f["lower998"], g["lower998"])


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from quchi_stats.errors import QuchiStatsError  # noqa: E402

_SPEC_TEXT = (load_spec.__globals__["resources"].files("quchi_stats") / "specs"
              / "assessment_2018.toml").read_text(encoding="utf-8")
_LINES = _SPEC_TEXT.splitlines()


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(drop=st.sets(st.integers(0, len(_LINES) - 1), max_size=6),
       edits=st.lists(st.tuples(st.integers(0, len(_LINES) - 1), st.text(max_size=12)), max_size=3))
def test_fuzzed_specs_load_or_raise_our_error(tmp_path_factory, drop, edits):
    lines = [ln for i, ln in enumerate(_LINES) if i not in drop]
    for i, text in edits:
        if i < len(lines):
            key = lines[i].split("=")[0]
            lines[i] = f"{key}= {text}" if "=" in lines[i] else text
    p = tmp_path_factory.mktemp("spec") / "s.toml"
    p.write_text("\n".join(lines), encoding="utf-8")
    try:
        spec = load_spec(p)
    except QuchiStatsError as exc:
        assert "\n" not in str(exc)
        return
    assert all(0 < i.threshold < 1 for i in spec.indicators)


# --- issue 10, class 6: everything that used to change the verdict silently or crash ---------------

def _base() -> str:
    return _SPEC_TEXT


def _lqas(text: str, body: str) -> str:
    return text.replace('design = "two-stage"', 'design = "lqas"') + body


# (id, the file's bytes, a fragment of the one-line message)
_ISSUE_CASES = [
    ("exit_line_negative", _base().replace("exit_line = 7365", "exit_line = -7365"),
     "exit_line 应为大于 0 且不超过 100000 的数（实际为 -7365）"),
    ("exit_line_inf", _base().replace("exit_line = 7365", "exit_line = inf"),
     "exit_line 应为大于 0 且不超过 100000 的数（实际为 inf）"),
    ("exit_line_nan", _base().replace("exit_line = 7365", "exit_line = nan"), "exit_line 应为"),
    ("exit_line_missing", _base().replace("exit_line = 7365", ""), "缺少 exit_line"),
    ("bunching_window_zero", _base().replace("bunching_window = 250", "bunching_window = 0"),
     "bunching_window 应为大于 0 且不超过 10000 的数（实际为 0）"),
    ("bunching_window_negative", _base().replace("bunching_window = 250", "bunching_window = -250"),
     "bunching_window 应为大于 0 且不超过 10000 的数（实际为 -250）"),
    ("typo_alpah", _base().replace("alpha = 0.05", "alpah = 0.5"), "未知的键 alpah（是否应为 alpha？）"),
    ("typo_in_indicator", _base().replace('label = "群众认可度"', 'lable = "群众认可度"'),
     "未知的键 [[indicator]] 第 4 项 lable（是否应为 label？）"),
    ("year_2016_in_2018_run", _base().replace("year = 2018", "year = 2016"),
     "year = 2016，与本次考核年度 2018 不符"),
    ("exit_line_chinese_text", _base().replace("exit_line = 7365", 'exit_line = "七千"'),
     "exit_line 应为大于 0 且不超过 100000 的数（实际为 字符串“七千”）"),
    ("lqas_without_d", _lqas(_base(), "\n[lqas]\nn = 19\n"), "[lqas] 中缺少 d"),
    ("lqas_design_without_rule", _lqas(_base(), ""), 'design = "lqas" 需要 [lqas] 表'),
    ("lqas_d_above_n", _lqas(_base(), "\n[lqas]\nn = 19\nd = 20\n"), "[lqas] d 应不超过 n = 19"),
    ("indicator_as_table", _base().replace("[[indicator]]", "[indicator]", 1).split("[[indicator]]")[0],
     "indicator 应为表数组 [[indicator]]（实际为 表 [indicator]）"),
    ("deep_arrays", "x = " + "[" * 5000 + "]" * 5000 + "\n" + _base(), "TOML 嵌套层数过深"),
    ("long_label", _base().replace('label = "识别准确率"', 'label = "' + "长" * 200_000 + '"'),
     "[[indicator]] 第 1 项 label 应为 1–200 个字符的字符串（实际为 200000 个字符）"),
    ("huge_integer", _base().replace("year = 2018", "year = " + "9" * 5000), "整数位数过多"),
    ("newline_in_label", _base().replace('label = "识别准确率"', 'label = "识别\\n准确率"'),
     "label 不能含换行或控制字符"),
    ("bool_as_text", _base().replace("funnel_overdispersion = false", 'funnel_overdispersion = "false"'),
     "funnel_overdispersion 应为 true 或 false（实际为 字符串“false”）"),
    ("unknown_results_column", _base().replace('column = "missed"', 'column = "mised"'),
     "[[indicator]] 第 3 项 column 应为 identified_correctly"),
    ("duplicate_indicator", _base().replace('name = "food_clothing"', 'name = "basic_medical"'),
     "[[indicator]] 第 7 项 name = \"basic_medical\" 与第 5 项重复"),
    ("alpha_above_half", _base().replace("alpha = 0.05", "alpha = 0.9"), "alpha 应为大于 0 且不超过 0.5 的数"),
    ("gbk_file", _base().replace("−", "-").encode("gbk"), "是 GBK/GB18030 编码（第 1 行起），请另存为 UTF-8 编码"),
    ("utf16_file", _base().encode("utf-16"), "是 UTF-16 编码"),
    ("not_text", b"year = 2018\n\xff\xfe\xfd\x80", "不是 UTF-8 编码（第 2 行有无法解码的字节）"),
    ("too_large", b"# " + b"x" * 1_100_000, "文件过大"),
]


def _write(tmp_path, content) -> object:
    p = tmp_path / "参数.toml"
    if isinstance(content, str):
        p.write_text(content, encoding="utf-8")
    else:
        p.write_bytes(content)
    return p


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in _ISSUE_CASES],
                         ids=[c[0] for c in _ISSUE_CASES])
def test_issue_cases_raise_one_line_data_error(tmp_path, content, message):
    p = _write(tmp_path, content)
    with pytest.raises(DataError) as exc:
        load_spec(p, year=2018)
    text = str(exc.value)
    assert text.startswith("参数.toml：") and "\n" not in text and len(text) < 400, text
    assert message in text, text


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in _ISSUE_CASES],
                         ids=[c[0] for c in _ISSUE_CASES])
def test_issue_cases_exit_2_with_one_line_from_report(tmp_path, capsys, content, message):
    """The spec's problem is one line naming the file and key; ``report`` lists every input problem
    first (the checks of ``quchi-stats check``), then the count and that nothing was written."""
    from quchi_stats.cli import main

    p = _write(tmp_path, content)
    assert main(["report", "--year", "2018", "--spec", str(p), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and err[0].startswith("参数.toml：") and message in err[0], err
    assert err[1].startswith("共 1 个问题") and err[2].startswith("报告未生成"), err
    assert not (tmp_path / "r").exists()


def test_power_command_checks_the_spec_year(tmp_path, capsys):
    from quchi_stats.cli import main

    p = _write(tmp_path, _base().replace("year = 2018", "year = 2017"))
    assert main(["power", "--year", "2018", "--spec", str(p), "--reps", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "year = 2017，与本次考核年度 2018 不符" in err[0], err


def test_bom_and_the_spec_object_year(tmp_path):
    from quchi_stats.assessment import run_assessment

    p = _write(tmp_path, b"\xef\xbb\xbf" + _base().encode("utf-8"))  # what Notepad saves
    plain = load_spec(2018)
    assert dataclasses.replace(load_spec(p, year=2018), path=plain.path) == plain
    with pytest.raises(DataError, match="year = 2018，与本次考核年度 2017 不符"):
        run_assessment(2017, spec=plain, history=False)
    with pytest.raises(ParameterError):
        load_spec(p, year="2018")
    with pytest.raises(ParameterError):
        load_spec(True)
    with pytest.raises(DataError, match="考核参数应为普通的 TOML 文件"):
        load_spec(tmp_path)


def test_bundled_specs_load_for_their_year_and_docs_list_every_key():
    for year in (2016, 2017, 2018):
        assert load_spec(year, year=year).year == year
    docs = (Path(__file__).parents[1] / "docs" / "flags.md").read_text(encoding="utf-8")
    assert spec_fields_markdown() in docs  # the documented table is the schema itself


# --- fuzz: every field dropped, renamed, retyped, pushed out of its range --------------------------

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return v.isoformat()  # dates


def _toml_key(k: str) -> str:
    return k if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k) else json.dumps(k)


def _dump(doc: dict) -> str:
    out = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc.items()
           if not (isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)))]
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(f"[{_toml_key(k)}]")
            out += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in v.items()]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for item in v:
                out.append(f"[[{_toml_key(k)}]]")
                out += [f"{_toml_key(a)} = {_toml_value(b)}" for a, b in item.items()]
    return "\n".join(out) + "\n"


_DOC = tomllib.loads(_SPEC_TEXT) | {"lqas": {"n": 19, "d": 13}}


def _targets():
    """(path, Field) of every key of the spec, in the base document."""
    out = [((f.key,), f) for f in SPEC_FIELDS]
    out += [(("lqas", f.key), f) for f in LQAS_FIELDS]
    out += [(("indicator", i, f.key), f) for i in (0, 3) for f in INDICATOR_FIELDS]
    return out


def _wrong_types(f) -> list:
    """Values of a type the field never accepts."""
    pool = {"int": ["2018", 2018.0, True, [2018], {"a": 1}, datetime.date(2018, 1, 1)],
            "number": ["0.05", True, [0.05], {"v": 1}, datetime.date(2018, 1, 1)],
            "bool": ["false", 0, 1, [False]], "str": [1, True, ["x"], {"x": "y"}],
            "choice": [1, True, ["holm"], {"a": "b"}, "not-a-choice"],
            "list": ["满意", 1, {"a": 1}], "table": [1, "x", [1], [{"n": 19}]],
            "tables": [1, "x", {"name": "x"}, [1, 2]]}
    return pool[f.kind]


def _out_of_range(f) -> list:
    if f.kind in ("int", "number"):
        vals = [10 ** 30, -(10 ** 30)]
        if f.lo is not None:
            vals += [f.lo] if f.lo_open else [f.lo - 1 if f.kind == "int" else f.lo - 1e-9]
        if f.hi is not None:
            vals += [f.hi] if f.hi_open else [f.hi + 1 if f.kind == "int" else f.hi * (1 + 1e-9)]
        if f.kind == "number":
            vals += [math.inf, -math.inf, math.nan]
        return vals
    if f.kind == "str":
        return ["x" * (f.max_len + 1), "a\tb", "a\u2028b"] + ([""] if f.min_len else [])
    if f.kind == "list":
        item = f.item.allowed()[0] if f.item.allowed() else "甲镇"
        return ([[]] if f.min_len else []) + ([[item] * 2] if f.unique else [])
    if f.kind == "tables":
        return [[]]
    return []


def _mutated(path, value=None, *, drop=False, rename=None) -> dict:
    doc = copy.deepcopy(_DOC)
    parent = doc
    for seg in path[:-1]:
        parent = parent[seg]
    key = path[-1]
    if drop or rename is not None:
        old = parent.pop(key, 1)  # a key absent from the base file is renamed with any value
        if rename is not None:
            parent[rename] = old
    else:
        parent[key] = value
    return doc


def _load(doc, tmp_path):
    p = tmp_path / "fuzz.toml"
    p.write_text(_dump(doc), encoding="utf-8")
    return load_spec(p, year=2018)


def test_every_field_mutated_is_refused_by_name(tmp_path):
    """Each key of the schema, one at a time: renamed (a typo), retyped, out of its range -> a
    one-line DataError naming the key; dropped -> refused when required, the default otherwise."""
    tried = 0
    for path, f in _targets():
        key = path[-1]
        cases = [("rename", key[:-1] + key[-1] * 2)]
        cases += [("value", v) for v in _wrong_types(f) + _out_of_range(f)]
        for how, v in cases:
            doc = _mutated(path, rename=v) if how == "rename" else _mutated(path, v)
            with pytest.raises(DataError) as exc:
                _load(doc, tmp_path)
            msg = str(exc.value)
            assert "\n" not in msg and (key in msg or (how == "rename" and v in msg)), (path, v, msg)
            tried += 1
        doc = _mutated(path, drop=True)
        if f.required:
            with pytest.raises(DataError, match=f"缺少 {key}"):
                _load(doc, tmp_path)
        elif key != "lqas":
            spec = _load(doc, tmp_path)
            if key in ("label", "self_report"):
                continue
            got = getattr(spec.indicators[path[1]], key) if path[0] == "indicator" else (
                spec.lqas_rule.get(key) if path[0] == "lqas" else getattr(spec, key))
            default = f.default if not isinstance(f.default, list) else tuple(
                {"满意": "satisfied", "基本满意": "basically_satisfied"}[x] for x in f.default)
            assert got == default, (path, got)
        tried += 1
    assert tried > 250


_ANY = st.recursive(st.booleans() | st.integers(-(10 ** 6), 10 ** 6)
                    | st.floats(allow_nan=True) | st.text(max_size=8)
                    | st.sampled_from(["holm", "lqas", "person", "exited", "满意", "satisfied"]),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(target=st.sampled_from(_targets()), value=st.none() | _ANY, drop_other=st.sampled_from(_targets()),
       drop=st.booleans())
def test_fuzzed_field_values_load_valid_or_raise_our_error(tmp_path_factory, target, value,
                                                          drop_other, drop):
    """Any value in any field (None stands for "drop the key"): either a one-line QuchiStatsError,
    or a spec whose every value lies in its documented range."""
    path, _ = target
    doc = _mutated(path, drop=value is None, **({} if value is None else {"value": value}))
    if drop and drop_other[0] != path:
        # the other key's parent may itself be the fuzzed value (a string, a list): nothing to drop
        with contextlib.suppress(KeyError, IndexError, TypeError, AttributeError):
            doc = copy.deepcopy(doc)
            parent = doc
            for seg in drop_other[0][:-1]:
                parent = parent[seg]
            parent.pop(drop_other[0][-1], None)
    try:
        spec = _load(doc, tmp_path_factory.mktemp("f"))
    except QuchiStatsError as exc:
        assert "\n" not in str(exc)
        return
    top = {f.key: f for f in SPEC_FIELDS}
    for key in ("alpha", "level", "power_shortfall", "max_reject_share", "deff_floor", "exit_line",
                "identification_line_2014", "bunching_window"):
        v, f = getattr(spec, key), top[key]
        assert math.isfinite(v) and (v > f.lo if f.lo_open else v >= f.lo), (key, v)
        assert v < f.hi if f.hi_open else v <= f.hi, (key, v)
    assert spec.year == 2018 and isinstance(spec.funnel_overdispersion, bool)
    for ind in spec.indicators:
        assert 0 < ind.threshold < 1 and set(ind.frames) <= {"registered", "exited", "non_registered"}
        assert len(ind.label) <= 200 and ind.column in RESULT_COLUMNS
    if spec.lqas_rule:
        assert 1 <= spec.lqas_rule["d"] <= spec.lqas_rule["n"]


def test_test_method_adjusted_is_accepted_and_a_near_miss_refused(tmp_path):
    text = _SPEC_TEXT.replace('test_method = "beta-binomial"', 'test_method = "beta-binomial-adjusted"')
    assert 'test_method = "beta-binomial-adjusted"' in text
    p = _write(tmp_path, text)
    assert load_spec(p, year=2018).test_method == "beta-binomial-adjusted"
    p = _write(tmp_path, text.replace("beta-binomial-adjusted", "beta-binomial-adj"))
    with pytest.raises(DataError, match="test_method 应为 beta-binomial、beta-binomial-adjusted、design 之一"):
        load_spec(p, year=2018)
