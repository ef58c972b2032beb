"""argparse types shared by the commands. They import what they check with only when an
option is given, so building the parser (``--version``, ``--help``) stays fast."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    return parse


def device_arg(text: str) -> str:
    """An argparse type for ``--device``: a device name (see
    :func:`~napari_vqmap.validators.is_device_name`)."""
    from napari_vqmap.validators import DEVICES, is_device_name

    if not is_device_name(text):
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(DEVICES)} or cuda:N, got {text!r}"
        )
    return text


def stickiness_arg(text: str) -> float:
    """An argparse type for ``--stickiness``: a finite number >= 0."""
    from napari_vqmap.validators import check_stickiness

    try:
        return check_stickiness(float(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def shard_arg(text: str) -> tuple[int, int]:
    """An argparse type for ``--shard I/N``: (I, N) with 0 <= I < N."""
    index, _, count = text.partition("/")
    if not (index.isdigit() and count.isdigit() and int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"must be I/N with 0 <= I < N, got {text!r}")
    return int(index), int(count)
