"""One small name -> object registry (BasicSR style) for every "built by name" choice.

A :class:`Registry` maps names to objects (classes, builder functions, entries). It refuses a
name given twice, lists its keys, and refuses an unknown name with a
:class:`~deblurkit.errors.UserError` that lists the valid ones. The toolkit keeps one
instance per kind of choice: models (:mod:`deblurkit.models.registry`), losses
(:mod:`deblurkit.losses.base`), learning-rate schedules (:mod:`deblurkit.training.schedules`),
optimizers (:mod:`deblurkit.training.optimizers`) and target pyramids
(:mod:`deblurkit.training.pyramids`). A config's list of choices is the registry's
:meth:`Registry.keys`, so a name that is offered is a name that works.

Example:
    >>> colours = Registry("colour")
    >>> @colours.register("red")
    ... def red():
    ...     return (255, 0, 0)
    >>> colours.get("red")()
    (255, 0, 0)
    >>> colours.keys()
    ('red',)
    >>> colours.get("blue")
    Traceback (most recent call last):
    ...
    deblurkit.errors.UserError: unknown colour 'blue'; choose from ['red']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from deblurkit.errors import UserError

__all__ = ["Registry"]

T = TypeVar("T")


def _origin(value: object) -> str:
    """``module.name`` of a registered class or function (its type's for other values)."""
    named = value if hasattr(value, "__qualname__") else type(value)
    return f"{named.__module__}.{named.__qualname__}"


class Registry(Generic[T]):
    """Names -> objects; duplicates refused, unknown names refused with the valid ones.

    Args:
        kind: what the names are, used in messages (``"loss"``, ``"lr schedule"`` ...).
        loader: called once before the first lookup or listing, to import the modules that
            register (the model families); None: everything registers at import.
        hint: ``hint(name, registry)`` returns text inserted after ``unknown <kind> <name>``
            in the error (e.g. ``"; did you mean ..."``); None: nothing.
        footer: text appended to the error (e.g. ``" (see `deblurkit models`)"``).
        origin: ``origin(value)`` names who registered a value, for the duplicate message
            (default: the value's module and name).

    Example:
        >>> shapes = Registry("shape")
        >>> shapes.add("square", 4)
        >>> "square" in shapes, len(shapes)
        (True, 1)
        >>> shapes.add("square", 5)
        Traceback (most recent call last):
        ...
        ValueError: shape name 'square' is already registered (by builtins.int)
    """

    def __init__(self, kind: str, loader: Callable[[], None] | None = None,
                 hint: Callable[[str, Registry[T]], str] | None = None,
                 footer: str = "", origin: Callable[[T], str] = _origin) -> None:
        self.kind = kind
        self._loader = loader
        self._hint = hint
        self._footer = footer
        self._origin = origin
        self._items: dict[str, T] = {}

    def _load(self) -> None:
        """Run the loader once (it is dropped only after it succeeded)."""
        loader = self._loader
        if loader is not None:
            loader()
            self._loader = None

    def add(self, name: str, value: T) -> None:
        """Register ``value`` under ``name``.

        Raises:
            ValueError: ``name`` is already registered (a programming error, not a user one).
        """
        if name in self._items:
            raise ValueError(f"{self.kind} name {name!r} is already registered "
                             f"(by {self._origin(self._items[name])})")
        self._items[name] = value

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`; returns the decorated object unchanged.

        Example:
            >>> things = Registry("thing")
            >>> @things.register("one")
            ... class One: ...
            >>> things.keys()
            ('one',)
        """

        def decorator(value: T) -> T:
            self.add(name, value)
            return value

        return decorator

    def get(self, name: str) -> T:
        """The object registered as ``name``.

        Raises:
            UserError: unknown name; the message lists :meth:`keys`.
        """
        self._load()
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable "name" from a config
            hint = self._hint(name, self) if self._hint is not None else ""
            raise UserError(f"unknown {self.kind} {name!r}{hint}; choose from "
                            f"{list(self.keys())}{self._footer}") from None

    def keys(self) -> tuple[str, ...]:
        """The registered names, sorted."""
        self._load()
        return tuple(sorted(self._items))

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs sorted by name."""
        self._load()
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        self._load()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} names)"
