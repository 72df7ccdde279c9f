"""Restore images of any size with bounded memory: overlapping tiles, smooth blending.

Layout rule (per axis, :func:`tile_starts`): the image is padded *virtually* at the bottom /
right to a multiple ``m`` of the backend's ``pad_multiple``, exactly as the network would pad
the whole image (reflection); tiles have a side that is a multiple of ``m`` and start on
multiples of ``m``, so that strided networks see the same pixel grid as on the whole image.
Consecutive tiles overlap by at least ``overlap`` pixels (rounded up to a multiple of ``m``);
the last tile is moved back to end at the padded border.

Blending rule (:func:`blend_weights`): weights are separable, ``w(y, x) = wy(y) * wx(x)``.
Along an axis a tile's weight is 0 within ``margin`` pixels of an edge it shares with a
neighbour, rises along a raised-cosine (Hann) ramp across the rest of the overlap, and is 1
elsewhere, including along the image border (where no other tile exists). The weights of
all tiles are normalised to sum to exactly 1 at every pixel, so a flat image stays flat and
a pixel covered by one tile gets that tile's value unchanged. With ``margin >= r`` (the
receptive-field radius, ``receptive_field // 2``) every pixel that gets weight from a tile
sees only real image content there, so the tiled output equals the untiled one up to float
rounding; :class:`~deblurkit.inference.restorer.Restorer` with ``overlap="auto"`` picks
``overlap = receptive_field`` and ``margin = receptive_field // 2``. The default margin is
``overlap // 4`` (the ramp spans the middle half of the overlap).

Memory: :func:`restore_tiled` accumulates one output buffer of the image's size (float32)
tile by tile; :func:`restore_strips` keeps only one strip of tiles in float32 and hands each
finished band of rows back to the caller (who keeps the picture in its stored bit depth), so
its memory does not grow with the image's height. Only one tile's activations exist at a
time. :func:`auto_tile_size` picks the tile side from the
memory available (rule in its docstring).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode

from deblurkit.inference.backends import Backend

#: Largest tile side :func:`auto_tile_size` picks (beyond it, larger tiles gain almost nothing).
AUTO_MAX_TILE = 1024
#: Smallest tile side :func:`auto_tile_size` picks (rounded up to the pad multiple).
AUTO_MIN_TILE = 128
#: Fraction of the available memory a tile's activations may use.
AUTO_MEMORY_FRACTION = 0.5
#: Absolute cap on a tile's activation memory (bytes) on the CPU, so that the whole process
#: (tile + whole-image buffers + libraries) stays well under 2 GiB on a 4K image with S1.
AUTO_CPU_BUDGET_BYTES = 768 * 2**20
#: Bytes per pixel assumed for backends whose memory cannot be probed (ONNX Runtime etc.).
DEFAULT_BYTES_PER_PIXEL = 2048
#: Overlap used by ``overlap="auto"`` when the backend's receptive field is unknown.
DEFAULT_OVERLAP = 32
#: Side of the two square probes used by :func:`estimate_bytes_per_pixel` (times pad_multiple).
PROBE_SIDES = (96, 160)


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> list[int]:
    """Start offsets of the tiles along one axis of a (padded) length.

    Args:
        length: the axis length, a multiple of ``multiple``.
        tile: tile side, a multiple of ``multiple`` (clipped to ``length``).
        overlap: minimum overlap between consecutive tiles.
        multiple: every start is a multiple of it.

    Returns:
        Sorted starts; the first is 0, the last is ``length - tile``.

    Example:
        >>> tile_starts(100, 40, 10)
        [0, 30, 60]
        >>> tile_starts(64, 32, 8, multiple=16)
        [0, 16, 32]
    """
    tile = min(tile, length)
    if tile >= length:
        return [0]
    step = (tile - overlap) // multiple * multiple
    if step <= 0:
        raise ValueError(f"tile {tile} is too small for overlap {overlap} (multiple {multiple})")
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


#: The smallest tile, in multiples of the model's padding multiple and in pixels: smaller tiles
#: spend nearly all their work on overlap (a 720p frame in 16-pixel tiles is 3600 tiles).
MIN_TILE_MULTIPLES = 4
MIN_TILE_PIXELS = 32


def check_tiling(tile: int | str | None, overlap: int | str, multiple: int = 1) -> None:
    """Refuse, with one clear line, a tile / overlap pair that cannot tile an image.

    Args:
        tile: None (whole images), ``"auto"`` or a side in pixels.
        overlap: ``"auto"`` or pixels.
        multiple: the model's padding multiple (tiles and overlaps are rounded up to it).

    Raises:
        UserError: a tile below ``max(MIN_TILE_PIXELS, MIN_TILE_MULTIPLES * multiple)``, a
            negative overlap, or an overlap of half the (rounded) tile or more.

    Example:
        >>> check_tiling(256, 32, 8)
        >>> check_tiling(64, 32, 8)
        Traceback (most recent call last):
        ...
        deblurkit.errors.UserError: overlap 32 px must be less than half the tile (64 px after rounding to the model's multiple of 8): use a larger tile or overlap auto
    """
    from deblurkit.errors import UserError

    if not isinstance(overlap, str) and overlap < 0:
        raise UserError(f"overlap {overlap} px must be >= 0 (or auto)")
    if tile is None or isinstance(tile, str):
        return
    smallest = max(MIN_TILE_PIXELS, MIN_TILE_MULTIPLES * multiple)
    if tile < smallest:
        raise UserError(f"tile {tile} px is too small for this model (at least {smallest} px: "
                        f"{MIN_TILE_MULTIPLES} times its padding multiple of {multiple}, and "
                        f"{MIN_TILE_PIXELS} px); use a larger tile, auto, or 0 for whole images")
    rounded = math.ceil(tile / multiple) * multiple
    if not isinstance(overlap, str):
        overlap_r = math.ceil(overlap / multiple) * multiple
        if 2 * overlap_r >= rounded:
            raise UserError(f"overlap {overlap} px must be less than half the tile ({rounded} px "
                            f"after rounding to the model's multiple of {multiple}): use a "
                            "larger tile or overlap auto")


def _hann_rise(n: int) -> np.ndarray:
    """n samples rising from 0 to 1 (exclusive) on a raised cosine; rise + reversed = 1."""
    k = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(np.pi * (k + 0.5) / n)


def blend_weights(starts: list[int], tile: int, length: int, margin: int) -> list[np.ndarray]:
    """Normalised 1-D blending weights of each tile along one axis (see the module docstring).

    Args:
        starts: from :func:`tile_starts`.
        tile: tile side along this axis.
        length: axis length the tiles cover.
        margin: pixels next to a shared edge that get weight 0.

    Returns:
        One float64 array of length ``tile`` per tile; at every position the weights of the
        tiles covering it sum to 1.

    Example:
        >>> w = blend_weights([0, 6], 10, 16, margin=1)
        >>> w[0].round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.854, 0.146, 0.0]
    """
    raw = []
    for i, start in enumerate(starts):
        weight = np.ones(tile, dtype=np.float64)
        if i > 0 and starts[i - 1] + tile > start:  # shared edge on the low side
            overlap = starts[i - 1] + tile - start
            m = min(margin, (overlap - 1) // 2)
            weight[:m] = 0.0
            weight[m:overlap - m] *= _hann_rise(overlap - 2 * m)
        if i < len(starts) - 1 and start + tile > starts[i + 1]:  # shared edge, high side
            overlap = start + tile - starts[i + 1]
            m = min(margin, (overlap - 1) // 2)
            weight[tile - m:] = 0.0
            weight[tile - overlap + m:tile - m] *= _hann_rise(overlap - 2 * m)[::-1]
        raw.append(weight)
    total = np.zeros(length, dtype=np.float64)
    for start, weight in zip(starts, raw):
        total[start:start + tile] += weight
    if (total <= 0).any():  # cannot happen for starts from tile_starts with 2*overlap < tile
        raise ValueError("tiles leave pixels with zero weight; use a larger tile or smaller overlap")
    return [weight / total[start:start + tile] for start, weight in zip(starts, raw)]


def auto_overlap(backend: Backend, tile: int) -> tuple[int, int]:
    """``(overlap, margin)`` from the backend's receptive field, for a tile side ``tile``.

    ``overlap = receptive_field`` (or :data:`DEFAULT_OVERLAP` when unknown), capped at
    ``tile // 3`` so that each tile still adds a third of its side; ``margin = overlap // 2``:
    every weighted pixel of a tile is at least the receptive-field radius away from its cut
    edges. Tiled = untiled (up to float rounding) therefore holds when
    ``tile >= 3 * receptive_field``.
    """
    field = getattr(backend, "receptive_field", None)
    overlap = int(field) if field else DEFAULT_OVERLAP
    overlap = max(1, min(overlap, int(tile) // 3))
    return overlap, overlap // 2


def _pad_tile(crop: Tensor, pad_h: int, pad_w: int) -> Tensor:
    """Pad a border tile at the bottom/right as the network pads the whole image."""
    if pad_h == 0 and pad_w == 0:
        return crop
    height, width = crop.shape[-2:]
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(crop, (0, pad_w, 0, pad_h), mode=mode)


@dataclass(frozen=True)
class TilePlan:
    """Where the tiles of an image go and how they blend (module docstring).

    Attributes:
        height, width: the image size.
        tile_h, tile_w: tile sides (multiples of the pad multiple).
        rows, cols: tile starts along each axis (:func:`tile_starts`).
        weights_y, weights_x: each tile's 1-D blending weights (:func:`blend_weights`).
    """

    height: int
    width: int
    tile_h: int
    tile_w: int
    rows: list[int]
    cols: list[int]
    weights_y: list[Tensor]
    weights_x: list[Tensor]

    @property
    def count(self) -> int:
        """Number of tiles."""
        return len(self.rows) * len(self.cols)


def plan_tiles(backend: Backend | Callable[[Tensor], Tensor], height: int, width: int,
               tile: int | str, overlap: int | str, margin: int | None = None,
               device: str | torch.device = "cpu") -> TilePlan | None:
    """The tiles :func:`restore_tiled` runs, or None when one pass covers the whole image.

    Args: as :func:`restore_tiled` (``height`` and ``width`` of the image).

    Raises:
        ValueError: bad sizes (tile < 1, overlap < 0, 2 * overlap >= tile).
    """
    if tile == "auto":
        tile = auto_tile_size(backend)
    if overlap == "auto":
        overlap, margin = auto_overlap(backend, int(tile))
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be >= 1 and overlap >= 0, got tile={tile} overlap={overlap}")
    multiple = max(1, int(getattr(backend, "pad_multiple", 1) or 1))
    padded_h = math.ceil(height / multiple) * multiple
    padded_w = math.ceil(width / multiple) * multiple
    tile = max(2 * multiple, math.ceil(tile / multiple) * multiple)
    if tile >= padded_h and tile >= padded_w:
        return None
    if 2 * overlap >= tile:
        raise ValueError(f"overlap {overlap} must be less than half the tile ({tile})")
    overlap_r = math.ceil(overlap / multiple) * multiple
    margin = overlap // 4 if margin is None else int(margin)
    tile_h, tile_w = min(tile, padded_h), min(tile, padded_w)
    rows = tile_starts(padded_h, tile_h, overlap_r, multiple)
    cols = tile_starts(padded_w, tile_w, overlap_r, multiple)
    weights_y = [torch.from_numpy(w).to(device, torch.float32)
                 for w in blend_weights(rows, tile_h, padded_h, margin)]
    weights_x = [torch.from_numpy(w).to(device, torch.float32)
                 for w in blend_weights(cols, tile_w, padded_w, margin)]
    return TilePlan(height, width, tile_h, tile_w, rows, cols, weights_y, weights_x)


def _tiles_of_row(backend: Backend | Callable[[Tensor], Tensor], plan: TilePlan, y0: int,
                  wy: Tensor, crop_of: Callable[[int, int, int, int], Tensor],
                  into: Tensor, row_offset: int, progress: Callable[[], None]) -> None:
    """Run every tile of the tile row starting at ``y0`` and add its weighted result into
    ``into`` (whose row 0 is image row ``row_offset``)."""
    valid_h = min(plan.tile_h, plan.height - y0)
    for x0, wx in zip(plan.cols, plan.weights_x):
        valid_w = min(plan.tile_w, plan.width - x0)
        crop = _pad_tile(crop_of(y0, y0 + valid_h, x0, x0 + valid_w),
                         plan.tile_h - valid_h, plan.tile_w - valid_w)
        result = backend(crop)[:, :, :valid_h, :valid_w].to(into.device, torch.float32)
        weight = wy[:valid_h, None] * wx[None, :valid_w]
        top = y0 - row_offset
        into[:, :, top:top + valid_h, x0:x0 + valid_w].addcmul_(result, weight)
        del result, crop
        progress()


def restore_tiled(backend: Backend | Callable[[Tensor], Tensor], image: Tensor,
                  tile: int | str, overlap: int | str, *, margin: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> Tensor:
    """Run ``backend`` on overlapping tiles of ``image`` and blend them (module docstring).

    Tiles are processed one at a time; the result is accumulated into one float32 buffer on
    ``image``'s device, so memory is the image buffers plus one tile's activations. When the
    tile covers the whole (padded) image the backend runs once on the image itself, so the
    output is exactly the untiled output. :func:`restore_strips` does the same with memory
    bounded by a strip of tiles instead of the whole image.

    Args:
        backend: a :class:`~deblurkit.inference.backends.Backend` (``pad_multiple`` is read
            from it; 1 when absent).
        image: ``(B, 3, H, W)`` float32 in ``[0, 1]``.
        tile: tile side in pixels, rounded up to a multiple of ``pad_multiple`` (at least
            twice it); ``"auto"``: :func:`auto_tile_size`.
        overlap: minimum overlap of neighbouring tiles (rounded up to the pad multiple);
            ``2 * overlap`` must be smaller than the tile. ``"auto"``: the backend's
            ``receptive_field`` (:data:`DEFAULT_OVERLAP` when unknown), capped at a third
            of the tile, with ``margin = overlap // 2`` (:func:`auto_overlap`).
        margin: pixels next to a shared tile edge that get no weight (default
            ``overlap // 4``); choose ``receptive_field // 2`` for exactness.
        progress: optional ``progress(done, total)`` called after each tile.

    Returns:
        ``(B, 3, H, W)`` float32 in ``[0, 1]`` on ``image``'s device.

    Raises:
        ValueError: bad sizes (tile < 1, overlap < 0, 2 * overlap >= tile).

    Example:
        >>> net = torch.nn.Conv2d(3, 3, 3, padding=1)
        >>> out = restore_tiled(lambda x: net(x).clamp(0, 1), torch.rand(1, 3, 50, 70), 32, 8)
        >>> out.shape
        torch.Size([1, 3, 50, 70])
    """
    if image.ndim != 4:
        raise ValueError(f"expected a B x C x H x W image, got shape {tuple(image.shape)}")
    height, width = image.shape[-2:]
    plan = plan_tiles(backend, height, width, tile, overlap, margin, image.device)
    if plan is None:
        with torch.inference_mode():
            return backend(image).to(image.device, torch.float32)
    counter = _Counter(plan.count, progress)
    with torch.inference_mode():
        output = torch.zeros(image.shape[0], 3, height, width, dtype=torch.float32,
                             device=image.device)
        for y0, wy in zip(plan.rows, plan.weights_y):
            _tiles_of_row(backend, plan, y0, wy,
                          lambda a, b, c, d: image[:, :, a:b, c:d], output, 0, counter)
        return output.clamp_(0.0, 1.0)


class _Counter:
    """Calls ``progress(done, total)`` once per tile."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def restore_strips(backend: Backend | Callable[[Tensor], Tensor], height: int, width: int,
                   read: Callable[[int, int, int, int], Tensor],
                   write: Callable[[int, int, Tensor], None], tile: int | str,
                   overlap: int | str, *, margin: int | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   device: str | torch.device = "cpu") -> None:
    """:func:`restore_tiled` for an image that never exists as a float tensor.

    The image is read tile by tile (``read``) and written back one finished band of rows at a
    time (``write``), so memory is one strip of tiles (``tile x width`` float32, twice) and
    one tile's activations, whatever the image's size: the caller keeps the picture in its
    stored bit depth. Tiles run in the same order and are blended with the same weights and
    the same float operations as :func:`restore_tiled`, so the output is bit-identical.

    Args:
        backend: as :func:`restore_tiled`.
        height, width: the image size.
        read: ``read(y0, y1, x0, x1)`` -> ``(1, 3, y1 - y0, x1 - x0)`` float32 in ``[0, 1]``
            on ``device``.
        write: ``write(y0, y1, rows)`` receives the finished image rows ``y0 .. y1 - 1`` as
            ``(1, 3, y1 - y0, width)`` float32, clamped to ``[0, 1]``, in order.
        tile, overlap, margin, progress: as :func:`restore_tiled`.
        device: where the strip buffers live.

    Example:
        >>> image = torch.rand(1, 3, 50, 70)
        >>> net = torch.nn.Conv2d(3, 3, 3, padding=1)
        >>> out = torch.empty_like(image)
        >>> def write(y0, y1, rows): out[:, :, y0:y1] = rows
        >>> restore_strips(lambda x: net(x), 50, 70, lambda a, b, c, d: image[:, :, a:b, c:d],
        ...                write, 32, 8)
        >>> bool(torch.equal(out, restore_tiled(lambda x: net(x), image, 32, 8)))
        True
    """
    plan = plan_tiles(backend, height, width, tile, overlap, margin, device)
    with torch.inference_mode():
        if plan is None:
            write(0, height, backend(read(0, height, 0, width)).to(device, torch.float32)
                  .clamp_(0.0, 1.0))
            return
        counter = _Counter(plan.count, progress)
        strip = torch.zeros(1, 3, plan.tile_h, width, dtype=torch.float32, device=device)
        top = 0                                  # image row of the strip's first row
        for i, (y0, wy) in enumerate(zip(plan.rows, plan.weights_y)):
            if y0 > top:                         # rows above y0 get no more contributions
                done = y0 - top
                write(top, y0, strip[:, :, :done].clamp(0.0, 1.0))
                strip[:, :, :-done] = strip[:, :, done:].clone()   # move up, in place
                strip[:, :, -done:] = 0.0
                top = y0
            _tiles_of_row(backend, plan, y0, wy, read, strip, top, counter)
        write(top, height, strip[:, :, :height - top].clamp_(0.0, 1.0))


