"""Luma for scoring: BT.601 Y as MATLAB's ``rgb2ycbcr`` computes it.

Deblurring and super-resolution papers that report "PSNR on Y" use MATLAB's ``rgb2ycbcr``
(studio swing, BT.601): with ``R, G, B`` in ``[0, 1]``,

    Y = 16 + 65.481 R + 128.553 G + 24.966 B        (in [16, 235] on the 0..255 scale)

This module returns that Y *unrounded* and in the input's own units (``Y / 255 * peak``), so
a uint8 image gives Y in ``[16, 235]``, a float image Y in ``[16/255, 235/255]``, a uint16 one
``Y * 257``. Scored with the input's data range (255, 1.0 or 65535), PSNR and SSIM on Y are
then the same whatever the storage type. MATLAB rounds Y to uint8 for uint8 input; we do not
(as BasicSR's ``calculate_psnr(..., test_y_channel=True)``), which moves PSNR by a few
hundredths of a dB at most.
"""

from __future__ import annotations

import numpy as np

#: BT.601 studio-swing luma weights for R, G, B in [0, 1], output on the 0..255 scale.
BT601_Y_WEIGHTS: tuple[float, float, float] = (65.481, 128.553, 24.966)
#: Black-level offset of studio-swing luma on the 0..255 scale.
BT601_Y_OFFSET = 16.0
#: The 0..255 scale the weights and offset are expressed on.
BT601_SCALE = 255.0


def dtype_peak(dtype: np.dtype) -> float:
    """Nominal white of a dtype: 255 for uint8, 65535 for uint16, 1.0 for float.

    Example:
        >>> dtype_peak(np.dtype(np.uint16))
        65535.0
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or dtype == np.uint16:
        return float(np.iinfo(dtype).max)
    if np.issubdtype(dtype, np.floating):
        return 1.0
    raise TypeError(f"unsupported image dtype {dtype} (use uint8, uint16 or float in [0, 1])")


def rgb_to_y(image: np.ndarray, peak: float | None = None) -> np.ndarray:
    """BT.601 luma (MATLAB ``rgb2ycbcr``'s Y), unrounded, in the input's units.

    A one-channel image is treated as ``R = G = B`` (so Y = 16 + 219 g on the 0..255 scale),
    which gives a grey image the same Y whether it is stored with one channel or three.

    Args:
        image: ``H x W x 3`` RGB, or ``H x W`` / ``H x W x 1`` grey; uint8, uint16 or float.
        peak: the value of white in ``image``'s units. None: from the dtype (255, 65535, 1.0).

    Returns:
        ``H x W`` float64 luma in the same units as ``image`` (``[16, 235] * peak / 255``).

    Shape:
        ``(H, W, 3)``, ``(H, W, 1)`` or ``(H, W)`` -> ``(H, W)``.

    Example:
        >>> rgb_to_y(np.array([[[255, 255, 255], [0, 0, 0]]], dtype=np.uint8))
        array([[235.,  16.]])
    """
    array = np.asarray(image)
    if peak is None:
        peak = dtype_peak(array.dtype)
    rgb = array.astype(np.float64) / peak
    if rgb.ndim == 3 and rgb.shape[-1] == 3:
        weighted = rgb @ np.asarray(BT601_Y_WEIGHTS, dtype=np.float64)
    elif rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[-1] == 1):
        grey = rgb if rgb.ndim == 2 else rgb[..., 0]
        weighted = grey * float(sum(BT601_Y_WEIGHTS))
    else:
        raise ValueError(f"rgb_to_y needs an H x W x 3 (or grey) image, got shape {array.shape}")
    return (weighted + BT601_Y_OFFSET) * (peak / BT601_SCALE)
