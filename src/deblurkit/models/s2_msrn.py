"""S2: multi-scale residual network (Xu, Jiao, Zhao), paper ``001``.

"Motion Blur Image Restoration by Multi-Scale Residual Neural Network". Architecture:
Sec. III (Fig. 1 generator, Sec. III.B and Fig. 3 the multi-scale residual block after Li et al.
2018 (MSRN), eqs. 2-7, and the hierarchical feature fusion); the discriminator of Table I is
:class:`deblurkit.models.discriminators.S2Discriminator`.

Generator, coarse -> fine over a Gaussian pyramid of the blurred input (levels 1/4, 1/2, 1 with
the default ``num_levels=3``), as in Nah et al. 2017: the coarsest scale sees its blurred image
``B_k``; every finer scale sees ``[B_k, up(L_{k+1})]`` (6 channels), its blurred image
concatenated with the upsampled prediction of the coarser scale; every scale outputs an image
``L_k``. Each scale has its own weights (as in Nah et al.)::

    head:   Conv kxk (3 or 6 -> width), ReLU
    body:   MSRB x num_msrb                      (M_1 ... M_n)
    fusion: Conv1x1 ([M_1, ..., M_n] -> width)   hierarchical feature fusion (bottleneck)
    tail:   Conv kxk (width -> 3)                the scale's image

MSRB (eqs. 2-7), with ``M`` = width::

    S1 = ReLU(conv3x3(M))          P1 = ReLU(conv5x5(M))          M  -> M channels each
    S2 = ReLU(conv3x3([S1, P1]))   P2 = ReLU(conv5x5([P1, S1]))   2M -> 2M channels each
    S' = conv1x1([S2, P2])                                         4M -> M
    out = S' + M_in                                                 (no batch norm)

so one MSRB holds ``174 M^2 + 7 M`` parameters.

Choices where the paper is silent or ambiguous:

- *Number of MSRBs per scale*: the text says both "17 residuals" and "two multi-scale residual
  modules and two convolutional layers". ``num_msrb=2`` is the default (the explicit module
  count; it also fits the paper's claim of a lighter, faster network than Nah et al.);
  ``num_msrb`` is an argument (Li et al. use 8).
- *Head / tail convolutions*: 3x3 (Li et al.); ReLU after the head, tail linear. No global
  input-output skip (``global_residual=False``; an option).
- *Gaussian pyramid*: a fixed 5-tap Gaussian (sigma 1) with reflect padding, then stride-2
  sampling (:func:`gaussian_pyramid`, also used for the multi-scale loss's sharp pyramid).
- *Upsampling the coarser prediction*: bilinear x2 (``upsample="bilinear"``, default) or Nah et
  al.'s learned up-convolution (``upsample="transposed"``, a 4x4 stride-2 transposed
  convolution 3 -> 3 per finer scale).
- *Hierarchical feature fusion*: concatenates the MSRB outputs only (not the head output).
- *Value range*: not stated; the network works on ``x - 0.5`` (``ValueRange.centered``) --
  zero-mean inputs for a network without normalisation, as S1 in this project.
- *Initialisation*: PyTorch's default (the paper is silent).

CPU variant ``s2_msrn_cpu`` (not in the paper; for a 2-core CPU at 1280x720): the same three
scales and MSRBs, but every scale runs on ``4 x 4`` pixel blocks stacked as channels
(``space_to_depth=4``: ``PixelUnshuffle(4)`` before the head, ``PixelShuffle(4)`` after the
tail, exact and parameter-free), so no convolution runs at full resolution; width 40, two MSRBs
per scale, and a global residual per scale (``global_residual=True``; with
``residual_init="zero"`` the untrained network is the identity).

Value range: ``forward`` takes and returns ``[0, 1]``; internally ``x - 0.5``.

Example:
    >>> net = MultiScaleResidualNetwork(width=8)
    >>> [o.shape[-1] for o in net.forward_scales(torch.rand(1, 3, 37, 53))]
    [14, 27, 53]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.layers import gaussian_blur, gaussian_kernel1d
from deblurkit.models.registry import register_model

PAPER = "S2 (Xu et al., paper 001), Sec. III, Fig. 1, Fig. 3, eqs. 2-7"
#: Gaussian pyramid defaults: 5 taps, sigma 1 (close to Burt & Adelson's binomial kernel).
PYRAMID_KERNEL_SIZE = 5
PYRAMID_SIGMA = 1.0
PYRAMID_STRIDE = 2
UPSAMPLES = ("bilinear", "transposed")


def gaussian_pyramid(x: Tensor, levels: int, kernel_size: int = PYRAMID_KERNEL_SIZE,
                     sigma: float = PYRAMID_SIGMA) -> list[Tensor]:
    """Gaussian pyramid (fixed blur, then every second pixel), ordered coarse -> fine.

    The order matches :meth:`~deblurkit.models.base.RestorationNet.forward_scales`, so
    ``zip(net.forward_scales(blurred), gaussian_pyramid(sharp, levels))`` pairs each scale's
    output with its target. A level of size ``n`` has ``ceil(n / 2)`` pixels at the next level,
    the same sizes ``forward_scales`` crops to.

    Args:
        x: ``(B, C, H, W)``.
        levels: number of levels (1 = ``[x]``).
        kernel_size: odd number of Gaussian taps (default 5).
        sigma: Gaussian standard deviation in pixels (default 1.0).

    Returns:
        ``levels`` tensors, the last one ``x`` itself.

    Example:
        >>> [t.shape[-1] for t in gaussian_pyramid(torch.rand(1, 3, 9, 9), 3)]
        [3, 5, 9]
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    pyramid = [x]
    for _ in range(levels - 1):
        blurred = gaussian_blur(pyramid[-1], kernel_size, sigma)
        pyramid.append(blurred[..., ::PYRAMID_STRIDE, ::PYRAMID_STRIDE])
    return pyramid[::-1]


