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


# --- the conditional method -------------------------------------------------------------------

def _conditional_spec(path, indicators: list[str] | None = None):
    """The bundled data_samples/spec_2018.toml with its [followup] rule switched to the
    conditional method (α0 = 0.2, 4 households per village and frame, exits censused)."""
    import re

    text = (data_path() / "spec_2018.toml").read_text(encoding="utf-8")
    rule = ('[followup]\nmethod = "conditional"\nindicators = ["identification_accuracy", '
            '"exit_accuracy", "missed_rate", "satisfaction_rate"]\nalpha_futility = 0.2\n'
            "households = {registered = 4, exited = 4, non_registered = 4}\n"
            'census_frames = ["exited"]\nreserves = 3\nmax_extra_households = 1000\n\n')
    text, n = re.subn(r"^\[followup\].*?\n\n", lambda m: rule, text, count=1,
                      flags=re.M | re.S)
    assert n == 1
    if indicators is not None:
        text, n = re.subn(r"^indicators = \[.*\]$", f"indicators = {json.dumps(indicators)}",
                          text, count=1, flags=re.M)
        assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


def _conditional_year(root, indicators=None):
    """A copy of the bundled data without its 复核, phase 1 re-drawn (the bundled seed and plan,
    so its results fit) with the conditional rule registered."""
    from tests.conftest import single_phase_copy

    data = single_phase_copy(root / "data")
    seed = json.loads((data / "sample_2018" / "manifest.json").read_text())["seed"]
    shutil.rmtree(data / "sample_2018")
    spec = _conditional_spec(root / "spec.toml", indicators)
    assert main(["design", "--data", str(data), "--year", "2018", "--seed", str(seed),
                 "--spec", str(spec)]) == 0
    return data, spec


@pytest.fixture(scope="module")
def conditional_phase1(tmp_path_factory):
    return _conditional_year(tmp_path_factory.mktemp("fuc"))


_ANSWERS = {"registered": "是,,", "exited": ",是,", "non_registered": ",,否"}


