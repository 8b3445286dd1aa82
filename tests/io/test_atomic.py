"""A directory replaced as one set, under a lock: failures, kills, stale files, concurrent runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

import quchi_stats.io.atomic as atomic
from quchi_stats.errors import OutputExistsError, OutputLockedError, QuchiStatsWarning
from quchi_stats.io.atomic import AtomicDirectory


def _tree(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _beside(path):
    """Hidden entries the machinery leaves beside the target (tmp, old, lock)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith("."))


def _write(stage, files):
    for name, data in files.items():
        (stage.path / name).write_bytes(data)


@pytest.fixture(params=[True, False], ids=["exchange", "two-renames"])
def swap_mode(request, monkeypatch):
    """Both swaps: renameat2(RENAME_EXCHANGE) where the system has it, and the portable fallback."""
    if not request.param:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    return request.param


def test_new_set_replaces_old_and_stale_files_go(tmp_path, swap_mode):
    out = tmp_path / "rep"
    with AtomicDirectory(out) as stage:
        assert stage.previous is None
        _write(stage, {"a.csv": b"old a", "rejects.csv": b"old rejects"})
    assert _tree(out) == {"a.csv": b"old a", "rejects.csv": b"old rejects"}
    with AtomicDirectory(out) as stage:
        assert stage.previous == out
        _write(stage, {"a.csv": b"new a"})
    assert _tree(out) == {"a.csv": b"new a"}  # the earlier rejects.csv did not survive
    assert _beside(out) == []  # no tmp, old or lock left
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~atomic._umask())


def test_failure_while_writing_keeps_the_old_set(tmp_path, swap_mode):
    out = tmp_path / "rep"
    with AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"old a", "b.csv": b"old b"})
    with pytest.raises(RuntimeError), AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"new a"})
        raise RuntimeError("disk full")
    assert _tree(out) == {"a.csv": b"old a", "b.csv": b"old b"}
    assert _beside(out) == []


def test_failed_second_rename_puts_the_old_set_back(tmp_path, monkeypatch):
    out = tmp_path / "rep"
    with AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"old"})
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real = os.rename

    def rename(src, dst):
        if str(src).find(".tmp-") >= 0:
            raise OSError("simulated failure of the second rename")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError, match="simulated"), AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"new"})
    assert _tree(out) == {"a.csv": b"old"}
    assert _beside(out) == []


def test_a_crash_between_the_two_renames_is_recovered_by_the_next_run(tmp_path):
    """Target gone, the old set under .old-, the new one under .tmp-: the next run restores the
    old set before anything else (and says so), and removes the leftovers."""
    out = tmp_path / "rep"
    old = tmp_path / ".rep.old-1234abcd"
    old.mkdir()
    (old / "a.csv").write_bytes(b"old")
    tmp = tmp_path / ".rep.tmp-xyz"
    tmp.mkdir()
    (tmp / "a.csv").write_bytes(b"half")
    (tmp_path / ".rep.lock-4321-00ff").write_bytes(b"pid=4321\n")  # killed while taking the lock
    with pytest.warns(QuchiStatsWarning, match="中断，已恢复替换前的内容"), \
            AtomicDirectory(out) as stage:
        assert stage.previous == out and (out / "a.csv").read_bytes() == b"old"
        stage.discard()
    assert _tree(out) == {"a.csv": b"old"}
    assert _beside(out) == []


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    out = tmp_path / "rep"
    with AtomicDirectory(out) as first:
        _write(first, {"a.csv": b"first"})
        with pytest.raises(OutputLockedError) as info, AtomicDirectory(out):
            pass  # pragma: no cover
        msg = str(info.value)
        assert "\n" not in msg and f"pid {os.getpid()}" in msg and "正在写" in msg
        assert ".rep.lock" in msg
    assert _tree(out) == {"a.csv": b"first"}
    assert _beside(out) == []


