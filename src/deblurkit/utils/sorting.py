"""Natural sort order: digit runs compare by value, so ``frame2`` sorts before ``frame10``.

One file order for the whole toolkit (pairs, clips, frame folders, sources).
"""

from __future__ import annotations

import re

__all__ = ["natural_key"]


def natural_key(text: str) -> tuple:
    """Sort key that orders digit runs by value: ``frame2`` < ``frame10``.

    Example:
        >>> sorted(["f10", "f2", "f1"], key=natural_key)
        ['f1', 'f2', 'f10']
    """
    return tuple((0, int(tok), "") if tok.isdigit() else (1, 0, tok)
                 for tok in re.split(r"(\d+)", text) if tok != "")
