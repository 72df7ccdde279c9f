"""Pixel losses: MSE, L1, Charbonnier, Huber, frequency-domain L1, and S2's multi-scale pixel
loss.

All take ``pred`` and ``target`` of the same shape (no broadcasting), usually ``(B, C, H, W)``
images in ``[0, 1]``; ``reduction="none"`` returns the element-wise loss of that shape
(per-sample values of shape ``(B,)`` for :func:`multiscale_pixel_loss`).

Example:
    >>> pred, target = torch.zeros(1, 1, 1, 2), torch.tensor([[[[0.5, 2.0]]]])
    >>> huber_loss(pred, target, delta=1.0, reduction="none").flatten().tolist()
    [0.125, 1.5]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from deblurkit.losses.base import (check_reduction, check_same_shape, check_weight, reduce_loss,
                                   register_loss)

#: Default Charbonnier epsilon: ``sqrt(x^2 + eps^2)`` with ``eps = 1e-3`` (``eps^2 = 1e-6``).
CHARBONNIER_EPS = 1e-3
#: Default Huber threshold (the paper of S4 gives none; 1.0 is the usual library default).
HUBER_DELTA = 1.0


# --------------------------------------------------------------------------------------------
# Functional form
# --------------------------------------------------------------------------------------------
def mse_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Squared error ``(pred - target)^2``, reduced.

    Args:
        pred: prediction, any shape.
        target: same shape as ``pred``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (element-wise).

    Returns:
        0-d tensor, or ``pred``'s shape for ``"none"``.

    Example:
        >>> mse_loss(torch.zeros(2), torch.tensor([1.0, 3.0]))
        tensor(5.)
    """
    check_same_shape(pred, target)
    return reduce_loss((pred - target).square(), reduction)


