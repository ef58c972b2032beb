"""short_gil_turns sets and restores Python's switch interval, also when blocks overlap."""

from __future__ import annotations

import sys
import threading

import pytest

from napari_vqmap.napari.background import (
    GIL_TURN_S,
    StepRunner,
    short_gil_turns,
)


def test_short_gil_turns_restores_after_the_last_overlapping_block():
    before = sys.getswitchinterval()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with short_gil_turns():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with short_gil_turns():
        assert sys.getswitchinterval() == pytest.approx(min(before, GIL_TURN_S))
        thread.start()
        assert inside.wait(5)
    # the other block still runs
    assert sys.getswitchinterval() == pytest.approx(min(before, GIL_TURN_S))
    release.set()
    thread.join(5)
    assert sys.getswitchinterval() == before


def test_short_gil_turns_restores_after_an_error():
    before = sys.getswitchinterval()
    try:
        with short_gil_turns():
            raise KeyError("boom")
    except KeyError:
        pass
    assert sys.getswitchinterval() == before


def test_step_runner_runs_one_step_per_event_loop_turn(qtbot):
    from qtpy.QtWidgets import QApplication

    runner = StepRunner()
    ran: list[str] = []
    done: list[bool] = []
    runner.start([lambda: ran.append("a"), lambda: ran.append("b")], lambda: done.append(True))
    assert runner.busy and ran == []  # nothing runs before the event loop turns
    QApplication.processEvents()
    assert ran[:1] == ["a"]
    qtbot.waitUntil(lambda: not runner.busy, timeout=2000)
    assert ran == ["a", "b"] and done == [True]
    with pytest.raises(RuntimeError, match="still running"):
        runner.start([lambda: None])
        runner.start([lambda: None])


def test_step_runner_stops_at_a_failing_step(qtbot):
    runner = StepRunner()
    ran: list[str] = []
    errors: list[Exception] = []

    def broken() -> None:
        raise ValueError("layer went away")

    runner.start([broken, lambda: ran.append("after")], lambda: ran.append("done"), errors.append)
    qtbot.waitUntil(lambda: not runner.busy, timeout=2000)
    assert ran == [] and [str(e) for e in errors] == ["layer went away"]
