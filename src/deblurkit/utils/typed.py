"""Typed configs from plain mappings: YAML data -> frozen dataclasses, strictly.

Used by training recipes (:mod:`deblurkit.training.config`) and by the degradation model of
on-the-fly data (:mod:`deblurkit.synth.degrade`): an unknown key or a value of the wrong type
is a :class:`~deblurkit.errors.UserError` naming its dotted path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from deblurkit.errors import UserError

__all__ = ["from_dict", "to_dict"]


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, path: str) -> Any:
    """Convert ``value`` (from YAML) to the annotated type ``tp``; UserError naming ``path``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(value, option, path)
            except UserError as exc:
                errors.append(str(exc))
        raise UserError(errors[0] if len(errors) == 1 else
                        f"{path}: {value!r} is not {_type_name(tp)}")
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, path)
    if tp is Any:
        return value
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise UserError(f"{path}: expected a mapping, got {value!r}")
        if args:
            return {str(k): _convert(v, args[1], f"{path}.{k}") for k, v in value.items()}
        return dict(value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{path}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise UserError(f"{path}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise UserError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # PyYAML (YAML 1.1) reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{path}: expected a string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build dataclass ``cls`` from a mapping; unknown or missing keys are UserErrors.

    Args:
        cls: a dataclass type (fields typed with int, float, str, bool, tuples, dicts,
            optional values and nested dataclasses).
        data: the mapping (from YAML).
        path: the dotted key path of ``data`` (for messages).

    Returns:
        The typed, frozen instance.

    Example:
        >>> @dataclasses.dataclass(frozen=True)
        ... class Optim:
        ...     lr: float = 1e-4
        >>> from_dict(Optim, {"lr": 1e-3}).lr
        0.001
    """
    where = path or "config"
    if not isinstance(data, Mapping):
        raise UserError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise UserError(f"unknown config key {key!r} (known at {where}: "
                        f"{', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        sub = f"{path}.{name}" if path else name
        if name in data:
            values[name] = _convert(data[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UserError(f"missing config key {sub!r}")
    return cls(**values)


def to_dict(obj: Any) -> Any:
    """A dataclass config as plain YAML-ready data (tuples become lists)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
