"""File formats we read and write, by suffix."""

from __future__ import annotations

#: Lower-case suffix -> Pillow format name, for the formats we read and write.
SUFFIX_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".webp": "WEBP",
}
#: Lower-case suffixes of the image files we list and read.
IMAGE_SUFFIXES: frozenset[str] = frozenset(SUFFIX_FORMATS)
#: Formats that store 16 bits per sample (others get 8-bit data, see docs/io.md).
SIXTEEN_BIT_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF"})
#: Formats that store an alpha plane (JPEG and BMP outputs drop it).
ALPHA_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF", "WEBP"})
#: Formats with a grayscale layout (a WebP output of a grayscale image is RGB, R = G = B).
GRAY_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF", "JPEG", "BMP"})
#: Formats whose EXIF block we write back (orientation reset to 1).
EXIF_OUTPUT_FORMATS: frozenset[str] = frozenset({"PNG", "JPEG", "WEBP"})
#: Formats that record a resolution (dpi).
DPI_FORMATS: frozenset[str] = frozenset({"PNG", "TIFF", "JPEG", "BMP"})