def l1_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Absolute error ``|pred - target|``, reduced (see :func:`mse_loss` for the arguments).

    Example:
        >>> l1_loss(torch.zeros(2), torch.tensor([1.0, -3.0]))
        tensor(2.)
    """
    check_same_shape(pred, target)
    return reduce_loss((pred - target).abs(), reduction)


def frequency_l1_loss(pred: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """L1 distance of the 2-D Fourier transforms: ``|Re(F p - F t)| + |Im(F p - F t)|``.

    The real FFT over the last two dimensions (``torch.fft.rfft2``, unnormalised, as in
    MIMO-UNet's "FFT loss", Cho et al. 2021): it weighs the lost high frequencies of a blurred
    image directly, which a pixel L1 underweights. Half-precision inputs (autocast) are
    computed in float32.

    Args:
        pred: ``(..., H, W)`` prediction.
        target: same shape.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``"none"`` gives the element-wise
            loss of the half spectrum, shape ``(..., H, W // 2 + 1)``).

    Example:
        >>> x = torch.zeros(1, 1, 4, 4); y = x.clone(); y[..., 0, 0] = 1.0
        >>> float(frequency_l1_loss(x, y, reduction="sum"))  # a delta: |1| at every frequency
        12.0
    """
    check_same_shape(pred, target)
    diff = pred - target
    if diff.dtype not in (torch.float32, torch.float64):  # no half-precision FFT on the CPU
        diff = diff.float()
    diff = torch.fft.rfft2(diff)
    return reduce_loss(diff.real.abs() + diff.imag.abs(), reduction)


def charbonnier_loss(pred: Tensor, target: Tensor, eps: float = CHARBONNIER_EPS,
                     reduction: str = "mean") -> Tensor:
    """Charbonnier (smooth L1) penalty ``sqrt((pred - target)^2 + eps^2)``, reduced.

    A differentiable L1: it behaves like ``|x|`` for ``|x| >> eps`` and like
    ``eps + x^2 / (2 eps)`` near zero. A perfect prediction costs ``eps``, not zero (the
    constant has no gradient).

    Args:
        pred: prediction, any shape.
        target: same shape as ``pred``.
        eps: ``> 0``, in the units of the data (default ``1e-3``, i.e. ``eps^2 = 1e-6``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> charbonnier_loss(torch.zeros(1), torch.tensor([0.3]), eps=0.4)
        tensor(0.5000)
    """
    check_same_shape(pred, target)
    if not eps > 0:
        raise ValueError(f"charbonnier eps must be > 0, got {eps!r}")
    return reduce_loss(torch.sqrt((pred - target).square() + eps * eps), reduction)


def huber_loss(pred: Tensor, target: Tensor, delta: float = HUBER_DELTA,
               reduction: str = "mean") -> Tensor:
    """Huber loss with threshold ``delta`` (S4 eq. 6), reduced.

    ``0.5 x^2`` for ``|x| <= delta``, ``delta (|x| - delta / 2)`` otherwise, ``x = pred -
    target``: quadratic near zero, linear (robust) beyond ``delta``. For images in ``[0, 1]``
    and ``delta >= 1`` it equals ``0.5 * MSE``; choose a smaller threshold to get the L1 tail.

    Args:
        pred: prediction, any shape.
        target: same shape as ``pred``.
        delta: the threshold, ``> 0`` (default ``1.0``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> huber_loss(torch.zeros(1), torch.tensor([3.0]), delta=1.0)
        tensor(2.5000)
    """
    check_same_shape(pred, target)
    if not delta > 0:
        raise ValueError(f"huber delta must be > 0, got {delta!r}")
    absolute = (pred - target).abs()
    quadratic = 0.5 * absolute.square()
    linear = delta * (absolute - 0.5 * delta)
    return reduce_loss(torch.where(absolute <= delta, quadratic, linear), reduction)


def multiscale_pixel_loss(preds: Sequence[Tensor], targets: Sequence[Tensor],
                          reduction: str = "mean", delta: float | None = None) -> Tensor:
    """S2's multi-scale content loss ``1/(2K) sum_k 1/(c_k w_k h_k) ||L_k - S_k||^2``.

    ``L_k`` is the network's output at pyramid level ``k`` and ``S_k`` the same level of the
    sharp image's Gaussian pyramid (paper 001, eq. 9). The norm is taken *per sample*, so each
    sample gets ``1/(2K) sum_k MSE_k`` (the mean of squared errors over ``c_k h_k w_k`` values at
    level ``k``); the batch is then reduced. Levels may be in any order (the pairs must
    correspond): :func:`deblurkit.models.s2_msrn.gaussian_pyramid` and
    ``RestorationNet.forward_scales`` both go coarse -> fine. The ``1/2`` is the paper's: with
    ``K = 1`` the loss is half the MSE.

    Args:
        preds: ``K >= 1`` tensors ``(B, c_k, h_k, w_k)``.
        targets: ``K`` tensors, ``targets[k]`` of the same shape as ``preds[k]``.
        reduction: ``"mean"`` over the batch (default), ``"sum"`` over the batch, or
            ``"none"``: the per-sample values ``(B,)``.
        delta: ``None`` (default): the paper's squared error. A threshold ``> 0``: the robust
            form, each level's ``0.5 x^2`` replaced by :func:`huber_loss` with that threshold
            (the same for ``|x| <= delta``, linear beyond), so ``1/K sum_k`` of the per-level
            mean Huber loss.

    Returns:
        0-d tensor, or ``(B,)`` for ``"none"``.

    Example:
        >>> preds = [torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 2, 2)]
        >>> targets = [torch.ones(1, 1, 1, 1), torch.ones(1, 1, 2, 2) * 2]
        >>> multiscale_pixel_loss(preds, targets)      # (1 + 4) / 4
        tensor(1.2500)
        >>> multiscale_pixel_loss(preds, targets, delta=0.5)   # (0.375 + 0.875) / 2
        tensor(0.6250)
    """
    check_reduction(reduction)
    if isinstance(preds, Tensor) or isinstance(targets, Tensor):
        raise TypeError("multiscale_pixel_loss takes sequences of tensors (one per level), "
                        "not a tensor")
    if len(preds) != len(targets):
        raise ValueError(f"got {len(preds)} predicted levels and {len(targets)} target levels")
    if not preds:
        raise ValueError("multiscale_pixel_loss needs at least one level")
    batch = preds[0].shape[0]
    per_sample = None
    for level, (pred, target) in enumerate(zip(preds, targets)):
        check_same_shape(pred, target, f"level {level} pred and target")
        if pred.ndim < 2 or pred.shape[0] != batch:
            raise ValueError(f"level {level} has shape {tuple(pred.shape)}; every level must be "
                             f"(B, C, H, W) with the same B = {batch}")
        if delta is None:
            term = 0.5 * (pred - target).square()
        else:
            term = huber_loss(pred, target, delta, reduction="none")
        term = term.flatten(1).mean(dim=1)
        per_sample = term if per_sample is None else per_sample + term
    assert per_sample is not None
    return reduce_loss(per_sample / len(preds), reduction)


# --------------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------------
class _WeightedLoss(nn.Module):
    """Stores ``weight`` and ``reduction``; subclasses implement ``forward``."""

    def __init__(self, weight: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = check_weight(weight)
        self.reduction = check_reduction(reduction)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, reduction={self.reduction!r}"


@register_loss("mse")
class MSELoss(_WeightedLoss):
    """``weight * mse_loss(pred, target, reduction)``; see :func:`mse_loss`.

    Args:
        weight: multiplies the result (default 1.0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Shape:
        - pred, target: any shape, equal. Output: scalar, or the input shape for ``"none"``.

    Example:
        >>> MSELoss(weight=2.0)(torch.zeros(2), torch.ones(2))
        tensor(2.)
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * mse_loss(pred, target, self.reduction)


@register_loss("l1")
class L1Loss(_WeightedLoss):
    """``weight * l1_loss(pred, target, reduction)``; see :func:`l1_loss` (S5: weight 0.5).

    Example:
        >>> L1Loss(weight=0.5)(torch.zeros(2), torch.ones(2))
        tensor(0.5000)
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * l1_loss(pred, target, self.reduction)


@register_loss("frequency_l1")
class FrequencyL1Loss(_WeightedLoss):
    """``weight * frequency_l1_loss(pred, target, reduction)``; see :func:`frequency_l1_loss`
    (MIMO-UNet: weight 0.1 beside a pixel L1).

    Shape:
        - pred, target: ``(..., H, W)``, equal. Output: scalar, or ``(..., H, W // 2 + 1)``.

    Example:
        >>> FrequencyL1Loss(weight=0.1)(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
        tensor(0.)
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * frequency_l1_loss(pred, target, self.reduction)


@register_loss("charbonnier")
class CharbonnierLoss(_WeightedLoss):
    """``weight * charbonnier_loss(pred, target, eps, reduction)``; see :func:`charbonnier_loss`.

    Args:
        eps: ``> 0`` (default ``1e-3``: ``sqrt(x^2 + 1e-6)``).
        weight: multiplies the result (default 1.0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> CharbonnierLoss(eps=0.4)(torch.zeros(1), torch.tensor([0.3]))
        tensor(0.5000)
    """

    def __init__(self, eps: float = CHARBONNIER_EPS, weight: float = 1.0,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        if not eps > 0:
            raise ValueError(f"charbonnier eps must be > 0, got {eps!r}")
        self.eps = float(eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * charbonnier_loss(pred, target, self.eps, self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, {super().extra_repr()}"


@register_loss("huber")
class HuberLoss(_WeightedLoss):
    """``weight * huber_loss(pred, target, delta, reduction)``; S4 uses weight 100.

    Args:
        delta: the threshold, ``> 0`` (default 1.0; S4's paper gives no value).
        weight: multiplies the result (default 1.0).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> HuberLoss(delta=1.0, weight=100.0)(torch.zeros(1), torch.tensor([0.1]))
        tensor(0.5000)
    """

    def __init__(self, delta: float = HUBER_DELTA, weight: float = 1.0,
                 reduction: str = "mean") -> None:
        super().__init__(weight, reduction)
        if not delta > 0:
            raise ValueError(f"huber delta must be > 0, got {delta!r}")
        self.delta = float(delta)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return self.weight * huber_loss(pred, target, self.delta, self.reduction)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, {super().extra_repr()}"


@register_loss("multiscale_pixel")
class MultiScalePixelLoss(_WeightedLoss):
    """S2's multi-scale pixel loss (:func:`multiscale_pixel_loss`) times ``weight``.

    The target pyramid is an input: pass the list of levels, or pass the sharp image as one
    tensor and give ``pyramid`` (a callable ``Tensor -> list[Tensor]``, e.g.
    ``functools.partial(gaussian_pyramid, levels=3)``) to build it.

    Args:
        pyramid: optional callable building the target levels from a tensor target. Its order
            must match the predictions' (``gaussian_pyramid``: coarse -> fine).
        delta: ``None`` (default, the paper's squared error) or a Huber threshold ``> 0``
            (see :func:`multiscale_pixel_loss`).
        weight: multiplies the result (default 1.0).
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or ``"none"`` (``(B,)``).

    Shape:
        - preds: ``K`` tensors ``(B, c_k, h_k, w_k)``; targets: same shapes (or a tensor with
          ``pyramid``). Output: scalar, or ``(B,)`` for ``"none"``.

    Example:
        >>> loss = MultiScalePixelLoss(pyramid=lambda x: [x[..., ::2, ::2], x])
        >>> x = torch.rand(2, 3, 8, 8)
        >>> float(loss([x[..., ::2, ::2], x], x))
        0.0
    """

    def __init__(self, pyramid: Callable[[Tensor], Sequence[Tensor]] | None = None,
                 weight: float = 1.0, reduction: str = "mean", delta: float | None = None
                 ) -> None:
        super().__init__(weight, reduction)
        if pyramid is not None and not callable(pyramid):
            raise TypeError(f"pyramid must be callable, got {type(pyramid).__name__}")
        if delta is not None and not delta > 0:
            raise ValueError(f"huber delta must be > 0, got {delta!r}")
        self.pyramid = pyramid
        self.delta = None if delta is None else float(delta)

    def forward(self, preds: Sequence[Tensor], targets: Sequence[Tensor] | Tensor) -> Tensor:
        if isinstance(targets, Tensor):
            if self.pyramid is None:
                raise TypeError("MultiScalePixelLoss got one target tensor; pass the target "
                                "pyramid as a list or construct the loss with pyramid=...")
            targets = self.pyramid(targets)
        return self.weight * multiscale_pixel_loss(preds, targets, self.reduction, self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}, {super().extra_repr()}"


__all__ = ["CHARBONNIER_EPS", "HUBER_DELTA", "CharbonnierLoss", "HuberLoss", "L1Loss",
           "MSELoss", "MultiScalePixelLoss", "charbonnier_loss", "huber_loss", "l1_loss",
           "mse_loss", "multiscale_pixel_loss"]
