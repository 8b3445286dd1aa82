"""The yearly assessment spec: shipped files, coding, and clear errors for a bad user file."""

from __future__ import annotations

import pytest

from quchi_stats.errors import DataError
from quchi_stats.spec import load_spec


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
    with pytest.raises(DataError, match="my.toml：第 4 个 \\[\\[indicator\\]\\] “threshold”应为 0 与 1 之间的小数"):
        load_spec(p)
    p.write_text(text.replace('frames = ["non_registered"]', 'frames = ["poor"]'), encoding="utf-8")
    with pytest.raises(DataError, match="frames 应取自"):
        load_spec(p)
    p.write_text(text.replace('"满意", "基本满意"', '"满意", "还行"'), encoding="utf-8")
    with pytest.raises(DataError, match="“还行”不是满意度选项"):
        load_spec(p)
    p.write_text("year = ", encoding="utf-8")
    with pytest.raises(DataError, match="TOML 格式错误"):
        load_spec(p)
    with pytest.raises(DataError, match="没有 2030 年的内置考核参数"):
        load_spec(2030)


def test_funnel_overdispersion_option(tmp_path):
    from quchi_stats.assessment import run_assessment

    text = (load_spec.__globals__["resources"].files("quchi_stats") / "specs"
            / "assessment_2018.toml").read_text(encoding="utf-8")
    assert load_spec(2018).funnel_overdispersion is False
    p = tmp_path / "od.toml"
    p.write_text(text.replace("funnel_overdispersion = false", "funnel_overdispersion = true"),
                 encoding="utf-8")
    spec = load_spec(p)
    assert spec.funnel_overdispersion is True
    a = run_assessment(2018, spec=spec, history=False)
    plain = run_assessment(2018, history=False)
    f, g = a.funnel["satisfaction_rate"], plain.funnel["satisfaction_rate"]
    assert f.attrs["phi"] > 1 and g.attrs["phi"] == 1.0
    assert (f["lower998"] <= g["lower998"]).all()


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
