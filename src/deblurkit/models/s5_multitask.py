"""S5: multi-task restoration with one shared encoder and one decoder per task.

Martyniuk, "Multi-task learning for image restoration" (MSc thesis, UCU 2019; the precursor of
DeblurGAN-v2), Sec. 3.1 (generic encoder E shared by all tasks, one decoder D_i per task) and
Sec. 3.2 (the two generator architectures, split into E and D_i):

(a) DeblurGAN ResNet (Kupyn et al. 2018, Fig. 3.2): E = 7x7 conv + 2 strided 3x3 convs +
    9 ResBlocks; D_i = 2 transposed 3x3 convs + 7x7 conv; output ``x + tanh(D_i(E(x)))``.
(b) FPN on InceptionResNetV2 (Fig. 3.3, as DeblurGAN-v2's ``FPNInception``): backbone maps
    M0..M4 at 1/2 ... 1/32 -> FPN lateral 1x1 convs + top-down path -> one head per level
    (1/4 ... 1/32) -> upsample to 1/4 and concatenate -> smoothing convs -> upsample ->
    image, plus the global skip. "All the blocks prior to the concatenation" are E, the rest
    D_i; the 1/2-scale lateral map M0, computed before the concatenation, is part of E's
    output and added in D_i after the first smoothing and upsampling (DeblurGAN-v2).

:class:`MultiTaskGenerator` holds any encoder and an ``nn.ModuleDict`` of named decoders
(passed as blocks). ``forward(x, task)`` runs one task (``task=None``: ``default_task``, so the
model also works as a plain :class:`~deblurkit.models.base.RestorationNet`); ``forward_all(x)`` runs
every decoder on one encoder pass; ``forward_tasks({task: batch})`` runs one encoder pass per
task batch, the training step of Sec. 3.1 (losses summed, one backward).

Value range: symmetric. Inputs and outputs are ``[0, 1]`` images; inside, the network works in
``[-1, 1]`` (``2x - 1``) with a tanh residual added to the input (DeblurGAN), so the raw output
may leave ``[-1, 1]``; it is not clamped unless ``clamp_output=True`` (DeblurGAN-v2 clamps;
clamping stops the gradient of saturated pixels, so the default leaves it to the caller).

Choices where the thesis is silent (it shows the architectures only as figures):

- ResNet: widths 64/128/256, instance norm (no affine) and reflect padding as DeblurGAN; convs
  carry a bias unless followed by batch norm; dropout 0.5 after the first ReLU of each
  ResBlock as the DeblurGAN paper says (``dropout`` argument); transposed convs with kernel 3,
  stride 2, padding 1, output padding 1. Inputs are padded to a multiple of 4.
- FPN: widths, heads and smoothing convs of DeblurGAN-v2 (FPN width 256, head width 128;
  heads are two bias-free 3x3 convs with ReLU; top-down and smoothing convs are conv + norm +
  ReLU; instance norm; nearest upsampling). The backbone runs with ``"same"`` padding (see
  :mod:`deblurkit.models.inception_resnet_v2`) so that its maps are exactly 1/2 ... 1/32 of
  the input, padded to a multiple of 32; DeblurGAN-v2's hand-placed reflect pads are not
  needed. M0's lateral has ``num_filters`` channels (DeblurGAN-v2: ``num_filters_fpn // 2``,
  equal with the defaults) so it can be added to the first smoothed map for any widths. The
  backbone is fed the ``[-1, 1]`` image, which is the Inception preprocessing.
- Initialization: PyTorch defaults (the thesis does not say); ``pretrained_backbone`` loads
  the published ImageNet InceptionResNetV2 weights into the backbone.

CPU variant ``s5_fpn_cpu`` (not in the thesis; for a 2-core CPU at 1280x720): the FPN generator
(shared encoder = backbone + FPN + heads up to the concatenation, one decoder for the
``deblur`` task), with the FPN over a small ResNet-style backbone (``backbone="resnet"``,
:class:`ResidualPyramidBackbone`: one stride-2 3x3 convolution per level and a few residual
blocks, maps at 1/2 ... 1/32 like the InceptionResNetV2 taps) instead of InceptionResNetV2,
whose ImageNet weights (what would make its 142 GMACs at 720p worth spending: 2.5 times the
whole of ``s1_msed_fast``) do not exist offline. FPN width 128, heads 64, no normalization
(``norm="none"``: with instance norm the small S5 runs could not leave nearly sharp pictures
alone, docs/training.md). FPN rather than the ResNet split (a reasoned choice, not a trained
comparison): at this budget the ResNet split would spend much of its time at full resolution
(its 7x7 convolutions and its last transposed convolution) and runs all its blocks at one
scale, while the FPN works at 1/4 and below and sees the whole frame through its 1/32 level.

Example:
    >>> net = build_s5_resnet(tasks=["deblur", "derain"], base_width=8, num_blocks=2)
    >>> x = torch.rand(1, 3, 37, 53)
    >>> net(x, task="derain").shape, sorted(net.forward_all(x))
    (torch.Size([1, 3, 37, 53]), ['deblur', 'derain'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init, crop_to,
                                   pad_to_multiple, zero_init_output_layer_)
from deblurkit.models.inception_resnet_v2 import (IRV2_CHANNELS, IRV2_FPN_TAPS,
                                                  InceptionResNetV2Features)
from deblurkit.models.layers import ResnetBlock, conv_bias_for, make_norm
from deblurkit.models.registry import register_model

#: The tasks of the thesis.
DEFAULT_TASKS: tuple[str, ...] = ("deblur", "dehaze", "derain")
PAPER = "S5 (Martyniuk 2019), Sec. 3.1-3.2"

Features = tuple[Tensor, ...]


# --------------------------------------------------------------------------------------------
# Generic multi-task generator
# --------------------------------------------------------------------------------------------
class MultiTaskGenerator(RestorationNet):
    """One shared encoder, one decoder per named task, global residual skip.

    ``out = x + tanh(D_task(E(x)))`` in the network range (``[-1, 1]`` by default).

    Args:
        encoder: maps the padded network-range input to a tuple of feature tensors.
        decoders: ``{task: decoder}``; each maps the encoder's tuple to a 3-channel map
            (before the tanh). Task names must be non-empty and contain no ``"."``.
        pad_multiple: the size multiple the encoder/decoders need (inputs are padded to it,
            reflect, and outputs cropped back).
        default_task: the task of ``forward(x)`` without ``task`` (default: the first task).
        global_skip: add the input to the tanh output (default True, DeblurGAN).
        clamp_output: clamp the output to the network range (default False, see module doc).
        value_range: the network's range (default symmetric ``[-1, 1]``).
        residual_init: ``"default"`` (the decoders as given) or ``"zero"``: each decoder's
            ``output_layer`` (its last conv) is zeroed so that ``tanh(D(E(x))) = 0`` and the
            untrained network outputs its input exactly (needs ``global_skip``; not in the
            thesis, for short runs).

    Attributes:
        encoder: the shared encoder (one module object used by every task).
        decoders: ``nn.ModuleDict`` of the task decoders.
        tasks: the task names, in order.

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``, any ``H, W``.
        - Output: ``(B, 3, H, W)``, nominally ``[0, 1]``.

    Example:
        >>> encoder = ResnetEncoder(base_width=8, num_blocks=1)
        >>> decoders = {task: ResnetDecoder(base_width=8) for task in ("deblur", "derain")}
        >>> net = MultiTaskGenerator(encoder, decoders, pad_multiple=4, default_task="derain")
        >>> net(torch.rand(1, 3, 5, 7)).shape
        torch.Size([1, 3, 5, 7])
    """

    def __init__(self, encoder: nn.Module, decoders: Mapping[str, nn.Module], *, pad_multiple: int,
                 default_task: str | None = None, global_skip: bool = True,
                 clamp_output: bool = False,
                 value_range: ValueRange = ValueRange.symmetric(),
                 residual_init: str = "default") -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init, has_global_skip=global_skip)
        if not decoders:
            raise UserError("MultiTaskGenerator: give at least one task")
        bad = [t for t in decoders if not t or "." in t]
        if bad:
            raise UserError(f"MultiTaskGenerator: invalid task name(s) {bad} (non-empty, no '.')")
        self.encoder = encoder
        self.decoders = nn.ModuleDict(dict(decoders))
        self.pad_multiple = pad_multiple
        self.value_range = value_range
        self.global_skip = global_skip
        self.clamp_output = clamp_output
        self._default_task = self.tasks[0]
        if default_task is not None:
            self.default_task = default_task
        if residual_init == "zero":
            for decoder in self.decoders.values():
                zero_init_output_layer_(decoder.output_layer)

    @property
    def tasks(self) -> list[str]:
        return list(self.decoders.keys())

    @property
    def default_task(self) -> str:
        """Task run by ``forward(x)`` without a ``task``; settable (e.g. ``--task dehaze``)."""
        return self._default_task

    @default_task.setter
    def default_task(self, task: str) -> None:
        self._default_task = self._check_task(task)

    def _check_task(self, task: str | None) -> str:
        if task is None:
            return self._default_task
        if task not in self.decoders:
            raise UserError(f"unknown task {task!r}; this model has tasks {self.tasks}")
        return task

    # network-range operations (padded input) -------------------------------------------------
    def encode(self, x: Tensor) -> Features:
        """Shared encoder on a padded, network-range input."""
        return self.encoder(x)

    def decode(self, features: Features, x: Tensor, task: str | None = None) -> Tensor:
        """Decoder of ``task`` plus tanh and global skip; ``x`` is the encoder's input."""
        out = torch.tanh(self.decoders[self._check_task(task)](features))
        if self.global_skip:
            out = out + x
        if self.clamp_output:
            low = (0.0 - self.value_range.offset) / self.value_range.scale
            high = (1.0 - self.value_range.offset) / self.value_range.scale
            out = out.clamp(low, high)
        return out

    def restore(self, x: Tensor, task: str | None = None) -> Tensor:
        return self.decode(self.encode(x), x, task)

    # [0, 1] image operations -----------------------------------------------------------------
    def _run_padded(self, x: Tensor, run: Callable[[Tensor], Tensor]) -> Tensor:
        padded, size = pad_to_multiple(x, self.pad_multiple)
        out = run(self.value_range.to_network(padded))
        return crop_to(self.value_range.to_image(out), size)

    def forward(self, x: Tensor, task: str | None = None) -> Tensor:
        """Restore ``x`` (``[0, 1]``) with the decoder of ``task`` (default: ``default_task``)."""
        task = self._check_task(task)
        return self._run_padded(x, lambda net: self.restore(net, task))

    def forward_scales(self, x: Tensor, task: str | None = None) -> list[Tensor]:
        return [self.forward(x, task)]

    def forward_all(self, x: Tensor) -> dict[str, Tensor]:
        """Every task's output for the same input, from one encoder pass.

        Returns:
            ``{task: (B, 3, H, W)}`` in task order.
        """
        padded, size = pad_to_multiple(x, self.pad_multiple)
        net = self.value_range.to_network(padded)
        features = self.encode(net)
        return {task: crop_to(self.value_range.to_image(self.decode(features, net, task)), size)
                for task in self.tasks}

    def forward_tasks(self, batches: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """One shared-encoder pass per task batch (the training step of S5, Sec. 3.1).

        Args:
            batches: ``{task: (B_t, 3, H_t, W_t)}``; batches may differ in size.

        Returns:
            ``{task: restored batch}``; sum the task losses and back-propagate once.
        """
        return {task: self.forward(batch, task) for task, batch in batches.items()}

    def extra_repr(self) -> str:
        return (f"tasks={self.tasks}, default_task={self.default_task!r}, "
                f"global_skip={self.global_skip}, clamp_output={self.clamp_output}")


# --------------------------------------------------------------------------------------------
# (a) DeblurGAN ResNet split
# --------------------------------------------------------------------------------------------
def conv_norm_relu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                   norm: str = "instance") -> list[nn.Module]:
    """``Conv2d (zero padding k//2) -> norm -> ReLU`` as a list of modules."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=conv_bias_for(norm)),
            make_norm(norm, out_channels), nn.ReLU(inplace=True)]


class ResnetEncoder(nn.Module):
    """DeblurGAN's encoder: reflect-padded 7x7 conv, strided 3x3 convs, ResBlocks.

    Args:
        in_channels: image channels (3).
        base_width: channels of the first conv (64); doubled by each strided conv.
        num_downsampling: strided convs (2): the feature map is at ``1 / 2**num_downsampling``.
        num_blocks: ResBlocks (9).
        norm: ``"instance"`` (default), ``"batch"`` or ``"none"``.
        dropout: dropout in each ResBlock (0.5, DeblurGAN).
        padding: ResBlock padding, ``"reflect"`` (default).

    Shape:
        ``(B, 3, H, W) -> ((B, base_width * 2**num_downsampling, H / 2**n, W / 2**n),)``.
    """

    def __init__(self, in_channels: int = 3, base_width: int = 64, num_downsampling: int = 2,
                 num_blocks: int = 9, norm: str = "instance", dropout: float = 0.5,
                 padding: str = "reflect") -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3),
                                   nn.Conv2d(in_channels, base_width, 7, bias=conv_bias_for(norm)),
                                   make_norm(norm, base_width), nn.ReLU(inplace=True)]
        width = base_width
        for _ in range(num_downsampling):
            layers += conv_norm_relu(width, width * 2, 3, stride=2, norm=norm)
            width *= 2
        layers += [ResnetBlock(width, norm=norm, dropout=dropout, padding=padding)
                   for _ in range(num_blocks)]
        self.out_channels = width
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Features:
        return (self.body(x),)


class ResnetDecoder(nn.Module):
    """DeblurGAN's decoder: transposed 3x3 convs (stride 2) then a reflect-padded 7x7 conv.

    Args:
        base_width: channels after the last transposed conv (64).
        num_upsampling: transposed convs (2); the input has ``base_width * 2**n`` channels.
        out_channels: image channels (3).
        norm: as the encoder.

    Shape:
        ``((B, base_width * 2**n, h, w),) -> (B, 3, h * 2**n, w * 2**n)`` (before the tanh).
    """

    def __init__(self, base_width: int = 64, num_upsampling: int = 2, out_channels: int = 3,
                 norm: str = "instance") -> None:
        super().__init__()
        width = base_width * 2 ** num_upsampling
        layers: list[nn.Module] = []
        for _ in range(num_upsampling):
            layers += [nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1,
                                          output_padding=1, bias=conv_bias_for(norm)),
                       make_norm(norm, width // 2), nn.ReLU(inplace=True)]
            width //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7)]
        self.body = nn.Sequential(*layers)

    @property
    def output_layer(self) -> nn.Conv2d:
        """The last 7x7 conv (zeroed by ``residual_init="zero"``)."""
        return self.body[-1]

    def forward(self, features: Features) -> Tensor:
        return self.body(features[0])


@register_model("s5_deblurgan_resnet", kind="generator", tasks=["deblur"],
                paper=f"{PAPER}: DeblurGAN ResNet generator, single task")
@register_model("s5_multitask_resnet", kind="generator",
                paper=f"{PAPER}: DeblurGAN ResNet split into shared encoder + task decoders")
def build_s5_resnet(tasks: Sequence[str] = DEFAULT_TASKS, default_task: str | None = None,
                    base_width: int = 64, num_sampling: int = 2, num_blocks: int = 9,
                    norm: str = "instance", dropout: float = 0.5, padding: str = "reflect",
                    global_skip: bool = True, clamp_output: bool = False,
                    residual_init: str = "default") -> MultiTaskGenerator:
    """S5 multi-task generator over the DeblurGAN ResNet (see module doc).

    Args:
        tasks: task names, one decoder each (default deblur, dehaze, derain).
        default_task: task of ``forward(x)`` (default: the first).
        base_width: channels of the first conv (64).
        num_sampling: strided convs in E = transposed convs in each D (2).
        num_blocks: ResBlocks in E (9).
        norm, dropout, padding: see :class:`ResnetEncoder`.
        global_skip, clamp_output, residual_init: see :class:`MultiTaskGenerator`.

    Returns:
        The :class:`MultiTaskGenerator` (inputs padded to a multiple of ``2**num_sampling``).
    """
    encoder = ResnetEncoder(3, base_width, num_sampling, num_blocks, norm, dropout, padding)
    decoders = {task: ResnetDecoder(base_width, num_sampling, 3, norm) for task in tasks}
    return MultiTaskGenerator(encoder, decoders, pad_multiple=2 ** num_sampling,
                              default_task=default_task, global_skip=global_skip,
                              clamp_output=clamp_output, residual_init=residual_init)


# --------------------------------------------------------------------------------------------
# (b) FPN on InceptionResNetV2
# --------------------------------------------------------------------------------------------
def upsample(x: Tensor, factor: int, mode: str = "nearest") -> Tensor:
    """Upsample by an integer ``factor`` (``"nearest"`` or ``"bilinear"``, align_corners False)."""
    if factor == 1:
        return x
    size = (x.shape[-2] * factor, x.shape[-1] * factor)
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)


class FPNHead(nn.Module):
    """Per-level head: two bias-free 3x3 convs, each followed by ReLU (``block0``, ``block1``)."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block0 = nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False)
        self.block1 = nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.block1(torch.relu(self.block0(x))))


