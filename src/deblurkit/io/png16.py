"""16-bit colour PNG: a small numpy + zlib encoder and a PyAV (FFmpeg) decoder.

Pillow 13 has no 16-bit multi-channel mode: it decodes 16-bit RGB / RGBA / gray+alpha PNGs
to 8 bits (dropping the low byte) and cannot write them. Writing is simple enough to do here
(every PNG filter can be computed from the unfiltered neighbours, so it vectorizes); decoding
needs the sequential un-filtering, which FFmpeg does for us through PyAV (a declared
dependency).

Why not a library encoder: Pillow 13 still refuses ``H x W x 3`` and ``x 4`` uint16 arrays
("Cannot handle this data type"; only 16-bit gray, mode ``I;16``, round-trips).
``imagecodecs.png_encode`` (2026.3.6) writes valid 16-bit PNGs that this module decodes
losslessly, at about the same size and speed, but not the same bytes (other filter choices),
it has no way to write the iCCP, eXIf and pHYs chunks (the ICC profile, EXIF and dpi kept by
``write_image``), and it is a 79 MB dependency to pin. This encoder stays; its output is
checked against Pillow's (independent) and PyAV's decoders in ``tests/test_io.py``.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG colour type for a given number of samples per pixel (gray, gray+alpha, RGB, RGBA).
COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
#: zlib level used for IDAT (the same default as libpng / Pillow).
DEFAULT_COMPRESS_LEVEL = 6
#: Rows filtered and compressed per step (bounds the temporary memory).
ROWS_PER_BLOCK = 256
#: Metres per inch, for the pHYs chunk.
METRES_PER_INCH = 0.0254


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _filter_rows(raw: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """Choose a PNG filter per row (minimum sum of absolute signed bytes) and apply it.

    All five filters predict from unfiltered neighbours, so each is computed for every row
    at once; byte arithmetic wraps modulo 256 as PNG requires.

    Args:
        raw: ``rows x rowbytes`` uint8, the unfiltered scanlines.
        prev: ``rowbytes`` uint8, the scanline above the first row (zeros for the first block).
        bpp: bytes per complete pixel.

    Returns:
        ``rows x (1 + rowbytes)`` uint8: filter type byte + filtered scanline.
    """
    up = np.vstack([prev[None], raw[:-1]])
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    upleft = np.zeros_like(raw)
    upleft[:, bpp:] = up[:, :-bpp]
    a, b, c = (v.astype(np.int16) for v in (left, up, upleft))
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    del a, b, c, pa, pb, pc
    average = ((left.astype(np.uint16) + up) >> 1).astype(np.uint8)
    candidates = (raw, raw - left, raw - up, raw - average, raw - paeth)
    # |signed byte| = min(v, 256 - v) in wrapping uint8 arithmetic
    costs = np.stack([np.minimum(f, 0 - f).sum(axis=1, dtype=np.uint32) for f in candidates])
    choice = costs.argmin(axis=0)
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    out[:, 0] = choice
    for kind, filtered in enumerate(candidates):
        rows = choice == kind
        out[rows, 1:] = filtered[rows]
    return out


def encode_png(pixels: np.ndarray, *, icc_profile: bytes | None = None,
               exif: bytes | None = None, dpi: tuple[float, float] | None = None,
               compress_level: int = DEFAULT_COMPRESS_LEVEL) -> bytes:
    """Encode an ``H x W x S`` uint16 or uint8 array (S = 1..4 samples) as a PNG file.

    Samples are gray, gray+alpha, RGB or RGBA (PNG colour types 0, 4, 2, 6); the bit depth
    follows the dtype. Optional iCCP, eXIf and pHYs chunks carry the ICC profile, EXIF block
    and resolution.

    Args:
        pixels: the image.
        icc_profile: ICC profile bytes to embed (iCCP), or None.
        exif: EXIF block (with or without the ``Exif\\0\\0`` prefix), or None.
        dpi: (x, y) resolution in dots per inch, or None.
        compress_level: zlib level 0..9.

    Returns:
        The PNG file as bytes.

    Example:
        >>> encode_png(np.zeros((2, 3, 3), np.uint16))[:8] == PNG_SIGNATURE
        True
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width, samples = pixels.shape
    if samples not in COLOUR_TYPE:
        raise ValueError(f"PNG holds 1 to 4 samples per pixel, got {samples}")
    if pixels.dtype == np.uint16:
        depth, raw = 16, pixels.astype(">u2")
    elif pixels.dtype == np.uint8:
        depth, raw = 8, pixels
    else:
        raise TypeError(f"PNG encoder needs uint8 or uint16, got {pixels.dtype}")
    bpp = samples * depth // 8
    rows = np.ascontiguousarray(raw).view(np.uint8).reshape(height, width * bpp)

    parts = [PNG_SIGNATURE,
             _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth,
                                          COLOUR_TYPE[samples], 0, 0, 0))]
    if icc_profile:
        parts.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if dpi:
        ppm = [max(1, round(d / METRES_PER_INCH)) for d in dpi]
        parts.append(_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if exif:
        parts.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))

    compressor = zlib.compressobj(compress_level)
    idat = []
    prev = np.zeros(width * bpp, np.uint8)
    for start in range(0, height, ROWS_PER_BLOCK):
        block = rows[start:start + ROWS_PER_BLOCK]
        idat.append(compressor.compress(_filter_rows(block, prev, bpp).tobytes()))
        prev = block[-1]
    idat.append(compressor.flush())
    parts.append(_chunk(b"IDAT", b"".join(idat)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def png_header(path: str | os.PathLike) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None if the file is not a PNG."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def decode_png16(path: str | os.PathLike) -> np.ndarray:
    """Decode a 16-bit PNG with FFmpeg (PyAV) into an ``H x W x S`` uint16 array.

    Samples are the file's own: 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA). Palette and
    8-bit files are not handled here (Pillow reads them losslessly).

    Raises:
        ValueError: FFmpeg produced no frame, or a sample layout this function does not know.
    """
    import av

    layouts = {"gray16be": 1, "ya16be": 2, "rgb48be": 3, "rgba64be": 4}
    with av.open(os.fspath(path)) as container:
        frame = next(container.decode(video=0), None)
    if frame is None:
        raise ValueError("FFmpeg decoded no image")
    name = frame.format.name
    if name not in layouts:
        raise ValueError(f"unexpected 16-bit PNG layout {name!r}")
    samples = layouts[name]
    plane = frame.planes[0]
    stride = plane.line_size // 2
    data = np.frombuffer(plane, dtype=">u2").reshape(frame.height, stride)
    data = data[:, : frame.width * samples].reshape(frame.height, frame.width, samples)
    return data.astype(np.uint16)
