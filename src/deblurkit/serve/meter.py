"""Progress and cancellation for restores that do not report either themselves.

A :class:`~deblurkit.inference.restorer.Restorer` runs its backend once per tile (and per
test-time-augmentation view); :class:`MeteredBackend` wraps that backend to count the calls
and to stop a cancelled job between two of them. :func:`count_passes` tells in advance how
many calls an image will take, by running the same restorer on a ``meta`` tensor (shapes
only: no arithmetic, no memory), so the tiling and augmentation rules are the restorer's own,
never restated here; a question about values (``bool(t)``, ``t.item()``, such as the
restorer's check for non-finite outputs) has no answer on ``meta`` tensors and is answered
"true". :class:`MeteredSelector` does the same for the frames of a video: it wraps
the frame selector that :func:`deblurkit.inference.video.restore_video` feeds every frame to.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any


class Cancelled(Exception):
    """Raised inside a metered restore when its job was cancelled (never reaches a client)."""


class Ticket:
    """The running job's side of the meter: a step counter, a total and a cancel flag.

    Args:
        total: steps expected (None: unknown).
        cancelled: the job's cancel flag (shared by all tickets of one job; default: a new
            one).

    Example:
        >>> ticket = Ticket(2)
        >>> ticket.step(); ticket.step(); (ticket.done, ticket.total)
        (2, 2)
    """

    def __init__(self, total: int | None = None,
                 cancelled: threading.Event | None = None) -> None:
        self.total = total
        self.done = 0
        self.cancelled = cancelled if cancelled is not None else threading.Event()

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled."""
        if self.cancelled.is_set():
            raise Cancelled

    def step(self) -> None:
        """Count one step done."""
        self.done += 1


class MeteredBackend:
    """A backend that counts its calls on the current :class:`Ticket` and honours cancels.

    Every attribute other than the call (``pad_multiple``, ``receptive_field``, ``device``...)
    is the wrapped backend's, so tiling decisions are unchanged and so are the outputs.

    Args:
        backend: the :class:`~deblurkit.inference.backends.Backend` to wrap.

    Example:
        >>> import torch
        >>> from deblurkit.inference.backends import TorchBackend
        >>> metered = MeteredBackend(TorchBackend(torch.nn.Identity(), device="cpu"))
        >>> metered.ticket = Ticket()
        >>> _ = metered(torch.zeros(1, 3, 4, 4)); metered.ticket.done
        1
    """

    def __init__(self, backend: Any) -> None:
        self.inner = backend
        self.ticket: Ticket | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"MeteredBackend({self.inner!r})"

    def __call__(self, batch: Any) -> Any:
        ticket = self.ticket
        if ticket is not None:
            ticket.check()
        out = self.inner(batch)
        if ticket is not None:
            ticket.step()
        return out


def _yes_on_meta_mode() -> Any:
    """A dispatch mode in which ``bool()`` / ``.item()`` of a ``meta`` tensor are ``True``."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    value_ops = (torch.ops.aten.is_nonzero.default, torch.ops.aten._local_scalar_dense.default)

    class YesOnMeta(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            if func in value_ops and args and getattr(args[0], "is_meta", False):
                return True
            return func(*args, **(kwargs or {}))

    return YesOnMeta()


class _ShapeOnly:
    """Stands in for a backend on ``meta`` tensors: returns its input, counts its calls."""

    def __init__(self, backend: Any) -> None:
        self.inner = backend
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __call__(self, batch: Any) -> Any:
        self.calls += 1
        return batch


def metered_restorer(restorer: Any) -> tuple[Any, MeteredBackend]:
    """A shallow copy of ``restorer`` whose backend is metered (the original is untouched).

    The tile size is resolved first (``tile="auto"`` probes memory once), so that probe is
    never counted as a job's step.

    Returns:
        ``(copy, metered_backend)``; set ``metered_backend.ticket`` around each job.
    """
    restorer.tile_size()
    metered = copy.copy(restorer)
    backend = MeteredBackend(restorer.backend)
    metered.backend = backend
    return metered, backend


def count_passes(restorer: Any, height: int, width: int) -> int | None:
    """How many backend calls ``restorer`` makes on an ``height x width`` image.

    Runs the restorer's own tensor path on a ``meta`` tensor with a backend that only passes
    shapes through, so tiles and augmentation views are counted by the code that makes them.

    Returns:
        The count, or None when it cannot be found this way (a backend or option that does
        not run on ``meta`` tensors).

    Example:
        >>> from deblurkit.inference.restorer import Restorer
        >>> import torch
        >>> count_passes(Restorer(torch.nn.Identity(), device="cpu", tile=32, overlap=8),
        ...              64, 64)
        9
    """
    import torch

    restorer.tile_size()
    probe = copy.copy(restorer)
    backend = restorer.backend
    shapes = _ShapeOnly(backend.inner if isinstance(backend, MeteredBackend) else backend)
    probe.backend = shapes
    try:
        with _yes_on_meta_mode():
            probe.restore_tensor(torch.empty((1, 3, height, width), device="meta"))
    except Exception:  # noqa: BLE001 - progress then has no total, the restore still runs
        return None
    return shapes.calls or None


class MeteredSelector:
    """A frame selector that counts the frames it is given and honours cancels and limits.

    Frames reach the selector one by one in decoding order, and the inference stage of
    :func:`~deblurkit.inference.video.restore_video` deblurs frame ``i`` before it hands
    over frame ``i + 1``, so when frame ``i + 1`` arrives ``i + 1`` frames are done (a
    selector that looks ahead, such as ``middle15``, may still hold a few).

    Args:
        inner: the :class:`~deblurkit.inference.selection.Selector` to wrap.
        ticket: the job's ticket (its ``total`` is the container's frame count or None).
        max_frames: raise a :class:`~deblurkit.errors.UserError` past this many frames.
        name: the client's file name, for that message.
    """

    def __init__(self, inner: Any, ticket: Ticket, max_frames: int, name: str) -> None:
        self.inner = inner
        self.ticket = ticket
        self.max_frames = max_frames
        self.client_name = name
        self.seen = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def threshold(self) -> float | None:
        return getattr(self.inner, "threshold", None)

    @property
    def to_rgb(self) -> Callable[[Any], Any]:
        return self.inner.to_rgb

    @to_rgb.setter
    def to_rgb(self, function: Callable[[Any], Any]) -> None:
        self.inner.to_rgb = function

    def push(self, payload: Any) -> list[tuple[Any, Any]]:
        from deblurkit.errors import UserError

        self.ticket.check()
        if self.seen:
            self.ticket.step()
        self.seen += 1
        if self.seen > self.max_frames:
            raise UserError(f"{self.client_name}: more than {self.max_frames} frames "
                            "(the server's limit)")
        return self.inner.push(payload)

    def flush(self) -> list[tuple[Any, Any]]:
        return self.inner.flush()
