"""InceptionResNetV2 in the published PyTorch ImageNet layout, and its feature-pyramid taps.

Szegedy, Ioffe, Vanhoucke and Alemi, "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning" (AAAI 2017, arXiv:1602.07261), Sec. 3.2: Inception-ResNet-A/B/C
blocks (Figs. 16, 17, 19), Reduction-A (Fig. 7) and Reduction-B (Fig. 18). S5 (Martyniuk
2019, Sec. 3.2) and DeblurGAN-v2 use it as the FPN backbone.

Ambiguity: the stem of the published weights is the TF-slim implementation's (convs 1a, 2a,
2b, max-pool 3a, convs 3b, 4a, max-pool 5a, then the ``mixed_5b`` block giving 320
channels), not the paper's stem figure (which ends with 384 channels); we follow the published
weights, since the point of this module is to load them.

Module and parameter names follow the widely published PyTorch ImageNet state dict (the TF-slim
port distributed as ``inceptionresnetv2-520b38e4.pth``, 1001 classes with a background class
at index 0): ``conv2d_1a, conv2d_2a, conv2d_2b, maxpool_3a, conv2d_3b, conv2d_4a, maxpool_5a,
mixed_5b, repeat (10 x Block35), mixed_6a, repeat_1 (20 x Block17), mixed_7a, repeat_2 (9 x
Block8), block8, conv2d_7b, avgpool_1a, last_linear``. A ``BasicConv2d`` is a bias-free
convolution ``conv``, a batch norm ``bn`` (eps 0.001, the TF value) and a ReLU; the residual
blocks have ``branch0..2`` (``nn.Sequential`` of BasicConv2d where a branch has several), a
1x1 ``conv2d`` with bias and a residual ``scale`` (0.17, 0.10, 0.20; 1.0 and no ReLU in the
final ``block8``). 55,845,001 parameters with the published 1001-class ``last_linear``
(55,843,464 with 1000 classes, the count usually quoted). Files saved by PyTorch < 0.4 lack the
batch norms' ``num_batches_tracked`` buffers; those are then left at 0 (as PyTorch does).

Padding modes (``padding`` argument):

- ``"valid"``: the published network. The stride-2 reductions and several 3x3 convolutions are
  unpadded, so a 299x299 input gives 149, 147, 73, 71, 35, 17, 8 pixel stages; the smallest
  input is 75x75.
- ``"same"``: every one of those unpadded 3x3 convolutions / pools gets a padding of 1 (zeros
  for convolutions, ``-inf`` for max-pools). No parameter changes, so the same weights load.
  Then stride-1 layers keep the size and each stride-2 layer gives ``ceil(H / 2)``: the taps
  ``conv2d_1a, maxpool_3a, maxpool_5a, mixed_6a, mixed_7a`` are exactly 1/2, 1/4, 1/8, 1/16,
  1/32 of an input whose sides are multiples of 32, which is what an FPN needs. (DeblurGAN-v2
  instead keeps the valid network and reflect-pads the lateral maps by hand, which only lines
  up for some input sizes.) The pretrained weights were trained without this padding; the
  border pixels of each map see zeros instead of a smaller window, a small change that
  fine-tuning absorbs.

Global pooling: ``avgpool_1a`` is a global average pool (the published model uses an 8x8
average pool, which is the same thing for a 299x299 input and fails for any other size).

Input convention: ``[0, 1]`` RGB; with ``normalize_input=True`` (default) it is mapped to
``[-1, 1]`` (mean 0.5, std 0.5: the Inception preprocessing the weights were trained with);
with False the input is used as is (S5's generator already works in ``[-1, 1]``).

Example:
    >>> net = InceptionResNetV2Features(taps=("conv2d_1a", "maxpool_3a"))
    >>> {k: tuple(v.shape) for k, v in net(torch.rand(1, 3, 64, 64)).items()}
    {'conv2d_1a': (1, 32, 32, 32), 'maxpool_3a': (1, 64, 16, 16)}
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.models.registry import register_model
from deblurkit.models.weights import load_published_weights

#: Batch-norm epsilon of the TF-slim port.
BN_EPS = 1e-3
#: Residual scales of the A (35x35), B (17x17) and C (8x8) blocks.
SCALE_A, SCALE_B, SCALE_C = 0.17, 0.10, 0.20
#: Number of A, B and C blocks (``repeat``, ``repeat_1``, ``repeat_2``; ``block8`` comes after).
NUM_A, NUM_B, NUM_C = 10, 20, 9
#: Classes of the published weights (ImageNet 1000 + background at index 0).
NUM_CLASSES = 1001
#: Published file name (Cadene's pretrainedmodels).
IRV2_WEIGHT_FILE = "inceptionresnetv2-520b38e4.pth"
#: Top-level modules in order; every one except the last two is a possible feature tap.
IRV2_STAGES: tuple[str, ...] = (
    "conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "maxpool_5a",
    "mixed_5b", "repeat", "mixed_6a", "repeat_1", "mixed_7a", "repeat_2", "block8", "conv2d_7b",
)
#: The FPN taps of DeblurGAN-v2 / S5 (M0..M4: 1/2, 1/4, 1/8, 1/16, 1/32 with ``"same"``).
IRV2_FPN_TAPS: tuple[str, ...] = ("conv2d_1a", "maxpool_3a", "maxpool_5a", "mixed_6a", "mixed_7a")
#: Output channels of each stage.
IRV2_CHANNELS: dict[str, int] = {
    "conv2d_1a": 32, "conv2d_2a": 32, "conv2d_2b": 64, "maxpool_3a": 64, "conv2d_3b": 80,
    "conv2d_4a": 192, "maxpool_5a": 192, "mixed_5b": 320, "repeat": 320, "mixed_6a": 1088,
    "repeat_1": 1088, "mixed_7a": 2080, "repeat_2": 2080, "block8": 2080, "conv2d_7b": 1536,
}
PADDING_MODES = ("valid", "same")


def _reduction_padding(padding: str) -> int:
    """Padding of the layers that are unpadded in the published network (see module doc)."""
    if padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    return 0 if padding == "valid" else 1


class BasicConv2d(nn.Module):
    """Bias-free convolution + batch norm (eps 0.001) + ReLU, named ``conv`` / ``bn`` / ``relu``.

    Args:
        in_channels, out_channels: channels.
        kernel_size, stride, padding: of the convolution (ints or pairs).
        bn_eps: batch-norm epsilon (default :data:`BN_EPS`).

    Shape:
        ``(B, C_in, H, W) -> (B, C_out, H', W')``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int | tuple[int, int] = 0,
                 bn_eps: float = BN_EPS) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