# ------------------------------------------------------------------------------ memory / auto

def available_memory(device: str | torch.device = "cpu") -> int | None:
    """Bytes of memory available for new allocations on ``device``, or None if unknown.

    CUDA: ``torch.cuda.mem_get_info`` (free bytes). CPU: ``MemAvailable`` from
    ``/proc/meminfo`` (Linux); None elsewhere.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if sys.platform.startswith("linux") and os.path.exists("/proc/meminfo"):
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return None


class _PeakTracker(TorchDispatchMode):
    """Tracks the peak bytes of tensor storages alive during a forward (CPU probe)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list[int]] = {}
        self.current = 0
        self.peak = 0

    def _release(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.live[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        import weakref

        from torch.utils._pytree import tree_flatten

        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, Tensor):
                storage = tensor.untyped_storage()
                key = storage.data_ptr()
                if key in self.live:
                    self.live[key][1] += 1
                else:
                    self.live[key] = [storage.nbytes(), 1]
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                weakref.finalize(tensor, self._release, key)
        return out


def _probe_peak(backend: Backend, side: int, device: torch.device) -> int:
    probe = torch.zeros(1, 3, side, side)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        backend(probe)
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - before)
    tracker = _PeakTracker()
    with tracker:
        result = backend(probe)
    del result
    return tracker.peak


