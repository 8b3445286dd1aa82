"""The audit record: write, verify, refuse to overwrite, detect tampering."""

from __future__ import annotations

import json
import re

import pytest

from quchi_stats.errors import DataError, OutputExistsError, VerificationError
from quchi_stats.io import read_table, write_csv
from quchi_stats.sampling import (
    DesignPlan,
    draw_from_file,
    read_manifest,
    verify_manifest,
    verify_sample,
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
    old_manifest = (folder / "manifest.json").read_bytes()
    replaced = write_sample(other, folder, register_file, force=True)
    assert not replaced.unchanged
    assert read_manifest(folder)["seed"] == 2
    # the replaced sample and its manifest are kept, byte for byte, inside the new folder
    kept = list((folder / "replaced").iterdir())
    assert len(kept) == 1 and re.fullmatch(r"\d{8}T\d{6}Z", kept[0].name)
    assert (kept[0] / "sample.csv").read_bytes() == before
    assert (kept[0] / "manifest.json").read_bytes() == old_manifest
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "replaced", "sample.csv"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no tmp, no lock
    # the identical redraw changes nothing, and verification ignores replaced/
    assert write_sample(other, folder, register_file).unchanged
    assert verify_manifest(folder).rows == len(other.sample) and verify_sample(folder)
    # a third draw keeps both earlier ones (the trace accumulates)
    write_sample(draw_from_file(register_file, PLAN, seed=3), folder, register_file, force=True)
    kept = sorted((folder / "replaced").iterdir())
    assert len(kept) == 2
    assert {read_manifest(k)["seed"] for k in kept} == {1, 2}


def test_verify_sample_checks_the_manifest_cheaply(tmp_path, register_file):
    out = write_sample(draw_from_file(register_file, PLAN, seed=3), tmp_path / "s", register_file)
    assert verify_sample(out.sample_path.parent)["seed"] == 3
    original = out.sample_path.read_bytes()
    lines = original.decode("utf-8-sig").splitlines()
    # one household deleted: the row count differs
    out.sample_path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8-sig")
    with pytest.raises(VerificationError, match=rf"有 {len(lines) - 2} 行，抽样清单记录 "
                                                rf"{len(lines) - 1} 行.*--no-verify") as info:
        verify_sample(out.sample_path.parent)
    assert "\n" not in str(info.value) and "sample.csv" in str(info.value)
    # a primary household turned into a reserve: same rows, other bytes
    text = original.decode("utf-8-sig")
    assert ",primary," in text
    out.sample_path.write_bytes(text.replace(",primary,", ",reserve,", 1).encode("utf-8-sig"))
    with pytest.raises(VerificationError, match="SHA-256 与抽样清单 manifest.json 记录的不同"):
        verify_sample(out.sample_path.parent)
    out.sample_path.write_bytes(original)
    out.manifest_path.unlink()
    with pytest.raises(VerificationError, match="找不到抽样清单"):
        verify_sample(out.sample_path.parent)
    out.manifest_path.write_text("{}", encoding="utf-8")
    with pytest.raises(VerificationError, match="不是有效的抽样清单"):
        verify_sample(out.sample_path.parent)


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
