"""Read an image file into an :class:`~deblurkit.io.image.Image` (rules: docs/io.md).

Every failure a file can cause (missing, folder, zero bytes, not an image, corrupt, truncated,
too many pixels) is raised as :class:`~deblurkit.errors.ImageReadError` naming the file;
no Pillow exception or warning escapes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
from PIL import UnidentifiedImageError

from deblurkit.errors import ImageReadError, UserError
from deblurkit.io.convert import MAX_VALUE
from deblurkit.io.image import Image, ImageInfo
from deblurkit.io.png16 import decode_png16, png_header

#: Default limit on width x height (about 268 million pixels, e.g. 16384 x 16384), checked
#: from the file header before any pixel is decoded (decompression-bomb protection).
DEFAULT_MAX_PIXELS = 2**28
#: EXIF tag holding the orientation (1..8).
ORIENTATION_TAG = 0x0112
#: Formats whose EXIF block we return (and can carry to an output).
EXIF_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
#: First four bytes of a classic or BigTIFF file, little and big endian.
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: Pillow modes that are already one of our layouts (no conversion needed).
_NATIVE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I;16N", "I", "F"})

# Pillow's own bomb limit (Image.MAX_IMAGE_PIXELS, ~89 Mpx, error above twice that) is a
# module global. We apply our own limit instead; when Pillow's is stricter we reopen the file
# with it switched off, under a lock so that two of our reads never race on the global.
_PIL_LIMIT_LOCK = threading.Lock()


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file: pixels upright, alpha separate, metadata kept for writing.

    Layout rules (full table in docs/io.md): grayscale (``1``, ``L``, ``I;16``) -> C=1;
    palette -> RGB (RGBA if it has transparency); CMYK and other colour spaces -> RGB via
    Pillow's conversion; RGBA/LA -> colour channels plus an unchanged alpha plane; 16-bit
    PNG/TIFF -> ``uint16`` (16-bit colour PNG is decoded with FFmpeg, 16-bit colour TIFF with
    tifffile, because Pillow would keep only the high byte). The EXIF orientation is applied.
    Only the first frame of a multi-frame file is read.

    Args:
        path: the file.
        max_pixels: refuse images with more than this many pixels (width x height), checked
            from the header before decoding.

    Returns:
        :class:`Image` with ``pixels`` ``H x W x C`` (C in {1, 3}) ``uint8``/``uint16``,
        ``alpha`` ``H x W`` or None, and :class:`ImageInfo`.

    Raises:
        ImageReadError: missing file, folder, zero bytes, not an image, corrupt or truncated
            data, unsupported sample format, or more than ``max_pixels`` pixels. The message
            starts with the path.

    Shape:
        file -> ``(H, W, C)`` and ``(H, W)``.

    Example:
        >>> image = read_image("photo.jpg")          # doctest: +SKIP
        >>> image.pixels.shape, image.pixels.dtype   # doctest: +SKIP
        ((3000, 4000, 3), dtype('uint8'))
    """
    file = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow/tifffile warnings never escape
            return _read(file, max_pixels)
    except ImageReadError:
        raise
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode this image") from None
    except Exception as err:  # decoders raise anything on bad data  # noqa: BLE001
        raise ImageReadError(path, f"corrupt or truncated image data ({_describe(err)})") from err


def read_pixels(path: str | os.PathLike) -> np.ndarray:
    """Read an image as ``H x W x C`` at its native dtype (uint8 / uint16); alpha dropped."""
    pixels = np.asarray(read_image(path).pixels)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def adapt_channels(image: np.ndarray, channels: int | None, path: str | os.PathLike
                   ) -> np.ndarray:
    """Give ``image`` (``H x W x C``) the requested channel count.

    Grey (C = 1) is repeated to 3 channels when 3 are asked; anything else that differs is a
    UserError naming ``path`` (no silent colour conversion). Used by the datasets and
    by :func:`deblurkit.data.video.clip_rgb`.

    Args:
        image: ``H x W x C`` array.
        channels: 1, 3 or None (keep).
        path: the file, for the message.
    """
    have = image.shape[2]
    if channels is None or have == channels:
        return image
    if have == 1 and channels == 3:
        return np.repeat(image, 3, axis=2)
    raise UserError(f"{os.fspath(path)}: has {have} channel(s), expected {channels}")


