"""Command line: ``napari-vqmap info | demo | train | encode | evaluate | compare | analyze``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from napari_vqmap.console import print_warnings_plainly
from napari_vqmap.errors import InputError

# one module of this package per command: HELP, add_arguments(parser), run(args)
COMMANDS = ("info", "demo", "train", "encode", "evaluate", "compare", "analyze")


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-vqmap`` argument parser (imports no command's implementation)."""
    from napari_vqmap import __version__

    parser = argparse.ArgumentParser(prog="napari-vqmap", description=__doc__)
    parser.add_argument("--version", action="version", version=f"napari-vqmap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        command = importlib.import_module(f"napari_vqmap.cli.{name}")
        command.add_arguments(sub.add_parser(name, help=command.HELP))
    return parser


REPORT_BUGS = (
    "this is a bug in napari-vqmap, not a problem with your files: please report it on the "
    "napari-vqmap issue tracker with the lines above and `napari-vqmap --version`"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-vqmap`` command.

    A problem with the user's input or output (:class:`~napari_vqmap.errors.InputError`,
    or an OS error on a named file: permission denied, disk full) is one line naming the
    file, exit status 2;
    Ctrl-C is one line, status 130. Only our own bugs print a traceback, ending with where
    to report them (status 1).
    """
    args = build_parser().parse_args(argv)
    out = getattr(args, "out", None)
    new_dirs = _missing_dirs(Path(out)) if isinstance(out, str) else []
    try:
        command = importlib.import_module(f"napari_vqmap.cli.{args.command}")
        return command.run(args)
    except InputError as err:
        print(f"napari-vqmap: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-vqmap: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        if err.filename is None:
            return _report_bug()
        problem = err.strerror or str(err)
        print(f"napari-vqmap: error: {err.filename}: {problem}", file=sys.stderr)
        return 2
    except Exception:
        return _report_bug()

    finally:
        for folder in new_dirs:  # a failed run leaves no empty --out folder behind
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _report_bug() -> int:
    """Print the traceback of the exception being handled and where to report it."""
    import traceback

    from napari_vqmap import __version__

    traceback.print_exc()
    print(f"napari-vqmap {__version__}: {REPORT_BUGS}", file=sys.stderr)
    return 1


def _missing_dirs(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


# Commands that never hold dask arrays. xarray checks every variable it builds against
# dask's array type, and so imports dask (and numba through it) when dask is installed
# (napari brings it): 0.9 s of a 6.9 s encode of a small file, measured on 2 idle cores.
# The installed command skips that for them (not main(): napari in the same process needs dask).
WITHOUT_DASK = ("info", "encode", "evaluate", "compare")


def run() -> None:
    """The installed ``napari-vqmap`` command: :func:`main`, warnings shown plainly
    (and dask marked as absent for the commands in :data:`WITHOUT_DASK`)."""
    print_warnings_plainly()
    if len(sys.argv) > 1 and sys.argv[1] in WITHOUT_DASK:
        sys.modules.setdefault("dask", None)  # type: ignore[arg-type]  # import -> ImportError
    try:
        status = main()
    except KeyboardInterrupt:  # Ctrl-C while the commands' modules are imported
        print("napari-vqmap: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)