class ResidualPyramidBackbone(nn.Module):
    """A small ResNet-style backbone with the taps of the FPN (the CPU variant's stand-in for
    InceptionResNetV2; not in the thesis).

    Level ``k`` (``k = 0 .. 4``): a 3x3 convolution with stride 2 and a ReLU, then
    ``blocks[k]`` residual blocks (:class:`~deblurkit.models.layers.ResnetBlock`, zero padding,
    no dropout); its output is the tap at ``1 / 2**(k+1)`` of the input (M0 ... M4).

    Args:
        in_channels: image channels (3).
        widths: output channels of the five levels.
        blocks: residual blocks per level.
        norm: norm of the residual blocks (``"none"`` default).

    Attributes:
        channels: the widths, one per tap.

    Shape:
        ``(B, 3, H, W)`` with ``H, W`` multiples of 32 -> five maps
        ``(B, widths[k], H / 2**(k+1), W / 2**(k+1))``.

    Example:
        >>> net = ResidualPyramidBackbone(widths=(4, 4, 8, 8, 8), blocks=(0, 1, 1, 1, 0))
        >>> [tuple(m.shape[1:]) for m in net(torch.zeros(1, 3, 64, 64))]
        [(4, 32, 32), (4, 16, 16), (8, 8, 8), (8, 4, 4), (8, 2, 2)]
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (32, 48, 96, 128, 192),
                 blocks: Sequence[int] = (0, 1, 2, 2, 1), norm: str = "none") -> None:
        super().__init__()
        if len(widths) != len(FPNEncoder.STRIDES) or len(blocks) != len(widths):
            raise ValueError(f"backbone widths and blocks need {len(FPNEncoder.STRIDES)} values "
                             f"each (one per level), got {list(widths)} and {list(blocks)}")
        self.channels = [int(w) for w in widths]
        self.levels = nn.ModuleList()
        width = in_channels
        for out_width, count in zip(self.channels, blocks):
            layers: list[nn.Module] = [nn.Conv2d(width, out_width, 3, stride=2, padding=1),
                                       nn.ReLU(inplace=True)]
            layers += [ResnetBlock(out_width, norm=norm, padding="zeros")
                       for _ in range(int(count))]
            self.levels.append(nn.Sequential(*layers))
            width = out_width

    def forward(self, x: Tensor) -> Features:
        taps = []
        for level in self.levels:
            x = level(x)
            taps.append(x)
        return tuple(taps)


#: Backbones of the FPN encoder.
FPN_BACKBONES = ("inception_resnet_v2", "resnet")


class FPNEncoder(nn.Module):
    """Shared encoder of the FPN generator: backbone, FPN and heads, up to the concatenation.

    Args:
        num_filters: channels of each head and of M0's lateral (128).
        num_filters_fpn: channels of the FPN levels (256).
        norm: norm of the top-down convs (``"instance"``).
        upsample_mode: ``"nearest"`` (default, DeblurGAN-v2) or ``"bilinear"``.
        pretrained_backbone: path of published InceptionResNetV2 ImageNet weights, or None.
        freeze_backbone: start with the backbone's parameters frozen (DeblurGAN-v2 trains the
            FPN first, then unfreezes: :meth:`set_backbone_trainable`).
        backbone: ``"inception_resnet_v2"`` (the thesis, default) or ``"resnet"`` (the small
            :class:`ResidualPyramidBackbone`, not in the thesis; no pretrained weights).
        backbone_widths, backbone_blocks: widths and residual blocks of the five levels of
            the ``"resnet"`` backbone.

    Shape:
        ``(B, 3, H, W)`` with ``H, W`` multiples of 32 ->
        ``(concat (B, 4 * num_filters, H/4, W/4), m0 (B, num_filters, H/2, W/2))``.
    """

    #: Stride of each backbone tap (M0..M4).
    STRIDES = (2, 4, 8, 16, 32)

    def __init__(self, num_filters: int = 128, num_filters_fpn: int = 256, norm: str = "instance",
                 upsample_mode: str = "nearest", pretrained_backbone: str | None = None,
                 freeze_backbone: bool = False, backbone: str = "inception_resnet_v2",
                 backbone_widths: Sequence[int] = (32, 48, 96, 128, 192),
                 backbone_blocks: Sequence[int] = (0, 1, 2, 2, 1)) -> None:
        super().__init__()
        if backbone not in FPN_BACKBONES:
            raise ValueError(f"backbone must be one of {FPN_BACKBONES}, got {backbone!r}")
        self.upsample_mode = upsample_mode
        self.backbone_kind = backbone
        if backbone == "resnet":
            if pretrained_backbone:
                raise UserError("pretrained_backbone needs backbone='inception_resnet_v2' "
                                "(the small 'resnet' backbone has no published weights)")
            self.backbone: nn.Module = ResidualPyramidBackbone(3, backbone_widths,
                                                               backbone_blocks)
            channels = list(self.backbone.channels)
        else:
            self.backbone = InceptionResNetV2Features(IRV2_FPN_TAPS, padding="same",
                                                      normalize_input=False)
            if pretrained_backbone:
                self.backbone.load_pretrained(pretrained_backbone)
            channels = [IRV2_CHANNELS[t] for t in IRV2_FPN_TAPS]
        self.lateral0 = nn.Conv2d(channels[0], num_filters, 1, bias=False)
        self.lateral1 = nn.Conv2d(channels[1], num_filters_fpn, 1, bias=False)
        self.lateral2 = nn.Conv2d(channels[2], num_filters_fpn, 1, bias=False)
        self.lateral3 = nn.Conv2d(channels[3], num_filters_fpn, 1, bias=False)
        self.lateral4 = nn.Conv2d(channels[4], num_filters_fpn, 1, bias=False)
        self.td1 = nn.Sequential(*conv_norm_relu(num_filters_fpn, num_filters_fpn, norm=norm))
        self.td2 = nn.Sequential(*conv_norm_relu(num_filters_fpn, num_filters_fpn, norm=norm))
        self.td3 = nn.Sequential(*conv_norm_relu(num_filters_fpn, num_filters_fpn, norm=norm))
        self.head1 = FPNHead(num_filters_fpn, num_filters, num_filters)
        self.head2 = FPNHead(num_filters_fpn, num_filters, num_filters)
        self.head3 = FPNHead(num_filters_fpn, num_filters, num_filters)
        self.head4 = FPNHead(num_filters_fpn, num_filters, num_filters)
        self.set_backbone_trainable(not freeze_backbone)

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze (False) or unfreeze (True) the InceptionResNetV2 parameters."""
        self.backbone.requires_grad_(trainable)

    def forward(self, x: Tensor) -> Features:
        taps = self.backbone(x)
        if isinstance(taps, dict):
            enc0, enc1, enc2, enc3, enc4 = (taps[t] for t in IRV2_FPN_TAPS)
        else:
            enc0, enc1, enc2, enc3, enc4 = taps
        up = self.upsample_mode
        # top-down pathway with lateral connections
        map4 = self.lateral4(enc4)
        map3 = self.td1(self.lateral3(enc3) + upsample(map4, 2, up))
        map2 = self.td2(self.lateral2(enc2) + upsample(map3, 2, up))
        map1 = self.td3(self.lateral1(enc1) + upsample(map2, 2, up))
        map0 = self.lateral0(enc0)
        # per-level heads, brought to 1/4 and concatenated (coarse to fine, as DeblurGAN-v2)
        concat = torch.cat([upsample(self.head4(map4), 8, up), upsample(self.head3(map3), 4, up),
                            upsample(self.head2(map2), 2, up), self.head1(map1)], dim=1)
        return concat, map0


