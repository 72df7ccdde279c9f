"""Partially blurred videos: the S4 (DeblurNet / REBVIDS) degradation model.

A real blurred video is only *partly* blurred. S4 synthesizes such videos from a sharp
high-frame-rate video: the source frames are cut into consecutive intervals of random length
(7 to 12 frames); each interval becomes ONE output frame, either

- **blurred**: the mean of the interval's frames in linear light
  (inverse camera response, mean, camera response), or
- **sharp** (a "skipped" interval): the interval's reference frame, unchanged.

The reference (ground-truth) video is the source temporally downsampled the same way: the
reference frame of every interval, index ``length // 2`` inside the interval (the middle
frame; for an even length the later of the two central frames). For a sharp output frame the
blurred and the reference frames are therefore identical.

At most ``max_blurred_fraction`` (0.7 in S4) of the output frames are blurred, **exactly**,
not only in expectation:

- when the number of source frames is known (a sequence, or ``n_frames`` given), all the
  interval lengths are drawn first; each interval is blurred with probability
  ``1 - skip_probability``; if more than ``floor(max_blurred_fraction * n_intervals)`` are
  blurred, randomly chosen blurred intervals are turned sharp until the cap holds
  (no positional bias);
- when streaming an iterator of unknown length, an interval may be blurred only if the
  running count stays within the cap for the prefix ending at it
  (``blurred_so_far + 1 <= floor(max_blurred_fraction * (emitted_so_far + 1))``), so every
  prefix, and thus the whole video wherever it ends, satisfies the cap. (The first output
  frame is then always sharp.)

Source frames left over at the end that do not fill the last drawn interval are dropped.
Interval lengths and labels come from two independent child generators of ``rng``, so the
interval boundaries are the same in both modes for the same ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deblurkit.synth.response import CameraResponse

#: S4's interval length range (inclusive), in source frames per output frame.
REBVIDS_MIN_INTERVAL = 7
REBVIDS_MAX_INTERVAL = 12
#: S4's cap on the blurred share of a synthesized video.
REBVIDS_MAX_BLURRED_FRACTION = 0.7
#: Default probability that an interval is skipped (kept sharp) before the cap is applied:
#: about 60% blurred frames, as in S4's example test video (58 blurred, 42 sharp).
DEFAULT_SKIP_PROBABILITY = 0.4


def _default_response() -> CameraResponse:
    from deblurkit.synth.response import GammaResponse

    return GammaResponse()


@dataclass(frozen=True)
class PartialBlurConfig:
    """Parameters of the S4 partially-blurred video protocol.

    Args:
        min_interval: shortest interval, in source frames (S4: 7).
        max_interval: longest interval, inclusive (S4: 12).
        max_blurred_fraction: hard cap on the share of blurred output frames (S4: 0.7).
        skip_probability: probability that an interval is kept sharp before the cap.
        response: camera response used to average in linear light (default gamma 2.2).
    """

    min_interval: int = REBVIDS_MIN_INTERVAL
    max_interval: int = REBVIDS_MAX_INTERVAL
    max_blurred_fraction: float = REBVIDS_MAX_BLURRED_FRACTION
    skip_probability: float = DEFAULT_SKIP_PROBABILITY
    response: Any = field(default_factory=_default_response)

    def __post_init__(self) -> None:
        if not 1 <= self.min_interval <= self.max_interval:
            raise ValueError(f"need 1 <= min_interval <= max_interval, got "
                             f"{self.min_interval}..{self.max_interval}")
        if not 0.0 <= self.max_blurred_fraction <= 1.0:
            raise ValueError(f"max_blurred_fraction must be in [0, 1], got "
                             f"{self.max_blurred_fraction}")
        if not 0.0 <= self.skip_probability <= 1.0:
            raise ValueError(f"skip_probability must be in [0, 1], got {self.skip_probability}")


@dataclass(frozen=True)
class Interval:
    """One output frame's share of the source video.

    Attributes:
        index: output frame index (0-based).
        start: index of the interval's first source frame.
        length: number of source frames in the interval.
        blurred: True if the output frame is the interval's average, False if kept sharp.
    """

    index: int
    start: int
    length: int
    blurred: bool

    @property
    def reference(self) -> int:
        """Source index of the reference (sharp) frame: the middle one, ``start + length // 2``."""
        return self.start + self.length // 2


