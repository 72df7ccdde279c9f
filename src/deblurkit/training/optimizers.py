"""The optimizers a training config can name, as a registry of torch classes.

:data:`OPTIMIZERS` maps ``optim.name`` to an :class:`OptimizerKind`: the ``torch.optim``
class and which :class:`~deblurkit.training.config.OptimConfig` settings it takes besides the
learning rate. Its keys are the accepted names; an unknown name is a
:class:`~deblurkit.errors.UserError` listing them.

Example:
    >>> import torch
    >>> opt = build_optimizer([torch.zeros(1, requires_grad=True)], "sgd", lr=0.1,
    ...                       betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum=0.5)
    >>> type(opt).__name__, opt.param_groups[0]["momentum"]
    ('SGD', 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from deblurkit.utils.registry import Registry

__all__ = ["OPTIMIZERS", "OptimizerKind", "build_optimizer"]


@dataclass(frozen=True)
class OptimizerKind:
    """A ``torch.optim`` class and the config settings passed to it (besides ``lr``).

    Args:
        cls: the optimizer class.
        settings: names of the settings it takes, among ``betas``, ``eps``,
            ``weight_decay`` and ``momentum``.
    """

    cls: type[torch.optim.Optimizer]
    settings: tuple[str, ...]


#: ``optim.name`` -> optimizer; the keys are the names a config may use.
OPTIMIZERS: Registry[OptimizerKind] = Registry("optimizer",
                                               origin=lambda kind: kind.cls.__qualname__)
OPTIMIZERS.add("adam", OptimizerKind(torch.optim.Adam, ("betas", "eps", "weight_decay")))
OPTIMIZERS.add("adamw", OptimizerKind(torch.optim.AdamW, ("betas", "eps", "weight_decay")))
OPTIMIZERS.add("sgd", OptimizerKind(torch.optim.SGD, ("momentum", "weight_decay")))


def build_optimizer(params: Iterable[nn.Parameter], name: str, lr: float,
                    betas: tuple[float, float], eps: float, weight_decay: float,
                    momentum: float) -> torch.optim.Optimizer:
    """The optimizer registered as ``name`` over ``params``.

    Args:
        params: the parameters to optimize.
        name: a key of :data:`OPTIMIZERS` (``adam``, ``adamw``, ``sgd``).
        lr: learning rate.
        betas, eps: Adam / AdamW settings (ignored by SGD).
        weight_decay: L2 (Adam, SGD) or decoupled (AdamW) weight decay.
        momentum: SGD momentum (ignored by Adam / AdamW).

    Returns:
        The ``torch.optim`` optimizer.

    Raises:
        UserError: unknown name (the message lists the registered ones).
    """
    kind = OPTIMIZERS.get(name)
    given = {"betas": betas, "eps": eps, "weight_decay": weight_decay, "momentum": momentum}
    return kind.cls(list(params), lr=lr, **{key: given[key] for key in kind.settings})
