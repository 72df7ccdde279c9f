"""Split a batch of inputs across the processes of a ``torchrun`` launch.

``torchrun --nproc_per_node=N -m deblurkit restore ...`` starts N copies of the command with
the environment variables ``RANK`` and ``WORLD_SIZE`` set. Each copy keeps every
``WORLD_SIZE``-th input starting at its ``RANK`` (round-robin: neighbouring files, which
often have similar sizes, go to different ranks). No process group is created: the ranks
share nothing but the file system, so this works on CPUs and GPUs alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

from deblurkit.errors import UserError

T = TypeVar("T")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {name}={value!r} is not an integer") from None


def rank_and_world(rank: int | None = None, world: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` from the arguments, else ``RANK`` / ``WORLD_SIZE``, else (0, 1).

    Raises:
        UserError: ``world < 1`` or ``rank`` outside ``[0, world)``.

    Example:
        >>> rank_and_world(1, 4)
        (1, 4)
    """
    rank = _env_int("RANK", 0) if rank is None else int(rank)
    world = _env_int("WORLD_SIZE", 1) if world is None else int(world)
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"invalid rank {rank} for world size {world}")
    return rank, world


def shard(items: Sequence[T], rank: int | None = None, world: int | None = None) -> list[T]:
    """The items rank ``rank`` of ``world`` processes handles: ``items[rank::world]``.

    Args:
        items: every input, in the same order on every rank.
        rank, world: default to the ``RANK`` / ``WORLD_SIZE`` environment variables (0 / 1
            when unset: a plain run takes everything).

    Returns:
        The rank's share; the shares of all ranks are disjoint and cover ``items``.

    Example:
        >>> shard(list("abcde"), rank=1, world=2)
        ['b', 'd']
    """
    rank, world = rank_and_world(rank, world)
    return list(items[rank::world])
