"""The npe2 manifest is valid and its contributions resolve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_npe2_validate():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run(
        [str(npe2), "validate", "napari-vqmap"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_contributions_import():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-vqmap")
    assert manifest.name == "napari-vqmap"
    for command in manifest.contributions.commands:
        assert callable(_resolve(command)), command.id
    assert {"*.slp", "*.mp4", "*.nc"} <= set(manifest.contributions.readers[0].filename_patterns)


def _resolve(command):
    import importlib

    module, name = command.python_name.split(":")
    return getattr(importlib.import_module(module), name)
