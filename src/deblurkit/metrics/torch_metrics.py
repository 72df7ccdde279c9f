"""Batched PSNR and SSIM on tensors, for validation during training (and 1 - SSIM losses).

Same conventions and same numbers as the numpy reference (:mod:`deblurkit.metrics.reference`)
applied image by image, for ``B x C x H x W`` float tensors in ``[0, 1]``: the SSIM filters are
the reference's separable windows as ``conv2d``, with scipy's ``reflect`` boundary where the
window reaches past the image. Computation happens in the input's dtype and device; float64
matches the reference to ~1e-12, float32 to ~1e-6.

Everything is differentiable. ``quantize`` rounds the restored tensor in the forward pass but
passes gradients straight through (the gradient is that of the score at the quantized
image), so ``1 - ssim_torch(...)`` is usable as a loss with the default config.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from deblurkit.metrics.color import BT601_SCALE, BT601_Y_OFFSET, BT601_Y_WEIGHTS
from deblurkit.metrics.config import MetricConfig, make_config
from deblurkit.metrics.reference import MetricInputError

#: Value of white in the tensors (the project's tensor convention: float in [0, 1]).
TENSOR_PEAK = 1.0


def _check_pair(restored: torch.Tensor, reference: torch.Tensor) -> None:
    for name, t in (("restored", restored), ("reference", reference)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.ndim != 4:
            raise MetricInputError(f"{name} must be B x C x H x W, got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise MetricInputError(f"{name} must be a float tensor in [0, 1], got {t.dtype}")
    if restored.shape != reference.shape:
        raise MetricInputError(f"restored {tuple(restored.shape)} and reference "
                               f"{tuple(reference.shape)} differ in shape")


def quantize_ste(image: torch.Tensor, bits: int) -> torch.Tensor:
    """Round to the ``bits``-bit grid after clipping to ``[0, 1]``; identity gradient.

    Args:
        image: float tensor in ``[0, 1]``.
        bits: bit depth of the grid ``k / (2**bits - 1)``.

    Returns:
        The quantized tensor (forward) whose gradient w.r.t. ``image`` is 1 (straight through).

    Example:
        >>> quantize_ste(torch.tensor([0.5, 1.2]), 8) * 255
        tensor([128., 255.])
    """
    levels = float(2 ** int(bits) - 1)
    rounded = torch.round(image.clamp(0.0, 1.0) * levels) / levels
    return image + (rounded - image).detach()


def rgb_to_y_torch(image: torch.Tensor) -> torch.Tensor:
    """BT.601 luma (MATLAB ``rgb2ycbcr``'s Y) of ``[0, 1]`` tensors, in ``[16, 235] / 255``.

    Same formula as :func:`deblurkit.metrics.color.rgb_to_y`; a one-channel tensor is treated
    as ``R = G = B``.

    Shape:
        ``(B, 3, H, W)`` or ``(B, 1, H, W)`` -> ``(B, 1, H, W)``.

    Example:
        >>> round(float(rgb_to_y_torch(torch.ones(1, 3, 1, 1)) * 255), 4)
        235.0
    """
    if image.ndim != 4 or image.shape[1] not in (1, 3):
        raise MetricInputError(f"channel='y' needs B x 3 x H x W (or grey) tensors, "
                               f"got shape {tuple(image.shape)}")
    if image.shape[1] == 3:
        weights = torch.tensor(BT601_Y_WEIGHTS, dtype=image.dtype, device=image.device)
        weighted = (image * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    else:
        weighted = image * float(sum(BT601_Y_WEIGHTS))
    return (weighted + BT601_Y_OFFSET) * (TENSOR_PEAK / BT601_SCALE)


def prepare_pair_torch(restored: torch.Tensor, reference: torch.Tensor,
                       config: MetricConfig) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Quantize, crop and convert to Y as the numpy reference does; return the data range."""
    _check_pair(restored, reference)
    x, y = restored, reference
    if config.quantize:
        x = quantize_ste(x, config.quantize_bits)
    b = int(config.crop_border)
    if b:
        if 2 * b >= x.shape[-2] or 2 * b >= x.shape[-1]:
            raise MetricInputError(f"crop_border={b} leaves nothing of a "
                                   f"{x.shape[-2]}x{x.shape[-1]} image")
        x = x[..., b:-b, b:-b]
        y = y[..., b:-b, b:-b]
    if config.channel == "y":
        x = rgb_to_y_torch(x)
        y = rgb_to_y_torch(y)
    data_range = float(config.data_range) if config.data_range is not None else TENSOR_PEAK
    return x, y, data_range


def psnr_torch(restored: torch.Tensor, reference: torch.Tensor,
               config: MetricConfig | None = None, **overrides: Any) -> torch.Tensor:
    """PSNR in dB of each image of a batch (MSE over C, H, W): ``10 log10(L^2 / MSE)``.

    Args:
        restored: ``B x C x H x W`` float tensor in ``[0, 1]``.
        reference: the ground truth, same shape.
        config: conventions (default :class:`MetricConfig`); ``overrides`` replace fields.

    Returns:
        ``B`` PSNR values (``inf`` where identical), in the input's dtype.

    Shape:
        ``(B, C, H, W)`` x 2 -> ``(B,)``.

    Example:
        >>> x = torch.zeros(2, 3, 8, 8); y = x.clone(); y[1] += 0.1
        >>> psnr_torch(x, y, quantize=False)
        tensor([inf, 20.])
    """
    cfg = make_config(config, **overrides)
    x, y, data_range = prepare_pair_torch(restored, reference, cfg)
    mse = (x - y).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range ** 2 / mse)


