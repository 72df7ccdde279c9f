"""Write an array to an image file, atomically, keeping what we can of the source metadata.

Rules (full table in docs/io.md): the format comes from the suffix; 16-bit data goes to PNG
and TIFF as 16-bit and to JPEG / WebP / BMP as 8-bit (``rint(v / 257)``); alpha is written
where the format holds it (PNG, TIFF, WebP) and dropped otherwise (JPEG, BMP); the ICC
profile, EXIF block (orientation reset to 1) and dpi of ``info`` are carried where the format
supports them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image

from deblurkit.errors import UserError
from deblurkit.io.convert import bit_depth_of, convert_bit_depth
from deblurkit.io.formats import (
    ALPHA_FORMATS,
    DPI_FORMATS,
    EXIF_OUTPUT_FORMATS,
    GRAY_FORMATS,
    SIXTEEN_BIT_FORMATS,
    SUFFIX_FORMATS,
)
from deblurkit.io.image import ImageInfo
from deblurkit.io.png16 import encode_png
from deblurkit.io.read import ORIENTATION_TAG
from deblurkit.utils.atomic import atomic_path

#: Default JPEG / WebP quality (1..100; WebP at 100 is written lossless).
DEFAULT_QUALITY = 95
#: JPEG chroma subsampling written: 0 = 4:4:4 (no colour detail thrown away).
JPEG_SUBSAMPLING = 0
#: Pillow TIFF compression for 8-bit TIFF (lossless deflate).
TIFF_COMPRESSION = "tiff_adobe_deflate"


def output_format(path: str | os.PathLike) -> str:
    """Pillow format name for an output path's suffix (case-insensitive).

    Raises:
        UserError: an unknown suffix.

    Example:
        >>> output_format("out/frame.JPG")
        'JPEG'
    """
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIX_FORMATS[suffix]
    except KeyError:
        known = " ".join(sorted(SUFFIX_FORMATS))
        raise UserError(f"{path}: cannot write {suffix or 'files without a suffix'} "
                        f"(use one of {known})") from None


def write_image(path: str | os.PathLike, pixels: np.ndarray, *, alpha: np.ndarray | None = None,
                info: ImageInfo | None = None, bit_depth: int | None = None,
                overwrite: bool = False, quality: int = DEFAULT_QUALITY) -> Path:
    """Write an image atomically (temporary file beside the target, then rename).

    Args:
        path: destination; its suffix picks the format (.png .jpg .jpeg .tif .tiff .bmp
            .webp).
        pixels: ``H x W x C`` (C in {1, 3}) or ``H x W``; ``uint8``, ``uint16`` or float in
            ``[0, 1]``. ``C = 2`` / ``C = 4`` are read as gray+alpha / RGBA when ``alpha`` is
            None.
        alpha: ``H x W`` (or ``H x W x 1``) alpha plane, integer or float like ``pixels``.
        info: the source's :class:`ImageInfo`; supplies the default bit depth for float
            pixels, the ICC profile, EXIF block and dpi.
        bit_depth: 8 or 16. Default: the dtype's depth for integer pixels, otherwise
            ``info.bit_depth`` (8 without info). JPEG, WebP and BMP always get 8 bits
            (``uint16 -> rint(v / 257)``).
        overwrite: replace an existing file (otherwise :class:`OutputExistsError`).
        quality: JPEG / WebP quality 1..100 (WebP at 100 is lossless). JPEG is written with
            4:4:4 chroma (no subsampling).

    Returns:
        The path written.

    Raises:
        OutputExistsError: the file exists and ``overwrite`` is False.
        UserError: unknown suffix, or the file cannot be written (the message names it).
        ValueError / TypeError: bad array shapes or dtypes (a programming error).

    Shape:
        ``(H, W, C)`` and ``(H, W)`` -> file.

    Example:
        >>> write_image("out.png", np.zeros((4, 5, 3), np.float32))  # doctest: +SKIP
        PosixPath('out.png')
    """
    target = Path(path)
    fmt = output_format(target)
    pixels, alpha = _normalise_layout(pixels, alpha)
    depth = _target_depth(pixels, info, bit_depth)
    if fmt not in SIXTEEN_BIT_FORMATS:
        depth = 8
    pixels = convert_bit_depth(pixels, depth)
    if alpha is not None:
        alpha = convert_bit_depth(alpha, depth)[:, :, None]
    if fmt not in ALPHA_FORMATS:
        alpha = None
    if fmt not in GRAY_FORMATS and pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    samples = pixels if alpha is None else np.concatenate([pixels, alpha], axis=2)

    icc = _matching_icc(info.icc_profile if info else None, pixels.shape[2])
    exif = _reset_orientation(info.exif) if info and fmt in EXIF_OUTPUT_FORMATS else None
    dpi = info.dpi if info and fmt in DPI_FORMATS else None

    with atomic_path(target, overwrite=overwrite) as tmp:
        try:
            _encode(tmp, fmt, samples, depth, icc=icc, exif=exif, dpi=dpi, quality=quality)
        except OSError as err:
            raise UserError(f"{target}: cannot write image ({err.strerror or err})") from err
    return target


def _normalise_layout(pixels: np.ndarray, alpha: np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an H x W x C image with C in 1..4, got shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"cannot write an empty image of shape {pixels.shape}")
    if pixels.shape[2] in (2, 4):
        if alpha is not None:
            raise ValueError("pixels already hold an alpha channel and alpha= was given too")
        pixels, alpha = pixels[:, :, :-1], pixels[:, :, -1]
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.ndim == 3 and alpha.shape[2] == 1:
            alpha = alpha[:, :, 0]
        if alpha.shape != pixels.shape[:2]:
            raise ValueError(f"alpha shape {alpha.shape} does not match image {pixels.shape[:2]}")
    for array in (pixels, alpha):
        if array is not None and not np.issubdtype(array.dtype, np.floating):
            bit_depth_of(array.dtype)  # raises TypeError for int32, bool, ...
    return pixels, alpha


def _target_depth(pixels: np.ndarray, info: ImageInfo | None, bit_depth: int | None) -> int:
    if bit_depth is None:
        if np.issubdtype(pixels.dtype, np.floating):
            bit_depth = info.bit_depth if info is not None else 8
        else:
            bit_depth = bit_depth_of(pixels.dtype)
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    return bit_depth


def _matching_icc(profile: bytes | None, channels: int) -> bytes | None:
    """The profile if its colour space (header bytes 16..20) matches the written data."""
    if not profile or len(profile) < 20:
        return None
    space = profile[16:20]
    wanted = b"RGB " if channels == 3 else b"GRAY"
    return profile if space == wanted else None


def _reset_orientation(exif: bytes | None) -> bytes | None:
    """EXIF bytes with the orientation tag set to 1 (so viewers do not rotate again)."""
    if not exif:
        return None
    try:
        block = PIL.Image.Exif()
        block.load(exif)
        if ORIENTATION_TAG in block:
            block[ORIENTATION_TAG] = 1
        return block.tobytes()
    except Exception:  # unparseable EXIF: drop it rather than risk a rotated output  # noqa: BLE001
        return None


def _encode(tmp: Path, fmt: str, samples: np.ndarray, depth: int, *, icc: bytes | None,
            exif: bytes | None, dpi: tuple[float, float] | None, quality: int) -> None:
    """Encode ``H x W x S`` samples (colour then alpha) into ``tmp`` as ``fmt``."""
    if depth == 16 and fmt == "PNG":
        tmp.write_bytes(encode_png(samples, icc_profile=icc, exif=exif, dpi=dpi))
        return
    if depth == 16 and fmt == "TIFF":
        _write_tiff16(tmp, samples, icc=icc, dpi=dpi)
        return
    image = PIL.Image.fromarray(samples[:, :, 0] if samples.shape[2] == 1 else samples)
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if dpi:
        options["dpi"] = dpi
    if fmt == "JPEG":
        options.update(quality=int(quality), subsampling=JPEG_SUBSAMPLING)
    elif fmt == "WEBP":
        options.update(quality=int(quality), lossless=quality >= 100, exact=True)
    elif fmt == "TIFF":
        options.update(compression=TIFF_COMPRESSION)
    image.save(tmp, format=fmt, **options)


def _write_tiff16(tmp: Path, samples: np.ndarray, *, icc: bytes | None,
                  dpi: tuple[float, float] | None) -> None:
    import tifffile

    colour = 3 if samples.shape[2] >= 3 else 1
    options: dict[str, object] = {}
    if samples.shape[2] > colour:
        options["extrasamples"] = ["unassalpha"]
    if icc:
        options["iccprofile"] = icc
    if dpi:
        options.update(resolution=dpi, resolutionunit="INCH")
    data = samples[:, :, 0] if samples.shape[2] == 1 else samples
    tifffile.imwrite(tmp, data, photometric="rgb" if colour == 3 else "minisblack",
                     compression="zlib", predictor=True, metadata=None, **options)
