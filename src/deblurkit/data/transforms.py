"""Paired geometric augmentation: one crop / flip / rotation drawn once, applied to every image.

Arrays are ``H x W x C`` (any dtype). The random draws come from a caller-supplied
``numpy.random.Generator`` in a fixed order -- crop top, crop left, then three uniforms for
vertical flip, horizontal flip and rotation -- and all five are drawn whatever the settings, so
turning a flip on or off never moves the crops. Operations run in the order
crop -> vertical flip -> horizontal flip -> rotation by 90 degrees counter-clockwise.
Each of the three is applied with probability 1/2 when enabled, so with all three enabled the
eight orientations of the square (the dihedral group) are equally likely.

No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Probability of each enabled flip / rotation.
FLIP_PROBABILITY = 0.5


class CropTooLargeError(ValueError):
    """The crop does not fit in the image (datasets turn it into a UserError naming files)."""


def normalize_crop_size(crop_size: int | tuple[int, int] | list[int] | None
                        ) -> tuple[int, int] | None:
    """``256`` -> ``(256, 256)``; ``(h, w)`` kept; None kept. Sizes must be positive ints."""
    if crop_size is None:
        return None
    if isinstance(crop_size, (int, np.integer)) and not isinstance(crop_size, bool):
        size = (int(crop_size), int(crop_size))
    else:
        values = tuple(crop_size)
        if len(values) != 2:
            raise ValueError(f"crop_size={crop_size!r}: give one int or (height, width)")
        size = (int(values[0]), int(values[1]))
    if min(size) <= 0:
        raise ValueError(f"crop_size={crop_size!r}: must be positive")
    return size


@dataclass(frozen=True)
class Geometry:
    """One drawn augmentation: a crop window in input coordinates, then flips and rotation.

    Attributes:
        top, left: top-left corner of the crop in the input image.
        height, width: crop size (the input size when no crop).
        vflip: flip up-down after cropping.
        hflip: flip left-right after that.
        rot90: then rotate by 90 degrees counter-clockwise (output is ``width x height``).
    """

    top: int
    left: int
    height: int
    width: int
    vflip: bool = False
    hflip: bool = False
    rot90: bool = False

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Apply to one ``H x W x C`` (or ``H x W``) array; see :func:`apply_geometry`."""
        return apply_geometry(image, self)


