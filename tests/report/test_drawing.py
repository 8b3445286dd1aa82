"""The report's figures drawn two at a time (report/drawing.py): same results, same order, same
bytes as one after another; a failure or a warning in the forked process is met here."""

from __future__ import annotations

import os
import sys
import warnings

import pytest

import quchi_stats.report.drawing as drawing
from quchi_stats.report.drawing import draw_forked, split

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="fork is used on Linux only")


@pytest.fixture
def forking(monkeypatch):
    """Fork even in a test worker that runs other threads (the figures' code runs none)."""
    monkeypatch.setattr(drawing, "can_fork", lambda: True)


def test_the_forked_process_draws_the_last_figures_in_order(forking):
    here = os.getpid()
    result, out = draw_forked(lambda i: f"{i}:{os.getpid()}", 12, lambda: "font")
    assert result == "font"
    k = split(12)
    assert 0 < k < 12
    assert [o.split(":")[0] for o in out] == [str(i) for i in range(12)]
    pids = [int(o.split(":")[1]) for o in out]
    assert pids[:k] == [here] * k  # the first ones here, after `meanwhile`
    assert len(set(pids[k:])) == 1 and pids[k] != here  # the others in one forked process


def test_serial_where_fork_is_not_used(monkeypatch):
    monkeypatch.setattr(drawing, "can_fork", lambda: False)
    order = []
    result, out = draw_forked(lambda i: order.append(i) or str(i), 6, lambda: order.append("m"))
    assert order == ["m", 0, 1, 2, 3, 4, 5] and out == list("012345") and result is None
    monkeypatch.setattr(drawing, "can_fork", lambda: True)
    order.clear()
    draw_forked(lambda i: order.append(i) or str(i), drawing.MIN_FIGURES - 1, lambda: None)
    assert order == list(range(drawing.MIN_FIGURES - 1))  # too few to fork: all here


def test_a_failure_in_the_forked_process_is_raised_here(forking):
    here = os.getpid()

    def draw(i):
        if i == 10:
            raise ValueError(f"figure {i} in {'this' if os.getpid() == here else 'the forked'} process")
        return str(i)

    with pytest.raises(ValueError, match="figure 10 in this process"):
        draw_forked(draw, 12, lambda: None)


def test_warnings_of_the_forked_process_are_given_here(forking):
    def draw(i):
        if i == 11:
            warnings.warn("最后一个图的提示", UserWarning, stacklevel=1)
        return str(i)

    with pytest.warns(UserWarning, match="最后一个图的提示"):
        _, out = draw_forked(draw, 12, lambda: None)
    assert out == [str(i) for i in range(12)]


def test_an_error_here_stops_the_forked_process(forking):
    with pytest.raises(KeyError):
        draw_forked(lambda i: str(i), 12, lambda: {}["font"])


def test_report_figures_drawn_forked_are_those_drawn_one_by_one(forking, assessment_2018_shared):
    """The report canvas's queue (FigureCanvas.drawing): the same PNG bytes as the figures
    drawn one after another on a new canvas, and the queued figures are empty meanwhile."""
    from quchi_stats.report.build import FigureCanvas, organ_pipe_figures

    draws = [draw for _, _, draw in organ_pipe_figures(assessment_2018_shared)][:5]
    assert len(draws) >= drawing.MIN_FIGURES
    canvas = FigureCanvas()
    queued = [canvas.later(d) for d in draws]
    seen = canvas.drawing(lambda: [q.__html__() for q in queued])
    assert seen == [""] * len(draws)
    serial = FigureCanvas()
    assert [str(q) for q in queued] == [str(serial.later(d)) for d in draws]


def test_no_fork_without_a_free_core_or_with_other_threads(monkeypatch):
    import threading

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.5, 3.0, 3.0))
    assert not drawing.can_fork()  # both cores busy: drawn here
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert not drawing.can_fork()  # as many running as cores: drawn here
    for load in (0.4, 1.5):  # part of a core free: forked
        monkeypatch.setattr(os, "getloadavg", lambda load=load: (load, 0.5, 0.5))
        assert drawing.can_fork() == (threading.active_count() == 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not drawing.can_fork()
