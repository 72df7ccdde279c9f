"""Training health: how much of a network its gradients still reach.

A network whose ReLUs stop firing for every input (for example after the activations of a
deep, unnormalised branch have grown by orders of magnitude, so that the bias of a
"transposed convolution + ReLU" can no longer lift any unit above zero) computes with the
rest of its layers and never learns again in the dead part: those parameters get gradients
that are exactly zero, and Adam cannot move them. The loss only levels off, so nothing else
shows it. The training engine logs :func:`frozen_share` of the generator every ``log_every``
steps (``frozen`` in ``metrics.csv``) and warns once when most of it is frozen
(docs/training.md, "Dead sub-networks").

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
    >>> with torch.no_grad():
    ...     _ = net[0].bias.fill_(-100.0)        # every hidden unit below zero: dead
    >>> net(torch.rand(8, 4)).sum().backward()
    >>> frozen_share(net)                        # 24 of 25: only the output bias learns
    0.96
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FROZEN_WARNING", "frozen_share"]

#: Share of the generator's parameters with no gradient above which the engine warns (after
#: its first ``log_every`` steps: an identity start has zero gradients for one step).
FROZEN_WARNING = 0.5


@torch.no_grad()
def frozen_share(module: nn.Module) -> float:
    """Share of ``module``'s trainable parameter elements whose gradient is zero or missing.

    Counted per element (a partly dead layer counts its dead output channels), after a
    backward pass (an optimizer step leaves the gradients in place; clipping scales them).

    Args:
        module: the network, after ``loss.backward()``.

    Returns:
        A value in [0, 1]: 0 when every trainable element got a gradient; 0 for a module
        without trainable parameters.
    """
    total = frozen = 0
    for p in module.parameters():
        if not p.requires_grad:
            continue
        total += p.numel()
        frozen += p.numel() if p.grad is None else p.numel() - int(torch.count_nonzero(p.grad))
    return frozen / total if total else 0.0
