"""Video frames and colour conversion: a decoded ``av.VideoFrame`` <-> RGB arrays.

A frame is decoded in its own pixel format (YUV 4:2:0, 4:4:4, 10-bit...). The model sees
``H x W x 3`` float32 RGB in ``[0, 1]`` (:func:`frame_to_rgb`, through the integer samples of
:func:`frame_samples`, which the pipeline converts once per frame); the model's output goes
back into the frame's own format by :func:`replace_rgb`, which changes only what the model
changed, so an untouched RGB image gives back the decoded frame bit for bit.
:func:`to_output_format` converts a frame for the encoder.

PyAV is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from deblurkit.io import to_float

__all__ = ["copy_tags", "frame_samples", "frame_to_rgb", "replace_rgb", "rgb_to_frame",
           "to_output_format"]


def _rgb_format(frame: Any) -> tuple[str, int]:
    """The RGB format to convert a decoded frame to: rgb24 for <= 8 bits, else rgb48le."""
    bits = max((c.bits for c in frame.format.components), default=8)
    return ("rgb48le", 16) if bits > 8 else ("rgb24", 8)


def frame_samples(frame: Any) -> np.ndarray:
    """A decoded ``av.VideoFrame`` converted to RGB: ``H x W x 3`` ``uint8`` (up to 8 bits per
    sample) or ``uint16`` (more), at the native range.

    This is the YUV -> RGB conversion (the costly part of :func:`frame_to_rgb`). The matrix
    and range are the frame's own (its ``colorspace`` and ``color_range`` tags); more than 8
    bits per sample are kept (via ``rgb48le``). swscale runs with accurate rounding and full
    chroma interpolation (its fast default path darkens 8-bit luma by about one level).

    Example:
        >>> import av
        >>> frame = av.VideoFrame.from_ndarray(np.zeros((4, 6, 3), np.uint8), format="rgb24")
        >>> frame_samples(frame.reformat(format="yuv444p")).shape
        (4, 6, 3)
    """
    from av.video.reformatter import Interpolation

    fmt, _ = _rgb_format(frame)
    flags = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    return frame.to_ndarray(format=fmt, src_color_range=frame.color_range or None,
                            interpolation=flags)


def frame_to_rgb(frame: Any) -> np.ndarray:
    """A decoded ``av.VideoFrame`` as ``H x W x 3`` float32 RGB in ``[0, 1]``:
    :func:`frame_samples` scaled by :func:`deblurkit.io.to_float` (255 or 65535)."""
    return to_float(frame_samples(frame))


def rgb_to_frame(rgb: np.ndarray, like: Any, pix_fmt: str) -> Any:
    """Turn a float RGB array into an ``av.VideoFrame`` of ``pix_fmt`` (direct conversion).

    Uses ``like``'s colorspace and colour range for the RGB -> YUV matrix and copies its
    timestamp and colour tags. :func:`replace_rgb` is the more faithful path for a frame that
    came from :func:`frame_to_rgb`.
    """
    import av

    fmt, bits = _rgb_format(like)
    ints = _quantize(rgb, bits)
    rgb_frame = av.VideoFrame.from_ndarray(ints, format=fmt)
    out = rgb_frame.reformat(format=pix_fmt, dst_colorspace=like.colorspace or None,
                             dst_color_range=like.color_range or None)
    copy_tags(out, like)
    return out


def _quantize(rgb: np.ndarray, bits: int) -> np.ndarray:
    top = (1 << bits) - 1
    dtype = np.uint16 if bits > 8 else np.uint8
    ints = np.clip(np.rint(np.asarray(rgb, np.float32) * top), 0, top).astype(dtype)
    return np.ascontiguousarray(ints)


def _sample_layout(fmt: Any) -> tuple[type, int] | None:
    """(sample dtype, max sample value) of a format whose planes hold uniform samples."""
    if fmt.is_big_endian or fmt.is_bit_stream or fmt.has_palette or fmt.is_bayer:
        return None
    bits = {c.bits for c in fmt.components}
    if not bits or max(bits) > 16 or (min(bits) <= 8 < max(bits)):
        return None
    if max(bits) <= 8:
        return np.uint8, 255
    high = max(bits)
    # yuv*/gray*/gbr* keep their samples in the low bits; p010-style formats in the high bits
    top = (1 << high) - 1 if fmt.name.startswith(("yuv", "gray", "gbr")) else 65535
    return np.uint16, top


def _read_planes(frame: Any, dtype: type) -> list[np.ndarray]:
    size = np.dtype(dtype).itemsize
    return [np.frombuffer(bytes(p), dtype=dtype).reshape(p.height, p.line_size // size)
            for p in frame.planes]


def replace_rgb(frame: Any, rgb_before: np.ndarray, rgb_after: np.ndarray) -> Any:
    """A copy of ``frame`` whose pixels change by what ``rgb_before -> rgb_after`` changes.

    ``out = frame + yuv(rgb_after) - yuv(rgb_before)`` sample by sample, in the frame's own
    pixel format, with ``yuv`` the same RGB -> YUV conversion both times. The conversion's
    own losses (chroma resampling, rounding) cancel, so an unchanged RGB image gives back the
    decoded frame bit for bit, and a deblurred one differs from the input only where the model
    changed it. Formats with mixed or non-byte sample sizes fall back to :func:`rgb_to_frame`.

    Args:
        frame: the decoded ``av.VideoFrame``.
        rgb_before: :func:`frame_to_rgb` of ``frame`` (float32 ``[0, 1]``).
        rgb_after: the model output, same shape.

    Returns:
        A new ``av.VideoFrame`` (same format, size, timestamp and colour tags).
    """
    import av

    layout = _sample_layout(frame.format)
    if layout is None:
        return rgb_to_frame(rgb_after, frame, frame.format.name)
    dtype, top = layout
    fmt, bits = _rgb_format(frame)
    from av.video.reformatter import Interpolation

    kwargs = {"format": frame.format.name, "dst_colorspace": frame.colorspace or None,
              "dst_color_range": frame.color_range or None,
              "interpolation": Interpolation.BILINEAR | Interpolation.ACCURATE_RND
              | Interpolation.FULL_CHR_H_INP}
    before = av.VideoFrame.from_ndarray(_quantize(rgb_before, bits), format=fmt).reformat(
        **kwargs)
    after = av.VideoFrame.from_ndarray(_quantize(rgb_after, bits), format=fmt).reformat(
        **kwargs)
    out = av.VideoFrame(frame.width, frame.height, frame.format.name)
    for plane, orig, b, a in zip(out.planes, _read_planes(frame, dtype),
                                 _read_planes(before, dtype), _read_planes(after, dtype)):
        cols = min(orig.shape[1], b.shape[1], a.shape[1], plane.line_size // orig.itemsize)
        rows = min(orig.shape[0], plane.height)
        buf = np.zeros((plane.height, plane.line_size // orig.itemsize), dtype=dtype)
        delta = a[:rows, :cols].astype(np.int32) - b[:rows, :cols].astype(np.int32)
        buf[:rows, :cols] = np.clip(orig[:rows, :cols].astype(np.int32) + delta, 0, top)
        plane.update(buf.tobytes())
    copy_tags(out, frame)
    return out


def copy_tags(dst: Any, src: Any) -> None:
    """Copy the timestamp and colour tags (space, range, primaries, transfer) of ``src``."""
    dst.pts = src.pts
    dst.time_base = src.time_base
    for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            setattr(dst, name, getattr(src, name))


def to_output_format(frame: Any, pix_fmt: str) -> Any:
    """``frame`` in the encoder's pixel format (the frame itself when it already is), keeping
    its colour range and tags."""
    if frame.format.name == pix_fmt:
        return frame
    out = frame.reformat(format=pix_fmt, src_color_range=frame.color_range or None,
                         dst_color_range=frame.color_range or None)
    copy_tags(out, frame)
    return out
