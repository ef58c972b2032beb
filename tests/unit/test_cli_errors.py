"""The CLI never prints a traceback for a problem with the user's files or output folder
(one line naming the file, exit 2); Ctrl-C is one line (exit 130) and leaves no partial
output; only our own bugs print a traceback, ending with where to report them."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from napari_vqmap import summary
from napari_vqmap.cli import REPORT_BUGS, main

SUBTLE = "subtle-avatar-3d/y5a5/coords/young_8301.csv"


def _one_line_error(err: str, *names: str) -> None:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "warning" not in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("napari-vqmap: error: ")
    for name in names:
        assert name in lines[0]


def test_our_bug_prints_a_traceback_and_where_to_report(data_dir, monkeypatch, capsys):
    def broken(ds):
        raise ZeroDivisionError("a bug of ours")

    monkeypatch.setattr(summary, "describe", broken)
    assert main(["info", str(data_dir / SUBTLE)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug of ours" in err
    assert err.rstrip().endswith(REPORT_BUGS)


def test_os_error_on_a_named_file_is_one_line(data_dir, monkeypatch, capsys):
    target = "/no/such/place/out.csv"

    def denied(ds):
        raise PermissionError(13, "Permission denied", target)

    monkeypatch.setattr(summary, "describe", denied)
    assert main(["info", str(data_dir / SUBTLE)]) == 2
    _one_line_error(capsys.readouterr().err, target, "Permission denied")


def test_unreadable_input_is_one_line(tmp_path, capsys):
    path = tmp_path / "poses.csv"
    path.write_text("0,1,2\n")
    os.chmod(path, 0)
    if os.access(path, os.R_OK):  # root reads anything
        pytest.skip("running as root: the file stays readable")
    assert main(["info", str(path)]) == 2
    _one_line_error(capsys.readouterr().err, str(path))


@pytest.mark.parametrize(
    "bad",
    ["missing.csv", "empty.csv", "text.csv", "cut.h5", "folder"],
)
def test_bad_inputs_are_one_line_naming_the_file(tmp_path, capsys, bad):
    path = tmp_path / bad
    if bad == "empty.csv":
        path.write_text("")
    elif bad == "text.csv":
        path.write_text("hello,world\n1,2\n")
    elif bad == "cut.h5":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    elif bad == "folder":
        path.mkdir()
    assert main(["info", str(path)]) == 2
    _one_line_error(capsys.readouterr().err, str(path))


def test_interrupted_encode_leaves_no_partial_output(data_dir, tmp_path, monkeypatch, capsys):
    """Ctrl-C while the results are being written: the file being written is never left
    half-written (atomic writes), those already written are removed, exit 130."""
    lines = (data_dir / SUBTLE).read_text().splitlines()[:400]
    src = tmp_path / "short.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    to_csv = pd.DataFrame.to_csv
    calls = []

    def interrupted(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # the bouts table: write half of it, then Ctrl-C
            Path(path).write_text(to_csv(self, None, *args, **kwargs)[:100])
            raise KeyboardInterrupt
        return to_csv(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    argv = ["encode", str(src), "--out", str(out), "--fps", "20", "--skeleton", "subtle"]
    assert main(argv) == 130
    assert len(calls) == 2
    # no partial set, no temporary file, and no empty --out folder left behind
    assert not out.exists()
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_during_an_encode_leaves_no_output(data_dir, tmp_path):
    """A real SIGINT to the installed command while it encodes a long file."""
    import signal
    import subprocess
    import sys
    import time

    lines = (data_dir / SUBTLE).read_text().splitlines()
    src = tmp_path / "long.csv"
    src.write_text("\n".join(lines[t % len(lines)] for t in range(300_000)) + "\n")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "napari_vqmap.cli", "encode", str(src), "--out", str(out)]
    cmd += ["--fps", "20", "--skeleton", "subtle"]
    # Ctrl-C reaches the command as it would from a shell, even where an earlier test of
    # this session left SIGINT ignored (a child inherits an ignored signal).
    reset = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, preexec_fn=reset)
    deadline = time.monotonic() + 120
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the output folder is made once the model is loaded
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []
