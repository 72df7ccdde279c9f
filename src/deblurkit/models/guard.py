"""The low-pass guard: a generator's output without the coarse part of its change.

Motion blur moves light around without making a region brighter or darker on average (a blur
kernel sums to one), so a sharp picture and its blurred version have the same local means over
windows wider than the blur. A deblurring network that changes them is not deblurring; the harm
the models here do to pictures without blur is of that kind (docs/default-model.md, "Do no
harm": shadows darkened over patches tens of pixels wide). The guard keeps the network's change
``r = y - x`` except its low-pass part:

    out = y - strength * G_sigma(y - x)

with ``G_sigma`` a low-pass of standard deviation ``sigma`` pixels (:func:`smooth`). It has no
learned part and no parameter or buffer, so a guarded network's state dict is the network's.
A full-resolution Gaussian of ``sigma = 6`` (37 taps per axis, one channel at a time) is slow
on the CPU; the change's low-pass is smooth, so :func:`smooth` computes it
on ``f x f`` block means (``f = 4`` from ``sigma = 4``, 2 from 2, else 1: the exact Gaussian),
blurs those with the Gaussian that brings the total variance to ``sigma^2`` and interpolates
back bilinearly: on the default's changes within 0.6 / 255 of the full-resolution Gaussian
(0.15 / 255 away from the borders; tests/test_guard.py), for about 0.01 s per 1280x720 frame
(``benchmarks/default_latency.py``, "the guard alone"). A bundled
model carries its fitted settings in its card (:class:`deblurkit.pretrained.WeightCard`,
``guard``), and :func:`deblurkit.pretrained.load_bundled` attaches it; a
:class:`~deblurkit.models.base.RestorationNet` applies ``self.guard`` (if set) at the end of
``forward``, so tiling, test-time augmentation, export and the receptive-field measurement all
see it. ``forward_scales`` (what training uses) stays unguarded.

Example:
    >>> x = torch.rand(1, 3, 32, 32)
    >>> out = lowpass_guard(x, x + 0.1, sigma=2.0)     # a uniform brightening is taken out
    >>> torch.allclose(out, x, atol=1e-6)
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.models.layers import gaussian_blur


@dataclass(frozen=True)
class GuardSettings:
    """The settings of :func:`lowpass_guard`.

    Args:
        sigma: standard deviation in pixels of the Gaussian that takes the coarse part of the
            change (larger: only coarser changes are removed).
        strength: share of the coarse part removed (1: all of it; 0: the guard does nothing).
    """

    sigma: float
    strength: float = 1.0

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"guard sigma must be > 0, got {self.sigma}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"guard strength must be in [0, 1], got {self.strength}")


def block_factor(sigma: float) -> int:
    """The block side :func:`smooth` averages over before blurring: 4 from ``sigma = 4``, 2
    from ``sigma = 2``, else 1 (no blocks)."""
    return 4 if sigma >= 4 else 2 if sigma >= 2 else 1


def smooth(x: Tensor, sigma: float) -> Tensor:
    """An approximately Gaussian low-pass of standard deviation ``sigma`` pixels.

    With ``f = block_factor(sigma)``: the mean of each ``f x f`` block (the bottom and right
    edges replicated up to a multiple of ``f``), a Gaussian blur of those means (reflect
    padding, radius ``ceil(3 s)``) with ``s`` chosen so that the block mean's variance
    ``(f^2 - 1) / 12``, the blur's ``(f s)^2`` and the bilinear interpolation's
    ``(f^2 - 1) / 6`` add up to ``sigma^2``, then bilinear interpolation back to the input's
    size. With ``f = 1`` it is the exact Gaussian. A constant passes unchanged; a pattern that
    alternates every pixel is removed exactly (``f`` even).

    Args:
        x: the signal.
        sigma: the low-pass's standard deviation in pixels (> 0).

    Returns:
        The low-pass of ``x``, same shape and dtype.

    Shape:
        - x, output: ``(B, C, H, W)``.

    Example:
        >>> x = torch.full((1, 3, 30, 50), 0.25)
        >>> torch.allclose(smooth(x, 6.0), x)
        True
    """
    factor = block_factor(sigma)
    height, width = x.shape[-2:]
    if factor > 1:
        pad_h, pad_w = (-height) % factor, (-width) % factor
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        x = F.avg_pool2d(x, factor)
    residual_variance = sigma ** 2 - (factor ** 2 - 1) / 12 - (factor ** 2 - 1) / 6
    coarse_sigma = math.sqrt(residual_variance) / factor
    radius = max(1, math.ceil(3 * coarse_sigma))
    x = gaussian_blur(x, 2 * radius + 1, coarse_sigma)
    if factor > 1:
        x = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
        x = x[..., :height, :width]
    return x


def lowpass_guard(x: Tensor, y: Tensor, sigma: float, strength: float = 1.0) -> Tensor:
    """``y - strength * G_sigma(y - x)``: ``y`` without the low-pass part of its change.

    Args:
        x: the network's input.
        y: the network's output for ``x`` (same value range).
        sigma: the Gaussian's standard deviation in pixels.
        strength: share of the low-pass change removed, in ``[0, 1]``.

    Returns:
        The guarded output, in ``y``'s dtype.

    Shape:
        - x, y, output: ``(B, C, H, W)``.

    Example:
        >>> x = torch.zeros(1, 1, 16, 16)
        >>> lowpass_guard(x, x + 1.0, sigma=1.0, strength=0.5).mean().item()
        0.5
    """
    settings = GuardSettings(sigma, strength)
    if x.shape != y.shape:
        raise ValueError(f"input {tuple(x.shape)} and output {tuple(y.shape)} differ in shape")
    if x.ndim != 4:
        raise ValueError(f"expected (B, C, H, W), got {tuple(x.shape)}")
    return y - settings.strength * smooth(y - x.to(y.dtype), settings.sigma)


class LowpassGuard(nn.Module):
    """:func:`lowpass_guard` with stored settings; ``forward(x, y)``. It has no parameter or
    buffer, so attaching it to a network leaves the network's state dict unchanged.

    Args:
        settings: sigma and strength.

    Shape:
        - x, y, output: ``(B, C, H, W)``.

    Example:
        >>> guard = LowpassGuard(GuardSettings(sigma=6.0, strength=0.75))
        >>> x = torch.rand(1, 3, 40, 40)
        >>> torch.equal(guard(x, x), x)
        True
    """

    def __init__(self, settings: GuardSettings) -> None:
        super().__init__()
        self.settings = settings

    def extra_repr(self) -> str:
        return f"sigma={self.settings.sigma:g}, strength={self.settings.strength:g}"

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return lowpass_guard(x, y, self.settings.sigma, self.settings.strength)


def attach_guard(model: nn.Module, settings: GuardSettings | None) -> nn.Module:
    """Set (or, with None, remove) the guard of a generator in place; returns the model.

    Raises:
        TypeError: the model does not run :class:`~deblurkit.models.base.RestorationNet`'s
            ``forward`` (only that applies a guard; S5's multi-task generator has its own).
    """
    from deblurkit.models.base import RestorationNet

    if not isinstance(model, RestorationNet) or type(model).forward is not RestorationNet.forward:
        raise TypeError(f"{type(model).__name__} does not use RestorationNet.forward: it cannot "
                        "carry a guard")
    model.guard = None if settings is None else LowpassGuard(settings)
    return model


__all__ = ["GuardSettings", "LowpassGuard", "attach_guard", "block_factor", "lowpass_guard", "smooth"]
