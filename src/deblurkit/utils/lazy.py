"""Lazy package attributes: ``from deblurkit.x import Name`` imports only Name's module.

Keeps ``import deblurkit`` (and the numpy-only packages) free of torch and PyAV until a name
that needs them is used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        exports: public name -> module that defines it (absolute, e.g.
            ``"deblurkit.inference.restorer"``).

    Returns:
        ``(__getattr__, __dir__)`` to assign at module level; a resolved name is cached in
        the package's namespace, so the import happens once.

    Example:
        >>> import deblurkit.utils
        >>> getattr_, dir_ = lazy_exports("deblurkit.utils", {"sqrt": "math"})
        >>> getattr_("sqrt")(4.0)
        2.0
    """
    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value   # resolved once
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
