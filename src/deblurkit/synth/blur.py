"""Uniform (spatially invariant) blur: ``b = k * l + n``, then quantisation.

The model of DeblurGAN-style synthesis (S3, and the uniform-blur half of the shared
ground): a sharp image ``l`` convolved with one kernel ``k``, additive Gaussian noise
``n``, clipping to ``[0, 1]`` and rounding to the 8-bit grid of the saved file.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from deblurkit.synth.response import CameraResponse

__all__ = [
    "BOUNDARY_MODES",
    "add_gaussian_noise",
    "blur_with_kernel",
    "convolve",
    "quantize",
]

#: Boundary names accepted by :func:`convolve` (scipy.ndimage names) -> ``numpy.pad`` mode.
BOUNDARY_MODES: dict[str, str] = {
    "reflect": "symmetric",  # d c b a | a b c d | d c b a   (edge sample repeated)
    "mirror": "reflect",  # d c b | a b c d | c b a       (edge sample not repeated)
    "nearest": "edge",  # a a a | a b c d | d d d
    "wrap": "wrap",  # b c d | a b c d | a b c
    "constant": "constant",  # 0 0 0 | a b c d | 0 0 0
}


def convolve(image: np.ndarray, kernel: np.ndarray, *, boundary: str = "reflect") -> np.ndarray:
    """Convolve every channel of an image with a 2-D kernel (true convolution, same size).

    ``out[y, x] = sum_{i,j} kernel[i, j] * image[y + ci - i, x + cj - j]`` with the kernel
    origin ``(ci, cj) = (kh // 2, kw // 2)`` (scipy.ndimage's convention, also for even
    sizes). The kernel is flipped, as convolution requires: for an asymmetric kernel
    this differs from correlation. Computed with FFTs on the padded image (fast for the
    31..65 px kernels of motion blur); the result matches ``scipy.ndimage.convolve``
    with the same mode up to float32 round-off. No clipping (the operation stays linear).

    Args:
        image: ``H x W x C`` or ``H x W`` float image.
        kernel: 2-D kernel.
        boundary: how the image is extended past its border: ``"reflect"`` (default,
            edge pixel repeated), ``"mirror"``, ``"nearest"``, ``"wrap"`` or ``"constant"`` (zeros).

    Returns:
        float32 array with the shape of ``image``.

    Shape:
        ``(H, W, C)`` -> ``(H, W, C)``; ``(H, W)`` -> ``(H, W)``.

    Example:
        >>> img = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
        >>> delta = np.zeros((3, 3)); delta[1, 1] = 1
        >>> bool(np.allclose(convolve(img, delta), img, atol=1e-6))
        True
    """
    if boundary not in BOUNDARY_MODES:
        raise ValueError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARY_MODES)}")
    k = np.asarray(kernel, dtype=np.float32)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"kernel must be a non-empty 2-D array, got shape {k.shape}")
    img = np.asarray(image, dtype=np.float32)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[:, :, None]
    if img.ndim != 3:
        raise ValueError(f"image must be HxW or HxWxC, got shape {np.shape(image)}")
    kh, kw = k.shape
    ci, cj = kh // 2, kw // 2
    pad = ((kh - 1 - ci, ci), (kw - 1 - cj, cj), (0, 0))
    padded = np.pad(img, pad, mode=BOUNDARY_MODES[boundary])
    out = fftconvolve(padded, k[:, :, None], mode="valid", axes=(0, 1)).astype(np.float32, copy=False)
    return out[:, :, 0] if squeeze else out


def add_gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, clip: bool = True
) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` (in ``[0, 1]`` units).

    Args:
        image: float image, any shape.
        sigma: noise standard deviation, ``>= 0`` (e.g. ``2/255``).
        rng: random generator; draws ``image.size`` float32 normals (also when sigma is 0).
        clip: clip the result to ``[0, 1]`` (default, the array convention). Clipping
            biases the noise near 0 and 1; pass False for the pure additive model.

    Returns:
        float32 array of the same shape.

    Example:
        >>> flat = np.full((64, 64, 3), 0.5, np.float32)
        >>> noisy = add_gaussian_noise(flat, 0.01, np.random.default_rng(0))
        >>> round(float(noisy.std()), 2)
        0.01
    """
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    img = np.asarray(image, dtype=np.float32)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    out = img + np.float32(sigma) * noise
    return np.clip(out, 0.0, 1.0) if clip else out


def quantize(image: np.ndarray, bits: int = 8) -> np.ndarray:
    """Clip to ``[0, 1]`` and round to the grid ``i / (2**bits - 1)`` (round half to even).

    The same rounding as saving with ``deblurkit.io.from_float`` and reading back.

    Args:
        image: float image, any shape.
        bits: bit depth, 1..16.

    Returns:
        float32 array of the same shape.

    Example:
        >>> quantize(np.array([0.5, 1.2, -0.1]), bits=1).tolist()
        [0.0, 1.0, 0.0]
    """
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    levels = np.float32(2 ** int(bits) - 1)
    x = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return (np.round(x * levels) / levels).astype(np.float32, copy=False)


def blur_with_kernel(
    sharp: np.ndarray,
    kernel: np.ndarray,
    *,
    noise_sigma: float = 0.0,
    rng: np.random.Generator | None = None,
    bits: int | None = 8,
    response: CameraResponse | None = None,
    boundary: str = "reflect",
) -> np.ndarray:
    """Uniform blur ``b = quantize(clip(k * l + n))``.

    Steps: (1) if ``response`` is given, ``l`` is taken to linear light with
    ``response.to_linear``, convolved there and encoded back with
    ``response.from_linear`` (physically, the sensor integrates light); by default
    (``None``) the convolution runs on the encoded values, as DeblurGAN did;
    (2) Gaussian noise of ``noise_sigma`` is added to the encoded result; (3) clip to
    ``[0, 1]``; (4) quantise to ``bits`` (``None`` skips it).

    Args:
        sharp: ``H x W x C`` (or ``H x W``) float image in ``[0, 1]``.
        kernel: 2-D blur kernel (normally ``>= 0`` and summing to 1).
        noise_sigma: noise standard deviation in ``[0, 1]`` units.
        rng: required when ``noise_sigma > 0``.
        bits: output bit depth, or None for no quantisation.
        response: camera response for blurring in linear light, or None.
        boundary: border handling of :func:`convolve`.

    Returns:
        float32 blurred image, same shape, in ``[0, 1]``.

    Shape:
        ``(H, W, C)`` -> ``(H, W, C)``.

    Example:
        >>> from deblurkit.synth.kernels import linear_motion_kernel
        >>> sharp = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
        >>> b = blur_with_kernel(sharp, linear_motion_kernel(8, 45, 9))
        >>> b.shape, b.dtype
        ((32, 32, 3), dtype('float32'))
    """
    if noise_sigma > 0 and rng is None:
        raise ValueError("blur_with_kernel needs an rng when noise_sigma > 0")
    img = np.asarray(sharp, dtype=np.float32)
    if response is not None:
        blurred = response.from_linear(convolve(response.to_linear(img), kernel, boundary=boundary))
    else:
        blurred = convolve(img, kernel, boundary=boundary)
    if noise_sigma > 0:
        assert rng is not None
        blurred = add_gaussian_noise(blurred, noise_sigma, rng, clip=False)
    if bits is None:
        return np.clip(blurred, 0.0, 1.0)
    return quantize(blurred, bits)
