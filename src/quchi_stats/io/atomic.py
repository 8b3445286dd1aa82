"""Replace a whole output directory (a report, a sample with its manifest) as one set, under a lock.

:class:`AtomicDirectory` stages the new set in a hidden temporary directory beside the target
(``.<name>.tmp-XXXX``) and, once every file is written and flushed, swaps it in:

* On Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` system call (through ``ctypes``): the
  target name points at the complete old set until the instant it points at the complete new set,
  and never at nothing. The old set, now under the temporary name, is then removed.
* Where that call is unavailable (another OS, an old kernel or C library, a file system that
  refuses it) the swap is two ``os.rename`` calls: old → ``.<name>.old-XXXX``, new → target. A crash
  between them leaves no target but both complete sets; the next run under the same lock renames
  the ``.old`` set back before doing anything else, so nothing is lost and nothing mixed.

A failure (an exception, or the process killed) before the swap leaves the old set untouched; the
temporary directory of a killed run is hidden (its name starts with a dot) and removed by the next
run. Files of the old set that the new run does not write (an earlier ``rejects.csv``) do not survive
the swap. The target must hold only files the command itself writes (``owned``): a directory with
other files is refused, since replacing it would delete them.

The lock is the file ``.<name>.lock`` beside the target, holding the pid and host of the running
process. On POSIX it is created already ``flock``-ed (written under a private name, locked, then
hard-linked into place), so a lock file always belongs to a live process unless that process died;
the kernel releases an ``flock`` when its process dies, so a lock file that can be locked again is
stale and is broken (under that new ``flock``, so two runs cannot break it both) with a warning. On
a file system without hard links (FAT/exFAT USB sticks) the lock is created with ``O_CREAT |
O_EXCL`` and flock-ed right after. On Windows (no ``flock``) it is an ``O_CREAT | O_EXCL`` file that
is never broken automatically: the message names the file to delete once no other run is active.
Besides the files the command writes, a target may hold what file managers leave (``Thumbs.db``,
``desktop.ini``, ``.DS_Store``) and Excel's ``~$`` owner files; those go with the old set.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path

from ..errors import OutputExistsError, OutputLockedError, QuchiStatsWarning

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["AtomicDirectory", "atomic_directory"]

_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOLCK, errno.EXDEV,
            errno.ENOSYS, errno.EMLINK}
# what file managers put into any folder: not a reason to refuse it
_SYSTEM_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one system call; False when the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory of ``root`` to disk (so a power cut cannot swap in holes)."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _lock_text() -> bytes:
    return f"pid={os.getpid()}\nhost={socket.gethostname()}\n".encode()


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "另一个进程"
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid, host = fields.get("pid", "?"), fields.get("host", "?")
    return f"另一个 quchi-stats 进程（pid {pid}，主机 {host}）"


class AtomicDirectory:
    """Stage a directory beside ``target`` and swap it in as one set (see the module's notes).

    Parameters
    ----------
    target : path
        The output directory.
    owned : iterable of str, optional
        Names the command writes. An existing target holding anything else is refused; ``None``
        skips that check.

    Use as a context manager: ``with AtomicDirectory(out, owned=...) as stage:`` write the files
    into ``stage.path``; the swap happens when the block ends without an exception, unless
    :meth:`discard` was called. ``stage.previous`` is the existing target (or None), readable
    while staging: whether it may be replaced is the caller's decision, taken under the lock.
    """

    def __init__(self, target: str | Path, *, owned: Iterable[str] | None = None) -> None:
        target = Path(os.path.abspath(target))
        if target.is_symlink():
            target = target.resolve()
        self.target = target
        self.owned = None if owned is None else frozenset(owned)
        self.path: Path | None = None
        self.previous: Path | None = None
        self._lock_fd: int | None = None
        self._keep = True

    # --- lock ---------------------------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.target.parent / f".{self.target.name}.lock"

    def _acquire(self) -> None:
        lock = self.lock_path
        if fcntl is not None:
            try:
                self._acquire_linked(lock)
                return
            except OSError as exc:
                if isinstance(exc, FileExistsError) or exc.errno not in _NO_LINK:
                    raise
            # a file system without hard links (FAT/exFAT USB sticks) or without flock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        except FileExistsError:
            if fcntl is None:  # pragma: no cover - Windows: never broken automatically
                raise self._held() from None
            self._break_stale(lock)
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
            except FileExistsError:
                raise self._held() from None
        if fcntl is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, _lock_text())
        self._lock_fd = fd

    def _acquire_linked(self, lock: Path) -> None:
        """Create ``lock`` already flock-ed: written and locked under a private name, then
        hard-linked into place (so no one ever sees it unlocked while its process lives)."""
        private = lock.parent / f".{self.target.name}.lock-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(private, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, _lock_text())
            os.fsync(fd)
            for _attempt in range(2):
                try:
                    os.link(private, lock)
                    self._lock_fd = fd
                    return
                except FileExistsError:
                    self._break_stale(lock)
            raise self._held()  # pragma: no cover - a third run took it in between
        except BaseException:
            os.close(fd)
            raise
        finally:
            private.unlink(missing_ok=True)

    def _break_stale(self, lock: Path) -> None:
        """Remove ``lock`` if its process died (its flock is free); raise when it is held."""
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            return  # released meanwhile: try again
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # held (or no flock here: cannot tell, so treat it as held)
                raise self._held() from None
            # we hold the old lock's flock: nobody else can break it; it is stale if still in place
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                same = False
            if same:
                holder = _holder(lock)
                lock.unlink()
                warnings.warn(f"已清除中断的运行留下的锁文件 {lock.name}（{holder}已不在运行）。",
                              QuchiStatsWarning, stacklevel=4)
        finally:
            os.close(fd)

    def _held(self) -> OutputLockedError:
        return OutputLockedError(
            f"{_holder(self.lock_path)}正在写 {self.target}（锁文件 {self.lock_path}）；"
            "请等它结束后再运行。如确认没有别的运行，可删除该锁文件。")

    def _release(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    # --- leftovers of killed runs ---------------------------------------------------------------
    def _recover(self) -> None:
        parent, name = self.target.parent, self.target.name
        olds = sorted(parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds and not self.target.exists():
            # a run was killed between its two renames: the old set is complete, put it back
            os.rename(olds.pop(), self.target)
            warnings.warn(f"上次运行在替换 {self.target} 时中断，已恢复替换前的内容。",
                          QuchiStatsWarning, stacklevel=4)
        for p in olds + sorted(parent.glob(f".{name}.tmp-*")):
            shutil.rmtree(p, ignore_errors=True)
        for p in parent.glob(f".{name}.lock-*"):  # a private lock name of a run killed early
            if not _pid_alive(p.name[len(f".{name}.lock-"):].split("-")[0]):
                p.unlink(missing_ok=True)  # a live run's private name is about to become its lock

    def _check_target(self) -> None:
        t = self.target
        if not t.exists():
            return
        if not t.is_dir():
            raise OutputExistsError(f"{t} 已存在，且不是目录；请换一个输出目录。")
        entries = sorted(p.name for p in t.iterdir())
        if self.owned is not None:
            foreign = [n for n in entries if n not in self.owned and n not in _SYSTEM_FILES
                       and not n.startswith("~$")]  # ~$ files: Excel has the workbook open
            if foreign:
                raise OutputExistsError(
                    f"{t} 中有不是本命令写出的文件“{foreign[0]}”等 {len(foreign)} 项；输出目录整体替换时"
                    "会删除它们：请换一个输出目录，或先移走这些文件。")
        if entries:
            self.previous = t

    # --- context manager --------------------------------------------------------------------------
    def discard(self) -> None:
        """Do not swap: the staged directory is removed and the target left as it is."""
        self._keep = False

    def __enter__(self) -> AtomicDirectory:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._recover()
            self._check_target()
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-",
                                              dir=self.target.parent))
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.path is None:  # pragma: no cover - __enter__ failed
            return
        try:
            if exc_type is None and self._keep:
                self._swap()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
            self._release()

    def _swap(self) -> None:
        staged, target = self.path, self.target
        os.chmod(staged, 0o777 & ~_umask())
        _fsync_tree(staged)
        try:
            if not target.exists():
                os.rename(staged, target)
            elif _exchange(staged, target):
                pass  # the old set is now under the staged name and is removed by __exit__
            else:
                old = target.parent / f".{target.name}.old-{secrets.token_hex(4)}"
                os.rename(target, old)
                try:
                    os.rename(staged, target)
                except BaseException:
                    os.rename(old, target)
                    raise
                shutil.rmtree(old, ignore_errors=True)
        except PermissionError as exc:  # Windows: a file of the old set is open elsewhere
            raise OutputLockedError(
                f"无法换入新的 {target}（{exc.strerror}）：其中的文件可能正被其他程序（如 Excel、浏览器）"
                "打开；请关闭后重新运行。原有内容未改动。") from None
        _fsync_dir(target.parent)


def atomic_directory(target: str | Path, *, owned: Iterable[str] | None = None) -> AtomicDirectory:
    """Shorthand for :class:`AtomicDirectory` (``with atomic_directory(out) as stage: ...``)."""
    return AtomicDirectory(target, owned=owned)


def _pid_alive(text: str) -> bool:
    """Whether the process whose id is ``text`` (from a private lock name) still runs here."""
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there: never delete
        return True
    try:
        pid = int(text)
    except ValueError:
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists but belongs to someone else (or cannot be asked): leave it
    return True
