"""PSNR and SSIM in numpy: the reference implementation every other score is checked against.

Both functions follow one pipeline, fixed by a :class:`~deblurkit.metrics.config.MetricConfig`:

1. bring the pair to a common scale (same dtype: native units; different dtypes: float
   ``[0, 1]``, integers divided by their dtype maximum);
2. ``quantize``: round a float *restored* image to the ``quantize_bits`` grid (clip to
   ``[0, 1]`` first), which is what saving it as an 8-bit file does;
3. ``crop_border``: drop that many pixels from each side;
4. ``channel="y"``: replace RGB by BT.601 luma (:func:`~deblurkit.metrics.color.rgb_to_y`);
5. score in float64 with ``data_range`` (default from the dtype).

SSIM matches :func:`skimage.metrics.structural_similarity` (``channel_axis=-1`` for colour:
the mean of per-channel SSIM); PSNR matches :func:`skimage.metrics.peak_signal_noise_ratio`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from deblurkit.metrics.color import dtype_peak, rgb_to_y
from deblurkit.metrics.config import MetricConfig, make_config

#: Boundary handling of the SSIM filters (scikit-image's; only matters when the gaussian
#: window is wider than the excluded border).
FILTER_MODE = "reflect"


class MetricInputError(ValueError):
    """A pair of images that cannot be scored (shape, channels, dtype, too small)."""


def _check_image(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] < 1:
        raise MetricInputError(f"{name} must be H x W or H x W x C, got shape {array.shape}")
    if not (array.dtype in (np.uint8, np.uint16) or np.issubdtype(array.dtype, np.floating)):
        raise MetricInputError(f"{name} has dtype {array.dtype}; use uint8, uint16 or float")
    return array


def quantize(image: np.ndarray, bits: int) -> np.ndarray:
    """Round a float ``[0, 1]`` image to the ``bits``-bit grid (clip, round half to even).

    Args:
        image: float array in ``[0, 1]`` (values outside are clipped, as saving would).
        bits: bit depth; the grid is ``k / (2**bits - 1)``.

    Returns:
        float64 array of the same shape on the grid.

    Example:
        >>> quantize(np.array([0.5, 1.2, 0.002]), 8) * 255
        array([128., 255.,   1.])
    """
    levels = float(2 ** int(bits) - 1)
    return np.round(np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0) * levels) / levels


def prepare_pair(restored: np.ndarray, reference: np.ndarray,
                 config: MetricConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """Apply steps 1-4 of the pipeline; return float64 ``H' x W' x C'`` arrays and the range.

    Args:
        restored: the image being judged, ``H x W`` or ``H x W x C``.
        reference: the ground truth, same shape.
        config: the conventions.

    Returns:
        ``(restored, reference, data_range)``: float64 arrays, cropped, luma if asked (then
        ``C' = 1``), and the data range to score them with.

    Raises:
        MetricInputError: shapes differ, unsupported dtype, Y of a non-RGB image, or nothing
            left after cropping.
    """
    x = _check_image(np.asarray(restored), "restored")
    y = _check_image(np.asarray(reference), "reference")
    if x.shape != y.shape:
        raise MetricInputError(f"restored {x.shape[:2]}x{x.shape[2]} and reference "
                               f"{y.shape[:2]}x{y.shape[2]} differ in size or channels")
    x_float = np.issubdtype(x.dtype, np.floating)
    y_float = np.issubdtype(y.dtype, np.floating)
    if x.dtype == y.dtype or (x_float and y_float):
        peak = dtype_peak(x.dtype)
        x_scaled = x.astype(np.float64)
        y_scaled = y.astype(np.float64)
    else:  # different storage: compare in float [0, 1]
        peak = 1.0
        x_scaled = x.astype(np.float64) / dtype_peak(x.dtype)
        y_scaled = y.astype(np.float64) / dtype_peak(y.dtype)
    if config.quantize and x_float:
        # a float restored image is what a model produced; score what saving it gives.
        x_scaled = quantize(x_scaled / peak, config.quantize_bits) * peak
    b = int(config.crop_border)
    if b:
        if 2 * b >= x.shape[0] or 2 * b >= x.shape[1]:
            raise MetricInputError(f"crop_border={b} leaves nothing of a "
                                   f"{x.shape[0]}x{x.shape[1]} image")
        x_scaled = x_scaled[b:-b, b:-b]
        y_scaled = y_scaled[b:-b, b:-b]
    if config.channel == "y":
        if x.shape[-1] not in (1, 3):
            raise MetricInputError(f"channel='y' needs RGB or grey images, got {x.shape[-1]} "
                                   "channels")
        x_scaled = rgb_to_y(x_scaled, peak)[..., None]
        y_scaled = rgb_to_y(y_scaled, peak)[..., None]
    data_range = float(config.data_range) if config.data_range is not None else peak
    return x_scaled, y_scaled, data_range


def psnr(restored: np.ndarray, reference: np.ndarray, config: MetricConfig | None = None,
         **overrides: Any) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(L^2 / MSE)`` over all pixels and channels.

    Args:
        restored: ``H x W`` or ``H x W x C``; uint8, uint16 or float in ``[0, 1]``.
        reference: the ground truth, same shape.
        config: conventions (default :class:`MetricConfig`); ``overrides`` replace fields,
            e.g. ``psnr(a, b, channel="y", crop_border=4)``.

    Returns:
        PSNR in dB; ``inf`` when the scored arrays are identical (MSE = 0).

    Example:
        >>> a = np.zeros((8, 8), np.uint8); b = a.copy(); b[0, 0] = 255
        >>> round(psnr(a, b), 4)   # MSE = 255^2 / 64
        18.0618
    """
    cfg = make_config(config, **overrides)
    return _psnr_prepared(*prepare_pair(restored, reference, cfg))


def _psnr_prepared(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    mse = float(np.mean((x - y) ** 2, dtype=np.float64))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range ** 2 / mse))