def crop(image: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Cut ``image[top:top+height, left:left+width]`` (a view).

    Args:
        image: ``H x W [x C]`` array.
        top, left: corner of the window.
        height, width: window size.

    Returns:
        ``height x width [x C]`` view.

    Raises:
        CropTooLargeError: the window leaves the image.

    Example:
        >>> crop(np.arange(12).reshape(3, 4), 1, 2, 2, 2).tolist()
        [[6, 7], [10, 11]]
    """
    h, w = image.shape[:2]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise CropTooLargeError(f"crop {height}x{width} at ({top}, {left}) does not fit in a "
                                f"{h}x{w} image")
    return image[top:top + height, left:left + width]


def flip_rotate(image: np.ndarray, vflip: bool = False, hflip: bool = False,
                rot90: bool = False) -> np.ndarray:
    """Flip up-down, then left-right, then rotate 90 degrees counter-clockwise, as asked.

    Args:
        image: ``H x W [x C]`` array.
        vflip, hflip, rot90: which operations to apply.

    Returns:
        A C-contiguous array, ``H x W`` or (with ``rot90``) ``W x H``.

    Example:
        >>> flip_rotate(np.array([[1, 2], [3, 4]]), rot90=True).tolist()
        [[2, 4], [1, 3]]
    """
    out = image
    if vflip:
        out = out[::-1]
    if hflip:
        out = out[:, ::-1]
    if rot90:
        out = np.rot90(out, k=1, axes=(0, 1))
    return np.ascontiguousarray(out)


def apply_geometry(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Crop, flip and rotate ``image`` as ``geometry`` says.

    Args:
        image: ``H x W [x C]`` array.
        geometry: from :func:`sample_geometry`.

    Returns:
        C-contiguous array of the crop size (``width x height`` when rotated).
    """
    window = crop(image, geometry.top, geometry.left, geometry.height, geometry.width)
    return flip_rotate(window, geometry.vflip, geometry.hflip, geometry.rot90)


def sample_geometry(image_size: tuple[int, int], rng: np.random.Generator,
                    crop_size: int | tuple[int, int] | None = None, *,
                    random_crop: bool = True, hflip: bool = False, vflip: bool = False,
                    rot90: bool = False) -> Geometry:
    """Draw one augmentation for an image of ``image_size``.

    Draw order (always all five): ``top = rng.integers(0, H - h + 1)``,
    ``left = rng.integers(0, W - w + 1)``, ``u = rng.random(3)``; vflip = enabled and
    ``u[0] < 0.5``, hflip = enabled and ``u[1] < 0.5``, rot90 = enabled and ``u[2] < 0.5``.

    Args:
        image_size: ``(H, W)`` of the input.
        rng: the generator of this item.
        crop_size: ``int``, ``(h, w)`` or None (no crop).
        random_crop: False for the centre crop ``((H - h) // 2, (W - w) // 2)`` (the random
            draws still happen).
        hflip, vflip, rot90: enable each operation.

    Returns:
        The :class:`Geometry`.

    Raises:
        CropTooLargeError: the crop is larger than the image.

    Example:
        >>> g = sample_geometry((4, 6), np.random.default_rng(0), 2, hflip=True)
        >>> (g.height, g.width)
        (2, 2)
    """
    h_img, w_img = int(image_size[0]), int(image_size[1])
    size = normalize_crop_size(crop_size) or (h_img, w_img)
    height, width = size
    if height > h_img or width > w_img:
        raise CropTooLargeError(f"crop {height}x{width} is larger than the image "
                                f"{h_img}x{w_img}")
    top = int(rng.integers(0, h_img - height + 1))
    left = int(rng.integers(0, w_img - width + 1))
    u = rng.random(3)
    if not random_crop:
        top, left = (h_img - height) // 2, (w_img - width) // 2
    return Geometry(top, left, height, width,
                    vflip=bool(vflip and u[0] < FLIP_PROBABILITY),
                    hflip=bool(hflip and u[1] < FLIP_PROBABILITY),
                    rot90=bool(rot90 and u[2] < FLIP_PROBABILITY))


class PairedTransform:
    """The same random crop / flips / rotation on both images of a pair.

    Args:
        crop_size: ``int`` (square), ``(h, w)``, or None for no crop. A crop larger than the
            image is an error (no padding: padding would invent content that the sharp image
            does not have in the scene).
        hflip: random left-right flip (p = 1/2).
        vflip: random up-down flip (p = 1/2).
        rot90: random 90-degree rotation (p = 1/2); needs a square crop (or no crop) so that
            every item of a batch has one shape.
        random_crop: False takes the centre crop (validation).

    Shape:
        - blur, sharp: ``H x W x C`` with equal ``H x W``.
        - outputs: ``h x w x C`` (crop size), C-contiguous.

    Example:
        >>> t = PairedTransform(crop_size=2, hflip=True)
        >>> a = np.arange(24, dtype=np.float32).reshape(4, 6, 1)
        >>> b, s = t(a, a.copy(), np.random.default_rng([0, 0, 5]))
        >>> bool((b == s).all()), b.shape
        (True, (2, 2, 1))
    """

    def __init__(self, crop_size: int | tuple[int, int] | None = None, hflip: bool = False,
                 vflip: bool = False, rot90: bool = False, random_crop: bool = True) -> None:
        self.crop_size = normalize_crop_size(crop_size)
        if rot90 and self.crop_size is not None and self.crop_size[0] != self.crop_size[1]:
            raise ValueError(f"rot90 needs a square crop, got {self.crop_size}: items of one "
                             "batch would have two shapes")
        self.hflip, self.vflip, self.rot90 = bool(hflip), bool(vflip), bool(rot90)
        self.random_crop = bool(random_crop)

    def sample(self, image_size: tuple[int, int], rng: np.random.Generator) -> Geometry:
        """Draw the geometry for one item; see :func:`sample_geometry`."""
        return sample_geometry(image_size, rng, self.crop_size, random_crop=self.random_crop,
                               hflip=self.hflip, vflip=self.vflip, rot90=self.rot90)

    def __call__(self, blur: np.ndarray, sharp: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Apply one drawn geometry to both images.

        Raises:
            ValueError: the two images differ in size.
            CropTooLargeError: the crop does not fit.
        """
        if blur.shape[:2] != sharp.shape[:2]:
            raise ValueError(f"pair sizes differ: {blur.shape[:2]} and {sharp.shape[:2]}")
        geometry = self.sample(blur.shape[:2], rng)
        return geometry.apply(blur), geometry.apply(sharp)

    def describe(self) -> dict[str, Any]:
        """Settings as a plain dict, for result records."""
        return {"crop_size": list(self.crop_size) if self.crop_size else None,
                "random_crop": self.random_crop, "hflip": self.hflip, "vflip": self.vflip,
                "rot90": self.rot90}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items())
        return f"PairedTransform({args})"
