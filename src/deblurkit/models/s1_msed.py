"""S1: multi-scale encoder-decoder (Han, Duan, Tao, Gao, Lu), paper ``000``.

"Perceptual Quality Enhancement with Multi-scale Deep Learning for Video Transmission: A QoE
Perspective". Architecture: Sec. 3.1 and Figs. 2-3 (per-scale encoder-decoder), Sec. 3.3 and
Fig. 1 (multi-scale structure), Sec. 4.1 (input range ``x/255 - 0.5``, Xavier initialisation).

Per-scale network (identical structure at every scale), with the default ``base_width=32``
and ``depth=4`` (sizes relative to the scale's input ``H x W``)::

    E0: Conv3x3(3 -> 32)            ReLU, ResBlock x2       H    x W      (32 ch)
    E1: Conv3x3(32 -> 64,  s=2)     ReLU, ResBlock x2       H/2  x W/2    (64 ch)
    E2: Conv3x3(64 -> 128, s=2)     ReLU, ResBlock x2       H/4  x W/4    (128 ch)
    E3: Conv3x3(128 -> 256, s=2)    ReLU, ResBlock x2       H/8  x W/8    (256 ch)
    D3: ResBlock x2 (256),            ConvT4x4 s2 -> 128, ReLU   H/4
    D2: [D3, E2] (256) ResBlock x2,   ConvT4x4 s2 -> 64,  ReLU   H/2
    D1: [D2, E1] (128) ResBlock x2,   ConvT4x4 s2 -> 32,  ReLU   H
    D0: [D1, E0] (64)  ResBlock x2,   Conv3x3 -> 3                H     (the restored image)

ResBlock = Conv3x3 -> ReLU -> Conv3x3, plus identity (no activation after the sum).

Choices where the paper is silent or ambiguous (each is an argument where it matters):

- *Downsampling in the encoder*: "each block doubles channels and halves size" -- the block's
  first 3x3 convolution has stride 2.
- *Activations*: the paper only says the residual block has ReLU. A ReLU follows the encoder
  block's convolution and the decoder's transposed convolution (as in Tao et al.'s SRN, on
  which this design is modelled); the final RGB convolution is linear.
- *Skip "splices"*: concatenation of the encoder map with the decoder input at the same level;
  the decoder's residual blocks then run on the concatenated width, and the transposed
  convolution halves the width of the *previous* decoder output (256 -> 128 -> 64 -> 32).
- *Last decoder block*: it already works at full size, so its 4x4 stride-2 transposed
  convolution is replaced by a 3x3 convolution to 3 channels ("converts the input feature map
  into a 3-channel restored image"). No global input-output skip (``global_residual=False``;
  an option).
- *Input pyramid*: "downsampling with stride ds = 2" -- 2x2 average pooling (area
  downsampling, exact on the padded input). The coarse output is upsampled by bilinear
  interpolation (``align_corners=False``).
- *The "average weighted sum" (Fig. 1)*: ``fusion="weighted"`` (default) feeds the finer scale
  ``a * x_fine + (1 - a) * up(coarse_output)`` with one learnable scalar ``a`` per finer scale,
  initialised to 0.5 and not constrained. ``fusion="concat"`` is Nah et al.'s alternative: the
  finer scale sees ``[x_fine, up(coarse_output)]`` (6 channels) and the coarsest scale sees
  ``[x, x]`` so that every scale has the same structure (needed for weight sharing).
- *"Residual connections" between the scales' intermediate feature maps*: each decoder
  block's output at the finer scale (after its transposed convolution) gets the matching
  coarse-scale decoder output, bilinearly upsampled x2, added to it (same width; parameter
  free). ``cross_scale_residual=False`` turns it off.
- *Weight sharing*: Fig. 1 shows "two encoder-decoders completely the same in structure",
  which states identical structure, not shared weights, and Nah et al. (the model S1 follows)
  do not share; default ``share_weights=False``. With sharing, one network serves every scale
  (the fusion weights stay per scale).
- *Bounded activations* (not in the paper; ``s1_msed_fast_stable``): the paper's blocks have
  no normalisation, so with the identity paths the activations of the coarse levels can grow
  without bound in training; once the ReLU after a transposed convolution sees only negative
  inputs, everything coarser gets no gradient again. The long run that made ``s1`` lost its
  three coarse levels that way (docs/default-model.md, "The plateau was a dead network").
  ``res_scale=0.0`` multiplies each residual branch by a learnable per-channel scale that
  starts at 0 (ReZero / SkipInit), so every block starts as the identity and the activations
  grow only as far as the loss asks; ``resample_activation="none"`` makes the encoder's
  (strided) convolutions and the decoder's transposed convolutions linear, so no ReLU sits
  alone on the path between levels.
- *Outputs*: :meth:`MultiScaleEncoderDecoder.restore` returns every scale's output, coarse ->
  fine; the authors train on the finest only (their multi-scale loss was rejected), which is
  what ``forward`` returns.

Value range: the network works on ``x - 0.5`` (``ValueRange.centered``, the paper's
``x / 255 - 0.5``); inputs and outputs of ``forward`` are ``[0, 1]``.

Example:
    >>> net = MultiScaleEncoderDecoder(num_scales=2, base_width=8)
    >>> net(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.registry import register_model

PAPER = "S1 (Han et al., paper 000), Sec. 3.1 Figs. 1-3, Sec. 3.3, Sec. 4.1"
#: Kernel size of the encoder / residual / output convolutions (Sec. 3.1).
CONV_KERNEL = 3
#: Kernel size and stride of the decoder's transposed convolution (Sec. 3.1: 4x4).
DECONV_KERNEL = 4
UPSAMPLE_FACTOR = 2
FUSIONS = ("weighted", "concat")
#: Initial value of the learnable weight ``a`` of the "average weighted sum".
FUSION_INIT = 0.5
#: What follows the convolutions that change level (encoder, transposed decoder convolution).
RESAMPLE_ACTIVATIONS = ("relu", "none")


def resample_activation_layer(name: str) -> nn.Module:
    """The activation after a level-changing convolution: ReLU (paper) or none (linear)."""
    if name not in RESAMPLE_ACTIVATIONS:
        raise ValueError(f"resample_activation must be one of {RESAMPLE_ACTIVATIONS}, got {name!r}")
    return nn.ReLU(inplace=True) if name == "relu" else nn.Identity()


def upsample2x(x: Tensor) -> Tensor:
    """Bilinear x2 upsampling (``align_corners=False``), used between scales.

    Shape: ``(B, C, H, W) -> (B, C, 2H, 2W)``.
    """
    return F.interpolate(x, scale_factor=UPSAMPLE_FACTOR, mode="bilinear", align_corners=False)


def area_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """Input pyramid by 2x2 average pooling, ordered coarse -> fine.

    Args:
        x: ``(B, C, H, W)`` with H and W divisible by ``2 ** (levels - 1)``.
        levels: number of levels (1 = just ``x``).

    Returns:
        ``levels`` tensors, the first of size ``H / 2**(levels-1)``, the last ``x`` itself.

    Example:
        >>> [t.shape[-1] for t in area_pyramid(torch.zeros(1, 3, 8, 8), 3)]
        [2, 4, 8]
    """
    pyramid = [x]
    for _ in range(levels - 1):
        pyramid.append(F.avg_pool2d(pyramid[-1], UPSAMPLE_FACTOR))
    return pyramid[::-1]


def per_level(value: int | Sequence[int], depth: int, name: str) -> list[int]:
    """One count per level from an int (every level) or a sequence of ``depth`` counts.

    Example:
        >>> per_level(2, 3, "n"), per_level([1, 2, 4], 3, "n")
        ([2, 2, 2], [1, 2, 4])
    """
    counts = [int(value)] * depth if isinstance(value, int) else [int(v) for v in value]
    if len(counts) != depth or min(counts) < 0:
        raise ValueError(f"{name} must be an int >= 0 or {depth} counts >= 0, got {value!r}")
    return counts


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, CONV_KERNEL, stride=stride,
                     padding=CONV_KERNEL // 2)


class ResBlock(nn.Module):
    """Conv3x3 -> ReLU -> Conv3x3 plus identity (Fig. 3 left); no activation after the sum.

    Args:
        channels: input = output width.
        res_scale: multiply the branch by a learnable per-channel scale ``scale`` of shape
            ``(1, C, 1, 1)`` that starts at this value (0: the block starts as the identity;
            not in the paper). None: no scale (the paper's block).

    Shape: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    def __init__(self, channels: int, res_scale: float | None = None) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels)
        self.act = nn.ReLU(inplace=True)
        self.conv2 = _conv(channels, channels)
        self.scale_init = res_scale
        if res_scale is not None:
            self.scale = nn.Parameter(torch.full((1, channels, 1, 1), float(res_scale)))
        else:
            self.register_parameter("scale", None)

    def forward(self, x: Tensor) -> Tensor:
        branch = self.conv2(self.act(self.conv1(x)))
        if self.scale is None:
            return x + branch
        # In the branch's dtype: under bf16 autocast a float32 scale would turn the residual
        # stream (and every later elementwise op) into float32.
        return x + self.scale.to(branch.dtype) * branch

    def zero_residual_(self) -> None:
        """Zero the branch's last convolution, so the block outputs its input (used to grow a
        trained network deeper: :func:`deblurkit.training.grow.grow_into`)."""
        zero_init_output_layer_(self.conv2)