def _kernel_1d(cfg: MetricConfig) -> np.ndarray:
    """The 1-D SSIM window (float64), the same taps scipy's filters use."""
    if cfg.ssim_window == "gaussian":
        radius = cfg.filter_radius
        taps = np.arange(-radius, radius + 1, dtype=np.float64)
        kernel = np.exp(-0.5 / (cfg.sigma ** 2) * taps ** 2)
        return kernel / kernel.sum()
    win = cfg.resolved_win_size
    return np.full(win, 1.0 / win, dtype=np.float64)


def _symmetric_indices(size: int, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Indices ``start..stop-1`` folded into ``0..size-1`` by half-sample symmetry (scipy's
    ``reflect``: ``... b a | a b c ... | c b ...``)."""
    idx = torch.arange(start, stop, device=device)
    period = 2 * size
    idx = torch.remainder(idx, period)
    return torch.where(idx >= size, period - 1 - idx, idx)


def _filter_valid(stack: torch.Tensor, kernel: torch.Tensor, pad: int) -> torch.Tensor:
    """Filter every channel of ``stack`` (N x K x H x W) with the separable ``kernel`` and keep
    the region ``[pad, H - pad) x [pad, W - pad)``."""
    radius = (kernel.numel() - 1) // 2
    channels = stack.shape[1]
    height, width = stack.shape[-2:]
    rows = _symmetric_indices(height, pad - radius, height - pad + radius, stack.device)
    cols = _symmetric_indices(width, pad - radius, width - pad + radius, stack.device)
    out = stack.index_select(-2, rows)
    out = F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    out = out.index_select(-1, cols)
    return F.conv2d(out, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


def ssim_map_torch(x: torch.Tensor, y: torch.Tensor, data_range: float,
                   cfg: MetricConfig) -> torch.Tensor:
    """Local SSIM of prepared ``B x C x H x W`` tensors, border ``(win_size - 1) // 2`` removed.

    Shape:
        ``(B, C, H, W)`` x 2 -> ``(B, C, H - 2p, W - 2p)``, ``p = (win_size - 1) // 2``.
    """
    win = cfg.resolved_win_size
    if x.shape[-2] < win or x.shape[-1] < win:
        raise MetricInputError(f"SSIM window {win}x{win} is larger than the scored image "
                               f"{x.shape[-2]}x{x.shape[-1]}")
    n = win * win
    cov_norm = n / (n - 1) if cfg.resolved_use_sample_covariance else 1.0
    kernel = torch.as_tensor(_kernel_1d(cfg), dtype=x.dtype, device=x.device)
    channels = x.shape[1]
    # (co)variances do not change under a common shift; centring both images on the
    # reference's mean keeps E[x^2] - E[x]^2 from cancelling badly in float32.
    shift = y.detach().mean(dim=(-2, -1), keepdim=True)
    xc, yc = x - shift, y - shift
    stack = torch.cat([xc, yc, xc * xc, yc * yc, xc * yc], dim=1)
    filtered = _filter_valid(stack, kernel, (win - 1) // 2)
    uxc, uyc, uxx, uyy, uxy = filtered.split(channels, dim=1)
    vx = cov_norm * (uxx - uxc * uxc)
    vy = cov_norm * (uyy - uyc * uyc)
    vxy = cov_norm * (uxy - uxc * uyc)
    ux, uy = uxc + shift, uyc + shift
    c1 = (cfg.K1 * data_range) ** 2
    c2 = (cfg.K2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))


def ssim_torch(restored: torch.Tensor, reference: torch.Tensor,
               config: MetricConfig | None = None, **overrides: Any) -> torch.Tensor:
    """SSIM of each image of a batch (mean over channels of the per-channel mean SSIM).

    Args:
        restored: ``B x C x H x W`` float tensor in ``[0, 1]``.
        reference: the ground truth, same shape.
        config: conventions (default :class:`MetricConfig`); ``overrides`` replace fields.

    Returns:
        ``B`` SSIM values in the input's dtype; differentiable.

    Shape:
        ``(B, C, H, W)`` x 2 -> ``(B,)``.

    Example:
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim_torch(x, x, quantize=False)
        tensor([1., 1.])
    """
    cfg = make_config(config, **overrides)
    x, y, data_range = prepare_pair_torch(restored, reference, cfg)
    return ssim_map_torch(x, y, data_range, cfg).flatten(1).mean(dim=1)
