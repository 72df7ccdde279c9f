"""Discriminators: S2's 9-layer discriminator and the PatchGAN critic of pix2pix / DeblurGAN.

- :class:`S2Discriminator` -- paper ``001`` (S2, Xu et al.), Table I: nine convolutions, 5x5
  (4x4 last), widths 32, 64, 64, 128, 128, 256, 256, 512, 512, strides 2, 1, 2, 1, 4, 1, 4, 1,
  4, then a fully connected layer and a sigmoid (the discriminator of Nah et al. 2017).
- :class:`PatchDiscriminator` -- the ``N``-layer PatchGAN of Isola et al. (pix2pix, 2017) with
  ``n_layers=3`` (70x70 receptive field), as used by DeblurGAN (Kupyn et al. 2018) and the
  systems built on it: S3 and S5 (WGAN-GP critic of PatchGAN form), S4 (WGAN-GP PatchGAN,
  InstanceNorm, LeakyReLU 0.2).

Input convention (both): images in ``[0, 1]`` -- what every deblurkit generator returns -- which
the discriminator maps to ``[-1, 1]`` (``2 x - 1``) before its first layer, so that generators
of any internal range are judged alike. Output: **logits** by default (no sigmoid), to be paired
with ``BCEWithLogitsLoss`` (numerically stable) or used as a WGAN critic score; pass
``sigmoid=True`` for probabilities.

Example:
    >>> d = PatchDiscriminator(base_width=8)
    >>> d(torch.rand(2, 3, 64, 64)).shape
    torch.Size([2, 1, 6, 6])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deblurkit.models.layers import NORM_KINDS, conv_bias_for, make_norm
from deblurkit.models.registry import register_model

S2_PAPER = "S2 (Xu et al., paper 001), Table I"
PATCHGAN_PAPER = "PatchGAN (Isola et al. 2017) as in DeblurGAN; critic of S3, S4, S5"

#: Table I of paper 001: (output channels, kernel size, stride) of the nine convolutions.
S2_LAYERS: tuple[tuple[int, int, int], ...] = (
    (32, 5, 2), (64, 5, 1), (64, 5, 2), (128, 5, 1), (128, 5, 4),
    (256, 5, 1), (256, 5, 4), (512, 5, 1), (512, 4, 4),
)
#: LeakyReLU slope of both discriminators (Nah et al.; pix2pix; S4's text).
LEAKY_SLOPE = 0.2
#: PatchGAN kernel size (pix2pix / DeblurGAN).
PATCH_KERNEL = 4


def to_symmetric(x: Tensor) -> Tensor:
    """Map ``[0, 1]`` images to ``[-1, 1]`` (``2 x - 1``)."""
    return x * 2.0 - 1.0


class S2Discriminator(nn.Module):
    """S2's discriminator (paper 001, Table I; after Nah et al. 2017).

    Every convolution is followed by LeakyReLU(0.2) (and the chosen norm); the 5x5 layers are
    zero-padded by 2, the last 4x4 stride-4 layer is not padded. Then global average pooling,
    a fully connected layer 512 -> 1 and (optionally) a sigmoid.

    Choices where the paper is silent or contradicts itself:

    - Table I lists the first layer as ``32 x 32 x 5 x 5``; its input is the RGB image, so it
      is built ``3 -> 32``.
    - Activation: the text names only the final sigmoid; LeakyReLU(0.2) after each convolution
      as in Nah et al.'s discriminator. No normalisation by default (Table I lists none);
      ``norm="batch"`` / ``"instance"`` are options.
    - The FC layer's input size depends on the image size. On the paper's 256x256 crops the
      last convolution yields a 1x1x512 map, so global average pooling before the FC is
      exactly the paper's layer there and lets any size >= 193 pixels work (the last 4x4
      convolution needs a 4x4 map). Smaller inputs raise ``ValueError``.
    - Output: logits by default (``sigmoid=False``); the paper's sigmoid with ``sigmoid=True``.

    Args:
        in_channels: image channels (3).
        layers: ``(channels, kernel, stride)`` per convolution (default :data:`S2_LAYERS`).
        norm: ``"none"`` (default), ``"batch"`` or ``"instance"`` after convolutions 2-9.
        sigmoid: apply the final sigmoid (default False: return logits).

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``, ``H, W >= 193``.
        - Output: ``(B, 1)``.

    Example:
        >>> S2Discriminator()(torch.rand(2, 3, 256, 256)).shape
        torch.Size([2, 1])
    """

    def __init__(self, in_channels: int = 3,
                 layers: Sequence[Sequence[int]] = S2_LAYERS, norm: str = "none",
                 sigmoid: bool = False) -> None:
        super().__init__()
        if norm not in NORM_KINDS:
            raise ValueError(f"norm must be one of {NORM_KINDS}, got {norm!r}")
        blocks: list[nn.Module] = []
        channels = in_channels
        for index, (width, kernel, stride) in enumerate(layers):
            last = index == len(layers) - 1
            padding = 0 if last else kernel // 2
            use_norm = norm if index > 0 else "none"
            blocks += [nn.Conv2d(channels, width, kernel, stride=stride, padding=padding,
                                 bias=conv_bias_for(use_norm)),
                       make_norm(use_norm, width),
                       nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
            channels = width
        self.features = nn.Sequential(*blocks)
        self.last_kernel = int(layers[-1][1])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, 1)
        self.sigmoid = sigmoid

    def forward(self, x: Tensor) -> Tensor:
        x = to_symmetric(x)
        *body, last_conv, last_norm, last_act = self.features
        for module in body:
            x = module(x)
        if min(x.shape[-2:]) < self.last_kernel:
            raise ValueError(f"S2Discriminator needs larger inputs: the map before its last "
                             f"{self.last_kernel}x{self.last_kernel} convolution is "
                             f"{tuple(x.shape[-2:])} (the paper uses 256x256 crops)")
        x = last_act(last_norm(last_conv(x)))
        logits = self.fc(torch.flatten(self.pool(x), 1))
        return torch.sigmoid(logits) if self.sigmoid else logits


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator / WGAN-GP critic (pix2pix's ``NLayerDiscriminator`` layout).

    ``Conv4x4 s2 -> LReLU``, then ``n_layers - 1`` blocks ``Conv4x4 s2 -> norm -> LReLU``
    doubling the width (capped at ``8 * base_width``), one ``Conv4x4 s1 -> norm -> LReLU``, and
    a ``Conv4x4 s1`` to one channel: a map of per-patch scores (70x70 receptive field for
    ``n_layers=3``). The layers live in ``self.model`` (an ``nn.Sequential`` holding identity
    placeholders where there is no norm), so parameter names follow the pix2pix / DeblurGAN
    checkpoints (``model.0.weight``, ``model.2.weight``, ...).

    Choices:

    - WGAN-GP penalises each sample's gradient norm, which batch norm couples across the
      batch: use ``norm="instance"`` or ``"none"`` for a critic. The ``"patchgan_wgan"``
      variant is DeblurGAN's critic (instance norm, as S4's text says; padding 2); the
      ``"patchgan"`` variant is pix2pix's batch-norm discriminator for (LS)GAN losses.
    - Convolution bias: dropped before batch norm, kept otherwise (the pix2pix rule,
      :func:`deblurkit.models.layers.conv_bias_for`), so checkpoints keep their layout.
    - Padding: pix2pix pads by 1, DeblurGAN by 2 (``ceil(3 / 2)``); an argument.
    - Output: logits / critic scores (``sigmoid=False``, default).

    Args:
        in_channels: image channels (3).
        base_width: width of the first convolution (64).
        n_layers: number of stride-2 convolutions (3).
        norm: ``"batch"``, ``"instance"`` or ``"none"``.
        padding: zero padding of every 4x4 convolution (1: pix2pix, 2: DeblurGAN).
        sigmoid: apply a sigmoid to the scores (default False).

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``.
        - Output: ``(B, 1, H', W')`` patch scores (``30 x 30`` for 256x256 with pix2pix
          padding; ``35 x 35`` with DeblurGAN padding).

    Example:
        >>> PatchDiscriminator()(torch.rand(1, 3, 256, 256)).shape
        torch.Size([1, 1, 30, 30])
    """

    def __init__(self, in_channels: int = 3, base_width: int = 64, n_layers: int = 3,
                 norm: str = "batch", padding: int = 1, sigmoid: bool = False) -> None:
        super().__init__()
        if norm not in NORM_KINDS:
            raise ValueError(f"norm must be one of {NORM_KINDS}, got {norm!r}")
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        bias = conv_bias_for(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_width, PATCH_KERNEL, stride=2, padding=padding),
            nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        width = base_width
        max_width = base_width * 8
        for index in range(1, n_layers + 1):
            stride = 2 if index < n_layers else 1
            new_width = min(base_width * 2 ** index, max_width)
            layers += [nn.Conv2d(width, new_width, PATCH_KERNEL, stride=stride, padding=padding,
                                 bias=bias),
                       make_norm(norm, new_width),
                       nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
            width = new_width
        layers.append(nn.Conv2d(width, 1, PATCH_KERNEL, stride=1, padding=padding))
        self.model = nn.Sequential(*layers)
        self.sigmoid = sigmoid

    def forward(self, x: Tensor) -> Tensor:
        scores = self.model(to_symmetric(x))
        return torch.sigmoid(scores) if self.sigmoid else scores


register_model("s2_discriminator", kind="discriminator", paper=S2_PAPER)(S2Discriminator)
register_model("patchgan", kind="discriminator", paper=PATCHGAN_PAPER,
               norm="batch", padding=1)(PatchDiscriminator)
register_model("patchgan_wgan", kind="discriminator", paper=PATCHGAN_PAPER,
               norm="instance", padding=2)(PatchDiscriminator)