class EncoderBlock(nn.Module):
    """Conv3x3 (stride 1 or 2) -> ReLU -> ``num_resblocks`` ResBlocks (Fig. 3 middle); the
    ReLU is left out with ``resample_activation="none"``.

    Shape: ``(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 num_resblocks: int, res_scale: float | None = None,
                 resample_activation: str = "relu") -> None:
        super().__init__()
        self.conv = _conv(in_channels, out_channels, stride=stride)
        self.act = resample_activation_layer(resample_activation)
        self.resblocks = nn.Sequential(*[ResBlock(out_channels, res_scale)
                                         for _ in range(num_resblocks)])

    def forward(self, x: Tensor) -> Tensor:
        return self.resblocks(self.act(self.conv(x)))


class DecoderBlock(nn.Module):
    """``num_resblocks`` ResBlocks, then ConvT4x4 stride 2 + ReLU (Fig. 3 right; no ReLU with
    ``resample_activation="none"``), or, for the last block (``upsample=False``), a linear
    Conv3x3 to the output channels.

    Shape: ``(B, C_in, H, W) -> (B, C_out, 2H, 2W)`` (or ``(B, C_out, H, W)``).
    """

    def __init__(self, in_channels: int, out_channels: int, num_resblocks: int,
                 upsample: bool, res_scale: float | None = None,
                 resample_activation: str = "relu") -> None:
        super().__init__()
        self.resblocks = nn.Sequential(*[ResBlock(in_channels, res_scale)
                                         for _ in range(num_resblocks)])
        self.upsample = upsample
        if upsample:
            self.out = nn.ConvTranspose2d(in_channels, out_channels, DECONV_KERNEL,
                                          stride=UPSAMPLE_FACTOR,
                                          padding=(DECONV_KERNEL - UPSAMPLE_FACTOR) // 2)
            self.act: nn.Module = resample_activation_layer(resample_activation)
        else:
            self.out = _conv(in_channels, out_channels)
            self.act = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.out(self.resblocks(x)))


class EncoderDecoder(nn.Module):
    """One scale's U-shaped network (Fig. 2).

    Args:
        in_channels: 3 (weighted fusion) or 6 (concat fusion).
        out_channels: 3.
        base_width: width of the first encoder block; doubles per level.
        depth: number of encoder (= decoder) blocks; the input size must be a multiple of
            ``2 ** (depth - 1)``.
        num_resblocks: ResBlocks per encoder block: one count for every level, or one per
            level (fine -> coarse; depth at low resolution is cheap, width at full resolution
            is not).
        decoder_resblocks: ResBlocks per decoder block, likewise; None: the same as the
            encoder's.
        max_width: cap on the doubling widths (None: no cap; the paper doubles every level).
        res_scale: residual branches scaled by a learnable per-channel scale starting at this
            value (None: no scale).
        resample_activation: ``"relu"`` (paper) or ``"none"`` after the level-changing
            convolutions.

    Shape:
        ``forward(x, coarse)``: ``x`` is ``(B, in_channels, H, W)``; ``coarse`` is ``None``
        or the previous (half-size) scale's decoder features. Returns the output
        ``(B, out_channels, H, W)`` and this scale's decoder features (widths
        ``base_width * 2**(depth-2) ... base_width``, sizes ``H / 2**(depth-2) ... H``).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base_width: int = 32,
                 depth: int = 4, num_resblocks: int | Sequence[int] = 2,
                 decoder_resblocks: int | Sequence[int] | None = None,
                 max_width: int | None = None, res_scale: float | None = None,
                 resample_activation: str = "relu") -> None:
        super().__init__()
        block_options = {"res_scale": res_scale, "resample_activation": resample_activation}
        widths = [min(base_width * 2 ** level, max_width or base_width * 2 ** level)
                  for level in range(depth)]
        enc_blocks = per_level(num_resblocks, depth, "num_resblocks")
        dec_blocks = (enc_blocks if decoder_resblocks is None
                      else per_level(decoder_resblocks, depth, "decoder_resblocks"))
        self.encoder = nn.ModuleList(
            EncoderBlock(in_channels if level == 0 else widths[level - 1], widths[level],
                         stride=1 if level == 0 else UPSAMPLE_FACTOR,
                         num_resblocks=enc_blocks[level], **block_options)
            for level in range(depth))
        # decoder[j] works at level depth-1-j; it sees its input concatenated with the encoder
        # skip except at the deepest level.
        self.decoder = nn.ModuleList()
        for level in reversed(range(depth)):
            width_in = widths[level] if level == depth - 1 else 2 * widths[level]
            if level > 0:
                self.decoder.append(DecoderBlock(width_in, widths[level - 1], dec_blocks[level],
                                                 upsample=True, **block_options))
            else:
                self.decoder.append(DecoderBlock(width_in, out_channels, dec_blocks[level],
                                                 upsample=False, **block_options))

    def forward(self, x: Tensor, coarse: list[Tensor] | None = None) -> tuple[Tensor, list[Tensor]]:
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        features: list[Tensor] = []
        depth = len(self.encoder)
        for j, block in enumerate(self.decoder):
            level = depth - 1 - j
            if level < depth - 1:
                x = torch.cat([x, skips[level]], dim=1)
            x = block(x)
            if block.upsample:
                if coarse is not None:
                    x = x + upsample2x(coarse[len(features)])
                features.append(x)
        return x, features


