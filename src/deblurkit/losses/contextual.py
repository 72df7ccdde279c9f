"""Contextual loss (Mechrez, Talmi and Zelnik-Manor, ECCV 2018), on feature maps or on VGG.

Each sample's feature maps are two sets of ``C``-dimensional points: ``x_i`` (prediction, one
per position, ``N_x`` of them) and ``y_j`` (target, ``N_y``). With both centred on the
target's mean vector ``mu_y`` (mean over the target's positions, per sample):

1. cosine distance ``d_ij = 1 - <x_i - mu_y, y_j - mu_y> / (|x_i - mu_y| |y_j - mu_y|)``;
2. relative distance ``d~_ij = d_ij / (min_k d_ik + eps)`` (``eps = 1e-5``);
3. affinity ``w_ij = exp((1 - d~_ij) / h)`` with band width ``h > 0``;
4. ``CX_ij = w_ij / sum_k w_ik`` (normalized over the target points for each ``x_i``);
5. ``CX = (1 / N_y) sum_j max_i CX_ij`` and the loss ``-log(CX)``.

``CX`` is in ``(0, 1]``; identical feature sets give ``CX -> 1`` (loss near 0). The loss
ignores where features are (it compares distributions), which is why Mechrez et al. use it on
non-aligned data. S5 writes the affinity as ``exp(1 - d~/h)``: after step 4 the two forms are
the same (they differ by a constant factor per row).

Cost: an ``N_x x N_y`` matrix per sample (``N = H_l W_l``): a 64 x 64 map needs 16.7 M
entries per sample; use a deep layer or pool the maps for large crops.

Example:
    >>> x = torch.rand(2, 8, 4, 4)
    >>> float(contextual_loss(x, x)) < 1e-3
    True
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.losses.base import check_reduction, check_weight, reduce_loss, register_loss
from deblurkit.losses.perceptual import (LayerSpec, _VGGLossBase, build_loss_network,
                                        normalize_layer_weights)

#: Default band width ``h`` (Mechrez et al.'s common choice).
CONTEXTUAL_BAND_WIDTH = 0.5
#: Default ``eps`` of the relative distance ``d / (min d + eps)`` (Mechrez et al.'s code).
CONTEXTUAL_EPS = 1e-5
#: Default layers of :class:`VGGContextualLoss` (our choice: the thesis of S5 names none).
DEFAULT_CONTEXTUAL_LAYERS: dict[str, float] = {"relu4_2": 1.0}
# Vectors whose norm is below this are treated as zero by the cosine (avoids 0 / 0).
_NORM_FLOOR = 1e-12


def contextual_similarity(pred: Tensor, target: Tensor, band_width: float = CONTEXTUAL_BAND_WIDTH,
                          eps: float = CONTEXTUAL_EPS) -> Tensor:
    """Per-sample contextual similarity ``CX`` in ``(0, 1]`` (steps 1-5 of the module doc).

    Args:
        pred: ``(B, C, *spatial)`` prediction features (``N_x`` = product of spatial sizes).
        target: ``(B, C, *spatial')`` target features; spatial sizes may differ from pred's.
        band_width: ``h > 0`` (default 0.5).
        eps: ``> 0`` (default ``1e-5``).

    Returns:
        ``(B,)``.

    Example:
        >>> x = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])   # points (1, 0), (0, 1)
        >>> y = torch.tensor([[[[1.0, -1.0]], [[0.0, 0.0]]]])  # points (1, 0), (-1, 0)
        >>> contextual_similarity(x, y)
        tensor([0.7500])
    """
    if not band_width > 0:
        raise ValueError(f"band_width must be > 0, got {band_width!r}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps!r}")
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("contextual loss takes tensors")
    if pred.ndim < 3 or target.ndim < 3 or pred.shape[:2] != target.shape[:2]:
        raise ValueError(f"pred and target must be (B, C, ...) with the same B and C, got "
                         f"{tuple(pred.shape)} and {tuple(target.shape)}")
    x = pred.flatten(2)                                   # (B, C, Nx)
    y = target.flatten(2)                                 # (B, C, Ny)
    mu = y.mean(dim=2, keepdim=True)
    x = F.normalize(x - mu, dim=1, eps=_NORM_FLOOR)
    y = F.normalize(y - mu, dim=1, eps=_NORM_FLOOR)
    cosine = torch.bmm(x.transpose(1, 2), y)             # (B, Nx, Ny)
    distance = (1.0 - cosine).clamp_min(0.0)
    relative = distance / (distance.min(dim=2, keepdim=True).values + eps)
    cx = torch.softmax((1.0 - relative) / band_width, dim=2)
    return cx.max(dim=1).values.mean(dim=1)


def contextual_loss(pred: Tensor, target: Tensor, band_width: float = CONTEXTUAL_BAND_WIDTH,
                    eps: float = CONTEXTUAL_EPS, reduction: str = "mean") -> Tensor:
    """Contextual loss ``-log CX(pred, target)`` per sample, reduced over the batch.

    Args:
        pred: ``(B, C, *spatial)`` feature maps (VGG features, or raw images as features).
        target: ``(B, C, *spatial')``.
        band_width: ``h > 0`` (default 0.5): smaller is stricter.
        eps: ``> 0`` (default ``1e-5``).
        reduction: ``"mean"`` over the batch (default), ``"sum"``, or ``"none"`` (``(B,)``).

    Returns:
        0-d tensor, or ``(B,)`` for ``"none"``.

    Example:
        >>> x = torch.tensor([[[[1.0, 0.0]], [[0.0, 1.0]]]])
        >>> y = torch.tensor([[[[1.0, -1.0]], [[0.0, 0.0]]]])
        >>> contextual_loss(x, y)          # -log(0.75)
        tensor(0.2877)
    """
    check_reduction(reduction)
    return reduce_loss(-torch.log(contextual_similarity(pred, target, band_width, eps)),
                       reduction)


@register_loss("contextual")
class ContextualLoss(nn.Module):
    """``weight * contextual_loss(pred, target, band_width, eps, reduction)`` on feature maps.

    Args:
        band_width: ``h > 0`` (default 0.5).
        eps: ``> 0`` (default ``1e-5``).
        weight: multiplies the result (S5: 0.5).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(B,)``).

    Shape:
        - pred ``(B, C, *spatial)``, target ``(B, C, *spatial')``. Output: scalar or ``(B,)``.

    Example:
        >>> ContextualLoss(weight=0.5)(torch.rand(1, 4, 3, 3), torch.rand(1, 4, 3, 3)).shape
        torch.Size([])
    """

    def __init__(self, band_width: float = CONTEXTUAL_BAND_WIDTH, eps: float = CONTEXTUAL_EPS,
                 weight: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if not band_width > 0:
            raise ValueError(f"band_width must be > 0, got {band_width!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.band_width = float(band_width)
        self.eps = float(eps)
        self.weight = check_weight(weight)
        self.reduction = check_reduction(reduction)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * contextual_loss(pred, target, self.band_width, self.eps,
                                             self.reduction)

    def extra_repr(self) -> str:
        return (f"band_width={self.band_width}, eps={self.eps}, weight={self.weight}, "
                f"reduction={self.reduction!r}")


@register_loss("vgg_contextual")
class VGGContextualLoss(_VGGLossBase):
    """Contextual loss on VGG features: ``weight * sum_l a_l * CX(phi_l(pred), phi_l(target))``.

    ``CX(., .)`` here is the loss :func:`contextual_loss`, one term per layer.

    Args:
        layers: ``{layer: a_l}`` or a sequence of layers (default ``{"relu4_2": 1.0}``, our
            choice; S5's thesis does not say which layers).
        arch: ``"vgg16"`` or ``"vgg19"`` (default).
        band_width: ``h > 0`` (default 0.5).
        eps: ``> 0`` (default ``1e-5``).
        weight: multiplies the result (S5: 0.5).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (``(B,)``).
        pretrained: ImageNet weight file; ``None``: default location, else a one-time warning
            (see :func:`deblurkit.losses.perceptual.build_loss_network`).

    Shape:
        - pred, target: ``(B, 3, H, W)`` in ``[0, 1]``. Output: scalar or ``(B,)``.

    Example:
        >>> loss = VGGContextualLoss(layers=("relu2_1",))                    # doctest: +SKIP
        >>> loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))         # doctest: +SKIP
    """

    def __init__(self, layers: LayerSpec | None = None, arch: str = "vgg19",
                 band_width: float = CONTEXTUAL_BAND_WIDTH, eps: float = CONTEXTUAL_EPS,
                 weight: float = 1.0, reduction: str = "mean",
                 pretrained: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.contextual = ContextualLoss(band_width, eps, 1.0, reduction)
        self.arch = arch
        self.layer_weights = normalize_layer_weights(
            arch, layers if layers is not None else DEFAULT_CONTEXTUAL_LAYERS)
        self.weight = check_weight(weight)
        self.reduction = self.contextual.reduction
        self.vgg = build_loss_network(arch, list(self.layer_weights), pretrained)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        pred_features, target_features = self._features(pred, target)
        total = sum(layer_weight * self.contextual(pred_features[layer], target_features[layer])
                    for layer, layer_weight in self.layer_weights.items())
        return self.weight * total  # type: ignore[return-value]

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, layer_weights={self.layer_weights}, weight={self.weight}"


__all__ = ["CONTEXTUAL_BAND_WIDTH", "CONTEXTUAL_EPS", "DEFAULT_CONTEXTUAL_LAYERS",
           "ContextualLoss", "VGGContextualLoss", "contextual_loss", "contextual_similarity"]
