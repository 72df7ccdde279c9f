"""A small model registry: names -> builder functions, refusing duplicates.

Model families register their named variants with :func:`register_model`. The registry does
not scan packages: the family modules are listed in :data:`FAMILY_MODULES` and imported on the
first call to :func:`list_models` / :func:`create_model` (so ``import deblurkit`` stays cheap).

Example:
    >>> from deblurkit.models import create_model, list_models
    >>> "s1_msed" in list_models()                      # doctest: +SKIP
    True
    >>> net = create_model("s1_msed", num_scales=2)     # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from deblurkit.errors import UserError

# Explicit list of family modules (one file per paper / model family).
FAMILY_MODULES: tuple[str, ...] = (
    "deblurkit.models.s1_msed",
    "deblurkit.models.s2_msrn",
    "deblurkit.models.s3_msdn",
    "deblurkit.models.s4_deblurnet",
    "deblurkit.models.s5_multitask",
    "deblurkit.models.discriminators",
    "deblurkit.models.vgg",
    "deblurkit.models.inception_resnet_v2",
)

KINDS = ("generator", "discriminator", "classifier", "features")


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one named model.

    Args:
        name: the registered name (``create_model(name)``).
        builder: callable returning the ``nn.Module``; keyword arguments override defaults.
        kind: one of ``generator``, ``discriminator``, ``classifier``, ``features``.
        paper: the system and section it implements, e.g. ``"S1 (Han et al.), Sec. 3"``.
        defaults: the keyword arguments this variant fixes (shown by ``deblurkit models``).
    """

    name: str
    builder: Callable[..., nn.Module]
    kind: str
    paper: str
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def register_model(name: str, *, kind: str, paper: str,
                   **defaults: Any) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a builder (a class or a function) under ``name``.

    ``defaults`` are keyword arguments bound for this variant; the user's ``create_model``
    keyword arguments override them. Registering a name twice raises ``ValueError``.

    Example:
        >>> @register_model("tiny_net", kind="generator", paper="none", width=8)  # doctest: +SKIP
        ... class TinyNet(nn.Module): ...
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered "
                             f"(by {_REGISTRY[name].builder.__module__})")
        _REGISTRY[name] = ModelEntry(name=name, builder=builder, kind=kind, paper=paper,
                                     defaults=dict(defaults))
        return builder

    return decorator


def _load_families() -> None:
    global _loaded
    if _loaded:
        return
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    _loaded = True


def list_models(pattern: str = "*", kind: str | None = None) -> list[str]:
    """Sorted names of registered models matching a glob ``pattern`` and optional ``kind``."""
    _load_families()
    return sorted(n for n, e in _REGISTRY.items()
                  if fnmatch.fnmatch(n, pattern) and (kind is None or e.kind == kind))


def get_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` for ``name``; a :class:`UserError` listing close names if unknown."""
    _load_families()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = [n for n in _REGISTRY if name.split("_")[0] in n][:8]
        hint = f"; did you mean one of {close}" if close else ""
        raise UserError(f"unknown model {name!r}{hint} (see `deblurkit models`)") from None


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``kwargs`` override the variant's defaults.

    The returned module carries ``deblurkit_name`` and ``deblurkit_kwargs`` (the full keyword
    arguments used), which :func:`deblurkit.models.weights.save_model` stores beside the weights
    so that ``load_model(path)`` can rebuild it with nothing else.
    """
    entry = get_entry(name)
    arguments = {**entry.defaults, **kwargs}
    signature = inspect.signature(entry.builder)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [k for k in arguments if k not in signature.parameters and not accepts_any]
    if unknown:
        raise UserError(f"model {name!r} has no argument(s) {unknown}; "
                        f"it takes {[p for p in signature.parameters if p != 'self']}")
    model = entry.builder(**arguments)
    model.deblurkit_name = name
    model.deblurkit_kwargs = arguments
    return model
