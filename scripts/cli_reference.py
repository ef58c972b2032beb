"""Write docs/cli.md from the ``napari-vqmap`` argument parser (the one source of truth).

Run ``python scripts/cli_reference.py`` after changing a command; a test checks the file is
up to date.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
HEADER = """# Command-line reference

Every command is `napari-vqmap COMMAND ...` (also `python -m napari_vqmap.cli COMMAND ...`).
Errors in input files or the output folder stop the command with exit status 2 and one
line naming the file and the problem (never a traceback); warnings (a keypoint missing in
every frame, a skeleton the model has no head for) print as one line each,
`napari-vqmap: warning: ...`, and the command goes on. Ctrl-C stops it with status 130
and leaves no partial output file. A traceback (status 1) means a bug in napari-vqmap:
it ends with where to report it.
This page is generated from the commands' own `--help` by `scripts/cli_reference.py`;
a test keeps it in step with the code.
"""


def render() -> str:
    """The Markdown reference for every subcommand."""
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width
    from napari_vqmap.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: (c.help or "")[:1].upper() + (c.help or "")[1:] for c in sub._choices_actions}
    parts = [HEADER, "| command | what it does |\n|---|---|"]
    parts += [f"| [`{name}`](#{name}) | {helps.get(name, '')} |" for name in sub.choices]
    for name, command in sub.choices.items():
        text = command.format_help().replace("usage: napari-vqmap", "napari-vqmap", 1)
        parts.append(f"\n## {name}\n\n{helps.get(name, '')}.\n\n```text\n{text.rstrip()}\n```")
    return "\n".join(parts) + "\n"


def main() -> int:
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
