"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from deblurkit.errors import UserError


def existing_dir(value: str) -> Path:
    """argparse type: a folder that exists."""
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: not a folder")
    return path


def positive_int(value: str) -> int:
    """argparse type: an integer > 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be > 0")
    return number


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be >= 0")
    return number


def require_outside(output: Path, *inputs: Path) -> None:
    """Refuse an output folder that is one of the inputs (outputs never overwrite inputs)."""
    out = output.resolve()
    for src in inputs:
        if out == src.resolve():
            raise UserError(f"{output}: output folder is the input folder; choose another -o")
