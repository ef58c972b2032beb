"""The ``napari-vqmap`` command: info, demo and error reporting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from napari_vqmap.cli import main


def test_info_prints_a_summary(data_dir, capsys):
    path = data_dir / "subtle-avatar-3d" / "y5a5" / "coords" / "young_8301.csv"
    assert main(["info", str(path), "--skeleton", "subtle", "--fps", "20"]) == 0
    out = capsys.readouterr().out
    assert "frames       11986 at 20 fps" in out
    assert "3D" in out
    assert "keypoints    9: nose, neck" in out


def test_info_on_bad_file_names_it_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "empty.h5"
    bad.write_bytes(b"")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "empty.h5" in err and "empty" in err


def test_demo_runs_as_installed_command(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "napari_vqmap.cli", "demo"],
        cwd=tmp_path,  # writes ./napari-vqmap-demo there
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "cropped_video.csv (DeepLabCut)" in result.stdout
    assert "frames       750" in result.stdout
    assert (tmp_path / "napari-vqmap-demo" / "usage.png").is_file()


def test_demo_gui_without_a_display_says_how(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(SystemExit, match="xvfb-run"):
        main(["demo", "--gui"])


def test_installed_command_prints_each_warning_as_one_plain_line(data_dir, tmp_path):
    poses = data_dir / "sleap-tests" / "clip.slp"  # a fly: the bundled model has no head
    result = subprocess.run(
        [sys.executable, "-m", "napari_vqmap.cli", "encode", str(poses), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stderr.replace("\r", "\n").splitlines()
    warned = [line for line in lines if "warning" in line.lower()]
    assert warned and all(line.startswith("napari-vqmap: warning: ") for line in warned)
    assert "no head for skeleton 'fly13'" in warned[0]
    assert "UserWarning" not in result.stderr and "result = encode(" not in result.stderr


def test_train_rejects_zero_steps_before_reading_data(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m"), "--steps", "0"])
    assert "--steps: must be an integer >= 1, got '0'" in capsys.readouterr().err
