"""What an upload is, judged from its bytes (never from its name): an image, a video, or neither.

Images are recognised by their signature (PNG, JPEG, TIFF, BMP, WebP: the formats ``deblurkit
restore`` reads and writes), then decoded once with :func:`deblurkit.io.read_image` and its
pixel limit, so a corrupt file or a decompression bomb is refused at upload time. Anything
else is offered to FFmpeg (PyAV): a container with a video stream is a video, checked against
the pixel and frame limits from its header. Each refusal is an :class:`UploadRefused` with the
HTTP status the server answers (415 not a supported image or video, 422 corrupt or over a
limit) and a one-line message naming the client's file name, never a server path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from deblurkit.errors import ImageReadError, UserError
from deblurkit.io.read import TIFF_MAGIC

#: Image format -> (suffix of the restored file, media type).
IMAGE_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": (".png", "image/png"), "JPEG": (".jpg", "image/jpeg"),
    "TIFF": (".tif", "image/tiff"), "BMP": (".bmp", "image/bmp"),
    "WEBP": (".webp", "image/webp"),
}
#: Video container of the restored file, by the input's demuxer: (suffix, media type).
#: Matroska and WebM inputs stay Matroska (it holds any audio codec); everything else
#: becomes MP4 (H.264, ``deblurkit video``'s default encoder).
VIDEO_OUTPUTS: dict[str, tuple[str, str]] = {"matroska,webm": (".mkv", "video/x-matroska")}
DEFAULT_VIDEO_OUTPUT = (".mp4", "video/mp4")
#: FFmpeg demuxers that read single pictures: such uploads are images, not videos.
_PICTURE_DEMUXERS = ("image2", "gif", "apng", "webp_pipe")
#: Bytes read to recognise a signature.
_HEAD_BYTES = 16
_SUPPORTED = "PNG, JPEG, TIFF, BMP or WebP images, or a video"


class UploadRefused(UserError):
    """An upload the server will not process, with the HTTP status to answer.

    Args:
        status: 413, 415 or 422.
        message: one line, naming the client's file name.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """A recognised upload.

    Attributes:
        kind: ``"image"`` or ``"video"``.
        format: the image format (``"PNG"``...) or FFmpeg's demuxer name.
        suffix: the suffix the restored file gets (it picks the writer's format).
        media_type: the restored file's media type.
        width, height: pixels (a video's frame size).
        frames: the video's frame count from its header (None: unknown, or an image).
    """

    kind: str
    format: str
    suffix: str
    media_type: str
    width: int
    height: int
    frames: int | None = None


def image_format(head: bytes) -> str | None:
    """The image format whose signature starts ``head``, or None.

    Example:
        >>> image_format(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
        'PNG'
        >>> image_format(b"hello") is None
        True
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in TIFF_MAGIC:
        return "TIFF"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def inspect_upload(path: str | os.PathLike, name: str, *, max_pixels: int, max_frames: int,
                   kinds: tuple[str, ...] = ("image", "video")) -> Upload:
    """Recognise and check an uploaded file.

    Args:
        path: the saved upload (a server-chosen name).
        name: the client's file name, for messages only.
        max_pixels: largest ``width x height`` accepted (HTTP 422 above).
        max_frames: longest video accepted when its header gives a frame count (422 above).
        kinds: what the endpoint accepts (``"image"``, ``"video"``).

    Returns:
        The :class:`Upload`.

    Raises:
        UploadRefused: 415 not an accepted kind (or an image format we do not restore); 422
            corrupt, truncated, or over a limit.

    Example:
        >>> inspect_upload("upload", "photo.png", max_pixels=2**26, max_frames=10_000)
        ... # doctest: +SKIP
        Upload(kind='image', format='PNG', suffix='.png', media_type='image/png', ...)
    """
    file = Path(path)
    with open(file, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise UploadRefused(422, f"{name}: empty file (0 bytes)")
    fmt = image_format(head)
    if fmt is not None:
        if "image" not in kinds:
            raise UploadRefused(415, f"{name}: is an image; this endpoint takes videos")
        return _inspect_image(file, name, fmt, max_pixels)
    video = _inspect_video(file, name, max_pixels, max_frames)
    if video is not None:
        if "video" not in kinds:
            raise UploadRefused(415, f"{name}: is a video; POST it to /api/jobs")
        return video
    other = _other_image_format(file)
    if other is not None:
        raise UploadRefused(415, f"{name}: {other} images are not supported; send "
                                 f"{_SUPPORTED}")
    raise UploadRefused(415, f"{name}: not an image or a video (send {_SUPPORTED})")


def _inspect_image(file: Path, name: str, fmt: str, max_pixels: int) -> Upload:
    from deblurkit.io import read_image

    try:
        image = read_image(file, max_pixels=max_pixels)
    except ImageReadError as exc:
        raise UploadRefused(422, f"{name}: {exc.reason}") from None
    suffix, media_type = IMAGE_FORMATS[fmt]
    height, width = image.pixels.shape[:2]
    return Upload("image", fmt, suffix, media_type, width, height)


def _inspect_video(file: Path, name: str, max_pixels: int, max_frames: int) -> Upload | None:
    """The video upload, or None when FFmpeg finds no video in it."""
    from deblurkit.inference.video import open_video

    try:
        inp = open_video(file)
    except UserError:
        return None
    try:
        demuxer = inp.container.format.name
        if any(part in _PICTURE_DEMUXERS or part.endswith("_pipe")
               for part in demuxer.split(",")):
            return None
        width, height = inp.video.codec_context.width, inp.video.codec_context.height
        frames = int(inp.video.frames or 0) or None
    finally:
        inp.container.close()
    if width * height > max_pixels:
        raise UploadRefused(422, f"{name}: {width} x {height} = {width * height} pixels per "
                                 f"frame exceeds the limit of {max_pixels}")
    if frames is not None and frames > max_frames:
        raise UploadRefused(422, f"{name}: {frames} frames exceeds the limit of {max_frames}")
    suffix, media_type = VIDEO_OUTPUTS.get(demuxer, DEFAULT_VIDEO_OUTPUT)
    return Upload("video", demuxer, suffix, media_type, width, height, frames)


def _other_image_format(file: Path) -> str | None:
    """Pillow's name for an image format we do not restore (GIF, ICO...), or None."""
    import PIL.Image

    try:
        with PIL.Image.open(file) as image:
            return image.format or "this kind of"
    except PIL.Image.DecompressionBombError:
        return "this kind of"
    except Exception:  # noqa: BLE001 - anything Pillow cannot identify is not an image
        return None