@dataclass(frozen=True)
class VideoFrame:
    """One output frame of a partially blurred video and its label.

    Attributes:
        interval: where it comes from in the source video and whether it is blurred.
        blur: the frame as the camera records it, HxWx3 float32 in [0, 1] (encoded values).
        sharp: the reference frame (interval middle), HxWx3 float32 in [0, 1].
    """

    interval: Interval
    blur: np.ndarray
    sharp: np.ndarray

    @property
    def index(self) -> int:
        return self.interval.index

    @property
    def blurred(self) -> bool:
        return self.interval.blurred


def blurred_cap(n_frames: int, max_blurred_fraction: float) -> int:
    """Largest number of blurred frames allowed among ``n_frames`` output frames.

    ``floor(max_blurred_fraction * n_frames)``, computed with a small tolerance so that
    0.7 * 10 gives 7, not 6, despite floating point.

    Example:
        >>> blurred_cap(10, 0.7), blurred_cap(1, 0.7), blurred_cap(3, 0.7)
        (7, 0, 2)
    """
    return int(math.floor(max_blurred_fraction * n_frames + 1e-9))


def _split_rng(rng: np.random.Generator) -> tuple[np.random.Generator, np.random.Generator]:
    length_rng, label_rng = rng.spawn(2)
    return length_rng, label_rng


def _draw_lengths(length_rng: np.random.Generator, n_source: int,
                  config: PartialBlurConfig, max_intervals: int | None = None) -> list[int]:
    lengths: list[int] = []
    used = 0
    while max_intervals is None or len(lengths) < max_intervals:
        length = int(length_rng.integers(config.min_interval, config.max_interval + 1))
        if used + length > n_source:
            return lengths
        lengths.append(length)
        used += length
    return lengths


def plan_intervals(n_source_frames: int, rng: np.random.Generator,
                   config: PartialBlurConfig | None = None,
                   max_intervals: int | None = None) -> list[Interval]:
    """Cut ``n_source_frames`` source frames into labelled intervals (known-length mode).

    Args:
        n_source_frames: number of high-frame-rate source frames.
        rng: randomness for lengths and labels.
        config: the protocol (default: S4's).
        max_intervals: stop after this many intervals (output frames); None: as many as fit.
            With ``n_source_frames = n * max_interval`` and ``max_intervals = n`` the plan
            has exactly ``n`` output frames; the frames it uses are ``sum(lengths)``.

    Returns:
        The intervals in order; at most ``blurred_cap(len, max_blurred_fraction)`` are blurred.

    Example:
        >>> plan = plan_intervals(200, np.random.default_rng(0))
        >>> all(7 <= iv.length <= 12 for iv in plan)
        True
    """
    config = config or PartialBlurConfig()
    length_rng, label_rng = _split_rng(rng)
    lengths = _draw_lengths(length_rng, n_source_frames, config, max_intervals)
    n = len(lengths)
    blurred = label_rng.random(n) >= config.skip_probability
    cap = blurred_cap(n, config.max_blurred_fraction)
    excess = int(blurred.sum()) - cap
    if excess > 0:
        demote = label_rng.choice(np.flatnonzero(blurred), size=excess, replace=False)
        blurred[demote] = False
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else np.zeros(0, int)
    return [Interval(i, int(starts[i]), lengths[i], bool(blurred[i])) for i in range(n)]


def _stream_intervals(length_rng: np.random.Generator, label_rng: np.random.Generator,
                      config: PartialBlurConfig) -> Iterator[tuple[int, bool]]:
    """Endless (length, blurred) pairs obeying the prefix cap (streaming mode)."""
    emitted = blurred_count = 0
    while True:
        length = int(length_rng.integers(config.min_interval, config.max_interval + 1))
        wants_blur = bool(label_rng.random() >= config.skip_probability)
        allowed = blurred_count + 1 <= blurred_cap(emitted + 1, config.max_blurred_fraction)
        blurred = wants_blur and allowed
        emitted += 1
        blurred_count += blurred
        yield length, blurred


def _as_float(frame: np.ndarray) -> np.ndarray:
    from deblurkit.io import to_float

    arr = np.asarray(frame)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    return np.asarray(to_float(arr), dtype=np.float32)


