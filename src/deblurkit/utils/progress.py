"""Progress bars for long work (files, frames, steps) with counts, rate and ETA.

Bars go to stderr. ``DEBLURKIT_PROGRESS=0`` turns them off, ``=1`` forces them on even when
stderr is not a terminal (CI logs); by default they show only on a terminal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_enabled() -> bool | None:
    """True/False when forced by ``DEBLURKIT_PROGRESS``, None to decide by terminal."""
    value = os.environ.get("DEBLURKIT_PROGRESS", "").strip().lower()
    if value in {"0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    return None


def progress(iterable: Iterable[T], total: int | None = None, desc: str = "",
             unit: str = "it") -> Iterator[T]:
    """Wrap ``iterable`` in a progress bar (count, rate, ETA) on stderr."""
    enabled = progress_enabled()
    disable = (not enabled) if enabled is not None else None  # None: tqdm decides by TTY
    yield from tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                    dynamic_ncols=True, leave=False)
