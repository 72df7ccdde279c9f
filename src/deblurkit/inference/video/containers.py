"""Video containers with PyAV: open the input, choose the output's format, codec and pixel
format, and set up its streams.

The input's first video stream is restored and its audio streams are copied packet for packet
(:func:`open_video`); the output is a container chosen by its suffix (:data:`CONTAINERS`) with
one video stream encoded as :class:`EncodeOptions` says and copies of the audio streams
(:func:`open_output`), with the input's size, time base, colour tags and display metadata
(display matrix -- rotation and flips --, pixel aspect ratio, language).

PyAV is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from deblurkit.errors import UserError

__all__ = ["CONTAINERS", "CRF_CODECS", "DEFAULT_CODEC", "DEFAULT_CRF", "DISPLAY_MATRIX_FORMATS",
           "FALLBACK_RATE", "MUXER_OPTIONS", "STILL_IMAGE_FORMATS", "STREAM_TAGS",
           "YUV420_CODECS", "DisplayMatrix", "EncodeOptions", "VideoInput", "VideoOutput",
           "container_format", "display_note",
           "display_rotation", "ffmpeg_reason", "input_info", "open_output", "open_video",
           "read_display_matrix", "rotation_matrix", "upright"]

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
#: Containers that store a video stream's display matrix (MP4/MOV ``tkhd`` matrix, Matroska
#: projection pose); AVI has no place for it.
DISPLAY_MATRIX_FORMATS = frozenset({"mp4", "mov", "matroska", "webm"})
#: Stream tags copied to the output's video and audio streams.
STREAM_TAGS = ("language", "title")
#: Frame rate handed to the encoder when the input declares none (rate control only; the
#: timestamps are the input's).
FALLBACK_RATE = Fraction(25)


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


def ffmpeg_reason(exc: BaseException) -> str:
    """One line saying what went wrong (FFmpeg's message without the errno and file name)."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(strerror, str) and strerror.strip():
        return strerror.strip().splitlines()[0]
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


#: A display matrix: FFmpeg's ``AV_PKT_DATA_DISPLAYMATRIX``, 9 int32 in row order, 16.16 fixed
#: point except the last column (2.30).
DisplayMatrix = tuple[int, ...]


def display_rotation(matrix: DisplayMatrix | None) -> float:
    """The rotation of a display matrix in degrees, counter-clockwise, in ``[-180, 180]``: what
    ffprobe prints as "rotation of ... degrees" and PyAV as ``VideoFrame.rotation``
    (``av_display_rotation_get``); 0 without a matrix.

    Example:
        >>> display_rotation((0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30))   # a portrait phone
        -90.0
    """
    if matrix is None:
        return 0.0
    a, b, _, c, d = (v / 65536 for v in matrix[:5])
    scale_x, scale_y = math.hypot(a, c), math.hypot(b, d)
    if scale_x == 0 or scale_y == 0:
        return 0.0
    angle = -math.degrees(math.atan2(b / scale_y, a / scale_x))
    return round(angle, 2) + 0.0  # + 0.0: no "-0.0"


def rotation_matrix(clockwise_degrees: float) -> DisplayMatrix:
    """The display matrix of a clockwise rotation (``av_display_rotation_set``), as older
    muxers' ``rotate`` tag states it: ``rotate=90`` is ``display_rotation == -90``.

    Example:
        >>> rotation_matrix(90)
        (0, 65536, 0, -65536, 0, 0, 0, 0, 1073741824)
    """
    radians = -math.radians(clockwise_degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    return (int(cos * 65536), int(-sin * 65536), 0, int(sin * 65536), int(cos * 65536), 0,
            0, 0, 1 << 30)


def _mirrored(matrix: DisplayMatrix) -> bool:
    return matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0


def display_note(matrix: DisplayMatrix | None) -> str | None:
    """A few words on what a display matrix does ("display rotation -90 degrees", ", mirrored"),
    or None when it leaves the picture as stored.

    Example:
        >>> display_note((0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30))
        'display rotation -90 degrees'
    """
    if matrix is None:
        return None
    rotation, mirrored = display_rotation(matrix), _mirrored(matrix)
    if not rotation and not mirrored:
        return None
    return f"display rotation {rotation:g} degrees" + (", mirrored" if mirrored else "")


def upright(rgb: Any, matrix: DisplayMatrix | None) -> Any:
    """The pixels of a decoded frame as a player shows them: turned by the display matrix's
    rotation (nearest quarter turn) and mirrored left-right when the matrix mirrors; for
    previews (restoration itself works on the stored pixels and keeps the matrix).

    Example:
        >>> import numpy as np
        >>> stored = np.arange(6).reshape(2, 3)                 # landscape, as a phone stores it
        >>> upright(stored, rotation_matrix(90)).shape          # rotate=90: shown portrait
        (3, 2)
        >>> upright(stored, rotation_matrix(90))[0].tolist()    # turned clockwise
        [3, 0]
    """
    import numpy as np

    if matrix is None:
        return rgb
    out = np.fliplr(rgb) if _mirrored(matrix) else rgb
    quarter_turns = round(display_rotation(matrix) / 90) % 4  # counter-clockwise
    return np.ascontiguousarray(np.rot90(out, k=quarter_turns))


def _legacy_rotate_tag(stream: Any) -> DisplayMatrix | None:
    """The display matrix of a ``rotate`` stream tag (clockwise degrees, written by older
    FFmpeg muxers and phones' MP4 tools), or None when there is none or it is 0."""
    for key, value in dict(stream.metadata or {}).items():
        if key.lower() == "rotate":
            with contextlib.suppress(ValueError):
                degrees = float(value)
                if math.isfinite(degrees) and degrees % 360:
                    return rotation_matrix(degrees)
    return None


def read_display_matrix(path: str | os.PathLike, stream_index: int) -> DisplayMatrix | None:
    """The display matrix of video stream ``stream_index`` of ``path``: how a player turns and
    mirrors its pixels (a phone video held upright: rotation -90), or None.

    PyAV (18) reads no stream side data, but FFmpeg's decoders attach the stream's display
    matrix to every decoded frame: the first frame is decoded from a second opening of the
    file. A ``rotate`` tag (older files) stands in when there is no matrix. A file that does
    not open or decode here has none (the pipeline reports its errors).
    """
    import av
    from av.sidedata.sidedata import Type

    try:
        with av.open(os.fspath(path), "r") as container:
            stream = container.streams[stream_index]
            for frame in container.decode(stream):
                for side_data in frame.side_data:
                    if side_data.type == Type.DISPLAYMATRIX and side_data.buffer_size == 36:
                        return struct.unpack("=9i", bytes(side_data))
                break
            return _legacy_rotate_tag(stream)
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return None


_UNREAD: Any = object()


@dataclass
class VideoInput:
    """An opened input video.

    Attributes:
        container: the ``av`` input container.
        video: its first video stream (the one restored).
        audio: its audio streams (copied packet for packet).
        path: the file (to read its display matrix, :attr:`display_matrix`).
    """

    container: Any
    video: Any
    audio: list[Any]
    path: str = ""
    _display_matrix: Any = field(default=_UNREAD, init=False, repr=False)

    @property
    def display_matrix(self) -> DisplayMatrix | None:
        """The video stream's display matrix (:func:`read_display_matrix`), read on first use
        (it costs decoding one frame)."""
        if self._display_matrix is _UNREAD:
            self._display_matrix = (read_display_matrix(self.path, self.video.index)
                                    if self.path else None)
        return self._display_matrix


#: FFmpeg demuxers of still pictures (besides the ``*_pipe`` ones): refused as videos.
STILL_IMAGE_FORMATS = frozenset({"image2", "png", "apng", "jpeg", "webp", "tiff", "bmp"})


def open_video(path: str | os.PathLike) -> VideoInput:
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
        raise UserError(f"{path}: cannot read video: {ffmpeg_reason(exc)}") from None
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
    return VideoInput(container, video, list(container.streams.audio), path)


def container_format(output: Path) -> str:
    """The FFmpeg container format of an output file, from its suffix (:data:`CONTAINERS`).

    Raises:
        UserError: an unsupported suffix.

    Example:
        >>> container_format(Path("out.mkv"))
        'matroska'
    """
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


def format_bits(pix_fmt: str) -> int:
    """Bits per sample of a pixel format (8 when unknown).

    Example:
        >>> format_bits("yuv420p10le"), format_bits("yuv420p")
        (10, 8)
    """
    import av

    try:
        return max((c.bits for c in av.VideoFormat(pix_fmt).components), default=8)
    except (ValueError, av.FFmpegError):
        return 8


#: The same chroma layout with 10 bits, for sources deeper than 8 bits.
TEN_BIT = {"yuv420p": "yuv420p10le", "yuv422p": "yuv422p10le", "yuv444p": "yuv444p10le",
           "gbrp": "gbrp10le", "gray": "gray10le"}


def _deep(chosen: str, input_fmt: str, supported: list[str]) -> str:
    """``chosen`` at the source's depth when the source has more than 8 bits and the codec
    can keep them (x264: 10 bits); otherwise ``chosen``."""
    if format_bits(input_fmt) <= 8 or format_bits(chosen) > 8:
        return chosen
    deep = TEN_BIT.get(chosen)
    return deep if deep is not None and (not supported or deep in supported) else chosen


def _choose_pix_fmt(codec: Any, options: EncodeOptions, input_fmt: str, output: Path,
                    size: tuple[int, int] = (2, 2)) -> str:
    """The encoder's pixel format: the one asked for, else the codec's usual one (yuv420p for
    the codecs in :data:`YUV420_CODECS`) or the input's, kept at the input's depth when it has
    more than 8 bits and the codec allows it (a warning is printed when it does not), and
    without chroma subsampling when a side is odd."""
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
        chosen = full[0]
    kept = _deep(chosen, input_fmt, supported)
    if format_bits(kept) < format_bits(input_fmt):
        print(f"warning: {output}: the input has {format_bits(input_fmt)} bits per sample "
              f"({input_fmt}); codec {options.codec} writes {kept} ({format_bits(kept)} bits) "
              "here: use --codec libx264 (10 bits) or --codec ffv1 to keep them",
              file=sys.stderr)
    return kept


@dataclass
class VideoOutput:
    """An output video being written.

    Attributes:
        container: the ``av`` output container (a temporary file beside the target).
        video: the video stream being encoded.
        audio: the audio streams, copied from the input's.
        pix_fmt: the encoder's pixel format.
        crf: the constant rate factor used (None for codecs without one).
        audio_streams_copied: how many audio streams are copied.
        display_matrix: the display matrix written (the input's), None when there is none or
            the container cannot hold it.
    """

    container: Any
    video: Any
    audio: list[Any]
    pix_fmt: str
    crf: float | None
    audio_streams_copied: int
    display_matrix: DisplayMatrix | None = None


def open_output(tmp: Path, output: Path, inp: VideoInput,
                options: EncodeOptions) -> VideoOutput:
    """Open the output container at ``tmp`` (renamed to ``output`` once written) with a video
    stream like ``inp``'s (size, time base, colour tags, display matrix, pixel aspect ratio,
    language) and copies of its audio streams.

    The display matrix (rotation, flips) is copied as it is, the pixels are not turned, so the
    output plays the way the input does; a container that cannot store it (AVI) gets a warning
    on stderr.

    Raises:
        UserError: unknown or non-video encoder, a pixel format the codec or the frame size
            does not allow, audio the container cannot hold (naming ``output``).
    """
    import av

    fmt = container_format(output)
    try:
        codec = av.codec.Codec(options.codec, "w")
    except (av.FFmpegError, ValueError) as exc:
        raise UserError(f"{output}: unknown video encoder {options.codec!r}: "
                        f"{ffmpeg_reason(exc)}") from None
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
                            f"{ffmpeg_reason(exc)}") from None
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
        with contextlib.suppress(AttributeError, ValueError, TypeError):
            sar = inp.video.sample_aspect_ratio  # the container's, else the bitstream's
            if sar and sar != 1:
                vstream.codec_context.sample_aspect_ratio = sar
        _copy_tags(vstream, inp.video)
        matrix = _copy_display_matrix(vstream, inp.display_matrix, fmt, output)
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
                    _copy_tags(audio[-1], a)
                except (av.FFmpegError, ValueError) as exc:
                    raise UserError(f"{output}: cannot copy audio stream #{a.index} "
                                    f"({a.codec_context.name}) into {fmt}: "
                                    f"{ffmpeg_reason(exc)}; use another container (.mkv) or "
                                    "drop audio") from None
    except BaseException:
        with contextlib.suppress(Exception):
            container.close()
        raise
    return VideoOutput(container, vstream, audio, pix_fmt, crf, len(audio), matrix)


def _copy_tags(dst: Any, src: Any) -> None:
    """Copy the stream tags of :data:`STREAM_TAGS` (language, title) from ``src`` to ``dst``."""
    for tag in STREAM_TAGS:
        value = dict(src.metadata or {}).get(tag)
        if value and not (tag == "language" and value == "und"):
            dst.metadata[tag] = value


def _copy_display_matrix(vstream: Any, matrix: DisplayMatrix | None, fmt: str,
                         output: Path) -> DisplayMatrix | None:
    """Write ``matrix`` as the output stream's display matrix when the container can hold it;
    returns what was written. A container that cannot (AVI) gets a one-line warning."""
    if matrix is None:
        return None
    if fmt not in DISPLAY_MATRIX_FORMATS:
        if display_note(matrix) is not None:
            mirrored = ", mirrored" if _mirrored(matrix) else ""
            print(f"warning: {output}: {fmt} cannot store the input's display rotation "
                  f"({display_rotation(matrix):g} degrees{mirrored}); the output plays as "
                  "stored: use .mp4, .mov or .mkv to keep it", file=sys.stderr)
        return None
    vstream.set_display_matrix(matrix)
    return matrix


def input_info(path: str, inp: VideoInput) -> dict[str, Any]:
    """The report's description of the input (container, codec, size, rate, audio)."""
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
        "rotation": display_rotation(inp.display_matrix),
        "display_matrix": list(inp.display_matrix) if inp.display_matrix else None,
        "audio": [{"index": a.index, "codec": a.codec_context.name,
                   "sample_rate": a.codec_context.sample_rate,
                   "channels": a.codec_context.channels if hasattr(a.codec_context, "channels")
                   else None} for a in inp.audio],
    }