def _chain(*convs: tuple) -> nn.Sequential:
    """``nn.Sequential`` of BasicConv2d from ``(in, out, kernel, stride, padding)`` tuples."""
    return nn.Sequential(*(BasicConv2d(*spec) for spec in convs))


class Mixed5b(nn.Module):
    """Stem output block (192 -> 320 channels): 1x1 | 1x1,5x5 | 1x1,3x3,3x3 | avgpool,1x1."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, 1)
        self.branch1 = _chain((192, 48, 1), (48, 64, 5, 1, 2))
        self.branch2 = _chain((192, 64, 1), (64, 96, 3, 1, 1), (96, 96, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                                     BasicConv2d(192, 64, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class _ResidualInception(nn.Module):
    """``relu(x + scale * conv2d(cat(branches(x))))`` (the ReLU optional)."""

    scale: float
    activate: bool

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch0(x), self.branch1(x)]
        if hasattr(self, "branch2"):
            branches.append(self.branch2(x))
        out = x + self.scale * self.conv2d(torch.cat(branches, 1))
        return torch.relu(out) if self.activate else out

    def extra_repr(self) -> str:
        return f"scale={self.scale}, relu={self.activate}"


class Block35(_ResidualInception):
    """Inception-ResNet-A (Fig. 16; 320 channels in the slim port) at 1/8 (35x35 at 299)."""

    def __init__(self, scale: float = SCALE_A, activate: bool = True) -> None:
        super().__init__()
        self.scale, self.activate = scale, activate
        self.branch0 = BasicConv2d(320, 32, 1)
        self.branch1 = _chain((320, 32, 1), (32, 32, 3, 1, 1))
        self.branch2 = _chain((320, 32, 1), (32, 48, 3, 1, 1), (48, 64, 3, 1, 1))
        self.conv2d = nn.Conv2d(128, 320, 1)


class Mixed6a(nn.Module):
    """Reduction-A (Fig. 7 with k, l, m, n = 256, 256, 384, 384): 320 -> 1088 channels, stride 2."""

    def __init__(self, padding: str = "valid") -> None:
        super().__init__()
        pad = _reduction_padding(padding)
        self.branch0 = BasicConv2d(320, 384, 3, 2, pad)
        self.branch1 = _chain((320, 256, 1), (256, 256, 3, 1, 1), (256, 384, 3, 2, pad))
        self.branch2 = nn.MaxPool2d(3, stride=2, padding=pad)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Block17(_ResidualInception):
    """Inception-ResNet-B (Fig. 17), 1088 channels at 1/16 (17x17): 1x1 | 1x1,1x7,7x1."""

    def __init__(self, scale: float = SCALE_B, activate: bool = True) -> None:
        super().__init__()
        self.scale, self.activate = scale, activate
        self.branch0 = BasicConv2d(1088, 192, 1)
        self.branch1 = _chain((1088, 128, 1), (128, 160, (1, 7), 1, (0, 3)),
                              (160, 192, (7, 1), 1, (3, 0)))
        self.conv2d = nn.Conv2d(384, 1088, 1)


class Mixed7a(nn.Module):
    """Reduction-B (Fig. 18): 1088 -> 2080 channels, stride 2."""

    def __init__(self, padding: str = "valid") -> None:
        super().__init__()
        pad = _reduction_padding(padding)
        self.branch0 = _chain((1088, 256, 1), (256, 384, 3, 2, pad))
        self.branch1 = _chain((1088, 256, 1), (256, 288, 3, 2, pad))
        self.branch2 = _chain((1088, 256, 1), (256, 288, 3, 1, 1), (288, 320, 3, 2, pad))
        self.branch3 = nn.MaxPool2d(3, stride=2, padding=pad)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block8(_ResidualInception):
    """Inception-ResNet-C (Fig. 19), 2080 channels at 1/32 (8x8): 1x1 | 1x1,1x3,3x1."""

    def __init__(self, scale: float = SCALE_C, activate: bool = True) -> None:
        super().__init__()
        self.scale, self.activate = scale, activate
        self.branch0 = BasicConv2d(2080, 192, 1)
        self.branch1 = _chain((2080, 192, 1), (192, 224, (1, 3), 1, (0, 1)),
                              (224, 256, (3, 1), 1, (1, 0)))
        self.conv2d = nn.Conv2d(448, 2080, 1)


def build_irv2_stage(name: str, padding: str = "valid") -> nn.Module:
    """One top-level module of the network by its published name.

    Args:
        name: one of :data:`IRV2_STAGES`.
        padding: ``"valid"`` (published) or ``"same"`` (see module doc).

    Returns:
        The module.

    Example:
        >>> build_irv2_stage("conv2d_1a").conv.weight.shape
        torch.Size([32, 3, 3, 3])
    """
    pad = _reduction_padding(padding)
    builders = {
        "conv2d_1a": lambda: BasicConv2d(3, 32, 3, 2, pad),
        "conv2d_2a": lambda: BasicConv2d(32, 32, 3, 1, pad),
        "conv2d_2b": lambda: BasicConv2d(32, 64, 3, 1, 1),
        "maxpool_3a": lambda: nn.MaxPool2d(3, stride=2, padding=pad),
        "conv2d_3b": lambda: BasicConv2d(64, 80, 1),
        "conv2d_4a": lambda: BasicConv2d(80, 192, 3, 1, pad),
        "maxpool_5a": lambda: nn.MaxPool2d(3, stride=2, padding=pad),
        "mixed_5b": Mixed5b,
        "repeat": lambda: nn.Sequential(*(Block35() for _ in range(NUM_A))),
        "mixed_6a": lambda: Mixed6a(padding),
        "repeat_1": lambda: nn.Sequential(*(Block17() for _ in range(NUM_B))),
        "mixed_7a": lambda: Mixed7a(padding),
        "repeat_2": lambda: nn.Sequential(*(Block8() for _ in range(NUM_C))),
        "block8": lambda: Block8(scale=1.0, activate=False),
        "conv2d_7b": lambda: BasicConv2d(2080, 1536, 1),
    }
    if name not in builders:
        raise UserError(f"InceptionResNetV2 has no stage {name!r}; stages are {list(IRV2_STAGES)}")
    return builders[name]()


def _published_keys(padding: str = "valid", num_classes: int = NUM_CLASSES) -> list[str]:
    """Every key of the full published state dict (built on the meta device: no memory)."""
    with torch.device("meta"):
        return list(InceptionResNetV2(num_classes=num_classes, padding=padding).state_dict())


class _Normalize(nn.Module):
    """Shared ``[0, 1] -> [-1, 1]`` input mapping and pretrained loading of both networks."""

    normalize_input: bool

    def _prepare(self, x: Tensor) -> Tensor:
        return x * 2.0 - 1.0 if self.normalize_input else x

    def load_pretrained(self, path: str | os.PathLike | None = None) -> list[str]:
        """Load the published ImageNet weights (``inceptionresnetv2-520b38e4.pth`` layout).

        Args:
            path: ``.pth`` (opened with ``weights_only=True``) or ``.safetensors``; default
                ``$DEBLURKIT_HOME/weights/inceptionresnetv2-520b38e4.pth``.

        Returns:
            The file keys of published modules this network does not build (stages after the
            deepest tap, ``last_linear``), skipped and logged.

        Raises:
            UserError: missing file (saying where to put it) or any other key/shape mismatch.
        """
        own = set(self.state_dict())
        skip = [k for k in _published_keys() if k not in own]
        return load_published_weights(self, path, network="InceptionResNetV2",
                                      file_name=IRV2_WEIGHT_FILE, skip=skip)


class InceptionResNetV2(_Normalize):
    """InceptionResNetV2 classifier with the published parameter names.

    Args:
        num_classes: outputs of ``last_linear`` (default 1001: the published weights, with the
            background class at index 0; drop row 0 for the 1000 ImageNet classes).
        padding: ``"valid"`` (default, the published network; input at least 75x75) or
            ``"same"`` (any input size; see module doc).
        normalize_input: map a ``[0, 1]`` input to ``[-1, 1]`` (default True).

    Shape:
        - Input: ``(B, 3, H, W)``.
        - Output: logits ``(B, num_classes)``; :meth:`features` gives ``(B, 1536, h, w)``.

    Example:
        >>> with torch.device("meta"):
        ...     net = InceptionResNetV2()
        ...     net.features(torch.zeros(1, 3, 299, 299)).shape
        torch.Size([1, 1536, 8, 8])
    """

    def __init__(self, num_classes: int = NUM_CLASSES, padding: str = "valid",
                 normalize_input: bool = True) -> None:
        super().__init__()
        self.padding = padding
        self.normalize_input = normalize_input
        for name in IRV2_STAGES:
            self.add_module(name, build_irv2_stage(name, padding))
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.last_linear = nn.Linear(IRV2_CHANNELS["conv2d_7b"], num_classes)

    def features(self, x: Tensor) -> Tensor:
        """The ``conv2d_7b`` map (1536 channels, 1/32 scale)."""
        x = self._prepare(x)
        for name in IRV2_STAGES:
            x = getattr(self, name)(x)
        return x

    def logits(self, features: Tensor) -> Tensor:
        return self.last_linear(torch.flatten(self.avgpool_1a(features), 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.logits(self.features(x))


class InceptionResNetV2Features(_Normalize):
    """Intermediate maps of InceptionResNetV2, built only up to the deepest tap.

    Args:
        taps: stage names (from :data:`IRV2_STAGES`) whose outputs are returned; default
            :data:`IRV2_FPN_TAPS` (S5 / DeblurGAN-v2's M0..M4).
        padding: ``"same"`` (default: taps at exact 1/2 ... 1/32 of a multiple-of-32 input) or
            ``"valid"`` (the published geometry).
        normalize_input: map a ``[0, 1]`` input to ``[-1, 1]`` (default True).
        requires_grad: whether the parameters are trainable (default True: S5 fine-tunes).

    Attributes:
        taps: the returned stage names, in network order.
        channels: ``{tap: channels}``.

    Shape:
        - Input: ``(B, 3, H, W)``.
        - Output: ``{tap: (B, C, ceil(H / s), ceil(W / s))}`` with ``"same"``; stride ``s`` =
          2, 4, 8, 16, 32 for the default taps.

    Example:
        >>> with torch.device("meta"):
        ...     net = InceptionResNetV2Features()
        ...     [tuple(m.shape[1:]) for m in net(torch.zeros(1, 3, 64, 96)).values()]
        [(32, 32, 48), (64, 16, 24), (192, 8, 12), (1088, 4, 6), (2080, 2, 3)]
    """

    def __init__(self, taps: Sequence[str] = IRV2_FPN_TAPS, padding: str = "same",
                 normalize_input: bool = True, requires_grad: bool = True) -> None:
        super().__init__()
        if isinstance(taps, str):
            taps = [taps]
        unknown = [t for t in taps if t not in IRV2_STAGES]
        if unknown or not taps:
            raise UserError("InceptionResNetV2Features: unknown tap(s) "
                            f"{unknown or '(none given)'}; "
                            f"stages are {list(IRV2_STAGES)}")
        self.taps: list[str] = sorted(set(taps), key=IRV2_STAGES.index)
        self.channels = {t: IRV2_CHANNELS[t] for t in self.taps}
        self.padding = padding
        self.normalize_input = normalize_input
        self._stages = IRV2_STAGES[: IRV2_STAGES.index(self.taps[-1]) + 1]
        for name in self._stages:
            self.add_module(name, build_irv2_stage(name, padding))
        self.requires_grad_(requires_grad)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        x = self._prepare(x)
        out: dict[str, Tensor] = {}
        for name in self._stages:
            x = getattr(self, name)(x)
            if name in self.channels:
                out[name] = x
        return out


@register_model("inception_resnet_v2_features", kind="features",
                paper="Szegedy et al. 2017, Inception-ResNet-v2 (Sec. 3); "
                      "S5 FPN backbone, Sec. 3.2")
def build_inception_resnet_v2_features(taps: Sequence[str] = IRV2_FPN_TAPS, padding: str = "same",
                                       normalize_input: bool = True,
                                       requires_grad: bool = True) -> InceptionResNetV2Features:
    """Registry builder of :class:`InceptionResNetV2Features` (``taps`` stored as a JSON list)."""
    return InceptionResNetV2Features(taps=list(taps), padding=padding,
                                     normalize_input=normalize_input, requires_grad=requires_grad)
