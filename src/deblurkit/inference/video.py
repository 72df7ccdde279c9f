"""Selective video deblurring with PyAV: decode, select, deblur, encode -- streaming.

Pipeline (three stages, two bounded queues, see ``docs/video.md``)::

    decode thread --(queue, maxsize=queue_size)--> inference (calling thread)
                  --(queue, maxsize=queue_size)--> encode + mux thread

- **decode** demuxes the input, decodes the video stream and forwards the audio packets
  undecoded, in demux order.
- **inference** asks the frame selector (:mod:`deblurkit.inference.selection`) which frames are
  blurred, deblurs those, and passes the others through untouched (the decoded frame object
  itself, so a lossless codec reproduces them bit for bit).
- **encode** re-encodes every frame with its original timestamp (variable frame rate stays
  variable) and remuxes the audio packets as they are.

Memory is bounded: at most ``2 * queue_size`` items in the queues, plus what the selector
holds (15 frames for ``middle15``, 8 for ``laplacian``), plus the encoder's own look-ahead; the
whole video is never held. The report's per-frame list (a few numbers per frame) is the only
thing that grows with the clip.

An exception in any stage stops the other two and is re-raised in the calling thread; the
output is written to a temporary file beside the target and renamed only after the whole
video is encoded, so a failure or Ctrl-C leaves no output behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import OutputExistsError, UserError
from deblurkit.inference.selection import Decision, Selector
from deblurkit.utils.atomic import atomic_path, write_text_atomic

#: Default size of each of the two queues between the stages.
DEFAULT_QUEUE_SIZE = 8
#: Default video codec and quality.
DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18.0
#: Codecs whose quality is set with a constant rate factor (``crf``).
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx", "libvpx-vp9", "libaom-av1",
                        "libsvtav1"})
#: Codecs for which the output pixel format defaults to 4:2:0 8-bit for player compatibility.
YUV420_CODECS = frozenset({"libx264", "libx265", "h264", "hevc", "libvpx", "libvpx-vp9",
                           "libaom-av1", "libsvtav1", "mpeg4"})
#: Container format per output suffix.
CONTAINERS: dict[str, str] = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska",
                              ".webm": "webm", ".avi": "avi"}
#: Muxer options per container. Matroska/WebM would otherwise shift every timestamp so that
#: none is negative (AAC priming packets start before 0); we keep the input's timestamps.
MUXER_OPTIONS: dict[str, dict[str, str]] = {"matroska": {"avoid_negative_ts": "disabled"},
                                            "webm": {"avoid_negative_ts": "disabled"}}
#: Frame rate handed to the encoder when the input declares none (rate control only; the
#: timestamps are the input's).
FALLBACK_RATE = Fraction(25)
#: Seconds a stage waits on a queue before checking whether another stage has failed.
POLL_SECONDS = 0.1

Deblur = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EncodeOptions:
    """How the output video is encoded.

    Attributes:
        codec: FFmpeg encoder name (default ``libx264``; ``ffv1`` for lossless).
        crf: constant rate factor for the CRF codecs (:data:`CRF_CODECS`; default 18);
            ignored (and reported as ``None``) for the others.
        preset: encoder preset (``libx264``: ultrafast ... placebo; default: the encoder's).
        pix_fmt: output pixel format; ``None`` -> ``yuv420p`` for the codecs in
            :data:`YUV420_CODECS`, else the input's format when the codec supports it.
        options: further encoder options (``{"tune": "film"}``, ...).
        audio: copy the audio streams (True) or drop them (False).
    """

    codec: str = DEFAULT_CODEC
    crf: float | None = DEFAULT_CRF
    preset: str | None = None
    pix_fmt: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    audio: bool = True


@dataclass
class _Frame:
    """A decoded video frame travelling through the pipeline."""

    index: int
    frame: Any          # av.VideoFrame (decoded; replaced by the deblurred one)
    pts: int
    decision: Decision | None = None
    deblur_seconds: float = 0.0


@dataclass
class _Packet:
    """An audio packet to remux as is."""

    packet: Any         # av.Packet
    out_index: int      # index into the output audio streams


class _End:
    """End-of-stream marker."""


_END = _End()


class _Stopped(Exception):
    """Raised inside a stage when another stage has failed (never escapes)."""


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=POLL_SECONDS)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=POLL_SECONDS)
        except queue.Empty:
            continue


def _reason(exc: BaseException) -> str:
    """One line saying what went wrong (FFmpeg's message without the errno and file name)."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror.strip():
        return strerror.strip().splitlines()[0]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _rgb_format(frame: Any) -> tuple[str, int]:
    """The RGB format to convert a decoded frame to: rgb24 for <= 8 bits, else rgb48le."""
    bits = max((c.bits for c in frame.format.components), default=8)
    return ("rgb48le", 16) if bits > 8 else ("rgb24", 8)


def frame_to_rgb(frame: Any) -> np.ndarray:
    """A decoded ``av.VideoFrame`` as ``H x W x 3`` float32 RGB in ``[0, 1]``.

    The YUV -> RGB matrix and range are the frame's own (its ``colorspace`` and
    ``color_range`` tags); more than 8 bits per sample are kept (via ``rgb48le``). swscale
    runs with accurate rounding and full chroma interpolation (its fast default path darkens
    8-bit luma by about one level).
    """
    from av.video.reformatter import Interpolation

    fmt, bits = _rgb_format(frame)
    flags = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
    arr = frame.to_ndarray(format=fmt, src_color_range=frame.color_range or None,
                           interpolation=flags)
    return arr.astype(np.float32) / np.float32((1 << bits) - 1)


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
    _copy_tags(out, like)
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
    _copy_tags(out, frame)
    return out


def _copy_tags(dst: Any, src: Any) -> None:
    dst.pts = src.pts
    dst.time_base = src.time_base
    for name in ("colorspace", "color_range", "color_primaries", "color_trc"):
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            setattr(dst, name, getattr(src, name))


def _to_output_format(frame: Any, pix_fmt: str) -> Any:
    if frame.format.name == pix_fmt:
        return frame
    out = frame.reformat(format=pix_fmt, src_color_range=frame.color_range or None,
                         dst_color_range=frame.color_range or None)
    _copy_tags(out, frame)
    return out


def backend_deblur(backend: Any, *, tile: int | str | None = None,
                   overlap: int | str = "auto", tta: int = 1) -> Deblur:
    """Wrap a :class:`~deblurkit.inference.backends.Backend` as a frame function.

    Uses :class:`deblurkit.inference.restorer.Restorer` (whole frames, or overlapping tiles
    blended by :func:`deblurkit.inference.tiling.restore_tiled`).

    Args:
        backend: a Backend (``B x 3 x H x W`` float32 ``[0, 1]`` -> same) or an ``nn.Module``.
        tile: None (whole frame), a tile size in pixels, or ``"auto"`` (from free memory).
        overlap: tile overlap in pixels, or ``"auto"`` (the model's receptive field).
        tta: flipped / rotated views averaged per frame (1: off; see :class:`Restorer`).

    Returns:
        ``H x W x 3`` float32 ``[0, 1]`` -> same.
    """
    from deblurkit.inference.restorer import Restorer

    restorer = Restorer(backend, tile=tile, overlap=overlap, tta=tta)
    if tile is not None and overlap == "auto":
        # measure the receptive field now, so that it is not timed as the first frame's t_d
        _ = restorer.backend.receptive_field
    return restorer.restore_array


@dataclass
class _Input:
    container: Any
    video: Any
    audio: list[Any]


#: FFmpeg demuxers of still pictures (besides the ``*_pipe`` ones): refused as videos.
STILL_IMAGE_FORMATS = frozenset({"image2", "png", "apng", "jpeg", "webp", "tiff", "bmp"})


def open_video(path: str | os.PathLike) -> _Input:
    """Open ``path`` with PyAV and find its first video stream and its audio streams.

    Raises:
        UserError: missing file, unreadable/corrupt/unsupported container, no video stream, a
            still image.
    """
    import av

    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{path}: no such file")
    if os.path.isdir(path):
        raise UserError(f"{path}: is a folder, expected a video file")
    try:
        container = av.open(path, "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read video: {_reason(exc)}") from None
    if not container.streams.video:
        container.close()
        raise UserError(f"{path}: no video stream")
    format_names = set((container.format.name or "").split(","))
    if format_names & STILL_IMAGE_FORMATS or any(n.endswith("_pipe") for n in format_names):
        container.close()
        raise UserError(f"{path}: a still image, not a video; restore it with "
                        "`deblurkit restore`")
    video = container.streams.video[0]
    if video.codec_context is None or not video.codec_context.width:
        container.close()
        raise UserError(f"{path}: cannot read video: unsupported or unknown video codec")
    video.thread_type = "AUTO"
    return _Input(container, video, list(container.streams.audio))


def _container_format(output: Path) -> str:
    suffix = output.suffix.lower()
    if suffix not in CONTAINERS:
        raise UserError(f"{output}: unsupported output suffix {suffix or '(none)'!r}; use one "
                        f"of {', '.join(sorted(CONTAINERS))}")
    return CONTAINERS[suffix]


def _subsampled(pix_fmt: str) -> bool:
    """Whether a pixel format halves the chroma resolution (4:2:0, 4:2:2, NV12 ...): such
    formats need even frame sides."""
    return any(tag in pix_fmt for tag in ("420", "422", "411", "410", "nv12", "nv21", "nv16",
                                          "p010", "p016"))


def _choose_pix_fmt(codec: Any, options: EncodeOptions, input_fmt: str, output: Path,
                    size: tuple[int, int] = (2, 2)) -> str:
    supported = [f.name for f in (codec.video_formats or [])]
    width, height = size
    odd = width % 2 == 1 or height % 2 == 1
    if options.pix_fmt is not None:
        if supported and options.pix_fmt not in supported:
            raise UserError(f"{output}: codec {options.codec} does not support pixel format "
                            f"{options.pix_fmt!r} (supported: {', '.join(supported)})")
        if odd and _subsampled(options.pix_fmt):
            raise UserError(f"{output}: {width}x{height} has an odd side, which "
                            f"{options.pix_fmt} cannot hold; use --pix-fmt yuv444p or "
                            "--codec ffv1")
        return options.pix_fmt
    if options.codec in YUV420_CODECS and (not supported or "yuv420p" in supported):
        chosen = "yuv420p"
    elif not supported or input_fmt in supported:
        chosen = input_fmt
    else:
        chosen = "yuv420p" if "yuv420p" in supported else supported[0]
    if odd and _subsampled(chosen):
        # odd sides: a format that keeps every chroma sample (x264: High 4:4:4)
        full = [f for f in ("yuv444p", "gbrp", "rgb24", "bgr0") if not supported or f in supported]
        if not full:
            raise UserError(f"{output}: {width}x{height} has an odd side and codec "
                            f"{options.codec} has no pixel format without chroma subsampling; "
                            "use --codec ffv1")
        return full[0]
    return chosen


@dataclass
class _Output:
    container: Any
    video: Any
    audio: list[Any]
    pix_fmt: str
    crf: float | None
    audio_streams_copied: int


def _open_output(tmp: Path, output: Path, inp: _Input, options: EncodeOptions) -> _Output:
    import av

    fmt = _container_format(output)
    try:
        codec = av.codec.Codec(options.codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise UserError(f"{output}: unknown video encoder {options.codec!r}: {_reason(exc)}"
                        ) from None
    if codec.type != "video":
        raise UserError(f"{output}: {options.codec!r} is not a video encoder")
    in_cc = inp.video.codec_context
    pix_fmt = _choose_pix_fmt(codec, options, in_cc.pix_fmt or "yuv420p", output,
                              (in_cc.width, in_cc.height))
    rate = inp.video.average_rate or inp.video.guessed_rate or FALLBACK_RATE
    container = av.open(os.fspath(tmp), "w", format=fmt,
                        options=dict(MUXER_OPTIONS.get(fmt, {})))
    try:
        try:
            vstream = container.add_stream(options.codec, rate=rate)
        except (av.FFmpegError, ValueError) as exc:
            raise UserError(f"{output}: cannot write {options.codec} video into {fmt}: "
                            f"{_reason(exc)}") from None
        vstream.width = in_cc.width
        vstream.height = in_cc.height
        vstream.pix_fmt = pix_fmt
        time_base = inp.video.time_base or Fraction(1, int(round(float(rate) * 1000)))
        vstream.time_base = time_base
        vstream.codec_context.time_base = time_base
        for name in ("color_range", "colorspace", "color_primaries", "color_trc"):
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                value = getattr(in_cc, name)
                if value:
                    setattr(vstream.codec_context, name, value)
        enc_options = dict(options.options)
        crf = None
        if options.codec in CRF_CODECS and options.crf is not None:
            crf = float(options.crf)
            enc_options.setdefault("crf", f"{crf:g}")
        if options.preset:
            enc_options.setdefault("preset", options.preset)
        vstream.codec_context.options = enc_options
        audio = []
        if options.audio:
            for a in inp.audio:
                try:
                    audio.append(container.add_stream_from_template(a))
                except (av.FFmpegError, ValueError) as exc:
                    raise UserError(f"{output}: cannot copy audio stream #{a.index} "
                                    f"({a.codec_context.name}) into {fmt}: {_reason(exc)}; "
                                    f"use another container (.mkv) or drop audio") from None
    except BaseException:
        with contextlib.suppress(Exception):
            container.close()
        raise
    return _Output(container, vstream, audio, pix_fmt, crf, len(audio))


@dataclass
class _Shared:
    """State shared by the three stages."""

    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(exc)
        self.stop.set()


def _decode_stage(inp: _Input, path: str, q_out: queue.Queue, shared: _Shared,
                  copy_audio: bool) -> None:
    import av

    audio_index = {a.index: i for i, a in enumerate(inp.audio)} if copy_audio else {}
    streams = [inp.video] + (list(inp.audio) if copy_audio else [])
    index = 0
    last_pts: int | None = None
    try:
        try:
            for packet in inp.container.demux(*streams):
                if packet.stream.index == inp.video.index:
                    for frame in packet.decode():
                        pts = frame.pts
                        if pts is None:
                            pts = 0 if last_pts is None else last_pts + 1
                        elif last_pts is not None and pts <= last_pts:
                            pts = last_pts + 1  # keep timestamps strictly increasing
                        last_pts = pts
                        _put(q_out, _Frame(index=index, frame=frame, pts=pts), shared.stop)
                        index += 1
                elif packet.size and packet.stream.index in audio_index:
                    _put(q_out, _Packet(packet, audio_index[packet.stream.index]), shared.stop)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UserError(f"{path}: cannot decode video: {_reason(exc)}") from None
        if index == 0:
            raise UserError(f"{path}: no decodable video frames")
        _put(q_out, _END, shared.stop)
    except _Stopped:
        pass
    except BaseException as exc:  # noqa: BLE001 - forwarded to the calling thread
        shared.fail(exc)


def _encode_stage(out: _Output, output: Path, q_in: queue.Queue, shared: _Shared,
                  in_time_base: Fraction, on_frame: Callable[[], None] | None) -> None:
    import av
    from av.video.frame import PictureType

    codec_tb = out.video.codec_context.time_base
    try:
        try:
            while True:
                item = _get(q_in, shared.stop)
                if isinstance(item, _End):
                    for packet in out.video.encode(None):
                        out.container.mux(packet)
                    return
                if isinstance(item, _Packet):
                    packet = item.packet
                    packet.stream = out.audio[item.out_index]
                    out.container.mux(packet)
                    continue
                frame = _to_output_format(item.frame, out.pix_fmt)
                frame.pict_type = PictureType.NONE  # let the encoder choose frame types
                frame.pts = (item.pts if codec_tb == in_time_base
                             else int(round(item.pts * in_time_base / codec_tb)))
                frame.time_base = codec_tb
                for packet in out.video.encode(frame):
                    out.container.mux(packet)
                if on_frame is not None:
                    on_frame()
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UserError(f"{output}: cannot encode with {out.video.codec_context.name}: "
                            f"{_reason(exc)}") from None
    except _Stopped:
        pass
    except BaseException as exc:  # noqa: BLE001 - forwarded to the calling thread
        shared.fail(exc)


def _info_input(path: str, inp: _Input) -> dict[str, Any]:
    v = inp.video
    cc = v.codec_context
    rate = v.average_rate or v.guessed_rate
    return {
        "path": path,
        "format": inp.container.format.name,
        "codec": cc.name,
        "width": cc.width,
        "height": cc.height,
        "pix_fmt": cc.pix_fmt,
        "fps": float(rate) if rate else None,
        "time_base": str(v.time_base) if v.time_base else None,
        "audio": [{"index": a.index, "codec": a.codec_context.name,
                   "sample_rate": a.codec_context.sample_rate,
                   "channels": a.codec_context.channels if hasattr(a.codec_context, "channels")
                   else None} for a in inp.audio],
    }


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def runtime_totals(frames: Sequence[dict[str, Any]], wall_seconds: float) -> dict[str, Any]:
    """S4's run-time model from the per-frame records of a report.

    ``T_run = t_d * N_b + t_c * N_a`` (S4, eq. 14) with ``N_a`` all frames, ``N_b`` deblurred
    frames, ``t_d`` the mean deblur time per deblurred frame and ``t_c`` the mean classify
    (score) time per *classified* frame. In ``middle15`` mode only ``N_c`` frames are
    classified, so ``T_run`` (the paper's formula, which charges ``t_c`` to every frame) is an
    upper bound and ``T_run_classified = t_d * N_b + t_c * N_c`` the model of what actually ran.
    ``speedup_vs_all = t_d * N_a / wall_seconds``: the estimated time to deblur every frame
    over the measured wall time of this run (``speedup_model`` uses ``T_run`` instead).
    Unknown quantities (``t_d`` when nothing was deblurred) are ``None``; they count as 0 in
    ``T_run``.

    Args:
        frames: dicts with ``classified`` (bool), ``deblurred`` (bool), ``classify_seconds``
            and ``deblur_seconds``.
        wall_seconds: measured wall time of the whole run.

    Returns:
        The ``totals`` dict.

    Example:
        >>> fr = [{"classified": True, "deblurred": d, "classify_seconds": 0.1,
        ...        "deblur_seconds": 1.0 if d else 0.0} for d in (True, False, False, True)]
        >>> t = runtime_totals(fr, wall_seconds=2.5)
        >>> t["N_a"], t["N_b"], t["T_run"], t["speedup_vs_all"]
        (4, 2, 2.4, 1.6)
    """
    n_a = len(frames)
    classified = [f["classify_seconds"] for f in frames if f["classified"]]
    deblurred = [f["deblur_seconds"] for f in frames if f["deblurred"]]
    n_b, n_c = len(deblurred), len(classified)
    t_c = _mean(classified) if classified else 0.0
    t_d = _mean(deblurred)
    t_run = (t_d or 0.0) * n_b + t_c * n_a
    est_all = t_d * n_a if t_d is not None else None
    return {
        "N_a": n_a,
        "N_b": n_b,
        "N_c": n_c,
        "t_c": t_c,
        "t_d": t_d,
        "wall_seconds": wall_seconds,
        "T_run": t_run,
        "T_run_classified": (t_d or 0.0) * n_b + t_c * n_c,
        "estimated_all_seconds": est_all,
        "speedup_vs_all": (est_all / wall_seconds) if est_all is not None and wall_seconds > 0
        else None,
        "speedup_model": (est_all / t_run) if est_all is not None and t_run > 0 else None,
        "speedup_basis": "speedup_vs_all = t_d * N_a / wall_seconds; "
                         "speedup_model = t_d * N_a / T_run",
    }


@dataclass
class VideoResult:
    """What :func:`restore_video` did.

    Attributes:
        output: the written file.
        report: the report dict (also written to ``report_path`` when given).
    """

    output: Path
    report: dict[str, Any]


def restore_video(input: str | os.PathLike, output: str | os.PathLike, *,
                  selector: Selector, deblur: Deblur | None,
                  encode: EncodeOptions = EncodeOptions(),
                  report_path: str | os.PathLike | None = None, overwrite: bool = False,
                  queue_size: int = DEFAULT_QUEUE_SIZE, model: str | None = None,
                  threshold: float | None = None, show_progress: bool = True,
                  extra_report: dict[str, Any] | None = None,
                  allow_truncated: bool = False) -> VideoResult:
    """Deblur the frames of ``input`` that ``selector`` picks; write every frame to ``output``.

    Args:
        input: the video file (any container/codec FFmpeg decodes).
        output: the output file; its suffix picks the container (:data:`CONTAINERS`).
        selector: a fresh :class:`~deblurkit.inference.selection.Selector` (built with
            ``to_rgb=None`` or anything: it is rebound to decoded frames here).
        deblur: ``H x W x 3`` float32 ``[0, 1]`` -> same; may be None only when the selector
            never selects (then selected frames are an error).
        encode: codec, quality, pixel format, audio copy.
        report_path: where to write the JSON report (atomically), or None.
        overwrite: replace an existing ``output`` / report.
        queue_size: capacity of each of the two inter-stage queues.
        model: the model name recorded in the report.
        threshold: the threshold recorded in the report.
        show_progress: show a frame progress bar on stderr.
        extra_report: merged into the report's top level.
        allow_truncated: keep the output of a video that decodes to fewer frames than its
            container states (the report then says ``"truncated": true``); by default such a
            video is an error.

    Returns:
        A :class:`VideoResult`.

    Raises:
        UserError: unreadable/corrupt input, no video stream, no frames, fewer frames than
            the container states (unless ``allow_truncated``), output exists, output is the
            input, unsupported suffix or codec; nothing is left at ``output``.

    Example:
        >>> from deblurkit.inference.selection import make_selector
        >>> restore_video("in.mp4", "out.mp4", selector=make_selector("laplacian"),
        ...               deblur=my_deblur, report_path="report.json")  # doctest: +SKIP
    """
    src, dst = Path(input), Path(output)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise UserError(f"{dst}: output is the input video; choose another output")
    if dst.exists() and not overwrite:
        raise OutputExistsError(dst)
    if report_path is not None and Path(report_path).exists() and not overwrite:
        raise OutputExistsError(report_path)
    _container_format(dst)
    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")

    inp = open_video(src)
    try:
        with atomic_path(dst, overwrite=overwrite) as tmp:
            report = _run_pipeline(inp, src, dst, tmp, selector, deblur, encode, queue_size,
                                   show_progress)
            stated, decoded = int(inp.video.frames or 0), len(report["frames"])
            report["truncated"] = bool(stated and decoded < stated)
            if report["truncated"] and not allow_truncated:
                raise UserError(f"{src}: decoded {decoded} of the {stated} frames its container "
                                "states (truncated or damaged file); nothing written (pass "
                                "--allow-truncated to keep the frames that decode)")
    finally:
        with contextlib.suppress(Exception):
            inp.container.close()
    report.update({"select": selector.name, "threshold": threshold, "model": model})
    if extra_report:
        report.update(extra_report)
    ordered = {k: report[k] for k in ("input", "output", "select", "threshold", "model")}
    ordered.update({k: v for k, v in report.items() if k not in ordered})
    if report_path is not None:
        write_text_atomic(report_path, json.dumps(ordered, indent=2) + "\n", overwrite=True)
    return VideoResult(dst, ordered)


def _run_pipeline(inp: _Input, src: Path, dst: Path, tmp: Path, selector: Selector,
                  deblur: Deblur | None, encode: EncodeOptions, queue_size: int,
                  show_progress: bool) -> dict[str, Any]:
    from deblurkit.utils.progress import progress_enabled

    out = _open_output(tmp, dst, inp, encode)
    shared = _Shared()
    q_dec: queue.Queue = queue.Queue(maxsize=queue_size)
    q_enc: queue.Queue = queue.Queue(maxsize=queue_size)
    n_frames_hint = inp.video.frames or None
    bar = None
    enabled = progress_enabled()
    if show_progress and enabled is not False:
        from tqdm import tqdm

        bar = tqdm(total=n_frames_hint, desc=src.name, unit="frame", leave=False,
                   dynamic_ncols=True, disable=None if enabled is None else not enabled)
    in_tb = inp.video.time_base or out.video.codec_context.time_base
    decoder = threading.Thread(target=_decode_stage, name="deblurkit-decode", daemon=True,
                               args=(inp, str(src), q_dec, shared, encode.audio))
    encoder = threading.Thread(target=_encode_stage, name="deblurkit-encode", daemon=True,
                               args=(out, dst, q_enc, shared, in_tb,
                                     bar.update if bar is not None else None))
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    selector.to_rgb = lambda item: frame_to_rgb(item.frame)
    closed = False
    try:
        decoder.start()
        encoder.start()
        try:
            _inference_stage(q_dec, q_enc, shared, selector, deblur, records, in_tb)
        except _Stopped:
            pass
        except BaseException as exc:
            shared.fail(exc)
        if not shared.errors:
            encoder.join()
        _raise_first(shared)
        out.container.close()
        closed = True
        wall = time.perf_counter() - start
    except BaseException:
        shared.stop.set()
        raise
    finally:
        shared.stop.set()
        decoder.join(timeout=10)
        encoder.join(timeout=10)
        if bar is not None:
            bar.close()
        if not closed:
            with contextlib.suppress(Exception):
                out.container.close()
    totals = runtime_totals(records, wall)
    frames = [{k: r[k] for k in ("index", "pts", "time", "score", "deblurred", "classified",
                                 "seconds")} for r in records]
    return {
        "input": _info_input(str(src), inp),
        "output": {"path": str(dst), "format": CONTAINERS[dst.suffix.lower()],
                   "codec": encode.codec, "pix_fmt": out.pix_fmt, "crf": out.crf,
                   "preset": encode.preset, "options": dict(encode.options),
                   "audio_copied": out.audio_streams_copied > 0,
                   "audio_streams_copied": out.audio_streams_copied},
        "frames": frames,
        "totals": totals,
    }


def _raise_first(shared: _Shared) -> None:
    if shared.errors:
        # a UserError or KeyboardInterrupt is more telling than the follow-up failures
        for exc in shared.errors:
            if isinstance(exc, (UserError, KeyboardInterrupt)):
                raise exc
        raise shared.errors[0]


def _inference_stage(q_in: queue.Queue, q_out: queue.Queue, shared: _Shared,
                     selector: Selector, deblur: Deblur | None,
                     records: list[dict[str, Any]], time_base: Fraction) -> None:
    """Select and deblur, keeping the demux order of frames and audio packets."""
    pending: deque[Any] = deque()   # frames waiting for a decision, audio packets behind them

    def release() -> None:
        while pending:
            head = pending[0]
            if isinstance(head, _Frame):
                if head.decision is None:
                    return
                _finish(head)
            _put(q_out, pending.popleft(), shared.stop)

    def _finish(item: _Frame) -> None:
        decision = item.decision
        assert decision is not None
        if decision.deblur:
            if deblur is None:
                raise RuntimeError("a frame was selected for deblurring but no model is loaded")
            t0 = time.perf_counter()
            rgb = frame_to_rgb(item.frame)
            restored = deblur(rgb)
            item.frame = replace_rgb(item.frame, rgb, restored)
            item.deblur_seconds = time.perf_counter() - t0
        records.append({
            "index": item.index, "pts": item.pts,
            "time": float(item.pts * time_base) if time_base else None,
            "score": decision.score, "deblurred": decision.deblur,
            "classified": decision.classified,
            "classify_seconds": decision.classify_seconds,
            "deblur_seconds": item.deblur_seconds,
            "seconds": decision.classify_seconds + item.deblur_seconds,
        })

    while True:
        shared_error = shared.stop.is_set()
        if shared_error:
            raise _Stopped
        item = _get(q_in, shared.stop)
        if isinstance(item, _End):
            for frame_item, decision in selector.flush():
                frame_item.decision = decision
            release()
            _put(q_out, _END, shared.stop)
            return
        pending.append(item)
        if isinstance(item, _Frame):
            for frame_item, decision in selector.push(item):
                frame_item.decision = decision
        release()