def estimate_bytes_per_pixel(backend: Backend) -> float:
    """Peak activation bytes per input pixel of one forward, measured by two probes.

    Torch backends run two square zero images (sides :data:`PROBE_SIDES`, rounded to the
    pad multiple) and take the slope of peak memory against pixels (this removes constant
    costs such as weights). On CUDA the peak comes from ``torch.cuda.max_memory_allocated``;
    on the CPU from a dispatch-mode tracker of live tensor storages (allocator slack and
    oneDNN workspaces are not counted, hence the safety margin in :func:`auto_tile_size`).
    Other backends (ONNX Runtime) use their ``bytes_per_pixel`` attribute if they have one,
    else :data:`DEFAULT_BYTES_PER_PIXEL`. The result is cached on the backend.
    """
    cached = getattr(backend, "_bytes_per_pixel", None)
    if cached is not None:
        return cached
    declared = getattr(backend, "bytes_per_pixel", None)
    if declared is not None:
        return float(declared)
    device = getattr(backend, "device", None)
    if backend.__class__.__name__ not in ("TorchBackend", "TorchScriptBackend") or device is None:
        return float(DEFAULT_BYTES_PER_PIXEL)
    multiple = max(1, int(getattr(backend, "pad_multiple", 1) or 1))
    sides = [math.ceil(s / multiple) * multiple for s in PROBE_SIDES]
    if sides[0] == sides[1]:
        sides[1] += multiple
    peaks = [_probe_peak(backend, side, torch.device(device)) for side in sides]
    slope = (peaks[1] - peaks[0]) / (sides[1] ** 2 - sides[0] ** 2)
    value = max(slope, peaks[1] / sides[1] ** 2 * 0.5, 1.0)
    try:
        backend._bytes_per_pixel = value  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return value


