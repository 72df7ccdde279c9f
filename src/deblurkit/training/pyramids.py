"""Target pyramids of multi-scale loss terms (``losses[].pyramid`` of a training config).

A ``scales`` loss term compares a generator's coarse -> fine outputs with a pyramid of the
sharp image; :data:`PYRAMIDS` maps the config's name to the function that builds it:

- ``gaussian``: S2's Gaussian pyramid (:func:`deblurkit.models.s2_msrn.gaussian_pyramid`);
- ``area``: S1's 2x2 means (:func:`deblurkit.models.s1_msed.area_pyramid`).

Example:
    >>> import torch
    >>> [t.shape[-1] for t in target_pyramid(torch.zeros(1, 3, 8, 8), 3, "area")]
    [2, 4, 8]
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from deblurkit.models.s1_msed import area_pyramid
from deblurkit.models.s2_msrn import gaussian_pyramid
from deblurkit.utils.registry import Registry

__all__ = ["PYRAMIDS", "target_pyramid"]

#: ``losses[].pyramid`` -> ``pyramid(target, levels)`` returning coarse -> fine images.
PYRAMIDS: Registry[Callable[[Tensor, int], list[Tensor]]] = Registry("target pyramid")
PYRAMIDS.add("gaussian", gaussian_pyramid)
PYRAMIDS.add("area", area_pyramid)


def target_pyramid(target: Tensor, levels: int, kind: str) -> list[Tensor]:
    """Coarse -> fine targets for a multi-scale term.

    Args:
        target: the sharp batch, ``B x C x H x W``.
        levels: number of scales (the generator's outputs).
        kind: a key of :data:`PYRAMIDS`.

    Returns:
        ``levels`` tensors, coarsest first, the last one ``target`` itself.

    Raises:
        UserError: unknown ``kind`` (the message lists the registered ones).
    """
    return PYRAMIDS.get(kind)(target, levels)
