"""The report's figures drawn two at a time: part of them in a forked process (Linux).

A report's figures are independent of each other and of the page's font subset, and each is
drawn to the same bytes on any canvas (:class:`~quchi_stats.report.build.FigureCanvas`, tested).
So while this process subsets the page's font, a forked copy of it draws the figures at the end
of the list; this process then draws those at the start and reads the others back. The bytes are
those of drawing them one after another here (tested), whatever the split.

Fork only: the figures are closures over the assessment's frames, which a forked process has
without pickling. Where fork is unavailable (Windows, macOS' default), when this process runs
other threads (forking them is unsafe), when the cores are likely busy (:func:`can_fork`), or for
fewer than four figures, everything is drawn here, in order. If the forked process fails (an error while drawing, a warning the caller turned into
an error), its figures are drawn here again, so the error is raised here as it would have been;
the warnings it met are given again here.
"""

from __future__ import annotations

import gc
import sys
import threading
import warnings
from collections.abc import Callable, Sequence

__all__ = ["can_fork", "draw_forked", "split"]

#: Below this many figures, forking costs more than it saves.
MIN_FIGURES = 4


def can_fork() -> bool:
    """Whether figures may be drawn in a forked process: Linux, fork available, one thread, and
    some core time likely free (the last minute's load average below the number of cores).

    The forked process costs about 0.5 s more CPU a report. Measured on the 2-core CI machine
    (AMD EPYC, 2026-12-03, wall time of the 2018 report, medians of 3): idle (load 0.7–1.2) 2.0–2.1
    s forked against 3.1–3.5 s drawn here; with one other busy process (load 1.0–1.7) 2.6–3.3 s
    against 2.6–4.3 s; with two (load 1.9–2.8) 5.1 s against 7.1 s. Forking is kept for loads below
    the cores, where it saves time without taking a whole core from other work; the bytes are the
    same either way (tested)."""
    import multiprocessing
    import os

    if not (sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1):
        return False
    cores = os.cpu_count() or 1
    return cores > 1 and os.getloadavg()[0] < cores


def split(n: int, here_extra: int = 5) -> int:
    """How many of ``n`` figures this process draws (the first ones): about half of them, less
    ``here_extra`` / 2 for what this process does meanwhile (the font subset: about five figures'
    time). The rest is drawn by the forked process."""
    return max(0, min(n, (n - here_extra) // 2))


def _child(conn, draw_one: Callable[[int], str], indices: Sequence[int]) -> None:
    """In the forked process: draw ``indices`` and send ``("ok", pngs, warnings)`` or ``("failed",)``.

    The collector is off here: a collection walks every object of the copied process, which makes
    the kernel copy the pages it touches; this short-lived process frees what it drew on exit."""
    gc.disable()
    try:
        with warnings.catch_warnings(record=True) as caught:  # the caller's filters kept
            pngs = [draw_one(i) for i in indices]
        said = [(str(w.message), w.category, w.filename, w.lineno) for w in caught]
        conn.send(("ok", pngs, said))
    except BaseException:  # any failure: the parent draws these figures itself
        try:
            conn.send(("failed",))
        except OSError:  # the parent is gone
            pass
    finally:
        conn.close()


def draw_forked(draw_one: Callable[[int], str], n: int, meanwhile: Callable[[], object]):
    """``meanwhile()``'s result and the ``n`` figures ``draw_one(0)`` … ``draw_one(n - 1)`` (each
    a str), the later ones drawn in a forked process while this one runs ``meanwhile`` and then
    draws the first ones. Serial (``meanwhile`` first, then the figures in order) where forking
    is not possible or not worth it (:func:`can_fork`, :data:`MIN_FIGURES`)."""
    if n < MIN_FIGURES or not can_fork():
        result = meanwhile()
        return result, [draw_one(i) for i in range(n)]
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    k = split(n)
    theirs = list(range(k, n))
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, draw_one, theirs), daemon=True)
    proc.start()
    send.close()
    try:
        result = meanwhile()
        mine = [draw_one(i) for i in range(k)]
        try:
            answer = receive.recv()
        except EOFError:  # the process died without a word
            answer = ("failed",)
    except BaseException:
        proc.terminate()  # an error here: its figures are not wanted
        raise
    finally:
        receive.close()
        proc.join()
    if answer[0] != "ok":
        return result, mine + [draw_one(i) for i in theirs]
    for message, category, filename, lineno in answer[2]:
        warnings.warn_explicit(message, category, filename, lineno)
    return result, mine + list(answer[1])
