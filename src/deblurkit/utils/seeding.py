"""Child seeds derived with ``numpy.random.SeedSequence`` (never by seed arithmetic).

``seed + rank`` or ``seed * 100_003 + epoch`` make streams that collide (seed 1 rank 0 is
seed 0 rank 1) and correlate; a :class:`numpy.random.SeedSequence` over an entropy list
``[seed, key, ...]`` hashes every element, so two different lists give independent streams.
Use ``numpy.random.default_rng([seed, key, ...])`` for a numpy generator (the same entropy
list) and :func:`child_seed` where an integer seed is required (``torch.manual_seed``,
``torch.Generator().manual_seed``).

Example:
    >>> child_seed(0, 13, 1) == child_seed(0, 13, 1) != child_seed(1, 13, 0)
    True
"""

from __future__ import annotations

import numpy as np

__all__ = ["child_seed", "name_key"]


def child_seed(seed: int, *keys: int) -> int:
    """A 64-bit integer seed for the child stream ``keys`` of root ``seed``.

    Args:
        seed: the root seed (``>= 0``).
        *keys: non-negative integers naming the stream (a purpose key, then indices such as
            a process rank, an epoch, a step).

    Returns:
        ``SeedSequence([seed, *keys]).generate_state(1, uint64)[0]`` as a Python int, in
        ``[0, 2**64)``: accepted by ``torch.manual_seed``.

    Example:
        >>> child_seed(5, 7, 0) < 2 ** 64
        True
    """
    entropy = [int(seed), *(int(k) for k in keys)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def name_key(name: str) -> int:
    """An integer for a name in a seed's entropy list: its UTF-8 bytes read as one integer.

    Different names give different integers (unlike a sum of character codes, where ``"ab"``
    and ``"ba"`` collide).

    Example:
        >>> name_key("ab") != name_key("ba")
        True
    """
    return int.from_bytes(name.encode("utf-8"), "little")
