"""Command line: ``napari-vqmap info | demo | train | encode | evaluate | compare | analyze``."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from napari_vqmap.validators import PoseFileError


def _cmd_info(args: argparse.Namespace) -> int:
    from napari_vqmap.io import load_poses
    from napari_vqmap.summary import describe

    for path in args.files:
        ds = load_poses(
            path, source_software=args.source_software, fps=args.fps, skeleton=args.skeleton
        )
        print(describe(ds))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``napari-vqmap`` argument parser."""
    from napari_vqmap import __version__

    parser = argparse.ArgumentParser(prog="napari-vqmap", description=__doc__)
    parser.add_argument("--version", action="version", version=f"napari-vqmap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="load pose files and print a summary of each")
    info.add_argument("files", nargs="+", help="pose files of any supported format")
    info.add_argument("--source-software", help="force a format instead of detecting it")
    info.add_argument("--fps", type=float, help="frame rate, for files that lack one")
    info.add_argument("--skeleton", help="skeleton preset name or YAML file")
    info.set_defaults(func=_cmd_info)

    from napari_vqmap.demo import add_demo_arguments, run_demo_cli

    demo = sub.add_parser(
        "demo", help="encode the bundled 2D and 3D sample recordings with the bundled model"
    )
    add_demo_arguments(demo)
    demo.set_defaults(func=run_demo_cli)

    from napari_vqmap.train import add_train_arguments, run_train

    train = sub.add_parser("train", help="train a VQ-MAP model on pose files (any skeletons)")
    add_train_arguments(train)
    train.set_defaults(func=run_train)

    from napari_vqmap.encode import add_encode_arguments, run_encode
    from napari_vqmap.evaluate import add_evaluate_arguments, run_evaluate

    encode = sub.add_parser("encode", help="encode pose files into per-frame motifs")
    add_encode_arguments(encode)
    encode.set_defaults(func=run_encode)
    evaluate = sub.add_parser("evaluate", help="score an encoding against per-frame labels")
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=run_evaluate)
    from napari_vqmap.evaluate import add_compare_arguments, run_compare

    compare = sub.add_parser("compare", help="agreement between two encodings or two models")
    add_compare_arguments(compare)
    compare.set_defaults(func=run_compare)
    from napari_vqmap.analyze import add_analyze_arguments, run_analyze

    analyze = sub.add_parser("analyze", help="usage, bouts, transitions, group tests, figures")
    add_analyze_arguments(analyze)
    analyze.set_defaults(func=run_analyze)
    return parser


REPORT_BUGS = (
    "this is a bug in napari-vqmap, not a problem with your files: please report it on the "
    "napari-vqmap issue tracker with the lines above and `napari-vqmap --version`"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``napari-vqmap`` command.

    A problem with the user's input or output (:class:`PoseFileError`, or an OS error on a
    named file: permission denied, disk full) is one line naming the file, exit status 2;
    Ctrl-C is one line, status 130. Only our own bugs print a traceback, ending with where
    to report them (status 1).
    """
    args = build_parser().parse_args(argv)
    out = getattr(args, "out", None)
    new_dirs = _missing_dirs(Path(out)) if isinstance(out, str) else []
    try:
        return args.func(args)
    except PoseFileError as err:
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


def print_warnings_plainly() -> None:
    """Show each warning as one line, ``napari-vqmap: warning: ...``, above any progress
    bar, instead of Python's form with our source file, line and code."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        from tqdm import tqdm

        tqdm.write(f"napari-vqmap: warning: {message}", file=sys.stderr)

    warnings.showwarning = show


def run() -> None:
    """The installed ``napari-vqmap`` command: :func:`main`, warnings shown plainly."""
    print_warnings_plainly()
    try:
        status = main()
    except KeyboardInterrupt:  # Ctrl-C while the commands' modules are imported
        print("napari-vqmap: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
