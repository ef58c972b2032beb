"""How a command shows warnings in a terminal."""

from __future__ import annotations

import sys
import warnings


def print_warnings_plainly() -> None:
    """Show each warning as one line, ``napari-vqmap: warning: ...``, above any progress
    bar, instead of Python's form with our source file, line and code."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        from tqdm import tqdm

        tqdm.write(f"napari-vqmap: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
