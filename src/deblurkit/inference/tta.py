"""Test-time augmentation: restore the 8 flips and 90-degree rotations of an image and
average the results turned back (the "self-ensemble" of Lim et al. 2017, EDSR+).

A deblurring network is not equivariant to rotations and flips, so each of the eight views
gives a slightly different estimate; their mean removes part of the network's own error at
8 times the cost. ``modes`` picks how many views: ``1`` (off), ``2`` (identity and horizontal
flip), ``4`` (the rotations), ``8`` (the whole dihedral group D4).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

__all__ = ["TTA_MODES", "dihedral", "dihedral_inverse", "self_ensemble"]

#: View counts accepted by :func:`self_ensemble`.
TTA_MODES = (1, 2, 4, 8)
#: (rotations by 90 degrees, horizontal flip) of each view, in order.
_VIEWS = {1: [(0, False)], 2: [(0, False), (0, True)],
          4: [(k, False) for k in range(4)],
          8: [(k, f) for f in (False, True) for k in range(4)]}


def dihedral(x: Tensor, rot: int, flip: bool) -> Tensor:
    """Flip (last axis) then rotate the last two axes by ``rot`` quarter turns.

    Shape:
        ``(..., H, W)`` -> ``(..., H, W)`` or ``(..., W, H)`` for odd ``rot``.
    """
    y = x.flip(-1) if flip else x
    return y.rot90(rot, dims=(-2, -1)) if rot % 4 else y


def dihedral_inverse(y: Tensor, rot: int, flip: bool) -> Tensor:
    """Undo :func:`dihedral`: ``dihedral_inverse(dihedral(x, r, f), r, f) == x``."""
    x = y.rot90(-rot, dims=(-2, -1)) if rot % 4 else y
    return x.flip(-1) if flip else x


def self_ensemble(restore: Callable[[Tensor], Tensor], batch: Tensor, modes: int = 8) -> Tensor:
    """Mean of ``restore`` over ``modes`` flipped / rotated views, each turned back.

    Args:
        restore: ``(B, C, H, W)`` -> ``(B, C, H, W)`` (any size: rotated views are W x H).
        batch: ``(B, C, H, W)`` input.
        modes: 1, 2, 4 or 8 views (:data:`TTA_MODES`).

    Returns:
        ``(B, C, H, W)``, accumulated in float32.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H, W)``.

    Example:
        >>> import torch
        >>> x = torch.rand(1, 3, 5, 7)
        >>> torch.allclose(self_ensemble(lambda t: t * 2, x), x * 2)
        True
    """
    if modes not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {modes!r}")
    views = _VIEWS[modes]
    total = None
    for rot, flip in views:
        out = dihedral_inverse(restore(dihedral(batch, rot, flip)), rot, flip).float()
        total = out if total is None else total + out
    assert total is not None
    return total / len(views)
