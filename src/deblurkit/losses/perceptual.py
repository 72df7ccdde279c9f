"""Perceptual (feature) loss over VGG16 / VGG19 layers, with per-layer weights and presets.

``L = sum_l a_l * crit(phi_l(pred), phi_l(target))`` with ``phi_l`` the feature map of VGG layer
``l`` (:class:`deblurkit.models.vgg.VGGFeatures`, ImageNet-normalized ``[0, 1]`` RGB input) and
``crit`` the MSE or L1 mean over the map's ``C_l H_l W_l`` values. The papers' settings:

====================  =======  ========================================  ============
preset                network  layers and weights                        used by
====================  =======  ========================================  ============
``s1``                VGG16    ``relu2_2``: 0.002, ``relu4_3``: 0.0015   S1 ("layers 9 and 23")
``deblurgan``         VGG19    ``conv3_3``: 1                            DeblurGAN, S3 option
``s3_block5``         VGG19    ``conv5_4``: 1                            S3 text ("block 5 conv 4")
``s5``                VGG19    ``conv3_3``: 1                            S5's ``L_X``
====================  =======  ========================================  ============

The papers' outer factors (S3: 100, S5: 1) go in ``weight``.

**Pretrained weights.** VGG features are a perceptual loss only with ImageNet weights. They
cannot be downloaded by deblurkit: put the published file (``vgg16-397923af.pth`` /
``vgg19-dcbb9e9d.pth``) in ``$DEBLURKIT_HOME/weights/`` (default ``~/.cache/deblurkit/weights``)
or pass its path as ``pretrained``. If neither is there, the loss runs with random weights
(useful for tests only) and warns once per architecture and process.

Example:
    >>> loss = PerceptualLoss(preset="s1")                       # doctest: +SKIP
    >>> loss(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from deblurkit.losses.base import (check_reduction, check_same_shape, check_weight, reduce_loss,
                                   register_loss)
from deblurkit.models.vgg import VGG_WEIGHT_FILES, VGGFeatures, resolve_vgg_layer
from deblurkit.models.weights import pretrained_weights_path

logger = logging.getLogger(__name__)

#: Named settings: network and ``{layer: weight}`` of each paper (see the module docstring).
PERCEPTUAL_PRESETS: dict[str, dict[str, object]] = {
    "s1": {"arch": "vgg16", "layers": {"relu2_2": 0.002, "relu4_3": 0.0015}},
    "deblurgan": {"arch": "vgg19", "layers": {"conv3_3": 1.0}},
    "s3_block5": {"arch": "vgg19", "layers": {"conv5_4": 1.0}},
    "s5": {"arch": "vgg19", "layers": {"conv3_3": 1.0}},
}
#: Network and layers used when neither ``preset`` nor ``layers`` is given (DeblurGAN / S5).
DEFAULT_PERCEPTUAL_ARCH = "vgg19"
DEFAULT_PERCEPTUAL_LAYERS: dict[str, float] = {"conv3_3": 1.0}
#: Feature criteria accepted by :func:`perceptual_loss`.
CRITERIA: tuple[str, ...] = ("mse", "l1")

# Architectures already warned about (random weights), so the warning comes once per process.
_WARNED_RANDOM: set[str] = set()

LayerSpec = Mapping[str | int, float] | Sequence[str | int] | str | int


def perceptual_loss(pred_features: Mapping[str, Tensor], target_features: Mapping[str, Tensor],
                    layer_weights: Mapping[str, float], criterion: str = "mse",
                    reduction: str = "mean") -> Tensor:
    """Weighted sum over layers of the feature distance ``crit(phi_l(pred), phi_l(target))``.

    Args:
        pred_features: ``{layer: (B, C_l, H_l, W_l)}`` of the prediction.
        target_features: the same layers of the target, same shapes.
        layer_weights: ``{layer: a_l}``; every layer must be in both feature dicts.
        criterion: ``"mse"`` (squared error, default) or ``"l1"``.
        reduction: ``"mean"``: ``sum_l a_l * mean over all B C_l H_l W_l values``;
            ``"sum"``: ``sum_l a_l * sum of the values``; ``"none"``: per-sample ``(B,)``
            ``sum_l a_l * mean over C_l H_l W_l`` (its batch mean is the ``"mean"`` result).

    Returns:
        0-d tensor, or ``(B,)`` for ``"none"``.

    Example:
        >>> f = {"a": torch.zeros(1, 2, 1, 1)}
        >>> g = {"a": torch.ones(1, 2, 1, 1)}
        >>> perceptual_loss(f, g, {"a": 0.5})
        tensor(0.5000)
    """
    check_reduction(reduction)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if not layer_weights:
        raise ValueError("perceptual_loss needs at least one layer")
    total: Tensor | None = None
    for layer, layer_weight in layer_weights.items():
        if layer not in pred_features or layer not in target_features:
            raise ValueError(f"layer {layer!r} missing from the features "
                             f"(got {sorted(pred_features)} and {sorted(target_features)})")
        pred, target = pred_features[layer], target_features[layer]
        check_same_shape(pred, target, f"layer {layer} features")
        error = (pred - target).square() if criterion == "mse" else (pred - target).abs()
        if reduction == "none":
            term = error.flatten(1).mean(dim=1)
        else:
            term = reduce_loss(error, reduction)
        term = layer_weight * term
        total = term if total is None else total + term
    assert total is not None
    return total


def normalize_layer_weights(arch: str, layers: LayerSpec) -> dict[str, float]:
    """``{canonical layer name: weight}`` from names, 1-based indices or a mapping.

    A sequence (or a single name) gives every layer weight 1. Names are resolved with
    :func:`deblurkit.models.vgg.resolve_vgg_layer` (``9`` -> ``"relu2_2"`` in VGG16).

    Example:
        >>> normalize_layer_weights("vgg16", {9: 0.002, "relu4_3": 0.0015})
        {'relu2_2': 0.002, 'relu4_3': 0.0015}
    """
    if isinstance(layers, (str, int)):
        layers = [layers]
    items = layers.items() if isinstance(layers, Mapping) else ((layer, 1.0) for layer in layers)
    result: dict[str, float] = {}
    for layer, layer_weight in items:
        name = resolve_vgg_layer(arch, layer)[1]
        if name in result:
            raise ValueError(f"layer {layer!r} ({name}) given twice")
        value = float(layer_weight)
        if not value >= 0:
            raise ValueError(f"layer {name} weight must be >= 0, got {layer_weight!r}")
        result[name] = value
    if not result:
        raise ValueError("give at least one VGG layer")
    return result


def build_loss_network(arch: str, layers: Sequence[str],
                       pretrained: str | os.PathLike | None = None) -> VGGFeatures:
    """A frozen :class:`VGGFeatures` in eval mode, with ImageNet weights when available.

    Args:
        arch: ``"vgg16"`` or ``"vgg19"``.
        layers: canonical layer names to return.
        pretrained: the weight file; ``None`` uses the default location
            (``$DEBLURKIT_HOME/weights/<published file name>``) when the file is there.

    Returns:
        The extractor (parameters with ``requires_grad=False``).

    Raises:
        UserError: ``pretrained`` is given but missing or does not match.

    Warns:
        UserWarning: once per ``arch`` and process, when no weight file is found and the
            network keeps random weights (not a perceptual loss).
    """
    network = VGGFeatures(arch=arch, layers=tuple(layers), normalize_input=True,
                          requires_grad=False)
    default_file = pretrained_weights_path(VGG_WEIGHT_FILES[arch])
    if pretrained is not None:
        network.load_pretrained(Path(pretrained))
    elif default_file.is_file():
        network.load_pretrained(default_file)
    elif arch not in _WARNED_RANDOM:
        _WARNED_RANDOM.add(arch)
        message = (f"no pretrained {arch.upper()} weights: the perceptual/contextual loss uses "
                   f"RANDOM VGG features, which is not a perceptual loss. Put the ImageNet file "
                   f"{VGG_WEIGHT_FILES[arch]} at {default_file} (or pass pretrained=<path>).")
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
    return network.eval()


class _VGGLossBase(nn.Module):
    """Holds a frozen VGG extractor kept in eval mode whatever ``train()`` is called with."""

    vgg: VGGFeatures

    def train(self, mode: bool = True) -> _VGGLossBase:
        super().train(mode)
        self.vgg.eval()
        return self

    def _features(self, pred: Tensor, target: Tensor) -> tuple[dict[str, Tensor],
                                                               dict[str, Tensor]]:
        check_same_shape(pred, target)
        if pred.ndim != 4 or pred.shape[1] != 3:
            raise ValueError(f"VGG losses take RGB images (B, 3, H, W), got {tuple(pred.shape)}")
        pred_features = self.vgg(pred)
        # The target is a constant of the loss: no graph through the VGG for it.
        with torch.no_grad():
            target_features = self.vgg(target)
        return pred_features, target_features


@register_loss("perceptual")
class PerceptualLoss(_VGGLossBase):
    """VGG feature loss ``weight * sum_l a_l crit(phi_l(pred), phi_l(target))``.

    Args:
        layers: ``{layer: a_l}`` (names like ``"relu2_2"`` or 1-based positions like ``9``) or
            a sequence of layers (all weighted 1). Default: the preset's, else
            ``{"conv3_3": 1.0}``.
        arch: ``"vgg16"`` or ``"vgg19"``. Default: the preset's, else ``"vgg19"``.
        preset: ``"s1"``, ``"deblurgan"``, ``"s3_block5"`` or ``"s5"`` (see
            :data:`PERCEPTUAL_PRESETS`); explicit ``arch`` / ``layers`` override it.
        criterion: ``"mse"`` (default, every paper here) or ``"l1"``.
        weight: multiplies the result (S3: 100).
        reduction: see :func:`perceptual_loss`.
        pretrained: path of the ImageNet weight file; ``None`` looks in the default location
            and warns once if it is not there (random features).

    Shape:
        - pred, target: ``(B, 3, H, W)`` in ``[0, 1]``. Output: scalar, ``(B,)`` for ``"none"``.

    The target goes through the network without a graph (no gradient reaches it); gradients
    flow to ``pred``. The VGG stays in eval mode and frozen.

    Example:
        >>> loss = PerceptualLoss(preset="s1")                                # doctest: +SKIP
        >>> loss.layer_weights                                                # doctest: +SKIP
        {'relu2_2': 0.002, 'relu4_3': 0.0015}
    """

    def __init__(self, layers: LayerSpec | None = None, arch: str | None = None,
                 preset: str | None = None, criterion: str = "mse", weight: float = 1.0,
                 reduction: str = "mean", pretrained: str | os.PathLike | None = None) -> None:
        super().__init__()
        if preset is not None:
            if preset not in PERCEPTUAL_PRESETS:
                raise ValueError(f"unknown perceptual preset {preset!r}; choose from "
                                 f"{sorted(PERCEPTUAL_PRESETS)}")
            settings = PERCEPTUAL_PRESETS[preset]
            arch = arch if arch is not None else str(settings["arch"])
            if layers is None:
                layers = settings["layers"]  # type: ignore[assignment]
        arch = arch if arch is not None else DEFAULT_PERCEPTUAL_ARCH
        layers = layers if layers is not None else DEFAULT_PERCEPTUAL_LAYERS
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
        self.arch = arch
        self.preset = preset
        self.layer_weights = normalize_layer_weights(arch, layers)
        self.criterion = criterion
        self.weight = check_weight(weight)
        self.reduction = check_reduction(reduction)
        self.vgg = build_loss_network(arch, list(self.layer_weights), pretrained)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred_features, target_features = self._features(pred, target)
        return self.weight * perceptual_loss(pred_features, target_features, self.layer_weights,
                                             self.criterion, self.reduction)

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, layer_weights={self.layer_weights}, "
                f"criterion={self.criterion!r}, weight={self.weight}, "
                f"reduction={self.reduction!r}")


__all__ = ["CRITERIA", "DEFAULT_PERCEPTUAL_ARCH", "DEFAULT_PERCEPTUAL_LAYERS",
           "PERCEPTUAL_PRESETS", "PerceptualLoss", "build_loss_network",
           "normalize_layer_weights", "perceptual_loss"]
