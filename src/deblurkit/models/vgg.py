"""VGG16 / VGG19 feature extractors for perceptual losses, in the published ImageNet layout.

Simonyan and Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition"
(ICLR 2015), configurations D (VGG16) and E (VGG19), without batch normalization. S1 uses VGG16
features, S3/S4/S5 use VGG19 (S5: ``conv3_3``, its ``L_X``).

Parameter names follow the widely published PyTorch ImageNet state dicts (torchvision's
``vgg16-397923af.pth`` / ``vgg19-dcbb9e9d.pth``): the convolutional part is one
``nn.Sequential`` called ``features`` in which every conv, ReLU and max-pool takes one index, so
the convolutions sit at

- VGG16: ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.{weight,bias}``
- VGG19: ``features.{0,2,5,7,10,12,14,16,19,21,23,25,28,30,32,34}.{weight,bias}``

and the classifier at ``classifier.{0,3,6}.{weight,bias}``. A user's file loads as it is with
:meth:`VGGFeatures.load_pretrained`; the extractor has no classifier and builds ``features``
only up to the deepest layer it returns, so the classifier keys and the keys of deeper layers
are skipped *and reported* (returned and logged), every other difference is an error.

Layer names. A layer is named either

- by name: ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}`` (block 1..5, ``i``
  counting the convolutions of the block from 1), e.g. ``"conv3_3"``, ``"relu4_3"``,
  ``"relu5_4"`` (VGG19 only), ``"pool5"``; or
- by the 1-based position in ``features`` used by papers that count layers (S1's "layers 9
  and 23" of VGG16): index ``n`` is ``features[n - 1]``, so 9 is ``relu2_2`` and 23 is
  ``relu4_3`` (0-based torchvision indices 8 and 22). Pass an ``int`` (or a digit string).

Input convention: ``[0, 1]`` RGB; with ``normalize_input=True`` (default) the extractor applies
the ImageNet normalization the published weights were trained with,
``(x - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)``. Pass ``normalize_input=False`` to feed
already-normalized tensors.

Where pretrained weights live: ``$DEBLURKIT_HOME/weights/<file>`` with ``DEBLURKIT_HOME``
defaulting to ``~/.cache/deblurkit`` (see
:func:`deblurkit.models.weights.pretrained_weights_path`, shared with InceptionResNetV2).

Example:
    >>> vgg = VGGFeatures("vgg16", layers=(9, "relu4_3"))
    >>> maps = vgg(torch.rand(1, 3, 32, 32))
    >>> {k: tuple(v.shape) for k, v in maps.items()}
    {'relu2_2': (1, 128, 16, 16), 'relu4_3': (1, 512, 4, 4)}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.models.registry import register_model
from deblurkit.models.weights import load_published_weights

logger = logging.getLogger(__name__)


#: Channels of each convolution, ``"M"`` a 2x2 max-pool (Simonyan & Zisserman, Table 1).
VGG_CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
              512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
#: File names of the published torchvision ImageNet weights.
VGG_WEIGHT_FILES: dict[str, str] = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
#: Per-channel mean and std of ImageNet RGB in ``[0, 1]`` (what the published weights expect).
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------------------------
# Layer naming
# --------------------------------------------------------------------------------------------
def vgg_layer_names(arch: str) -> list[str]:
    """Names of the modules of ``features`` in order (``conv1_1``, ``relu1_1``, ..., ``pool5``).

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.

    Returns:
        One name per index of the published ``features`` Sequential.

    Example:
        >>> vgg_layer_names("vgg16")[8], vgg_layer_names("vgg16")[22]
        ('relu2_2', 'relu4_3')
    """
    config = _config(arch)
    names: list[str] = []
    block, conv = 1, 0
    for item in config:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


def resolve_vgg_layer(arch: str, layer: str | int) -> tuple[int, str]:
    """0-based index in ``features`` and canonical name of a layer given by name or 1-based index.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layer: ``"relu4_3"``-style name, or a 1-based position (``int`` or digit string).

    Returns:
        ``(index, name)``.

    Raises:
        UserError: unknown name or out-of-range index.

    Example:
        >>> resolve_vgg_layer("vgg16", 23)
        (22, 'relu4_3')
    """
    names = vgg_layer_names(arch)
    if isinstance(layer, int) or (isinstance(layer, str) and layer.isdigit()):
        position = int(layer)
        if not 1 <= position <= len(names):
            raise UserError(f"{arch} layer index {position} out of range 1..{len(names)} "
                            "(1-based positions in features)")
        return position - 1, names[position - 1]
    if layer not in names:
        raise UserError(f"{arch} has no layer {layer!r}; layers are {names[0]} ... {names[-1]} "
                        "(convN_i, reluN_i, poolN) or 1-based indices")
    return names.index(layer), layer


def _config(arch: str) -> tuple[int | str, ...]:
    try:
        return VGG_CONFIGS[arch]
    except KeyError:
        raise UserError(f"unknown VGG architecture {arch!r}; "
                        f"choose from {sorted(VGG_CONFIGS)}") from None


def make_vgg_layers(arch: str, num_layers: int | None = None) -> nn.Sequential:
    """The published ``features`` Sequential of ``arch``, optionally truncated.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        num_layers: keep only ``features[:num_layers]`` (``None``: all of them). Indices, and so
            parameter names, are the same as in the full network.

    Returns:
        ``nn.Sequential`` of ``Conv2d(3x3, padding 1)``, ``ReLU`` and ``MaxPool2d(2, 2)``.

    Example:
        >>> make_vgg_layers("vgg19")[34]
        Conv2d(512, 512, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    """
    layers: list[nn.Module] = []
    channels = 3
    for item in _config(arch):
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(item), kernel_size=3, padding=1),
                       nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*layers[:num_layers])


# --------------------------------------------------------------------------------------------
# Extractor
# --------------------------------------------------------------------------------------------
class VGGFeatures(nn.Module):
    """Intermediate feature maps of VGG16 / VGG19 (ImageNet layout), for perceptual losses.

    Runs ``features`` only up to the deepest requested layer (and only builds that far).

    Args:
        arch: ``"vgg16"`` or ``"vgg19"`` (default).
        layers: the layers returned, by name (``"relu2_2"``, ``"conv3_3"``, ``"pool5"``) or by
            1-based position in ``features`` (``9`` = ``relu2_2``, ``23`` = ``relu4_3``).
            Default ``("relu2_2", "relu4_3")``.
        normalize_input: apply the ImageNet mean/std normalization to a ``[0, 1]`` input
            (default True). False: the input is used as is.
        requires_grad: whether the VGG parameters are trainable (default False: a fixed loss
            network; gradients still flow to the input).

    Attributes:
        layer_names: canonical names of the returned layers, in the order requested.
        features: the truncated published ``features`` Sequential.

    Shape:
        - Input: ``(B, 3, H, W)``, RGB in ``[0, 1]`` (see ``normalize_input``).
        - Output: ``{name: (B, C_l, H_l, W_l)}`` with ``H_l = floor(H / 2**p)`` after ``p``
          pools.

    Example:
        >>> vgg = VGGFeatures("vgg19", layers=("conv3_3",))
        >>> vgg(torch.rand(2, 3, 16, 16))["conv3_3"].shape
        torch.Size([2, 256, 4, 4])
    """

    def __init__(self, arch: str = "vgg19", layers: Sequence[str | int] = ("relu2_2", "relu4_3"),
                 normalize_input: bool = True, requires_grad: bool = False) -> None:
        super().__init__()
        if isinstance(layers, (str, int)):
            layers = [layers]
        if not layers:
            raise UserError(f"VGGFeatures: give at least one layer of {arch}")
        resolved = [resolve_vgg_layer(arch, layer) for layer in layers]
        self.arch = arch
        self.layer_names: list[str] = [name for _, name in resolved]
        self._index_to_name = {index: name for index, name in resolved}
        self.normalize_input = normalize_input
        self.features = make_vgg_layers(arch, max(self._index_to_name) + 1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(requires_grad)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if self.normalize_input:
            x = (x - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._index_to_name:
                out[self._index_to_name[index]] = x
        return {name: out[name] for name in self.layer_names}

    def published_keys(self) -> list[str]:
        """Every key of the full published state dict of ``arch`` (features and classifier)."""
        keys = []
        for index, layer in enumerate(make_vgg_layers(self.arch)):
            if isinstance(layer, nn.Conv2d):
                keys += [f"features.{index}.weight", f"features.{index}.bias"]
        return keys + [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]

    def load_pretrained(self, path: str | os.PathLike | None = None) -> list[str]:
        """Load published ImageNet weights (torchvision layout) into the extractor.

        Args:
            path: ``.pth`` (opened with ``weights_only=True``) or ``.safetensors``; default
                ``$DEBLURKIT_HOME/weights/vgg16-397923af.pth`` / ``vgg19-dcbb9e9d.pth``.

        Returns:
            The keys of the file that the extractor does not use (the classifier, layers
            deeper than the deepest requested one), also logged.

        Raises:
            UserError: missing file (saying where to put it) or any other key/shape mismatch.

        Example:
            >>> VGGFeatures("vgg19").load_pretrained()   # doctest: +SKIP
            ['classifier.0.bias', ...]
        """
        own = set(self.state_dict())
        skip = [k for k in self.published_keys() if k not in own]
        return load_published_weights(self, path, network=self.arch.upper(),
                                      file_name=VGG_WEIGHT_FILES[self.arch], skip=skip)

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, layers={self.layer_names}, "
                f"normalize_input={self.normalize_input}")


@register_model("vgg16_features", kind="features",
                paper="Simonyan & Zisserman 2015, VGG16 (config D); S1 perceptual loss",
                arch="vgg16")
@register_model("vgg19_features", kind="features",
                paper="Simonyan & Zisserman 2015, VGG19 (config E); S3-S5 perceptual loss",
                arch="vgg19")
def build_vgg_features(arch: str = "vgg19", layers: Sequence[str | int] = ("relu2_2", "relu4_3"),
                       normalize_input: bool = True, requires_grad: bool = False) -> VGGFeatures:
    """Registry builder of :class:`VGGFeatures` (``layers`` stored as a JSON list)."""
    return VGGFeatures(arch=arch, layers=list(layers), normalize_input=normalize_input,
                       requires_grad=requires_grad)
