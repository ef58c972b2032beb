"""Running work beside napari's GUI thread without stalling it.

Worker threads that run Python code (preprocessing, matplotlib drawing) hold the GIL, and
the GUI thread waits up to Python's switch interval (5 ms by default) each time it takes
the GIL back. Qt calls into Python for many events (napari overrides event handlers in
Python), so a busy worker stalled the viewer for about 100 ms per repaint.
:func:`short_gil_turns` shortens the interval to 0.2 ms while such work runs (measured in
``benchmarks/bench_napari_motifs.py``: gaps while training with the live plots fell from
~100 ms at 1 ms to ~25 ms); :func:`preload_torch_optim` moves a slow first-use import of
``torch.optim`` to a moment when nothing runs.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

GIL_TURN_S = 0.0002
PRELOAD_THREAD = "vqmap-preload"  # the thread of preload_torch_optim
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


def _import_torch_dynamo() -> None:
    import torch._dynamo  # noqa: F401


def preload_torch_optim() -> None:
    """Import what ``torch.optim`` imports when the first optimizer is made.

    That is ``torch._dynamo`` (1-2 s, in which unpacking its and sympy's large compiled
    modules holds the GIL for up to ~0.1-0.3 s at a time, whatever the switch interval):
    done in a background thread when the Train widget opens, not when training starts.
    """
    if "torch._dynamo" not in sys.modules:
        threading.Thread(target=_import_torch_dynamo, name=PRELOAD_THREAD, daemon=True).start()