# Named variants (the registry stores the class; each name binds its own defaults).
@register_model("s1_msed_shared", kind="generator", paper=PAPER, num_scales=2,
                share_weights=True)
@register_model("s1_msed_3scale", kind="generator", paper=PAPER, num_scales=3)
@register_model("s1_msed_1scale", kind="generator", paper=PAPER, num_scales=1)
@register_model("s1_msed_fast", kind="generator", paper=PAPER + " (fast CPU variant)",
                num_scales=1, space_to_depth=2, base_width=24, max_width=128, depth=4,
                num_resblocks=(1, 2, 3, 4), decoder_resblocks=(1, 1, 1, 2),
                global_residual=True)
@register_model("s1_msed_fast_stable", kind="generator",
                paper=PAPER + " (fast CPU variant, bounded activations)",
                num_scales=1, space_to_depth=2, base_width=24, max_width=128, depth=4,
                num_resblocks=(1, 2, 3, 4), decoder_resblocks=(1, 1, 1, 2),
                global_residual=True, res_scale=0.0, resample_activation="none")
@register_model("s1_msed", kind="generator", paper=PAPER, num_scales=2)
class MultiScaleEncoderDecoder(RestorationNet):
    """S1's multi-scale encoder-decoder (see the module docstring for every choice made).

    Args:
        num_scales: 1 to 3 scales (paper's best: 2).
        base_width: width of the first encoder block (paper: 32).
        num_resblocks: ResBlocks per encoder block (paper: 2), one count or one per level
            (fine -> coarse).
        decoder_resblocks: ResBlocks per decoder block, likewise; None: as the encoder.
        max_width: cap on the encoder widths (None: doubling every level, as the paper).
        depth: encoder / decoder blocks per scale (paper: 4).
        space_to_depth: ``f > 1`` runs every scale on ``f x f`` pixel blocks stacked as
            channels (``PixelUnshuffle(f)`` in, ``PixelShuffle(f)`` out, exact and
            parameter-free), so no convolution runs at full resolution: the fast CPU variant
            ``s1_msed_fast`` uses ``f = 2`` (not in the paper; default 1).
        share_weights: one network for every scale (default False; the paper says the scales
            have the same structure, not the same weights).
        fusion: ``"weighted"`` (the paper's "average weighted sum", default) or ``"concat"``
            (Nah et al.).
        cross_scale_residual: add the upsampled coarse decoder features to the finer scale's
            (the paper's "residual connections" between scales; default True).
        global_residual: add the scale's input image to its output (not in the paper;
            default False).
        residual_init: ``"default"`` (Xavier everywhere, Sec. 4.1) or ``"zero"``: every
            scale's last 3x3 convolution starts at zero so that, with ``global_residual``
            (required), the untrained network outputs its input exactly (not in the paper; for
            short training runs).
        res_scale: scale every residual branch by a learnable per-channel factor that starts
            at this value (not in the paper; ``s1_msed_fast_stable``: 0, every block starts as
            the identity; default None: no scale).
        resample_activation: ``"relu"`` after the encoder's and the decoder's level-changing
            convolutions (default, as in SRN) or ``"none"`` (linear; not in the paper).
            ``s1_msed_fast_stable`` is ``s1_msed_fast`` with both (module docstring,
            "Bounded activations").

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``, any H, W (padded to ``pad_multiple =
          2**(depth-1) * 2**(num_scales-1)`` by reflection, cropped back).
        - Output: ``(B, 3, H, W)``; ``forward_scales`` gives every scale, coarse -> fine.

    Value range: the network sees ``x - 0.5`` and outputs in that range.

    Example:
        >>> net = MultiScaleEncoderDecoder(num_scales=3, base_width=8)
        >>> [o.shape[-1] for o in net.forward_scales(torch.rand(1, 3, 32, 32))]
        [8, 16, 32]
    """

    def __init__(self, num_scales: int = 2, base_width: int = 32,
                 num_resblocks: int | Sequence[int] = 2, depth: int = 4,
                 share_weights: bool = False, fusion: str = "weighted",
                 cross_scale_residual: bool = True, global_residual: bool = False,
                 residual_init: str = "default",
                 decoder_resblocks: int | Sequence[int] | None = None,
                 space_to_depth: int = 1, max_width: int | None = None,
                 res_scale: float | None = None, resample_activation: str = "relu") -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init, has_global_skip=global_residual)
        if not 1 <= num_scales:
            raise ValueError(f"num_scales must be >= 1 (the paper uses 1 to 3), got {num_scales}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.num_scales = num_scales
        self.share_weights = share_weights
        self.fusion = fusion
        self.cross_scale_residual = cross_scale_residual
        self.global_residual = global_residual
        self.value_range = ValueRange.centered()
        if space_to_depth < 1:
            raise ValueError(f"space_to_depth must be >= 1, got {space_to_depth}")
        self.space_to_depth = space_to_depth
        self.pad_multiple = (UPSAMPLE_FACTOR ** (depth - 1) * UPSAMPLE_FACTOR ** (num_scales - 1)
                             * space_to_depth)
        in_channels = (3 if fusion == "weighted" else 6) * space_to_depth ** 2
        count = 1 if share_weights else num_scales
        self.scales = nn.ModuleList(
            EncoderDecoder(in_channels, 3 * space_to_depth ** 2, base_width, depth,
                           num_resblocks, decoder_resblocks, max_width, res_scale,
                           resample_activation) for _ in range(count))
        if fusion == "weighted" and num_scales > 1:
            self.fusion_weights = nn.Parameter(torch.full((num_scales - 1,), FUSION_INIT))
        else:
            self.register_parameter("fusion_weights", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases for every (transposed) convolution (Sec. 4.1);
        with ``residual_init="zero"`` each scale's output convolution is then zeroed."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        if self.fusion_weights is not None:
            nn.init.constant_(self.fusion_weights, FUSION_INIT)
        for module in self.modules():
            if isinstance(module, ResBlock) and module.scale is not None:
                nn.init.constant_(module.scale, module.scale_init)
        if self.residual_init == "zero":
            for network in self.scales:
                zero_init_output_layer_(network.decoder[-1].out)

    def restore(self, x: Tensor) -> list[Tensor]:
        outputs: list[Tensor] = []
        features: list[Tensor] | None = None
        for k, image in enumerate(area_pyramid(x, self.num_scales)):
            if not outputs:
                net_in = image if self.fusion == "weighted" else torch.cat([image, image], 1)
            else:
                previous = upsample2x(outputs[-1])
                if self.fusion == "weighted":
                    weight = self.fusion_weights[k - 1]
                    net_in = weight * image + (1 - weight) * previous
                else:
                    net_in = torch.cat([image, previous], dim=1)
            network = self.scales[0 if self.share_weights else k]
            f = self.space_to_depth
            out, features = network(F.pixel_unshuffle(net_in, f) if f > 1 else net_in,
                                    features if self.cross_scale_residual else None)
            out = F.pixel_shuffle(out, f) if f > 1 else out
            if self.global_residual:
                out = out + image
            outputs.append(out)
        return outputs
