"""Grow a trained network deeper without changing what it computes (function-preserving depth).

A network trained for hours need not start over to get more capacity. Residual blocks whose
branch ends in a zeroed layer compute the identity, so a deeper variant of the same
architecture, with the trained tensors copied into the blocks both have and every new block's
last layer zeroed, computes exactly the trained network's function; training then goes on from
there (Chen et al., "Net2Net: accelerating learning via knowledge transfer", ICLR 2016, whose
"Net2DeeperNet" inserts identity layers; zero-initialised residual branches as in Goyal et al.
2017). The new blocks' first layers keep their random initialisation, so the zeroed layer gets
a gradient at the first step.

A block can be grown in when its class defines ``zero_residual_()`` (set the branch to output
zero, in place): :class:`deblurkit.models.s1_msed.ResBlock` does. Every tensor of the deeper
model must either come from the trained state with the same shape, or belong to such a new
block whose tensors are all new; anything else (a renamed or reshaped tensor, a trained tensor
with no place in the deeper model, a new tensor outside a growable block) is refused.

Example:
    >>> import torch
    >>> from deblurkit.models import create_model
    >>> small = create_model("s1_msed_fast", base_width=8, max_width=16).eval()
    >>> deep = create_model("s1_msed_fast", base_width=8, max_width=16,
    ...                     num_resblocks=(1, 2, 3, 6)).eval()
    >>> new = grow_into(deep, small.state_dict())
    >>> len(new) > 0
    True
    >>> x = torch.rand(1, 3, 64, 64)
    >>> bool(torch.allclose(deep(x), small(x), atol=1e-6))
    True
"""

from __future__ import annotations

import torch
from torch import nn

from deblurkit.errors import UserError

__all__ = ["grow_into"]


def _growable_owner(model: nn.Module, key: str) -> str | None:
    """The name of the innermost module above tensor ``key`` that defines ``zero_residual_``."""
    parts = key.split(".")[:-1]
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if hasattr(model.get_submodule(name), "zero_residual_"):
            return name
    return None


@torch.no_grad()
def grow_into(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load a trained ``state`` into a deeper ``model``, turning every new block into the identity.

    Args:
        model: the deeper network, freshly built (its new blocks keep their initialisation
            except the layer each block's ``zero_residual_()`` zeroes). Modified in place.
        state: the trained network's state dict.

    Returns:
        The names of the new blocks (each now outputs its input).

    Raises:
        UserError: a trained tensor has no place in ``model`` or a different shape there, or a
            tensor of ``model`` is neither trained nor part of a new growable block.
    """
    target = model.state_dict()
    unplaced = sorted(set(state) - set(target))
    if unplaced:
        raise UserError(f"trained tensor {unplaced[0]} has no place in the deeper model"
                        + (f" (and {len(unplaced) - 1} more)" if len(unplaced) > 1 else ""))
    for key, value in state.items():
        if target[key].shape != value.shape:
            raise UserError(f"tensor {key}: trained shape {tuple(value.shape)}, deeper model "
                            f"{tuple(target[key].shape)}: only depth can grow")
    blocks: dict[str, list[str]] = {}
    for key in target:
        if key in state:
            continue
        owner = _growable_owner(model, key)
        if owner is None:
            raise UserError(f"tensor {key} of the deeper model is new but not part of a block "
                            "that can start as the identity (zero_residual_)")
        blocks.setdefault(owner, []).append(key)
    for owner in blocks:
        mixed = [k for k in state if k.startswith(owner + ".")]
        if mixed:
            raise UserError(f"block {owner} is partly trained ({mixed[0]}) and partly new")
    model.load_state_dict({**target, **state}, strict=True)
    for owner in blocks:
        model.get_submodule(owner).zero_residual_()
    return sorted(blocks)