def auto_tile_size(backend: Backend, available_bytes: int | None = None, *,
                   max_tile: int = AUTO_MAX_TILE, min_tile: int = AUTO_MIN_TILE,
                   memory_fraction: float = AUTO_MEMORY_FRACTION,
                   safety: float = 1.5) -> int:
    """Tile side that fits the memory available to one tile's activations.

    Rule: ``budget = memory_fraction * available`` (on the CPU also capped at
    :data:`AUTO_CPU_BUDGET_BYTES`), ``side = sqrt(budget / (safety * bytes_per_pixel))``
    with ``bytes_per_pixel`` from :func:`estimate_bytes_per_pixel`, rounded down to a
    multiple of the backend's ``pad_multiple`` and clamped to ``[min_tile, max_tile]``
    (both rounded to the multiple). ``available`` is ``available_bytes`` when given, else
    :func:`available_memory` of the backend's device (CUDA free memory, or
    ``MemAvailable``); when unknown, 2 GiB is assumed.

    Returns:
        The tile side, a multiple of ``pad_multiple``.

    Example:
        >>> auto_tile_size(backend, available_bytes=2**30)   # doctest: +SKIP
        512
    """
    multiple = max(1, int(getattr(backend, "pad_multiple", 1) or 1))
    device = torch.device(getattr(backend, "device", "cpu") or "cpu")
    if available_bytes is None:
        available_bytes = available_memory(device)
        if available_bytes is None:
            available_bytes = 2 * 2**30
    budget = memory_fraction * float(available_bytes)
    if device.type == "cpu":
        budget = min(budget, AUTO_CPU_BUDGET_BYTES)
    per_pixel = estimate_bytes_per_pixel(backend) * safety
    side = int(math.sqrt(max(budget, 0.0) / per_pixel))
    low = max(2 * multiple, math.ceil(min_tile / multiple) * multiple)
    high = max(low, max_tile // multiple * multiple)
    return int(min(max(side // multiple * multiple, low), high))
