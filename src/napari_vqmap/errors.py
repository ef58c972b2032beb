"""The errors napari-vqmap raises for what a user gave it: each message starts with the
file or folder it is about (when there is one) and says what is wrong.

All are :class:`InputError` (a ``ValueError``): catch that for any of them. The command
line prints them as one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """A file, folder or option that napari-vqmap cannot use as asked."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class PoseFileError(InputError):
    """A pose, label, video, skeleton, motif names or encode results file that cannot be
    read as asked."""


class ModelFileError(InputError):
    """A model folder (config, weights, training state) that cannot be read or used."""


class ConfigError(InputError):
    """A configuration file or option that cannot be used: a training config, a device
    this machine lacks, an optional dependency that is not installed."""
