"""The in-memory image: pixels, optional alpha, and what we know about the source file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageInfo:
    """Facts about an image file, kept so that the output can be written like the input.

    Attributes:
        path: the source file (None for an image made in memory).
        format: Pillow format name of the source, e.g. ``"PNG"``, ``"JPEG"``, ``"TIFF"``.
        mode: Pillow mode of the source file, e.g. ``"RGB"``, ``"I;16"``, ``"P"``, ``"CMYK"``
            (a 16-bit RGB PNG is reported by Pillow as ``"RGB"``; see ``bit_depth``).
        bit_depth: 8 or 16, the depth of the returned pixel array.
        channels: 1 or 3, colour channels of the pixel array (alpha excluded).
        has_alpha: whether an alpha plane was read.
        icc_profile: the embedded ICC profile, or None. None for CMYK sources: their profile
            describes CMYK data and would be wrong on the RGB pixels we return.
        exif: the EXIF block with the orientation tag reset to 1 (JPEG, PNG, WebP sources),
            or None.
        orientation: the EXIF orientation (1..8) that was applied on read; 1 when none.
        dpi: (x, y) resolution in dots per inch (after orientation), or None.
        n_frames: frames in the source file; only the first one is read.
    """

    path: str | None
    format: str
    mode: str
    bit_depth: int
    channels: int
    has_alpha: bool
    icc_profile: bytes | None = None
    exif: bytes | None = None
    orientation: int = 1
    dpi: tuple[float, float] | None = None
    n_frames: int = 1


@dataclass
class Image:
    """An image read from a file.

    Attributes:
        pixels: ``H x W x C`` array, C in {1, 3}, ``uint8`` or ``uint16``; always 3-D.
        alpha: ``H x W`` array of the same dtype, or None.
        info: facts about the source (:class:`ImageInfo`).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    info: ImageInfo

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])
