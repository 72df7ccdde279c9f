"""The receptive field of an image-to-image network, measured from its impulse response.

The tiler (:mod:`deblurkit.inference.tiling`) overlaps tiles by it, and the exporters
(:mod:`deblurkit.export`) store it in the files they write, so it lives below both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Side of the square random probe used by :func:`measure_receptive_field`.
RF_PROBE_SIZE = 128
#: Fraction of the centre pixel's input-gradient mass allowed outside the receptive field.
RF_MASS_TOLERANCE = 1e-3
#: Seed of the receptive-field probe image (the result is deterministic per model).
RF_PROBE_SEED = 0


def measure_receptive_field(model: nn.Module, *, pad_multiple: int = 1,
                            probe_size: int = RF_PROBE_SIZE,
                            tolerance: float = RF_MASS_TOLERANCE,
                            device: str | torch.device = "cpu") -> int:
    """Empirical receptive field of an image-to-image network, from its impulse response.

    The gradient of the centre output pixel (summed over channels) with respect to the input
    is taken on a seeded uniform-random probe image (a random image rather than a flat one so
    that ReLUs are not all in the same state). The receptive field is the side ``2 r + 1`` of
    the smallest centred square that holds all but ``tolerance`` of the gradient's absolute
    mass. Networks with a finite support report exactly it when the outermost ring holds more
    than ``tolerance`` of the mass (always the case for plain conv stacks); networks whose
    support is unbounded (pyramids, bilinear upsampling, global pooling) report their
    *effective* field. A result equal to the probe size means "at least the probe size".

    Args:
        model: the network, ``[0, 1]`` in and out; run in fp32 with its current weights.
        pad_multiple: the probe side is rounded up to this multiple.
        probe_size: side of the probe image.
        tolerance: fraction of gradient mass allowed outside the square.
        device: where to run the probe.

    Returns:
        The receptive field side in pixels (odd unless capped at the probe size).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 5, padding=2))
        >>> measure_receptive_field(net)
        7
    """
    multiple = max(1, int(pad_multiple))
    size = max(multiple, math.ceil(probe_size / multiple) * multiple)
    generator = torch.Generator().manual_seed(RF_PROBE_SEED)
    probe = torch.rand(1, 3, size, size, generator=generator).to(device)
    centre = size // 2
    with torch.inference_mode(False), torch.enable_grad():
        probe = probe.clone().requires_grad_(True)
        output = model(probe)
        (grad,) = torch.autograd.grad(output[0, :, centre, centre].sum(), probe)
    mass = grad.detach().abs().sum(dim=(0, 1)).double().cpu()
    total = float(mass.sum())
    if total == 0.0:
        return 1
    # cumulative mass inside squares of radius r, from a 2-D prefix sum
    prefix = torch.zeros(size + 1, size + 1, dtype=torch.float64)
    prefix[1:, 1:] = mass.cumsum(0).cumsum(1)
    for radius in range(size):
        lo, hi = centre - radius, centre + radius + 1
        if lo < 0 or hi > size:
            return size
        inside = float(prefix[hi, hi] - prefix[lo, hi] - prefix[hi, lo] + prefix[lo, lo])
        if total - inside <= tolerance * total:
            return 2 * radius + 1
    return size