def test_conditional_followup_verifies_and_refuses_tampering(conditional_phase1, capsys):
    """The conditional 复核 through the command: the screened pairs (p1 ≤ α0, 沙溪镇 below α1
    included, 小坑镇 with every village visited included), the manifest's observed households,
    verification before and after the phase-2 results are entered (households phase 1 did not
    observe and phase 2 drew again: their row becomes phase 2's), and refusals of a changed
    phase-1 row, sample, rule and observed set."""
    from quchi_stats.errors import VerificationError
    from quchi_stats.followup import verify_followup
    from quchi_stats.io.readers import read_table

    data, spec = conditional_phase1
    capsys.readouterr()
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec),
                 "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "条件检验" in out and "水平 α × 份额" in out and "没有可新抽的村" not in out
    assert "沙溪镇 群众认可度：第一阶段单侧 P < 0.001，≤ α0 = 0.2，进入复核" in out
    assert "小坑镇 识别准确率" in out and "  小坑镇：在 3 个村" in out
    folder = data / "followup_2018"
    mpath = folder / "manifest.json"
    m = read_manifest(folder)
    assert m["followup"]["method"] == "conditional"
    sample1 = read_table(data / "sample_2018" / "sample.csv", "sample")
    results = read_table(data / "results_2018.csv", "results")
    seen = results["visit_status"].isin(["completed", "substitute"])
    assert m["observed"]["households"] == int(seen.sum())
    sample2 = read_table(folder / "sample.csv", "sample")
    assert not sample2["household_id"].isin(results.loc[seen, "household_id"]).any()
    assert verify_followup(mpath).rows == len(sample2)

    # phase-2 fieldwork: a row per phase-2 primary, replacing the phase-1 row of a household
    # phase 1 did not observe (one row per household in the file), appended otherwise
    path = data / "results_2018.csv"
    original = path.read_bytes()
    lines = original.decode("utf-8-sig").splitlines(keepends=True)
    at = {ln.split(",", 1)[0]: i for i, ln in enumerate(lines)}
    replaced = 0
    for r in sample2[sample2["role"] == "primary"].itertuples():
        row = f"{r.household_id},2018,完成,{_ANSWERS[r.frame]},满意,是,是,是,是\n"
        if r.household_id in at:
            lines[at[r.household_id]] = row
            replaced += 1
        else:
            lines.append(row)
    assert replaced == 0  # phase 2 never draws a household of the phase-1 sample
    assert not sample2["household_id"].isin(sample1["household_id"]).any()
    path.write_text("".join(lines), encoding="utf-8-sig")
    assert verify_followup(mpath).rows == len(sample2)
    assert main(["design", "--verify", str(mpath)]) == 0
    assert "核验通过" in capsys.readouterr().out

    # a phase-1 row of a household phase 2 did not draw, changed: refused
    kept = next(i for i, ln in enumerate(lines[1:], 1) if ",完成," in ln
                and ln.split(",", 1)[0] in set(sample1["household_id"])
                and ln.split(",", 1)[0] not in set(sample2["household_id"]))
    bad = list(lines)
    bad[kept] = bad[kept].replace(",完成,", ",无法入户,", 1)
    path.write_text("".join(bad), encoding="utf-8-sig")
    with pytest.raises(VerificationError, match="第一阶段结果在复核抽样后被修改过"):
        verify_followup(mpath)
    path.write_text("".join(lines), encoding="utf-8-sig")

    # the sample changed: refused
    sample_bytes = (folder / "sample.csv").read_bytes()
    (folder / "sample.csv").write_bytes(sample_bytes.replace(b"\n", b"\r\n", 1))
    with pytest.raises(VerificationError, match="样本文件缺失或在抽样后被修改过"):
        verify_followup(mpath)
    (folder / "sample.csv").write_bytes(sample_bytes)

    # the rule changed in the manifest: refused (its hash; and with the hash recomputed, the
    # rule the phase-1 manifest registered)
    from quchi_stats.sampling.manifest import rule_sha256

    manifest_bytes = mpath.read_bytes()
    m2 = json.loads(manifest_bytes)
    m2["followup"]["households"]["registered"] = 5
    mpath.write_text(json.dumps(m2, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="复核规则在抽样后被改动过"):
        verify_followup(mpath)
    m2["followup_sha256"] = rule_sha256(m2["followup"])
    mpath.write_text(json.dumps(m2, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerificationError, match="规则与第一阶段抽样清单登记的规则不同"):
        verify_followup(mpath)

    # the observed households recorded differently: refused
    m3 = json.loads(manifest_bytes)
    m3["observed"]["households"] += 1
    mpath.write_text(json.dumps(m3, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(VerificationError, match="第一阶段已入户的户（.* 户）与复核清单记录的不同"):
        verify_followup(mpath)
    mpath.write_bytes(manifest_bytes)
    path.write_bytes(original)


def test_conditional_no_qualifying_town(tmp_path, capsys):
    """The conditional method with no pair at p1 ≤ α0 (义务教育保障: every town's p1 > 0.6 in the
    bundled year): the command says so, writes nothing and exits 0."""
    data, spec = _conditional_year(tmp_path, ["compulsory_education"])
    capsys.readouterr()
    assert main(["followup", "--year", "2018", "--data", str(data), "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "条件检验" in out and "不需要复核，未写出任何文件" in out
    assert not (data / "followup_2018").exists()
    assert not any(p.name.startswith(".followup_2018") for p in data.iterdir())


def test_rerun_on_the_bundled_year_with_its_seed_changes_nothing(tmp_path, capsys):
    """The bundled results file holds both phases (the 复核 rows appended after the draw): a re-run
    with the manifest's seed is the same draw (the phase-1 rows are what it depended on) and
    leaves the audit record as it was; without the seed the refusal names both seeds."""
    data = tmp_path / "data"
    shutil.copytree(data_path(), data)
    folder = data / "followup_2018"
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    seed = json.loads(before["manifest.json"])["seed"]
    args = ["followup", "--year", "2018", "--data", str(data), "--spec", str(data / "spec_2018.toml")]
    assert main([*args, "--seed", str(seed)]) == 0
    assert "已存在且与本次抽样完全相同，未改动" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert main([*args, "--seed", str(seed + 1)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"清单记录的随机种子是 {seed}，本次是 {seed + 1}" in err and err.count("\n") == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
