"""Pictures the page can show: an image job's input and result, or one frame of a video's.

Browsers show PNG, JPEG, BMP and WebP themselves, so those files are served as they are; a
TIFF, and any video frame, is turned into an 8-bit PNG once and kept in the job's folder
(``preview-*.png``) until the job is deleted.
"""

from __future__ import annotations

from pathlib import Path

from deblurkit.serve.jobs import Job
from deblurkit.serve.sniff import IMAGE_FORMATS

#: Image formats a browser displays without help.
BROWSER_FORMATS = frozenset({"PNG", "JPEG", "BMP", "WEBP"})
#: Which side of the comparison: the upload or the restored file.
SIDES = ("input", "result")


def preview(job: Job, side: str, frame: int = 0) -> tuple[Path, str]:
    """The file to show for ``side`` of ``job`` (and, for a video, frame ``frame``).

    Args:
        job: an image job, or a video job.
        side: ``"input"`` or ``"result"`` (the result must exist).
        frame: the video frame, counted from 0 in decoding order (images: 0 only).

    Returns:
        ``(path, media type)``.

    Raises:
        IndexError: no such frame.
        ValueError: an unknown side.
        OSError: the job's files are gone (deleted meanwhile).
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    source = job.input if side == "input" else job.result
    if job.kind == "image":
        if frame != 0:
            raise IndexError(f"an image has one frame, not {frame + 1}")
        if job.upload.format in BROWSER_FORMATS:
            return source, IMAGE_FORMATS[job.upload.format][1]
        target = job.folder / f"preview-{side}.png"
        if not target.exists():
            _image_png(source, target)
        return target, "image/png"
    target = job.folder / f"preview-{side}-{frame}.png"
    if not target.exists():
        _frame_png(source, frame, target)
    return target, "image/png"


def _image_png(source: Path, target: Path) -> None:
    from deblurkit.io import read_image, write_image

    image = read_image(source)
    write_image(target, image.pixels, alpha=image.alpha, bit_depth=8, overwrite=True)


def _frame_png(source: Path, frame: int, target: Path) -> None:
    """Decode frames of ``source`` up to ``frame`` (as the video pipeline numbers them) and
    write that one as an 8-bit RGB PNG, turned upright as a player shows it (its display
    matrix)."""
    from deblurkit.inference.video import frame_to_rgb, open_video
    from deblurkit.inference.video.containers import upright
    from deblurkit.io import write_image

    if frame < 0:
        raise IndexError(f"no frame {frame}")
    inp = open_video(source)
    try:
        for index, decoded in enumerate(inp.container.decode(inp.video)):
            if index == frame:
                write_image(target, upright(frame_to_rgb(decoded), inp.display_matrix),
                            bit_depth=8, overwrite=True)
                return
    finally:
        inp.container.close()
    raise IndexError(f"no frame {frame}")