def render_interval(frames: Sequence[np.ndarray] | np.ndarray, interval: Interval,
                    response: CameraResponse) -> VideoFrame:
    """Make one output frame from the source frames of ``interval``.

    Args:
        frames: the interval's ``length`` source frames, each HxWx3 (uint8/uint16 or float).
        interval: the interval (its ``blurred`` flag decides averaging vs. keeping).
        response: camera response for the linear-light average.

    Returns:
        The :class:`VideoFrame`; ``blur`` is the linear-light average (blurred) or the
        reference frame itself (sharp).
    """
    from deblurkit.synth.averaging import average_frames

    stack = np.stack([_as_float(f) for f in frames])
    if stack.shape[0] != interval.length:
        raise ValueError(f"interval {interval.index} needs {interval.length} frames, "
                         f"got {stack.shape[0]}")
    sharp = stack[interval.length // 2]
    if interval.blurred:
        blur = np.clip(np.asarray(average_frames(stack, response=response), dtype=np.float32),
                       0.0, 1.0)
    else:
        blur = sharp.copy()
    return VideoFrame(interval=interval, blur=blur, sharp=sharp)


def iter_partial_blur_video(frames: Iterable[np.ndarray], rng: np.random.Generator,
                            config: PartialBlurConfig | None = None,
                            n_frames: int | None = None) -> Iterator[VideoFrame]:
    """Stream a partially blurred video out of sharp high-frame-rate frames.

    Holds at most one interval (``max_interval`` frames) in memory.

    Args:
        frames: sharp source frames, each HxWx3 encoded (uint8/uint16 or float in [0, 1]).
        rng: randomness for interval lengths and labels.
        config: the protocol (default: S4's: 7..12 frames, <= 70% blurred, gamma 2.2).
        n_frames: number of source frames if known; taken from ``len(frames)`` when it has
            one. Known length plans the labels globally; unknown length uses the prefix cap.

    Returns:
        An iterator of :class:`VideoFrame`, in order.

    Shape:
        frames: (N, H, W, 3) -> each output frame (H, W, 3) float32.

    Example:
        >>> src = np.random.default_rng(1).random((40, 8, 8, 3)).astype(np.float32)
        >>> out = list(iter_partial_blur_video(src, np.random.default_rng(0)))
        >>> sum(f.blurred for f in out) <= 0.7 * len(out)
        True
    """
    config = config or PartialBlurConfig()
    if n_frames is None and hasattr(frames, "__len__"):
        n_frames = len(frames)  # type: ignore[arg-type]
    if n_frames is not None:
        plan: Iterable[tuple[int, bool]] = [
            (iv.length, iv.blurred) for iv in plan_intervals(n_frames, rng, config)]
    else:
        plan = _stream_intervals(*_split_rng(rng), config)
    yield from render_planned(frames, plan, config.response)


def render_planned(frames: Iterable[np.ndarray],
                   plan: Iterable[Interval | tuple[int, bool]],
                   response: CameraResponse) -> Iterator[VideoFrame]:
    """Render output frames for consecutive intervals, reading ``frames`` as a stream.

    Args:
        frames: sharp source frames in order.
        plan: :class:`Interval` objects or ``(length, blurred)`` pairs, consecutive from
            the first source frame (only their lengths and labels are used).
        response: camera response for the linear-light average.

    Returns:
        An iterator of :class:`VideoFrame`; it stops early if ``frames`` runs out in the
        middle of an interval (those leftover frames are dropped).
    """
    source = iter(frames)
    start = 0
    for index, item in enumerate(plan):
        length, blurred = (item.length, item.blurred) if isinstance(item, Interval) else item
        buffer: list[np.ndarray] = []
        for frame in source:
            buffer.append(frame)
            if len(buffer) == length:
                break
        if len(buffer) < length:  # leftover frames that do not fill the interval: dropped
            return
        interval = Interval(index=index, start=start, length=length, blurred=bool(blurred))
        yield render_interval(buffer, interval, response)
        start += length


def partial_blur_video(frames: Iterable[np.ndarray], rng: np.random.Generator,
                       config: PartialBlurConfig | None = None,
                       n_frames: int | None = None) -> list[VideoFrame]:
    """Like :func:`iter_partial_blur_video` but returns the whole list (short clips only).

    Example:
        >>> src = np.zeros((30, 4, 4, 3), np.uint8)
        >>> [f.interval.length for f in partial_blur_video(src, np.random.default_rng(0))]
        [11, 12, 7]
    """
    return list(iter_partial_blur_video(frames, rng, config, n_frames))
