"""Running work beside napari's GUI thread without stalling it.

Worker threads that run Python code (preprocessing, matplotlib drawing) hold the GIL, and
the GUI thread waits up to Python's switch interval (5 ms by default) each time it takes
the GIL back. Qt calls into Python for many events (napari overrides event handlers in
Python), so a busy worker stalled the viewer for about 100 ms per repaint.
:func:`short_gil_turns` shortens the interval to 0.2 ms while such work runs (measured in
``benchmarks/bench_napari_motifs.py``: gaps while training with the live plots fell from
~100 ms at 1 ms to ~25 ms). :class:`StepRunner` runs GUI-thread work that
must touch napari layers (setting a property of a large layer and its redraw) one step per
turn of Qt's event loop, so the viewer paints and answers between steps.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qtpy.QtCore import QObject, QTimer

GIL_TURN_S = 0.0002
# Between GUI steps: with 0 ms, Qt may run the next step before painting the last.
STEP_DELAY_MS = 5


_lock = threading.Lock()
_users = 0
_saved_interval = sys.getswitchinterval()


@contextmanager
def short_gil_turns() -> Iterator[None]:
    """Make threads hand over the GIL every ``GIL_TURN_S`` while the block runs.

    The switch interval is process-wide: the first block to start saves it and the last
    one to end restores it, so blocks may overlap across threads.
    """
    global _users, _saved_interval
    with _lock:
        if _users == 0:
            _saved_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_interval, GIL_TURN_S))
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                sys.setswitchinterval(_saved_interval)


def _nothing(*args: object) -> None:
    return None


class StepRunner(QObject):
    """Run callables on the GUI thread, one per turn of Qt's event loop, ``STEP_DELAY_MS``
    apart, then ``on_done()``. A step that raises ends the run with ``on_error(err)``
    instead (the remaining steps are dropped)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._steps: list[Callable[[], object]] = []
        self._running = False
        self._on_done: Callable[[], object] = _nothing
        self._on_error: Callable[[Exception], object] = _nothing

    @property
    def busy(self) -> bool:
        """Whether a run has started and not yet ended (``on_done``/``on_error`` called)."""
        return self._running

    def start(
        self,
        steps: list[Callable[[], object]],
        on_done: Callable[[], object] = _nothing,
        on_error: Callable[[Exception], object] = _nothing,
    ) -> None:
        """Queue ``steps``; the first runs on the next turn of the event loop."""
        if self._running:
            raise RuntimeError("StepRunner.start: the previous steps are still running")
        self._steps, self._on_done, self._on_error = list(steps), on_done, on_error
        self._running = True
        QTimer.singleShot(0, self._next)

    def _next(self) -> None:
        if not self._steps:
            self._running = False
            self._on_done()
            return
        try:
            self._steps.pop(0)()
        except Exception as err:  # e.g. a layer changed under us: report it, end the run
            self._steps, self._running = [], False
            self._on_error(err)
            return
        QTimer.singleShot(STEP_DELAY_MS if self._steps else 0, self._next)
