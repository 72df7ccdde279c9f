"""The model registry: names -> builder functions, refusing duplicates.

Model families register their named variants with :func:`register_model` into
:data:`MODELS`, a :class:`deblurkit.utils.registry.Registry` of :class:`ModelEntry`. The
registry does not scan packages: the family modules are listed in :data:`FAMILY_MODULES` and
imported on the first lookup or listing (so ``import deblurkit`` stays cheap).

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
from deblurkit.utils.registry import Registry

# Explicit list of family modules (one file per paper / model family).
FAMILY_MODULES: tuple[str, ...] = (
    "deblurkit.models.s1_msed",
    "deblurkit.models.s2_msrn",
    "deblurkit.models.s3_msdn",
    "deblurkit.models.s4_deblurnet",
    "deblurkit.models.s5_multitask",
    "deblurkit.models.nafnet",
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


def _load_families() -> None:
    for module in FAMILY_MODULES:
        importlib.import_module(module)


def _close_names(name: str, registry: Registry[ModelEntry]) -> str:
    close = [n for n in registry.keys() if str(name).split("_")[0] in n][:8]
    return f"; did you mean one of {close}" if close else ""


#: Every registered model, by name (the family modules are imported on first use).
MODELS: Registry[ModelEntry] = Registry("model", loader=_load_families, hint=_close_names,
                                        footer=" (see `deblurkit models`)",
                                        origin=lambda entry: entry.builder.__module__)


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
        MODELS.add(name, ModelEntry(name=name, builder=builder, kind=kind, paper=paper,
                                    defaults=dict(defaults)))
        return builder

    return decorator


def list_models(pattern: str = "*", kind: str | None = None) -> list[str]:
    """Sorted names of registered models matching a glob ``pattern`` and optional ``kind``.

    Example:
        >>> "s1_msed" in list_models("s1_*", kind="generator")
        True
    """
    return [n for n, e in MODELS.items()
            if fnmatch.fnmatch(n, pattern) and (kind is None or e.kind == kind)]


def get_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` for ``name``.

    Raises:
        UserError: unknown name; the message gives close names and every registered one.

    Example:
        >>> get_entry("s1_msed").kind
        'generator'
    """
    return MODELS.get(name)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model ``name``; ``kwargs`` override the variant's defaults.

    The returned module carries ``deblurkit_name`` and ``deblurkit_kwargs`` (the full keyword
    arguments used), which :func:`deblurkit.models.weights.save_model` stores beside the weights
    so that ``load_model(path)`` can rebuild it with nothing else.

    Args:
        name: a registered name (:func:`list_models`).
        **kwargs: constructor arguments overriding the variant's defaults.

    Returns:
        The module.

    Raises:
        UserError: unknown name, or an argument the builder does not take.

    Example:
        >>> create_model("s1_msed", num_scales=2).deblurkit_kwargs["num_scales"]
        2
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