class FPNDecoder(nn.Module):
    """Task decoder of the FPN generator: smooth, upsample, add M0, smooth, upsample, 3x3 conv.

    Args:
        num_filters: head width of the encoder (128); the second smoothing has half of it.
        norm: norm of the smoothing convs (``"instance"``).
        upsample_mode: as the encoder.
        out_channels: image channels (3).

    Shape:
        ``(concat (B, 4F, H/4, W/4), m0 (B, F, H/2, W/2)) -> (B, 3, H, W)`` (before the tanh).
    """

    def __init__(self, num_filters: int = 128, norm: str = "instance",
                 upsample_mode: str = "nearest", out_channels: int = 3) -> None:
        super().__init__()
        self.upsample_mode = upsample_mode
        self.smooth = nn.Sequential(*conv_norm_relu(4 * num_filters, num_filters, norm=norm))
        self.smooth2 = nn.Sequential(*conv_norm_relu(num_filters, num_filters // 2, norm=norm))
        self.final = nn.Conv2d(num_filters // 2, out_channels, 3, padding=1)

    @property
    def output_layer(self) -> nn.Conv2d:
        """The last 3x3 conv (zeroed by ``residual_init="zero"``)."""
        return self.final

    def forward(self, features: Features) -> Tensor:
        concat, map0 = features
        x = upsample(self.smooth(concat), 2, self.upsample_mode)
        x = upsample(self.smooth2(x + map0), 2, self.upsample_mode)
        return self.final(x)


@register_model("s5_fpn_cpu", kind="generator", tasks=["deblur"],
                paper=f"{PAPER}: FPN generator, single task, CPU variant (small ResNet backbone, "
                      "no ImageNet weights)",
                backbone="resnet", num_filters=64, num_filters_fpn=128, norm="none")
@register_model("s5_fpn_inception", kind="generator", tasks=["deblur"],
                paper=f"{PAPER}: FPN-InceptionResNetV2 generator, single task (DeblurGAN-v2-like)")
@register_model("s5_multitask_fpn", kind="generator",
                paper=f"{PAPER}: FPN-InceptionResNetV2, shared encoder up to the concatenation")
def build_s5_fpn(tasks: Sequence[str] = DEFAULT_TASKS, default_task: str | None = None,
                 num_filters: int = 128, num_filters_fpn: int = 256, norm: str = "instance",
                 upsample_mode: str = "nearest", pretrained_backbone: str | None = None,
                 freeze_backbone: bool = False, global_skip: bool = True,
                 clamp_output: bool = False, residual_init: str = "default",
                 backbone: str = "inception_resnet_v2",
                 backbone_widths: Sequence[int] = (32, 48, 96, 128, 192),
                 backbone_blocks: Sequence[int] = (0, 1, 2, 2, 1)) -> MultiTaskGenerator:
    """S5 multi-task generator over an FPN on InceptionResNetV2 (see module doc).

    Args:
        tasks: task names, one decoder each (default deblur, dehaze, derain).
        default_task: task of ``forward(x)`` (default: the first).
        num_filters, num_filters_fpn, norm, upsample_mode: see :class:`FPNEncoder`.
        pretrained_backbone: path of the published InceptionResNetV2 ImageNet weights
            (``inceptionresnetv2-520b38e4.pth`` or a safetensors copy); None: random init.
        freeze_backbone: start with the backbone frozen.
        global_skip, clamp_output, residual_init: see :class:`MultiTaskGenerator`.
        backbone, backbone_widths, backbone_blocks: see :class:`FPNEncoder` (``"resnet"``: the
            small backbone of the CPU variant ``s5_fpn_cpu``, not in the thesis).

    Returns:
        The :class:`MultiTaskGenerator` (inputs padded to a multiple of 32).
    """
    encoder = FPNEncoder(num_filters, num_filters_fpn, norm, upsample_mode, pretrained_backbone,
                         freeze_backbone, backbone, list(backbone_widths), list(backbone_blocks))
    decoders = {task: FPNDecoder(num_filters, norm, upsample_mode) for task in tasks}
    return MultiTaskGenerator(encoder, decoders, pad_multiple=max(FPNEncoder.STRIDES),
                              default_task=default_task, global_skip=global_skip,
                              clamp_output=clamp_output, residual_init=residual_init)
