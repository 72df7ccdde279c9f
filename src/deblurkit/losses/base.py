"""Shared pieces of the losses: reductions, argument checks and the loss registry.

Every loss of :mod:`deblurkit.losses` is a function holding the computation and a thin
``nn.Module`` storing its arguments, including

- ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``; what ``"none"`` returns is
  given in each loss's docstring (element-wise for pixel losses, one value per sample for the
  multi-scale, perceptual and contextual losses);
- ``weight``: a float multiplying the reduced result (the paper's lambda), default ``1.0``.

Training configs name losses through :func:`build_loss` (``build_loss("charbonnier",
eps=1e-3, weight=1.0)``); a loss class joins :data:`LOSSES` (a
:class:`deblurkit.utils.registry.Registry`) with the :func:`register_loss` decorator, which
refuses a name given twice.

Example:
    >>> loss = build_loss("l1", weight=0.5)
    >>> float(loss(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)))
    0.5
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.utils.registry import Registry

#: The accepted values of every loss's ``reduction`` argument.
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")

#: Every loss class, by the name :func:`build_loss` and training configs use.
LOSSES: Registry[type[nn.Module]] = Registry("loss")
_ModuleT = TypeVar("_ModuleT", bound=type[nn.Module])


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of :data:`REDUCTIONS`, else raise ``ValueError``."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_same_shape(pred: Tensor, target: Tensor, what: str = "pred and target") -> None:
    """Raise ``ValueError`` unless ``pred`` and ``target`` have exactly the same shape.

    Losses never broadcast: a ``(B, 3, H, W)`` prediction against a ``(B, 1, H, W)`` target is
    a bug, not a request.
    """
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{what} must be tensors, got {type(pred).__name__} and "
                        f"{type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"{what} must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to an unreduced loss tensor."""
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def check_weight(weight: float) -> float:
    """Return ``float(weight)``; ``ValueError`` if it is negative or not finite."""
    value = float(weight)
    if not (value >= 0.0 and value != float("inf")):
        raise ValueError(f"weight must be a finite number >= 0, got {weight!r}")
    return value


def register_loss(name: str) -> Callable[[_ModuleT], _ModuleT]:
    """Class decorator adding a loss module to the registry under ``name``.

    Raises:
        ValueError: ``name`` is already registered.

    Example:
        >>> @register_loss("my_loss")            # doctest: +SKIP
        ... class MyLoss(nn.Module): ...
    """

    return LOSSES.register(name)


def list_losses() -> list[str]:
    """Sorted names accepted by :func:`build_loss`.

    Example:
        >>> "huber" in list_losses()
        True
    """
    return list(LOSSES.keys())


def get_loss_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``.

    Raises:
        UserError: unknown name; the message lists every registered one.

    Example:
        >>> get_loss_class("l1").__name__
        'L1Loss'
    """
    return LOSSES.get(name)


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build the loss registered as ``name`` with keyword arguments (e.g. from a config file).

    Args:
        name: a key of the registry (:func:`list_losses`): ``"mse"``, ``"l1"``,
            ``"charbonnier"``, ``"huber"``, ``"multiscale_pixel"``, ``"perceptual"``,
            ``"contextual"``, ``"vgg_contextual"``, ``"gan"``, ``"relativistic_gan"``,
            ``"frame_bce"``.
        **kwargs: the constructor arguments of that class.

    Returns:
        The loss module.

    Raises:
        UserError: unknown name, or arguments the class refuses (the message names the loss).

    Example:
        >>> build_loss("huber", delta=0.5)
        HuberLoss(delta=0.5, weight=1.0, reduction='mean')
    """
    cls = get_loss_class(name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        raise UserError(f"loss {name!r}: {error}") from None


__all__ = ["LOSSES", "REDUCTIONS", "build_loss", "check_reduction", "check_same_shape",
           "check_weight", "get_loss_class", "list_losses", "reduce_loss", "register_loss"]
