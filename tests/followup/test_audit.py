"""``quchi-stats followup``: the rule registered at the draw, the audited follow-up folder, its
verification, and a year where no town qualifies."""

from __future__ import annotations

import json
import shutil
from importlib import resources

import pytest

from quchi_stats.cli import main
from quchi_stats.datasets import data_path
from quchi_stats.errors import DataError
from quchi_stats.sampling.manifest import read_manifest

SPEC_TEXT = (resources.files("quchi_stats") / "specs" / "assessment_2018.toml").read_text(
    encoding="utf-8")


def _spec(path, section: str):
    path.write_text(SPEC_TEXT.replace("[[indicator]]", section + "\n[[indicator]]", 1),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def phase1(tmp_path_factory):
    """The bundled 2018 register and results, the sample re-drawn (same seed and plan as the
    bundled one, so the results fit it) with a [followup] rule registered in its manifest."""
    root = tmp_path_factory.mktemp("fu")
    data = root / "data"
    data.mkdir()
    for f in ("register_2018.csv", "results_2018.csv"):
        shutil.copy(data_path() / f, data / f)
    seed = json.loads((data_path() / "sample_2018" / "manifest.json").read_text())["seed"]
    spec = _spec(root / "spec.toml", '[followup]\nindicators = ["satisfaction_rate"]\n'
                                     'alpha_stop = 0.0001\nalpha_futility = 0.3\nvillages = 3\n')
    assert main(["design", "--data", str(data), "--year", "2018", "--seed", str(seed),
                 "--spec", str(spec)]) == 0
    return data, spec


def test_manifest_records_the_rule(phase1):
    data, _ = phase1
    m = read_manifest(data / "sample_2018")
    assert m["followup"]["indicators"] == ["satisfaction_rate"]
    assert len(m["followup_sha256"]) == 64
    # a rule edited after the draw no longer matches its hash
    m["followup"]["villages"] = 9
    bad = data.parent / "bad_manifest.json"
    bad.write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(DataError, match="复核规则在抽样后被改动过"):
        read_manifest(bad)


def test_followup_draws_writes_and_verifies(phase1, capsys):
    data, spec = phase1
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec),
                 "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "大塘镇 群众认可度" in out and "已写出" in out
    folder = data / "followup_2018"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "sample.csv"]
    m = read_manifest(folder)
    assert m["kind"] == "followup" and [s["town"] for s in m["screened"]] == ["大塘镇"]
    # the design --verify route re-runs phase 1, the screening and the draw
    assert main(["design", "--verify", str(folder / "manifest.json")]) == 0
    assert "核验通过" in capsys.readouterr().out
    # the same command again leaves the folder as it is
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec),
                 "--seed", "5"]) == 0
    assert "未改动" in capsys.readouterr().out
    # a different seed is refused (an audit record is never overwritten without --force)
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec),
                 "--seed", "6"]) == 2
    assert "不会被覆盖" in capsys.readouterr().err
    # a changed follow-up sample fails verification
    sample = folder / "sample.csv"
    sample.write_bytes(sample.read_bytes().replace(b"\n", b"\r\n", 1))
    assert main(["design", "--verify", str(folder / "manifest.json")]) == 2
    capsys.readouterr()


def test_changed_rule_is_refused(phase1, tmp_path, capsys):
    data, _ = phase1
    other = _spec(tmp_path / "other.toml", '[followup]\nindicators = ["satisfaction_rate"]\n'
                                           'alpha_stop = 0.0001\nalpha_futility = 0.5\n')
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(other)]) == 2
    assert "与抽样清单登记的复核规则不同" in capsys.readouterr().err


def test_no_qualifying_town_writes_nothing(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for f in ("register_2018.csv", "results_2018.csv"):
        shutil.copy(data_path() / f, data / f)
    seed = json.loads((data_path() / "sample_2018" / "manifest.json").read_text())["seed"]
    # 义务教育保障: every town's phase-1 p-value is above 0.6 in the bundled year
    spec = _spec(tmp_path / "s.toml", '[followup]\nindicators = ["compulsory_education"]\n'
                                      'alpha_futility = 0.6\n')
    assert main(["design", "--data", str(data), "--year", "2018", "--seed", str(seed),
                 "--spec", str(spec)]) == 0
    capsys.readouterr()
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "不需要复核，未写出任何文件" in out
    assert not (data / "followup_2018").exists()
    assert not any(p.name.startswith(".followup_2018") for p in data.iterdir())


def test_followup_manifest_is_checked_strictly(phase1):
    data, spec = phase1
    folder = data / "followup_2018"
    if not folder.exists():
        assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec),
                     "--seed", "5"]) == 0
    m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    m["sede"] = 1
    bad = data.parent / "fu_bad.json"
    bad.write_text(json.dumps(m), encoding="utf-8")
    with pytest.raises(DataError, match="不是有效的复核清单：未知的键 sede（是否应为 seed？）"):
        read_manifest(bad)