class MSRB(nn.Module):
    """Multi-scale residual block (Li et al. 2018; paper 001 eqs. 2-7). No batch norm.

    Args:
        channels: ``M``, the input = output width.

    Shape: ``(B, M, H, W) -> (B, M, H, W)``.

    Example:
        >>> sum(p.numel() for p in MSRB(8).parameters()) == 174 * 8 ** 2 + 7 * 8
        True
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        m = channels
        self.conv3_1 = nn.Conv2d(m, m, 3, padding=1)
        self.conv5_1 = nn.Conv2d(m, m, 5, padding=2)
        self.conv3_2 = nn.Conv2d(2 * m, 2 * m, 3, padding=1)
        self.conv5_2 = nn.Conv2d(2 * m, 2 * m, 5, padding=2)
        self.fuse = nn.Conv2d(4 * m, m, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        s1 = self.act(self.conv3_1(x))
        p1 = self.act(self.conv5_1(x))
        s2 = self.act(self.conv3_2(torch.cat([s1, p1], dim=1)))
        p2 = self.act(self.conv5_2(torch.cat([p1, s1], dim=1)))
        return x + self.fuse(torch.cat([s2, p2], dim=1))


class ScaleNetwork(nn.Module):
    """One scale: head conv -> MSRBs -> hierarchical feature fusion (1x1) -> tail conv.

    Args:
        in_channels: 3 (coarsest scale) or 6 (blurred + upsampled coarser prediction), times
            ``f * f`` on ``f x f`` pixel blocks.
        width: feature width ``M``.
        num_msrb: number of MSRBs.
        kernel_size: head / tail kernel size.
        out_channels: 3, times ``f * f`` on pixel blocks.

    Shape: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.
    """

    def __init__(self, in_channels: int, width: int, num_msrb: int, kernel_size: int = 3,
                 out_channels: int = 3) -> None:
        super().__init__()
        if num_msrb < 1:
            raise ValueError(f"num_msrb must be >= 1, got {num_msrb}")
        self.head = nn.Conv2d(in_channels, width, kernel_size, padding=kernel_size // 2)
        self.act = nn.ReLU(inplace=True)
        self.blocks = nn.ModuleList(MSRB(width) for _ in range(num_msrb))
        self.fusion = nn.Conv2d(num_msrb * width, width, 1)
        self.tail = nn.Conv2d(width, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.head(x))
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        return self.tail(self.fusion(torch.cat(outputs, dim=1)))


@register_model("s2_msrn_cpu", kind="generator", paper=PAPER + " (CPU variant)",
                num_levels=3, num_msrb=2, width=40, space_to_depth=4, global_residual=True)
@register_model("s2_msrn_small", kind="generator", paper=PAPER, width=32)
@register_model("s2_msrn", kind="generator", paper=PAPER)
class MultiScaleResidualNetwork(RestorationNet):
    """S2's generator (see the module docstring for the structure and every choice made).

    Args:
        num_levels: pyramid levels (paper: 3 = 1, 1/2, 1/4).
        num_msrb: MSRBs per scale (default 2; the paper is ambiguous: "two" / "17").
        width: feature width ``M`` (Li et al.: 64).
        kernel_size: head / tail convolution kernel size (default 3).
        upsample: ``"bilinear"`` (default) or ``"transposed"`` (Nah et al.'s up-convolution)
            for the coarser prediction.
        global_residual: add each scale's blurred input to its output (not in the paper;
            default False).
        pyramid_sigma: standard deviation of the input pyramid's Gaussian (default 1.0).
        residual_init: ``"default"`` (PyTorch's initialization) or ``"zero"``: every scale's
            tail convolution starts at zero so that, with ``global_residual`` (required), the
            untrained network outputs its input exactly (not in the paper; for short runs).
        space_to_depth: ``f > 1`` runs every scale's network on ``f x f`` pixel blocks stacked
            as channels (``PixelUnshuffle(f)`` before the head, ``PixelShuffle(f)`` after the
            tail), so no convolution runs at the level's own resolution; the pyramid, the
            upsampling of the coarser prediction and the global residual stay at the level's
            resolution (not in the paper; default 1; ``s2_msrn_cpu`` uses 4).

    Shape:
        - Input ``(B, 3, H, W)`` in ``[0, 1]``, any size (padded to
          ``2**(num_levels-1) * space_to_depth``).
        - Output ``(B, 3, H, W)``; ``forward_scales`` gives every level coarse -> fine (sizes
          ``ceil(H / 2**k)``), the targets of the multi-scale loss.

    Example:
        >>> net = MultiScaleResidualNetwork(width=8, num_msrb=1)
        >>> net(torch.rand(2, 3, 16, 16)).shape
        torch.Size([2, 3, 16, 16])
    """

    def __init__(self, num_levels: int = 3, num_msrb: int = 2, width: int = 64,
                 kernel_size: int = 3, upsample: str = "bilinear",
                 global_residual: bool = False, pyramid_sigma: float = PYRAMID_SIGMA,
                 residual_init: str = "default", space_to_depth: int = 1) -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init, has_global_skip=global_residual)
        if num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {num_levels}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, got {upsample!r}")
        if space_to_depth < 1:
            raise ValueError(f"space_to_depth must be >= 1, got {space_to_depth}")
        self.num_levels = num_levels
        self.global_residual = global_residual
        self.pyramid_sigma = pyramid_sigma
        self.space_to_depth = space_to_depth
        self.value_range = ValueRange.centered()
        self.pad_multiple = PYRAMID_STRIDE ** (num_levels - 1) * space_to_depth
        blocks = space_to_depth ** 2
        # scales[0] is the coarsest.
        self.scales = nn.ModuleList(
            ScaleNetwork((3 if k == 0 else 6) * blocks, width, num_msrb, kernel_size,
                         out_channels=3 * blocks)
            for k in range(num_levels))
        self.upsamplers = nn.ModuleList(
            nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1) if upsample == "transposed"
            else nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            for _ in range(num_levels - 1))
        if residual_init == "zero":
            for scale in self.scales:
                zero_init_output_layer_(scale.tail)

    def restore(self, x: Tensor) -> list[Tensor]:
        outputs: list[Tensor] = []
        pyramid = gaussian_pyramid(x, self.num_levels, sigma=self.pyramid_sigma)
        for k, blurred in enumerate(pyramid):
            if k == 0:
                net_in = blurred
            else:
                net_in = torch.cat([blurred, self.upsamplers[k - 1](outputs[-1])], dim=1)
            f = self.space_to_depth
            if f > 1:
                out = F.pixel_shuffle(self.scales[k](F.pixel_unshuffle(net_in, f)), f)
            else:
                out = self.scales[k](net_in)
            outputs.append(out + blurred if self.global_residual else out)
        return outputs


def msrb_parameter_count(channels: int) -> int:
    """Parameters of one :class:`MSRB` of width ``M``: ``174 M^2 + 7 M``.

    (3x3: M->M, 5x5: M->M, 3x3: 2M->2M, 5x5: 2M->2M, 1x1: 4M->M, each with a bias.)
    """
    m = channels
    return (9 + 25 + 9 * 4 + 25 * 4 + 4) * m * m + (m + m + 2 * m + 2 * m + m)


__all__ = ["MSRB", "MultiScaleResidualNetwork", "ScaleNetwork", "gaussian_blur",
           "gaussian_kernel1d", "gaussian_pyramid", "msrb_parameter_count"]