def test_foreign_files_are_refused_not_deleted(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "my notes.docx").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="不是本命令写出的文件“my notes.docx”"), \
            AtomicDirectory(out, owned={"a.csv"}):
        pass  # pragma: no cover
    assert _tree(out) == {"my notes.docx": b"keep me"}
    assert _beside(out) == []


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from quchi_stats.io.atomic import AtomicDirectory
    with AtomicDirectory(sys.argv[1]) as stage:
        (stage.path / "estimates.csv").write_bytes(b"new estimates")
        print("READY", flush=True)
        time.sleep(60)
        (stage.path / "flags.csv").write_bytes(b"new flags")
""")


def test_sigkill_while_writing_leaves_the_old_set_and_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "rep"
    with AtomicDirectory(out) as stage:
        _write(stage, {"estimates.csv": b"old estimates", "flags.csv": b"old flags"})
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(out)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert _tree(out) == {"estimates.csv": b"old estimates", "flags.csv": b"old flags"}
    left = _beside(out)
    assert ".rep.lock" in left and any(n.startswith(".rep.tmp-") for n in left)
    # the dead run's lock is stale (its flock died with it): broken with a note, tmp removed
    with pytest.warns(QuchiStatsWarning, match="已清除中断的运行留下的锁文件"), \
            AtomicDirectory(out) as stage:
        _write(stage, {"estimates.csv": b"third"})
    assert _tree(out) == {"estimates.csv": b"third"}
    assert _beside(out) == []


def test_exchange_swaps_two_directories_in_one_call(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_bytes(b"from a")
    (b / "x").write_bytes(b"from b")
    if not atomic._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) not available here: the fallback is tested above")
    assert (a / "x").read_bytes() == b"from b" and (b / "x").read_bytes() == b"from a"


def test_lock_without_hard_links(tmp_path, monkeypatch):
    """FAT/exFAT (USB sticks) have no hard links: the lock is an O_EXCL file, flock-ed."""
    import errno

    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_link)
    out = tmp_path / "rep"
    with AtomicDirectory(out) as first:
        _write(first, {"a.csv": b"first"})
        assert (tmp_path / ".rep.lock").read_text().startswith(f"pid={os.getpid()}")
        with pytest.raises(OutputLockedError, match="正在写"), AtomicDirectory(out):
            pass  # pragma: no cover
    assert _tree(out) == {"a.csv": b"first"} and _beside(out) == []
    # a lock left by a dead run (nobody holds its flock) is broken here too
    (tmp_path / ".rep.lock").write_text("pid=999999\nhost=x\n")
    with pytest.warns(QuchiStatsWarning, match="pid 999999"), AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"second"})
    assert _tree(out) == {"a.csv": b"second"} and _beside(out) == []


def test_file_manager_litter_does_not_block_and_goes_with_the_old_set(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    for name in ("a.csv", "Thumbs.db", "desktop.ini", "~$a.xlsx"):
        (out / name).write_bytes(b"x")
    with AtomicDirectory(out, owned={"a.csv"}) as stage:
        assert stage.previous == out
        _write(stage, {"a.csv": b"new"})
    assert _tree(out) == {"a.csv": b"new"}


def test_a_file_held_open_elsewhere_is_a_clear_error(tmp_path, monkeypatch):
    """Windows refuses to rename a folder whose file Excel has open: one line, old set kept."""
    out = tmp_path / "rep"
    with AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"old"})
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    real = os.rename

    def rename(src, dst):
        if str(dst).find(".old-") >= 0:
            raise PermissionError(13, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OutputLockedError, match="正被其他程序（如 Excel、浏览器）打开"), \
            AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"new"})
    assert _tree(out) == {"a.csv": b"old"} and _beside(out) == []


def test_a_live_runs_private_lock_name_survives_the_cleanup(tmp_path):
    """A run cleaning up must not delete another live run's private lock name (between its create
    and its link); one of a dead run is removed. Found by two `report` runs started together."""
    out = tmp_path / "rep"
    live = tmp_path / f".rep.lock-{os.getpid()}-abcd1234"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
    dead = tmp_path / f".rep.lock-{dead_pid}-abcd1234"
    live.write_bytes(b"pid\n")
    dead.write_bytes(b"pid\n")
    with AtomicDirectory(out) as stage:
        _write(stage, {"a.csv": b"a"})
    assert live.exists() and not dead.exists()