def _ssim_filter(image: np.ndarray, cfg: MetricConfig) -> np.ndarray:
    if cfg.ssim_window == "gaussian":
        return ndimage.gaussian_filter(image, sigma=cfg.sigma, truncate=cfg.truncate,
                                       mode=FILTER_MODE)
    return ndimage.uniform_filter(image, size=cfg.resolved_win_size, mode=FILTER_MODE)


def ssim_map(x: np.ndarray, y: np.ndarray, data_range: float, cfg: MetricConfig) -> np.ndarray:
    """Local SSIM of two float64 ``H x W`` arrays, border of ``(win_size - 1) // 2`` removed.

    Args:
        x, y: single-channel float64 images (already prepared by :func:`prepare_pair`).
        data_range: ``L`` in ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``.
        cfg: window and constants.

    Returns:
        ``(H - 2p) x (W - 2p)`` SSIM values, ``p = (win_size - 1) // 2``.

    Raises:
        MetricInputError: the window is larger than the image.
    """
    win = cfg.resolved_win_size
    if x.shape[0] < win or x.shape[1] < win:
        raise MetricInputError(f"SSIM window {win}x{win} is larger than the scored image "
                               f"{x.shape[0]}x{x.shape[1]}")
    n = win * win
    cov_norm = n / (n - 1) if cfg.resolved_use_sample_covariance else 1.0
    ux = _ssim_filter(x, cfg)
    uy = _ssim_filter(y, cfg)
    vx = cov_norm * (_ssim_filter(x * x, cfg) - ux * ux)
    vy = cov_norm * (_ssim_filter(y * y, cfg) - uy * uy)
    vxy = cov_norm * (_ssim_filter(x * y, cfg) - ux * uy)
    c1 = (cfg.K1 * data_range) ** 2
    c2 = (cfg.K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return s[pad:s.shape[0] - pad, pad:s.shape[1] - pad]


def ssim(restored: np.ndarray, reference: np.ndarray, config: MetricConfig | None = None,
         **overrides: Any) -> float:
    """Mean structural similarity (Wang et al. 2004); colour = mean of per-channel SSIM.

    Args:
        restored: ``H x W`` or ``H x W x C``; uint8, uint16 or float in ``[0, 1]``.
        reference: the ground truth, same shape.
        config: conventions (default :class:`MetricConfig`: 7x7 uniform window, sample
            covariance, as scikit-image); ``overrides`` replace fields, e.g.
            ``ssim(a, b, ssim_window="gaussian")`` for Wang et al.'s 11x11 sigma-1.5 window.

    Returns:
        SSIM, 1.0 for identical images.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        >>> ssim(a, a)
        1.0
    """
    cfg = make_config(config, **overrides)
    return _ssim_prepared(*prepare_pair(restored, reference, cfg), cfg)


def _ssim_prepared(x: np.ndarray, y: np.ndarray, data_range: float, cfg: MetricConfig) -> float:
    means = [np.mean(ssim_map(x[..., c], y[..., c], data_range, cfg), dtype=np.float64)
             for c in range(x.shape[-1])]
    return float(np.mean(means))


def psnr_ssim(restored: np.ndarray, reference: np.ndarray, config: MetricConfig | None = None,
              **overrides: Any) -> tuple[float, float]:
    """Both scores of one pair, preparing the pair once (what folder evaluation uses).

    Returns:
        ``(psnr, ssim)``, each equal to what :func:`psnr` and :func:`ssim` return.

    Example:
        >>> a = np.full((8, 8), 0.5)    # a float "restored" image is quantized by default:
        >>> psnr_ssim(a, a)[0] > 54      # 0.5 -> 128/255
        True
        >>> psnr_ssim(a, a, quantize=False)
        (inf, 1.0)
    """
    cfg = make_config(config, **overrides)
    x, y, data_range = prepare_pair(restored, reference, cfg)
    return _psnr_prepared(x, y, data_range), _ssim_prepared(x, y, data_range, cfg)
