"""`quchi-stats spec` and the spec's county and towns (issue 14 items 1–2)."""

import pytest

from quchi_stats.cli import main
from quchi_stats.errors import OutputExistsError, ParameterError
from quchi_stats.spec import load_spec, write_spec


def test_write_spec_sets_year_and_county_and_clears_another_countys_towns(tmp_path):
    out = write_spec(2019, tmp_path / "s.toml", county="某某县")
    spec = load_spec(out, year=2019)
    assert (spec.year, spec.county, spec.towns) == (2019, "某某县", ())
    text = out.read_text(encoding="utf-8")
    assert "曲江" not in text.split("\n", 1)[0]  # the title comment names the new county
    assert "exit_line" in text  # every key and comment of the base is kept
    # the same county keeps its towns
    same = load_spec(write_spec(2019, tmp_path / "q.toml", county="曲江区"), year=2019)
    assert len(same.towns) == 9
    assert load_spec(2018).county == "曲江区"


def test_write_spec_refuses_to_overwrite_and_a_bad_county(tmp_path):
    out = write_spec(2019, tmp_path / "s.toml")
    with pytest.raises(OutputExistsError, match="--force"):
        write_spec(2019, out)
    write_spec(2020, out, force=True)
    assert load_spec(out, year=2020).year == 2020
    with pytest.raises(ParameterError, match="'county' parameter of write_spec"):
        write_spec(2019, tmp_path / "x.toml", county="甲\n乙", force=True)
    assert not (tmp_path / "x.toml").exists()


def test_spec_command_prints_what_to_check(tmp_path, capsys):
    out = tmp_path / "spec_2019.toml"
    assert main(["spec", "--year", "2019", "--county", "某某县", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "exit_line" in said and "退出收入线" in said and str(out) in said
    assert load_spec(out, year=2019).county == "某某县"
    # a spec from a file: the user's own edits are kept
    text = out.read_text(encoding="utf-8").replace("alpha = 0.05", "alpha = 0.1")
    out.write_text(text, encoding="utf-8")
    nxt = tmp_path / "spec_2020.toml"
    assert main(["spec", "--year", "2020", "--from", str(out), "--out", str(nxt)]) == 0
    s = load_spec(nxt, year=2020)
    assert s.alpha == 0.1 and s.county == "某某县"
    assert main(["spec", "--year", "2020", "--out", str(nxt)]) == 2  # exists: refused
