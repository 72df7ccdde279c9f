"""Classical baselines a learned deblurring model is measured against.

- :func:`wiener_deconvolve` -- non-blind Wiener (Tikhonov-regularised) deconvolution with a
  *known* blur kernel: scikit-image's :func:`skimage.restoration.wiener`, channel by channel,
  with the image padded (and the padding tapered) first so that the FFT's periodic boundary
  does not ring across the frame.
- :func:`tune_wiener_balance` -- choose Wiener's ``balance`` on a set of
  ``(blurred, sharp, kernel)`` triples by mean PSNR (tune on training data, report on test).

This is the *oracle-kernel* baseline of the synthesized data: ``deblurkit synth`` stores the
exact kernel of every ``kernel`` pair (``<split>/<scene>/kernel/<name>.npy``), which no blind
method is given. See ``docs/metrics.md`` ("Wiener baseline").

No torch import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from deblurkit.metrics.config import MetricConfig
from deblurkit.metrics.reference import psnr

__all__ = ["BalanceSearch", "DEFAULT_BALANCE_GRID", "PAD_MODES", "tune_wiener_balance",
           "wiener_deconvolve"]

#: Padding modes of :func:`wiener_deconvolve` (scipy.ndimage names, as in
#: :func:`deblurkit.synth.blur.convolve`) -> ``numpy.pad`` mode. ``None`` = no padding.
PAD_MODES: dict[str, str] = {
    "reflect": "symmetric",  # d c b a | a b c d | d c b a   (edge sample repeated)
    "mirror": "reflect",  # d c b | a b c d | c b a       (edge sample not repeated)
    "nearest": "edge",  # a a a | a b c d | d d d
    "wrap": "wrap",  # b c d | a b c d | a b c       (the FFT's own assumption)
}

#: Default balances searched by :func:`tune_wiener_balance`: 17 values, log-spaced from
#: 1e-4 to 1 (4 per decade). On ``deblurkit synth``'s kernel pairs (noise sigma up to 0.01)
#: the best value is near 1e-3, so the grid reaches a decade below it.
DEFAULT_BALANCE_GRID: tuple[float, ...] = tuple(float(b) for b in np.logspace(-4.0, 0.0, 17))


def _as_float_image(image: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0 or (array.ndim == 3 and array.shape[2] < 1):
        raise ValueError(f"{name} must be a non-empty H x W or H x W x C array, "
                         f"got shape {array.shape}")
    if array.dtype in (np.uint8, np.uint16):
        return array.astype(np.float64) / float(np.iinfo(array.dtype).max)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{name} has dtype {array.dtype}; use uint8, uint16 or float in [0, 1]")
    return array.astype(np.float64)


def _check_kernel(kernel: np.ndarray) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"kernel must be a non-empty 2-D array, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel holds NaN or infinite values")
    if not k.sum() > 0:
        raise ValueError(f"kernel must have a positive sum, got {k.sum()}")
    return k


def _raised_cosine_ramp(length: int, width: int) -> np.ndarray:
    """1-D weights: 0 -> 1 over the first ``width`` samples, 1 inside, 1 -> 0 over the last."""
    ramp = np.ones(length, dtype=np.float64)
    if width > 0:
        rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(width) + 0.5) / width)
        ramp[:width] = rise
        ramp[length - width:] = rise[::-1]
    return ramp


def _circular_blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Periodic convolution of every channel (kernel origin ``(kh // 2, kw // 2)``)."""
    height, width = image.shape[:2]
    kh, kw = kernel.shape
    spread = np.zeros((height, width), dtype=np.float64)
    spread[:kh, :kw] = kernel
    spread = np.roll(spread, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    transfer = np.fft.rfft2(spread)[:, :, None]
    return np.fft.irfft2(np.fft.rfft2(image, axes=(0, 1)) * transfer, s=(height, width),
                         axes=(0, 1))


def wiener_deconvolve(blurred: np.ndarray, kernel: np.ndarray, balance: float, *,
                      pad: str | None = "nearest", taper: bool = True) -> np.ndarray:
    """Non-blind Wiener deconvolution of every channel with a known kernel.

    Inverts the blur model of :func:`deblurkit.synth.blur.convolve`,
    ``b[y, x] = sum_{i,j} k[i, j] l[y + ci - i, x + cj - j]`` with the kernel origin
    ``(ci, cj) = (kh // 2, kw // 2)``: the same (true convolution) orientation and origin, so
    the kernel stored next to a synthesized pair is passed as it is, without flipping.
    Each channel goes through :func:`skimage.restoration.wiener` (a Wiener-Hunt
    deconvolution: ``L = conj(K) B / (|K|^2 + balance |R|^2)`` with ``R`` the Laplacian
    regulariser, scikit-image's default), computed in float64.

    **Boundaries.** The FFT treats the image as periodic: its right edge wraps onto its left
    edge, and the jump there (which no blur by ``k`` explains) rings through the whole
    restoration. So the image is first padded by ``p = max(kh, kw)`` pixels on every side
    with ``pad``; with ``taper`` (default) the padded band is then blended, with a
    raised-cosine weight going from 1 at the image border to 0 at the outer edge, into its
    own *periodic* blur by ``k``, so that the outer edge of the padded image is exactly what
    the periodic model expects (the idea of MATLAB's ``edgetaper``; the image pixels
    themselves are never changed). After the deconvolution the padding is cropped.
    ``pad="nearest"`` with the taper is the default because it measured best: on 12 of
    ``deblurkit synth``'s 256 x 256 kernel pairs (31 px kernels), at each variant's best
    balance, nearest + taper reached 19.8 dB, reflect + taper 17.5 dB, nearest alone 17.5 dB,
    reflect alone 16.6 dB (the blurred inputs: 15.3 dB). ``pad=None`` deconvolves the image
    as it is (periodic boundary; right for an image blurred with ``boundary="wrap"``).

    The kernel is used as given (not normalised): its sum is the gain of the blur.

    Args:
        blurred: ``H x W x C`` or ``H x W`` image, float in ``[0, 1]`` (or uint8 / uint16 at
            their native range).
        kernel: 2-D blur kernel (normally ``>= 0``, summing to 1), positive sum.
        balance: regularisation weight, ``> 0``: larger values trade sharpness for less
            noise and ringing (:func:`tune_wiener_balance` chooses it).
        pad: border extension before the FFT, by ``max(kh, kw)`` pixels: ``"nearest"``
            (default), ``"reflect"``, ``"mirror"``, ``"wrap"`` (see :data:`PAD_MODES`), or
            None for none.
        taper: blend the padded band into its periodic blur (ignored with ``pad=None``).

    Returns:
        The restored image, float32, clipped to ``[0, 1]``.

    Raises:
        ValueError: the image is not ``H x W`` / ``H x W x C``, the kernel is not 2-D, not
            finite or has a non-positive sum, ``balance <= 0``, an unknown ``pad``, or
            ``pad=None`` with a kernel larger than the image.

    Shape:
        ``(H, W, C)`` -> ``(H, W, C)``; ``(H, W)`` -> ``(H, W)``.

    Example:
        >>> from deblurkit.synth.blur import convolve
        >>> from deblurkit.synth.kernels import linear_motion_kernel
        >>> sharp = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
        >>> kernel = linear_motion_kernel(7, 30, 9)
        >>> restored = wiener_deconvolve(convolve(sharp, kernel), kernel, 1e-4)
        >>> restored.shape, restored.dtype
        ((48, 48, 3), dtype('float32'))
    """
    from skimage.restoration import wiener

    image = _as_float_image(blurred, "blurred")
    k = _check_kernel(kernel)
    if not balance > 0:
        raise ValueError(f"balance must be > 0, got {balance!r}")
    if pad is not None and pad not in PAD_MODES:
        raise ValueError(f"unknown pad {pad!r}; choose one of {sorted(PAD_MODES)} or None")
    squeeze = image.ndim == 2
    if squeeze:
        image = image[:, :, None]
    height, width = image.shape[:2]
    if pad is None:
        if k.shape[0] > height or k.shape[1] > width:
            raise ValueError(f"kernel {k.shape[0]}x{k.shape[1]} is larger than the image "
                             f"{height}x{width}; pad the image (pad='nearest')")
        border = 0
        padded = image
    else:
        border = max(k.shape)
        padded = np.pad(image, ((border, border), (border, border), (0, 0)),
                        mode=PAD_MODES[pad])
        if taper:
            weight = np.outer(_raised_cosine_ramp(padded.shape[0], border),
                              _raised_cosine_ramp(padded.shape[1], border))[:, :, None]
            padded = weight * padded + (1.0 - weight) * _circular_blur(padded, k)
    out = np.empty_like(padded)
    for c in range(padded.shape[2]):
        out[:, :, c] = wiener(padded[:, :, c], k, float(balance), clip=False)
    out = out[border:border + height, border:border + width]
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    return out[:, :, 0] if squeeze else out


class BalanceSearch(NamedTuple):
    """What :func:`tune_wiener_balance` found.

    Attributes:
        balance: the grid value with the highest mean PSNR (the first one on ties).
        grid: the balances tried, in the order given.
        mean_psnr: mean PSNR (dB) over the triples for each grid value.
        count: number of triples.
    """

    balance: float
    grid: tuple[float, ...]
    mean_psnr: tuple[float, ...]
    count: int


def tune_wiener_balance(pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
                        grid: Sequence[float] = DEFAULT_BALANCE_GRID, *,
                        config: MetricConfig | None = None,
                        pad: str | None = "nearest", taper: bool = True) -> BalanceSearch:
    """Pick the Wiener ``balance`` that maximises the mean PSNR over ``(blurred, sharp, kernel)``.

    Every triple is deconvolved with every grid value (:func:`wiener_deconvolve`) and scored
    against its sharp image with :func:`deblurkit.metrics.psnr` (so with the conventions of
    ``config``: by default the restoration is rounded to 8 bits first, as when saved). Tune on
    training pairs and report on test pairs, or the baseline has seen its test set.

    Args:
        pairs: ``(blurred, sharp, kernel)`` triples; images as for
            :func:`wiener_deconvolve`, ``sharp`` of the same shape (uint8/uint16 or float).
        grid: balances to try, each ``> 0`` (default :data:`DEFAULT_BALANCE_GRID`).
        config: PSNR conventions (default :class:`~deblurkit.metrics.MetricConfig`).
        pad, taper: as for :func:`wiener_deconvolve`.

    Returns:
        A :class:`BalanceSearch`: the best balance, the grid and the mean PSNR per value.

    Raises:
        ValueError: no triples, an empty grid or a value ``<= 0``, or a triple that
            :func:`wiener_deconvolve` / :func:`~deblurkit.metrics.psnr` refuses (shapes).

    Example:
        >>> search = tune_wiener_balance(train_triples, [1e-3, 1e-2, 1e-1])  # doctest: +SKIP
        >>> search.balance, max(search.mean_psnr)                            # doctest: +SKIP
    """
    values = tuple(float(b) for b in grid)
    if not values:
        raise ValueError("grid is empty")
    bad = [b for b in values if not b > 0]
    if bad:
        raise ValueError(f"grid values must be > 0, got {bad}")
    cfg = MetricConfig() if config is None else config
    totals = np.zeros(len(values), dtype=np.float64)
    count = 0
    for blurred, sharp, kernel in pairs:
        if np.shape(blurred) != np.shape(sharp):
            raise ValueError(f"blurred {np.shape(blurred)} and sharp {np.shape(sharp)} "
                             "differ in shape")
        for i, balance in enumerate(values):
            restored = wiener_deconvolve(blurred, kernel, balance, pad=pad, taper=taper)
            totals[i] += psnr(restored, sharp, cfg)
        count += 1
    if count == 0:
        raise ValueError("no (blurred, sharp, kernel) triples to tune on")
    means = totals / count
    best = int(np.argmax(means))
    return BalanceSearch(values[best], values, tuple(float(m) for m in means), count)
