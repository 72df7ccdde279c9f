"""S3 -- MSDN: multi-scale dense network for deblurring, and its DN variant.

Paper: Song Haoze, Wu Xiaojun, "Deblurring Model of Image Multi-Scale Dense Network" (in
Chinese, Laser & Optoelectronics Progress 56(21), 2019; ``shared/papers/002``). Sec. 3.1
(dense network structure, Fig. 2 "structure of layers"), Sec. 3.2 (multi-scale receptive
field structure), Sec. 3.3 (skip connections, Fig. 3), Sec. 4 (DN vs MSDN).

The network is the DeblurGAN generator with its ResNet trunk replaced by an FC-DenseNet
("Tiramisu", Jegou et al. 2017) encoding path, four skip connections, and a PSPNet pyramid
pooling module (Zhao et al. 2017) at the bottleneck. DN is the same network without the
pyramid module.

What the paper fixes (Fig. 2):

* dense layer = Conv3x3 stride 1 -> weight normalization -> TPReLU -> dropout 0.2;
* down layer (transition down) = Conv1x1 -> weight normalization -> TPReLU -> dropout 0.2
  -> max pooling 2;
* up layer = ConvTranspose3x3 stride 2 -> weight normalization -> TPReLU;
* "TPReLU" cites P-TELU (Gupta and Duggal 2017), see :class:`deblurkit.models.layers.PTELU`;
* the multi-scale structure: average pooling at 4 scales + upsampling, concatenated;
* four skip connections concatenating encoder and decoder maps of equal size.

What the text lost (the figure of the whole network and part of Sec. 3.2/3.3), and the choices
made here (all constructor arguments):

* **Widths** -- FC-DenseNet67-like: first conv 48 channels, growth rate 16, 5 dense layers per
  block on the 4 encoder levels and in the bottleneck block. 1x1 transition convs keep the
  channel count (as in the Tiramisu).
* **Skip source** -- the text says the *down layer's* output is concatenated with the matching
  *up layer's* output. Down-layer outputs are already pooled, so only three of them could meet
  an up-layer output of equal size; we follow the Tiramisu it cites: the skip carries each
  encoder dense block's output (the input of its transition down), which gives exactly the
  four skips drawn as (1)-(4).
* **Decoder** -- the paper improves only the encoder ("future work will improve the decoding
  process"), so the decoder stays DeblurGAN-like: four up layers (widths 256, 128, 64, 32),
  each followed by the skip concatenation, no dense blocks.
* **Bottleneck** -- the bottleneck dense block's whole output (input + new features) feeds the
  pyramid module. Pyramid module = PSPNet: adaptive average pooling to bins 1, 2, 3, 6, a 1x1
  conv (weight norm + P-TELU) reducing each branch to ``C / 4`` channels, bilinear upsampling
  back, concatenation with the input (``2 C`` channels out).
* **Output** -- DeblurGAN's: a 7x7 conv to 3 channels, ``tanh``, and the global input skip
  ``output = input + tanh(residual)`` in the ``[-1, 1]`` range. DeblurGAN clamps the sum to
  ``[-1, 1]``; we do not by default (the :class:`~deblurkit.models.base.RestorationNet` convention:
  losses see the raw prediction), ``clamp_output=True`` restores DeblurGAN's clamp.
* **Weight normalization** -- ``torch.nn.utils.parametrizations.weight_norm`` on *every*
  convolution (also the first, pyramid and last ones, which the paper does not draw); it
  re-parametrizes the conv weight, so "conv -> weight norm" is one module.
* **P-TELU init** -- ``alpha = beta = 1`` (slope 1 on both sides of 0).
* **Dropout** -- 0.2 in dense and down layers, active in train mode only.
* **Padding** -- zero padding (Tiramisu) for the 3x3 convs; reflect padding for the final
  7x7 conv (DeblurGAN). Inputs are padded to a multiple of 16 (four 2x poolings) and cropped
  back.

CPU variant ``s3_msdn_cpu`` (not in the paper; for a 2-core CPU at 1280x720): the same dense
encoder, four skips, pyramid pooling module and DeblurGAN-like decoder, but the whole network
runs on ``4 x 4`` pixel blocks stacked as channels (``space_to_depth=4``: ``PixelUnshuffle(4)``
before the stem, ``PixelShuffle(4)`` after the last conv, exact and parameter-free; no
convolution at full resolution), with narrower dense blocks (stem 48, growth rate 24, 4-4-3-2
layers fine -> coarse and 3 in the bottleneck: the layers sit where the maps are large and
the channels few, which keeps the parameters under 4 M), a narrow decoder (128-96-96-64), a
3x3 last conv instead of 7x7, and no dropout (the paper's 0.2 slows a short run; ``dropout``
restores it). A dense network is bound by memory traffic on a CPU (concatenations, the
P-TELU's elementwise passes, weight normalization) rather than by multiply-accumulates, hence
4x4 blocks: 22 GMACs at 1280x720 run about as fast as ``s1_msed_fast``'s 58.

Value range: ``[-1, 1]`` inside (``ValueRange.symmetric()``), ``[0, 1]`` at the interface.

Example:
    >>> net = MultiScaleDenseNet(stem_channels=8, growth_rate=4, block_layers=[1, 1, 1, 1],
    ...                          bottleneck_layers=1, decoder_channels=[8, 8, 8, 8])
    >>> net(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.layers import PTELU, adaptive_avg_pool2d
from deblurkit.models.registry import register_model

PAPER = "S3 (Song & Wu 2019, MSDN), Sec. 3.1-3.3, Fig. 2"


def wn_conv(in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
            padding: int = 0, padding_mode: str = "zeros", transposed: bool = False) -> nn.Module:
    """A convolution (or stride-2 style transposed convolution) with weight normalization.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel size.
        stride: stride (for a transposed conv: the upsampling factor).
        padding: implicit padding.
        padding_mode: ``"zeros"`` or ``"reflect"`` (plain convs only).
        transposed: build ``ConvTranspose2d`` with ``output_padding = stride - 1`` so that the
            output is exactly ``stride`` times the input size.

    Returns:
        The conv module whose ``weight`` is parametrized as ``g * v / ||v||`` (per output
        channel; ``parametrizations.weight.original0/1`` in the state dict).
    """
    if transposed:
        conv: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                                             padding=padding, output_padding=stride - 1)
        # ConvTranspose2d weights are (in, out, kh, kw): normalize per output channel (dim 1).
        return weight_norm(conv, dim=1)
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                     padding_mode=padding_mode)
    return weight_norm(conv, dim=0)


class DenseLayer(nn.Module):
    """Fig. 2 "dense layer": Conv3x3 s1 -> weight norm -> P-TELU -> dropout; returns only the
    ``growth_rate`` new feature maps (the block concatenates them).

    Args:
        in_channels: channels of the concatenated input.
        growth_rate: new feature maps produced.
        dropout: dropout probability (paper: 0.2).

    Shape:
        ``(B, in_channels, H, W) -> (B, growth_rate, H, W)``.
    """

    def __init__(self, in_channels: int, growth_rate: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.conv = wn_conv(in_channels, growth_rate, 3, padding=1)
        self.act = PTELU(growth_rate)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.act(self.conv(x)))


class DenseBlock(nn.Module):
    """A dense block: layer ``i`` sees the concatenation of the block input and all earlier
    layers' outputs (paper eq. 5).

    Args:
        in_channels: block input channels.
        growth_rate: feature maps added by each layer.
        num_layers: number of dense layers.
        dropout: dropout of each layer.

    Shape:
        ``(B, C, H, W) -> (B, C + num_layers * growth_rate, H, W)`` (input and new features).
    """

    def __init__(self, in_channels: int, growth_rate: int, num_layers: int,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, dropout)
            for i in range(num_layers))
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


class TransitionDown(nn.Module):
    """Fig. 2 "down layer": Conv1x1 -> weight norm -> P-TELU -> dropout -> MaxPool 2.

    Shape:
        ``(B, C, H, W) -> (B, C, H // 2, W // 2)``.
    """

    def __init__(self, channels: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.conv = wn_conv(channels, channels, 1)
        self.act = PTELU(channels)
        self.drop = nn.Dropout(dropout)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.drop(self.act(self.conv(x))))


class TransitionUp(nn.Module):
    """Fig. 2 "up layer": ConvTranspose3x3 stride 2 -> weight norm -> P-TELU.

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, 2 H, 2 W)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = wn_conv(in_channels, out_channels, 3, stride=2, padding=1, transposed=True)
        self.act = PTELU(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


class PyramidPooling(nn.Module):
    """PSPNet pyramid pooling ("multi-scale receptive field structure", Sec. 3.2).

    For each bin count ``b``: adaptive average pooling to ``b x b``, 1x1 conv (weight norm +
    P-TELU) to ``channels // reduction`` maps, bilinear upsampling back to the input size. The
    branches are concatenated with the input.

    Args:
        channels: input channels ``C``.
        bins: pooled output sizes, one branch each (paper: 4 scales; default ``(1, 2, 3, 6)``
            as PSPNet).
        reduction: each branch has ``C // reduction`` channels (PSPNet: 4 = ``len(bins)``).

    Shape:
        ``(B, C, H, W) -> (B, C + len(bins) * (C // reduction), H, W)``; any ``H, W >= 1``.

    Example:
        >>> PyramidPooling(8)(torch.zeros(1, 8, 5, 7)).shape
        torch.Size([1, 16, 5, 7])
    """

    def __init__(self, channels: int, bins: tuple[int, ...] | list[int] = (1, 2, 3, 6),
                 reduction: int = 4) -> None:
        super().__init__()
        branch_channels = max(1, channels // reduction)
        self.bins = tuple(int(b) for b in bins)
        self.branches = nn.ModuleList(
            nn.Sequential(wn_conv(channels, branch_channels, 1), PTELU(branch_channels))
            for _ in self.bins)
        self.out_channels = channels + len(self.bins) * branch_channels

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        outputs = [x]
        for bins, branch in zip(self.bins, self.branches):
            pooled = branch(adaptive_avg_pool2d(x, bins))
            outputs.append(F.interpolate(pooled, size=size, mode="bilinear", align_corners=False))
        return torch.cat(outputs, dim=1)


@register_model("s3_msdn_cpu", kind="generator",
                paper=PAPER + " (MSDN, CPU variant: on 4x4 pixel blocks, narrow)",
                pyramid_pooling=True, space_to_depth=4, stem_channels=48, growth_rate=24,
                block_layers=(4, 4, 3, 2), bottleneck_layers=3,
                decoder_channels=(128, 96, 96, 64), dropout=0.0, final_kernel=3)
@register_model("s3_msdn", kind="generator", paper=PAPER + " (MSDN: with pyramid pooling)",
                pyramid_pooling=True)
@register_model("s3_dn", kind="generator", paper=PAPER + " (DN: without pyramid pooling)",
                pyramid_pooling=False)
class MultiScaleDenseNet(RestorationNet):
    """MSDN generator (S3); with ``pyramid_pooling=False`` the DN variant.

    Layout (``L = len(block_layers)`` levels, default 4)::

        x -> conv3x3 (stem) -> [dense block_k -> (skip_k) -> down layer] x L
          -> bottleneck dense block -> [pyramid pooling]
          -> [up layer_k -> concat skip_k] x L (coarse -> fine)
          -> conv7x7 -> tanh -> + x

    Args:
        channels: image channels (input = output, needed by the global skip).
        stem_channels: width of the first conv (Tiramisu: 48).
        growth_rate: feature maps added by each dense layer (FC-DenseNet67: 16).
        block_layers: dense layers per encoder block, fine -> coarse; its length is the number
            of levels, poolings and skip connections (paper: 4).
        bottleneck_layers: dense layers in the bottleneck block.
        decoder_channels: output width of each up layer, coarse -> fine (same length as
            ``block_layers``).
        pyramid_pooling: add the pyramid pooling module (MSDN) or not (DN).
        pyramid_bins: the pooled sizes of the pyramid module (4 scales).
        pyramid_reduction: channel reduction of each pyramid branch.
        dropout: dropout of dense and down layers (paper: 0.2; train mode only).
        final_kernel: kernel of the last conv (DeblurGAN: 7).
        clamp_output: clamp ``input + tanh(residual)`` to ``[-1, 1]`` as DeblurGAN does
            (default ``False``: unclamped, see module docstring).
        residual_init: ``"default"`` (PyTorch's initialization, weight-normalized last conv)
            or ``"zero"``: the last conv is a plain convolution (no weight norm) whose weight
            and bias start at zero, so ``tanh(residual) = 0`` and the untrained network
            outputs its input exactly (not in the paper). A plain conv because zeroing the
            weight-norm magnitude ``g`` (one scalar per output channel) leaves the residual
            to grow through three scalars, far too slowly for a short run.
        space_to_depth: ``f > 1`` runs the network on ``f x f`` pixel blocks stacked as
            channels: ``PixelUnshuffle(f)`` before the stem (``C f^2`` channels in), the last
            conv outputs ``C f^2`` channels and ``PixelShuffle(f)`` brings them back before the
            ``tanh`` and the global skip (not in the paper; default 1; ``s3_msdn_cpu`` uses 4).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)`` in ``[0, 1]``, any ``H, W`` (padded to a multiple of
        ``2 ** len(block_layers) * space_to_depth`` and cropped back).

    Example:
        >>> net = MultiScaleDenseNet(stem_channels=8, growth_rate=4,
        ...     block_layers=[1, 1], bottleneck_layers=1, decoder_channels=[8, 8],
        ...     pyramid_pooling=False)
        >>> net(torch.rand(2, 3, 9, 10)).shape
        torch.Size([2, 3, 9, 10])
    """

    def __init__(self, channels: int = 3, stem_channels: int = 48, growth_rate: int = 16,
                 block_layers: list[int] | tuple[int, ...] = (5, 5, 5, 5),
                 bottleneck_layers: int = 5,
                 decoder_channels: list[int] | tuple[int, ...] = (256, 128, 64, 32),
                 pyramid_pooling: bool = True,
                 pyramid_bins: list[int] | tuple[int, ...] = (1, 2, 3, 6),
                 pyramid_reduction: int = 4, dropout: float = 0.2, final_kernel: int = 7,
                 clamp_output: bool = False, residual_init: str = "default",
                 space_to_depth: int = 1) -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init)
        if space_to_depth < 1:
            raise ValueError(f"space_to_depth must be >= 1, got {space_to_depth}")
        self.space_to_depth = space_to_depth
        blocks = space_to_depth ** 2
        if len(decoder_channels) != len(block_layers):
            raise ValueError(f"decoder_channels ({len(decoder_channels)} values) must have one "
                             f"width per level of block_layers ({len(block_layers)} values)")
        self.value_range = ValueRange.symmetric()
        self.pad_multiple = 2 ** len(block_layers) * space_to_depth
        self.clamp_output = clamp_output

        self.stem = nn.Sequential(wn_conv(channels * blocks, stem_channels, 3, padding=1),
                                  PTELU(stem_channels))
        self.encoder_blocks = nn.ModuleList()
        self.transitions_down = nn.ModuleList()
        skip_channels = []
        width = stem_channels
        for num_layers in block_layers:
            block = DenseBlock(width, growth_rate, num_layers, dropout)
            width = block.out_channels
            skip_channels.append(width)
            self.encoder_blocks.append(block)
            self.transitions_down.append(TransitionDown(width, dropout))

        self.bottleneck = DenseBlock(width, growth_rate, bottleneck_layers, dropout)
        width = self.bottleneck.out_channels
        self.pyramid: nn.Module | None = None
        if pyramid_pooling:
            self.pyramid = PyramidPooling(width, pyramid_bins, pyramid_reduction)
            width = self.pyramid.out_channels

        self.transitions_up = nn.ModuleList()
        for up_width, skip_width in zip(decoder_channels, reversed(skip_channels)):
            self.transitions_up.append(TransitionUp(width, up_width))
            width = up_width + skip_width
        if residual_init == "zero":
            self.head: nn.Module = nn.Conv2d(width, channels * blocks, final_kernel,
                                             padding=final_kernel // 2, padding_mode="reflect")
            zero_init_output_layer_(self.head)
        else:
            self.head = wn_conv(width, channels * blocks, final_kernel, padding=final_kernel // 2,
                                padding_mode="reflect")

    def restore(self, x: Tensor) -> Tensor:
        f = self.space_to_depth
        features = self.stem(F.pixel_unshuffle(x, f) if f > 1 else x)
        skips = []
        for block, down in zip(self.encoder_blocks, self.transitions_down):
            features = block(features)
            skips.append(features)
            features = down(features)
        features = self.bottleneck(features)
        if self.pyramid is not None:
            features = self.pyramid(features)
        for up, skip in zip(self.transitions_up, reversed(skips)):
            features = torch.cat([up(features), skip], dim=1)
        residual = self.head(features)
        out = x + torch.tanh(F.pixel_shuffle(residual, f) if f > 1 else residual)
        return out.clamp(-1.0, 1.0) if self.clamp_output else out