def _describe(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _check_file(path: Path) -> None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except OSError as err:
        raise ImageReadError(path, err.strerror or _describe(err)) from None
    if path.is_dir():
        raise ImageReadError(path, "is a folder, not an image file")
    if stat.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")


def _check_pixels(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"invalid image size {width} x {height}")
    if width * height > max_pixels:
        raise ImageReadError(
            path, f"{width} x {height} = {width * height} pixels exceeds the limit of "
                  f"{max_pixels} (possible decompression bomb; raise max_pixels, --max-pixels on the command line, to allow it)")


def _is_tiff(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in TIFF_MAGIC


def _open_pil(path: Path) -> PIL.Image.Image | None:
    """Open (header only) with Pillow; None for a TIFF Pillow cannot identify."""
    try:
        return PIL.Image.open(path)
    except PIL.Image.DecompressionBombError:
        with _PIL_LIMIT_LOCK:
            saved = PIL.Image.MAX_IMAGE_PIXELS
            PIL.Image.MAX_IMAGE_PIXELS = None
            try:
                return PIL.Image.open(path)
            finally:
                PIL.Image.MAX_IMAGE_PIXELS = saved
    except UnidentifiedImageError:
        if _is_tiff(path):
            return None
        raise ImageReadError(path, "not an image file (unknown format or corrupt header)") from None


def _read(path: Path, max_pixels: int) -> Image:
    _check_file(path)
    pil = _open_pil(path)
    if pil is None:
        return _read_tiff_only(path, max_pixels)
    with pil:
        _check_pixels(path, pil.width, pil.height, max_pixels)
        fmt, source_mode = pil.format or "", pil.mode
        n_frames = int(getattr(pil, "n_frames", 1))
        pil.load()  # full decode: truncation and corruption surface here
        orientation, exif = _exif_of(pil, fmt)
        icc = pil.info.get("icc_profile") or None
        dpi = _dpi_of(pil.info.get("dpi"))
        samples = _high_depth_samples(path, pil, fmt)
        if samples is None:
            pixels, alpha = _arrays_from_pil(path, pil)
        else:
            pixels, alpha = _split_samples(samples)
    if source_mode == "CMYK":
        icc = None  # a CMYK profile does not describe the RGB pixels we return
    return _finish(path, pixels, alpha, orientation, ImageInfo(
        path=os.fspath(path), format=fmt, mode=source_mode, bit_depth=0, channels=0,
        has_alpha=False, icc_profile=icc, exif=exif, orientation=orientation, dpi=dpi,
        n_frames=n_frames))


def _finish(path: Path, pixels: np.ndarray, alpha: np.ndarray | None, orientation: int,
            info: ImageInfo) -> Image:
    pixels = np.ascontiguousarray(apply_orientation(pixels, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(apply_orientation(alpha, orientation))
    dpi = info.dpi
    if dpi is not None and orientation >= 5:
        dpi = (dpi[1], dpi[0])
    depth = 16 if pixels.dtype == np.uint16 else 8
    return Image(pixels=pixels, alpha=alpha, info=replace(
        info, bit_depth=depth, channels=int(pixels.shape[2]), has_alpha=alpha is not None,
        dpi=dpi))


def _dpi_of(value: object) -> tuple[float, float] | None:
    try:
        x, y = value  # type: ignore[misc]
        x, y = float(x), float(y)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _exif_of(pil: PIL.Image.Image, fmt: str) -> tuple[int, bytes | None]:
    """(orientation to apply, EXIF bytes with orientation reset) of an opened image."""
    try:
        exif = pil.getexif()
        orientation = int(exif.get(ORIENTATION_TAG, 1))
        if orientation not in range(1, 9):
            orientation = 1
        if fmt not in EXIF_FORMATS or len(exif) == 0:
            return orientation, None
        if ORIENTATION_TAG in exif:
            exif[ORIENTATION_TAG] = 1
        return orientation, exif.tobytes()
    except Exception:  # a damaged EXIF block must not make the pixels unreadable  # noqa: BLE001
        return 1, None


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an array stored with EXIF ``orientation`` (1..8) upright (a view, no copy).

    The same transforms as ``PIL.ImageOps.exif_transpose``: 2 mirror left-right, 3 rotate
    180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90
    counter-clockwise. Works on ``H x W`` and ``H x W x C``.

    Example:
        >>> apply_orientation(np.array([[1, 2], [3, 4]]), 6)
        array([[3, 1],
               [4, 2]])
    """
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def _arrays_from_pil(path: Path, pil: PIL.Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels and alpha of a decoded Pillow image, after our layout rules."""
    mode = pil.mode
    if mode == "1":
        pil = pil.convert("L")
    elif mode in ("P", "PA"):
        pil = pil.convert("RGBA" if mode == "PA" or pil.has_transparency_data else "RGB")
    elif mode in ("L", "RGB") and pil.info.get("transparency") is not None:
        pil = pil.convert("LA" if mode == "L" else "RGBA")  # colour-key tRNS
    elif mode == "La":
        pil = pil.convert("LA")
    elif mode == "RGBa":
        pil = pil.convert("RGBA")
    elif mode not in _NATIVE_MODES:
        pil = pil.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, ...
    mode = pil.mode
    array = np.asarray(pil)
    if mode == "F":
        raise ImageReadError(path, "32-bit float pixels are not supported (use 8- or 16-bit)")
    if mode == "I" or mode.startswith("I;16"):
        if mode == "I" and array.size and (array.min() < 0 or array.max() > MAX_VALUE[16]):
            raise ImageReadError(path, "32-bit integer pixels outside 0..65535 are not supported")
        return array.astype(np.uint16)[:, :, None], None
    array = array.astype(np.uint8, copy=False)
    if array.ndim == 2:
        array = array[:, :, None]
    return _split_samples(array)


def _split_samples(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``H x W x S`` (S = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) -> (pixels, alpha)."""
    samples = array.shape[2]
    if samples == 2:
        return array[:, :, :1], array[:, :, 1]
    if samples == 4:
        return array[:, :, :3], array[:, :, 3]
    return array, None


def _high_depth_samples(path: Path, pil: PIL.Image.Image, fmt: str) -> np.ndarray | None:
    """For 16-bit multi-sample PNG/TIFF, the full-depth ``H x W x S`` samples; else None."""
    if fmt == "PNG":
        header = png_header(path)
        if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
            return decode_png16(path)
        return None
    if fmt == "TIFF" and getattr(pil, "tag_v2", None) is not None:
        bits = pil.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        samples = int(pil.tag_v2.get(277, 1))
        if samples >= 2 and max(bits) == 16 and int(pil.tag_v2.get(262, -1)) in (1, 2):
            return _tiff_samples(path, page_index=0)[0]
    return None


def _tiff_samples(path: Path, page_index: int = 0,
                  max_pixels: int | None = None) -> tuple[np.ndarray, int, bytes | None, str]:
    """Decode one TIFF page with tifffile: (``H x W x S`` samples, orientation, ICC, mode)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[page_index]
        height, width = int(page.imagelength), int(page.imagewidth)
        if max_pixels is not None:
            _check_pixels(path, width, height, max_pixels)
        photometric = int(page.photometric)
        if photometric not in (1, 2) or page.dtype not in (np.uint8, np.uint16):
            raise ImageReadError(path, f"unsupported TIFF layout (photometric {photometric}, "
                                       f"sample type {page.dtype})")
        data = page.asarray()
        if data.ndim == 2:
            data = data[:, :, None]
        elif page.planarconfig == 2 and data.shape[-1] != page.samplesperpixel:
            data = np.moveaxis(data, 0, -1)  # planar (S, H, W) -> (H, W, S)
        colour = 3 if photometric == 2 else 1
        extras = tuple(int(e) for e in page.extrasamples)
        has_alpha = data.shape[2] > colour and bool(extras) and extras[0] in (1, 2)
        data = data[:, :, : colour + int(has_alpha)]
        if has_alpha and extras[0] == 1:  # associated (premultiplied) alpha: un-premultiply
            data = _unpremultiply(data)
        tag = page.tags.get(274)
        orientation = int(tag.value) if tag is not None and int(tag.value) in range(1, 9) else 1
        icc = page.iccprofile or None
        mode = ("L", "LA", "RGB", "RGBA")[[1, 2, 3, 4].index(data.shape[2])]
        return data, orientation, icc, mode + (";16" if data.dtype == np.uint16 else "")


def _unpremultiply(data: np.ndarray) -> np.ndarray:
    maximum = float(MAX_VALUE[16 if data.dtype == np.uint16 else 8])
    alpha = data[:, :, -1:].astype(np.float64)
    colour = data[:, :, :-1].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = np.where(alpha > 0, colour * maximum / alpha, 0.0)
    colour_out = np.rint(np.clip(straight, 0, maximum)).astype(data.dtype)
    return np.concatenate([colour_out, data[:, :, -1:]], axis=2)


def _read_tiff_only(path: Path, max_pixels: int) -> Image:
    """A TIFF that Pillow cannot open (e.g. 16-bit gray + alpha): read it with tifffile."""
    samples, orientation, icc, mode = _tiff_samples(path, max_pixels=max_pixels)
    pixels, alpha = _split_samples(samples)
    return _finish(path, pixels, alpha, orientation, ImageInfo(
        path=os.fspath(path), format="TIFF", mode=mode, bit_depth=0, channels=0,
        has_alpha=False, icc_profile=icc, orientation=orientation))
