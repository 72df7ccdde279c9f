"""S4 -- DeblurNet: frame deblurring generator and frame selection classifier.

Paper: Nahli, Cao, Jia, Ma, Xu, "DeblurNet: frame selection for fast video deblurring",
IEEE Access 2021 (``shared/papers/003``). Sec. III-A (Frame Deblurring Module, Table 1,
Fig. 2), Sec. III-B (Frames Selection Module, Table 3, Fig. 3), Sec. IV (training details:
dropout and instance norm kept at inference), Table 6 (527.64 GFLOPs, 0.43 s per 720p frame).

Two networks:

* :class:`FrameDeblurNet` (``"s4_deblurnet"`` and its readings) -- a Johnson / DeblurGAN style
  ResNet generator: L1 7x7 conv (16 ch), L2 5x5 conv (64 ch), 15 ResBlocks (L3-L32),
  L33-L34 3x3 conv blocks, L35-L37 1x1 convs, and the global input->output skip "ResInOut"
  (``I_c = I_b + I_r``).
* :class:`FrameSelector` (``"s4_frame_selector"``) -- a small CNN giving the probability that a
  frame is blurred.

Where the paper contradicts itself, and what we chose (every choice is an argument):

* **Normalization** -- the text says InstanceNorm (ResBlocks and "at inference we apply both
  dropout and instance normalization"), Table 1 says BN. Default ``norm="instance"``: the text
  is explicit twice and InstanceNorm is what the DeblurGAN/pix2pix lineage uses with a
  WGAN-GP critic; ``norm="batch"`` gives Table 1.
* **Down/up-sampling** -- the text: "two strided convolution blocks ... and two transposed
  convolution blocks"; Table 1: none (all layers at full resolution, long skips L2->L36 and
  L32->L36 that only make sense at equal resolution). Default ``downsample=True`` (the text):
  L1 and L2 are the strided blocks, L33 and L34 the transposed ones. Evidence from the paper's
  own cost figures (measured with ``torch.utils.flop_counter.FlopCounterMode`` at 720x1280,
  in multiply-accumulates, the unit of the DeblurGAN/DeblurGAN-v2 figures the paper's Table 6
  copies -- 678.29 G for DeblurGAN, whose generator the same counter puts at 696.8 GMACs):

  ==============================================  =========  ==============
  reading                                         GMACs      GFLOPs (2/MAC)
  ==============================================  =========  ==============
  Table 1, full resolution (``downsample=False``)   1120.65        2241.30
  text, L1+L2 strided (``num_strided=2``)             84.06         168.12
  L2 strided only (``num_strided=1``)                313.06         626.13
  ==============================================  =========  ==============

  None reproduces 527.64 G. The full-resolution reading costs 1.65x DeblurGAN's 678 G, which
  contradicts the paper's run time (0.43 s vs DeblurGAN's 0.85 s on the same GPU); the
  strided readings are consistent with it. ``num_strided=1`` is the nearest in FLOPs (626.1 G
  vs 527.64 G if the paper counted 2 FLOPs per MAC), ``num_strided=2`` is the literal text.
  We keep the literal text as default and register the other two readings by name.
* **Long skips** (Table 1: L2 -> L36, L32 -> L36) -- added into L36's pre-activation
  (``L36 = ReLU(conv(L35) + L2 + L32)``) in the full-resolution reading; with
  ``downsample=True`` L2/L32 and L36 have different sizes, so they are omitted
  (``long_skips=None`` chooses automatically).
* **Output channels** -- Table 1 gives L37 64 channels (garbled): L37 outputs the 3 image
  channels, linear (no activation, as the table's "-"), then ``output = input + L37``. No tanh
  or clamp (the text defines ``I_c = I_b + I_r`` only).
* **Layer operations** -- as Table 1: L1, L2, L35, L36 conv + ReLU; L33 conv + norm + ReLU;
  L34 conv + norm; ResBlock = conv3x3 -> norm -> ReLU -> dropout 0.5 -> conv3x3 -> norm,
  + identity (:class:`deblurkit.models.layers.ResnetBlock`).
* **Dropout / norm at inference** -- the paper keeps both active at inference (the pix2pix
  habit). Default ``dropout_at_inference=False`` (deterministic eval, what a user of a
  restoration tool expects); ``True`` keeps dropout (and batch statistics, if ``norm="batch"``)
  active in eval mode, see :func:`deblurkit.models.layers.set_inference_dropout`. Instance
  norm behaves the same in both modes.
* **Initialization** -- not stated: PyTorch's default.

CPU variant ``s4_deblurnet_cpu`` (not in the paper; for a 2-core CPU at 1280x720): the same
generator (L1 strided 7x7 stem, L2 5x5, ResBlocks, L33 transposed, L34 3x3, L35-L37 1x1, the
global skip ResInOut), run on ``4 x 4`` pixel blocks stacked as channels (``space_to_depth=4``:
``PixelUnshuffle(4)`` before L1, L37 outputs ``3 x 16`` channels and ``PixelShuffle(4)``
brings them back before ResInOut; no convolution at full resolution), with one strided block
(``num_strided=1``: L2 strided, L33 transposed), so the ResBlocks run at 1/8 of the frame and
L33-L37 at 1/4; the paper's 15 ResBlocks, 112 channels wide (stem 32); no normalization and
no dropout (``norm="none"``, ``dropout=0``: with instance norm the small S4 runs could not
leave nearly sharp pictures alone, docs/training.md).

Value range: ``[-1, 1]`` inside (``ValueRange.symmetric()``, DeblurGAN convention), ``[0, 1]``
at the interface.

Example:
    >>> net = FrameDeblurNet(stem_channels=4, body_channels=8, num_blocks=2)
    >>> net(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
    >>> clf = FrameSelector(stem_channels=8, widths=[8, 8, 16, 16])
    >>> clf(torch.rand(2, 3, 40, 40)).shape
    torch.Size([2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.layers import (
    NORM_KINDS,
    ResnetBlock,
    conv_bias_for,
    make_norm,
    set_inference_dropout,
)
from deblurkit.models.registry import register_model

PAPER_G = "S4 (Nahli et al. 2021, DeblurNet), Sec. III-A, Table 1: frame deblurring generator"
PAPER_C = "S4 (Nahli et al. 2021, DeblurNet), Sec. III-B, Table 3: frame selection classifier"


def conv_block(in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
               norm: str = "none", activation: bool = True, transposed: bool = False,
               padding_mode: str = "reflect") -> nn.Sequential:
    """One Table-1 layer: conv (or stride-``stride`` transposed conv) -> [norm] -> [ReLU].

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: square kernel (odd).
        stride: convolution stride; for ``transposed=True`` the upsampling factor.
        norm: ``"instance"``, ``"batch"`` or ``"none"`` (:func:`make_norm`).
        activation: append a ReLU.
        transposed: ``ConvTranspose2d`` with ``output_padding = stride - 1`` (exact
            ``stride``-times upsampling, zero padding).
        padding_mode: padding of plain convs (``"reflect"`` as DeblurGAN, or ``"zeros"``).

    Returns:
        ``nn.Sequential`` with the conv at index 0.

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, ceil(H / stride), ceil(W / stride))`` (plain) or
        ``(B, C_out, stride H, stride W)`` (transposed).
    """
    bias = conv_bias_for(norm)
    if transposed:
        conv: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride=stride,
                                             padding=kernel_size // 2, output_padding=stride - 1,
                                             bias=bias)
    else:
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                         padding=kernel_size // 2, padding_mode=padding_mode, bias=bias)
    layers: list[nn.Module] = [conv]
    if norm != "none":
        layers.append(make_norm(norm, out_channels))
    if activation:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@register_model("s4_deblurnet_cpu", kind="generator",
                paper=PAPER_G + " (CPU variant: on 4x4 pixel blocks, one strided block)",
                stem_channels=32, body_channels=112, num_blocks=15, norm="none", dropout=0.0,
                num_strided=1, space_to_depth=4)
@register_model("s4_deblurnet", kind="generator", paper=PAPER_G + " (text reading: strided)")
@register_model("s4_deblurnet_table1", kind="generator",
                paper=PAPER_G + " (Table 1 reading: BatchNorm, full resolution)",
                norm="batch", downsample=False)
@register_model("s4_deblurnet_half", kind="generator",
                paper=PAPER_G + " (one strided / one transposed block; nearest to 527.64 GFLOPs)",
                num_strided=1)
class FrameDeblurNet(RestorationNet):
    """S4 frame deblurring generator (see the module docstring for every reading).

    Args:
        channels: image channels (input = output, needed by ResInOut).
        stem_channels: width of L1 (paper: 16).
        body_channels: width of L2 .. L36 (paper: 64).
        num_blocks: number of ResBlocks (paper: 15).
        norm: ``"instance"`` (text, default), ``"batch"`` (Table 1) or ``"none"``.
        dropout: dropout inside each ResBlock (paper: 0.5).
        dropout_at_inference: keep dropout (and batch statistics) active in eval mode
            (the paper's pix2pix habit; default ``False``).
        downsample: L1/L2 strided and L33/L34 transposed (text, default) or all layers at full
            resolution (Table 1).
        num_strided: with ``downsample``, how many of (L1, L2) have stride 2 -- 2 (L1 and L2,
            text) or 1 (L2 only, mirrored by L33 alone being transposed).
        long_skips: add L2 and L32 into L36 (Table 1). ``None`` = only when they have L36's
            size (``downsample=False``); ``True`` with ``downsample`` is an error.
        padding: ``"reflect"`` (default) or ``"zeros"``, for plain convs and ResBlocks.
        residual_init: ``"default"`` (PyTorch's initialization) or ``"zero"``: L37 (the last
            1x1 conv of the residual branch, before ResInOut) starts at zero so that the
            untrained network outputs its input exactly (not in the paper; for short runs).
        space_to_depth: ``f > 1`` runs the generator on ``f x f`` pixel blocks stacked as
            channels: ``PixelUnshuffle(f)`` before L1 (``C f^2`` channels in), L37 outputs
            ``C f^2`` channels and ``PixelShuffle(f)`` brings them back before ResInOut (not in
            the paper; default 1; ``s4_deblurnet_cpu`` uses 4).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)`` in ``[0, 1]``; any ``H, W >= 4`` (padded to a multiple
        of ``2 ** num_strided * space_to_depth`` and cropped back).
    """

    def __init__(self, channels: int = 3, stem_channels: int = 16, body_channels: int = 64,
                 num_blocks: int = 15, norm: str = "instance", dropout: float = 0.5,
                 dropout_at_inference: bool = False, downsample: bool = True,
                 num_strided: int = 2, long_skips: bool | None = None,
                 padding: str = "reflect", residual_init: str = "default",
                 space_to_depth: int = 1) -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init)
        if space_to_depth < 1:
            raise ValueError(f"space_to_depth must be >= 1, got {space_to_depth}")
        self.space_to_depth = space_to_depth
        blocks = space_to_depth ** 2
        if norm not in NORM_KINDS:
            raise ValueError(f"norm must be one of {NORM_KINDS}, got {norm!r}")
        if num_strided not in (1, 2):
            raise ValueError(f"num_strided must be 1 or 2, got {num_strided}")
        if long_skips is None:
            long_skips = not downsample
        if long_skips and downsample:
            raise ValueError("long_skips (L2, L32 -> L36) need downsample=False: with strided "
                             "blocks the joined maps have different sizes")
        self.value_range = ValueRange.symmetric()
        self.dropout_at_inference = dropout_at_inference
        self.long_skips = long_skips
        strided = num_strided if downsample else 0
        self.pad_multiple = 2 ** strided * space_to_depth
        stride_l1, stride_l2 = (2 if strided >= 2 else 1), (2 if strided >= 1 else 1)
        up_l33, up_l34 = strided >= 1, strided >= 2

        self.l1 = conv_block(channels * blocks, stem_channels, 7, stride=stride_l1,
                             padding_mode=padding)
        self.l2 = conv_block(stem_channels, body_channels, 5, stride=stride_l2,
                             padding_mode=padding)
        self.blocks = nn.Sequential(*(ResnetBlock(body_channels, norm, dropout, padding)
                                      for _ in range(num_blocks)))
        self.l33 = conv_block(body_channels, body_channels, 3, stride=2 if up_l33 else 1,
                              norm=norm, transposed=up_l33, padding_mode=padding)
        self.l34 = conv_block(body_channels, body_channels, 3, stride=2 if up_l34 else 1,
                              norm=norm, activation=False, transposed=up_l34,
                              padding_mode=padding)
        self.l35 = conv_block(body_channels, body_channels, 1)
        self.l36 = nn.Conv2d(body_channels, body_channels, 1)
        self.l37 = nn.Conv2d(body_channels, channels * blocks, 1)
        if residual_init == "zero":
            zero_init_output_layer_(self.l37)
        self.train(True)

    def train(self, mode: bool = True) -> "FrameDeblurNet":
        super().train(mode)
        set_inference_dropout(self, self.dropout_at_inference and not mode)
        return self

    def restore(self, x: Tensor) -> Tensor:
        f = self.space_to_depth
        h2 = self.l2(self.l1(F.pixel_unshuffle(x, f) if f > 1 else x))
        h32 = self.blocks(h2)
        h36 = self.l36(self.l35(self.l34(self.l33(h32))))
        if self.long_skips:
            h36 = h36 + h2 + h32
        residual = self.l37(torch.relu(h36))
        return x + (F.pixel_shuffle(residual, f) if f > 1 else residual)


@register_model("s4_frame_selector", kind="classifier", paper=PAPER_C)
class FrameSelector(nn.Module):
    """S4 frame selection module: probability that a frame is blurred.

    Layout: input conv ``stem_kernel`` (64 ch) + LeakyReLU; ``len(widths)`` stride-2 blocks
    (conv3x3 + InstanceNorm + LeakyReLU 0.3); global average pooling; [hidden FC + LeakyReLU];
    FC -> 1 logit; sigmoid.

    Choices where the paper is unclear:

    * **Widths** -- Table 3 is garbled (64 / 128 / 512 / 4096 / 2, "BN + ReLU" against the
      text's InstanceNorm + LeakyReLU 0.3). We use the text's layout and a doubling progression
      64 -> 128 -> 256 -> 512 for the four strided blocks, input conv 5x5 with 64 channels
      (Table 3's first column).
    * **Output** -- one logit and a sigmoid (a 2-way softmax, Table 3's "FC 2", is the same
      model with one redundant output). :meth:`forward` returns ``P(blurred)`` of shape
      ``(B,)``; :meth:`forward_logits` returns the logits ``(B,)`` for
      ``BCEWithLogitsLoss`` (label 1 = blurred).
    * **Hidden FC** -- Table 3's "4096" may be a hidden fully connected layer; the text says
      "a fully connected net" before the sigmoid. ``fc_hidden=0`` (default) is a single FC;
      ``fc_hidden=4096`` adds the hidden layer.
    * **Input size** -- frames are classified at their own size, never resized inside the
      model (global average pooling accepts any size; the paper times full 720p frames at
      0.078 s). Blur is scale dependent: classify frames at the scale the model was trained
      on. Instance norm needs more than one pixel after the last stride-2 block, i.e.
      ``H * W > 16 ** 2`` roughly (any side >= 17).
    * **Input conv slope** -- the text gives LeakyReLU without a slope for the input conv; we
      use the same 0.3 (``negative_slope``).

    Value range: ``[0, 1]`` at the interface, mapped to ``[-1, 1]`` inside.

    Args:
        channels: input channels.
        stem_channels: width of the input conv.
        stem_kernel: kernel of the input conv (Table 3: 5).
        widths: output width of each stride-2 block (default ``[64, 128, 256, 512]``).
        kernel_size: kernel of the strided convs (Table 3: 3).
        norm: normalization in the strided blocks (text: ``"instance"``).
        negative_slope: LeakyReLU slope (text: 0.3).
        fc_hidden: width of an optional hidden FC layer (0 = none).

    Shape:
        ``(B, C, H, W) -> (B,)``, values in ``[0, 1]``.

    Example:
        >>> clf = FrameSelector(stem_channels=4, widths=[4, 4, 8, 8])
        >>> p = clf.eval()(torch.rand(3, 3, 33, 47))
        >>> p.shape, bool(((p >= 0) & (p <= 1)).all())
        (torch.Size([3]), True)
    """

    def __init__(self, channels: int = 3, stem_channels: int = 64, stem_kernel: int = 5,
                 widths: list[int] | tuple[int, ...] = (64, 128, 256, 512), kernel_size: int = 3,
                 norm: str = "instance", negative_slope: float = 0.3, fc_hidden: int = 0) -> None:
        super().__init__()
        self.value_range = ValueRange.symmetric()
        layers: list[nn.Module] = [
            nn.Conv2d(channels, stem_channels, stem_kernel, padding=stem_kernel // 2),
            nn.LeakyReLU(negative_slope, inplace=True)]
        width = stem_channels
        for out_width in widths:
            layers += [nn.Conv2d(width, out_width, kernel_size, stride=2, padding=kernel_size // 2,
                                 bias=conv_bias_for(norm)),
                       make_norm(norm, out_width), nn.LeakyReLU(negative_slope, inplace=True)]
            width = out_width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        head: list[nn.Module] = []
        if fc_hidden > 0:
            head += [nn.Linear(width, fc_hidden), nn.LeakyReLU(negative_slope, inplace=True)]
            width = fc_hidden
        head.append(nn.Linear(width, 1))
        self.classifier = nn.Sequential(*head)

    def forward_logits(self, x: Tensor) -> Tensor:
        """Logits ``(B,)`` of "blurred" for ``[0, 1]`` frames ``(B, C, H, W)``."""
        features = self.pool(self.features(self.value_range.to_network(x))).flatten(1)
        return self.classifier(features).squeeze(1)

    def forward(self, x: Tensor) -> Tensor:
        """``P(blurred)`` in ``[0, 1]``, shape ``(B,)``."""
        return torch.sigmoid(self.forward_logits(x))


def count_macs(model: nn.Module, height: int, width: int, channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass of ``model`` on a ``1 x C x H x W`` input.

    Uses ``torch.utils.flop_counter.FlopCounterMode`` (which counts 2 FLOPs per MAC for
    convolutions and matrix products) and halves its total.

    Args:
        model: the network (run under ``torch.no_grad``).
        height: input height.
        width: input width.
        channels: input channels.

    Returns:
        The number of MACs.

    Example:
        >>> count_macs(nn.Conv2d(3, 8, 3, padding=1), 4, 4)
        3456
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, channels, height, width))
    return counter.get_total_flops() // 2
