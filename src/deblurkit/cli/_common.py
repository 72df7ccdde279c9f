"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from deblurkit.errors import UserError

T = TypeVar("T")


def existing_dir(value: str) -> Path:
    """argparse type: a folder that exists."""
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: not a folder")
    return path


def _require(value: str, ok: bool, requirement: str) -> None:
    """Raise the argparse error ``'<value>' <requirement>`` unless ``ok``."""
    if not ok:
        raise argparse.ArgumentTypeError(f"{value!r} {requirement}")


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def positive_int(value: str) -> int:
    """argparse type: an integer > 0."""
    number = _integer(value)
    _require(value, number > 0, "must be > 0")
    return number


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    number = _integer(value)
    _require(value, number >= 0, "must be >= 0")
    return number


def odd_int(minimum: int = 1) -> Callable[[str], int]:
    """argparse type factory: an odd integer >= ``minimum`` (window sides).

    Example:
        >>> odd_int(3)("7")
        7
    """

    def parse(value: str) -> int:
        number = _integer(value)
        _require(value, number >= minimum and number % 2 == 1,
                 f"must be an odd integer >= {minimum}")
        return number

    parse.__name__ = f"odd_int_{minimum}"
    return parse


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0 (NaN refused)."""
    number = _number(value)
    _require(value, number > 0 and math.isfinite(number), "must be a finite number > 0")
    return number


def non_negative_float(value: str) -> float:
    """argparse type: a finite number >= 0 (NaN refused)."""
    number = _number(value)
    _require(value, number >= 0 and math.isfinite(number), "must be a finite number >= 0")
    return number


def unit_float(value: str) -> float:
    """argparse type: a number in ``[0, 1]`` (NaN refused)."""
    number = _number(value)
    _require(value, 0.0 <= number <= 1.0, "must be in [0, 1]")
    return number


def reworded(parse: Callable[[str], T], value: str, requirement: str) -> T:
    """``parse(value)`` with its argparse error replaced by ``'<value>' <requirement>`` (for
    types that also take words such as ``auto``, whose message must name them).

    Example:
        >>> reworded(positive_int, "4", "must be a positive integer or 'auto'")
        4
    """
    try:
        return parse(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{value!r} {requirement}") from None


def require_outside(output: Path, *inputs: Path) -> None:
    """Refuse an output folder that is one of the inputs (outputs never overwrite inputs)."""
    out = output.resolve()
    for src in inputs:
        if out == src.resolve():
            raise UserError(f"{output}: output folder is the input folder; choose another -o")
