"""Wiener baseline: orientation parity with the synth's convolution, padding, balance tuning."""

from __future__ import annotations

import numpy as np
import pytest

from deblurkit.metrics import MetricConfig, psnr
from deblurkit.metrics.baselines import (DEFAULT_BALANCE_GRID, BalanceSearch,
                                         tune_wiener_balance, wiener_deconvolve)
from deblurkit.synth.blur import blur_with_kernel, convolve

#: Pixels ignored on each side when judging the interior (more than the 9 px kernel).
INTERIOR = 12


def _smooth_image(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A textured image in [0.1, 0.9] (band-limited noise + edges), float32 H x W x 3."""
    noise = rng.random((size, size, 3))
    image = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 3
    image[size // 3:2 * size // 3, size // 4:size // 2] += 0.3
    return (0.1 + 0.8 * (image - image.min()) / (np.ptp(image))).astype(np.float32)


def _asymmetric_kernel() -> np.ndarray:
    """A 9 x 9 L-shaped, off-centre kernel: flipping it changes it (no point symmetry)."""
    k = np.zeros((9, 9))
    k[4, 4:9] = [4, 3, 2, 2, 1]   # to the right of the origin
    k[0:4, 8] = [1, 1, 2, 1]      # then up
    return k / k.sum()


def _well_conditioned_kernel() -> np.ndarray:
    """The L-shaped kernel plus a strong centre tap: its spectrum stays far from zero, so
    the inverse filter is short and a border error cannot reach the interior."""
    k = 0.4 * _asymmetric_kernel()
    k[4, 4] += 0.6
    return k


def _interior(a: np.ndarray) -> np.ndarray:
    return a[INTERIOR:-INTERIOR, INTERIOR:-INTERIOR]


def test_kernel_orientation_matches_synth_convolution():
    rng = np.random.default_rng(0)
    sharp = _smooth_image(rng)
    kernel = _well_conditioned_kernel()
    assert not np.allclose(kernel, kernel[::-1, ::-1])
    blurred = convolve(sharp, kernel)  # our synth's convolution, no noise, no quantisation
    restored = wiener_deconvolve(blurred, kernel, 1e-6)
    flipped = wiener_deconvolve(blurred, kernel[::-1, ::-1], 1e-6)
    cfg = MetricConfig(quantize=False)
    blurred_psnr = psnr(_interior(np.clip(blurred, 0, 1)), _interior(sharp), cfg)
    restored_psnr = psnr(_interior(restored), _interior(sharp), cfg)
    flipped_psnr = psnr(_interior(flipped), _interior(sharp), cfg)
    assert restored_psnr > blurred_psnr + 25
    assert restored_psnr > 45
    # the wrong orientation does not restore: the test can tell the two apart
    assert flipped_psnr < blurred_psnr + 5
    assert restored.dtype == np.float32 and restored.shape == sharp.shape


def test_padding_and_taper_remove_periodic_ringing():
    """With the synth's reflect boundary, padding + taper beat the FFT's periodic assumption."""
    rng = np.random.default_rng(1)
    sharp = _smooth_image(rng)
    kernel = _asymmetric_kernel()
    blurred = blur_with_kernel(sharp, kernel, noise_sigma=0.002, rng=rng, bits=8)
    scores = {}
    for name, options in {"default": {}, "untapered": {"taper": False},
                          "periodic": {"pad": None}}.items():
        scores[name] = psnr(wiener_deconvolve(blurred, kernel, 1e-4, **options), sharp)
    assert scores["default"] > scores["periodic"] + 2.5
    assert scores["default"] > scores["untapered"] + 1
    assert scores["default"] > psnr(blurred, sharp) + 3


def test_wrap_blur_is_inverted_exactly_without_padding():
    """A periodically blurred image is what the FFT assumes: pad=None restores it whole."""
    rng = np.random.default_rng(2)
    sharp = _smooth_image(rng, 48)
    kernel = _asymmetric_kernel()
    blurred = convolve(sharp, kernel, boundary="wrap")
    restored = wiener_deconvolve(blurred, kernel, 1e-7, pad=None)
    assert psnr(restored, sharp, quantize=False) > 50


def test_grey_and_integer_inputs():
    rng = np.random.default_rng(3)
    sharp = _smooth_image(rng, 40)[:, :, 0]
    kernel = _asymmetric_kernel()
    blurred = convolve(sharp, kernel)
    grey = wiener_deconvolve(blurred, kernel, 1e-3)
    assert grey.shape == sharp.shape and grey.dtype == np.float32
    as_uint8 = np.round(np.clip(blurred, 0, 1) * 255).astype(np.uint8)
    from_uint8 = wiener_deconvolve(as_uint8, kernel, 1e-3)
    from_float = wiener_deconvolve(as_uint8.astype(np.float32) / 255, kernel, 1e-3)
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-6)
    assert from_uint8.min() >= 0 and from_uint8.max() <= 1


@pytest.mark.parametrize("blurred, kernel, balance, pad, match", [
    (np.zeros((4, 4, 3, 1)), np.ones((3, 3)), 0.1, "reflect", "H x W"),
    (np.zeros(16), np.ones((3, 3)), 0.1, "reflect", "H x W"),
    (np.zeros((0, 4)), np.ones((3, 3)), 0.1, "reflect", "H x W"),
    (np.zeros((8, 8)), np.ones(3), 0.1, "reflect", "2-D"),
    (np.zeros((8, 8)), np.ones((3, 3, 1)), 0.1, "reflect", "2-D"),
    (np.zeros((8, 8)), np.zeros((3, 3)), 0.1, "reflect", "positive sum"),
    (np.zeros((8, 8)), np.full((3, 3), np.nan), 0.1, "reflect", "NaN"),
    (np.zeros((8, 8)), np.ones((3, 3)), 0.0, "reflect", "balance"),
    (np.zeros((8, 8)), np.ones((3, 3)), 0.1, "zeros", "unknown pad"),
    (np.zeros((4, 4)), np.ones((5, 5)), 0.1, None, "larger than the image"),
    (np.zeros((8, 8), np.int32), np.ones((3, 3)), 0.1, "reflect", "dtype"),
])
def test_wiener_rejects_bad_inputs(blurred, kernel, balance, pad, match):
    with pytest.raises(ValueError, match=match):
        wiener_deconvolve(blurred, kernel, balance, pad=pad)


def test_tune_picks_grid_argmax():
    """Noisy blur: the best balance is an interior grid value, the mean PSNR curve's argmax."""
    kernel = _asymmetric_kernel()
    triples = []
    for seed in range(2):
        rng = np.random.default_rng(10 + seed)
        sharp = _smooth_image(rng, 48)
        blurred = blur_with_kernel(sharp, kernel, noise_sigma=0.02, rng=rng, bits=8)
        triples.append((blurred, sharp, kernel))
    grid = [1e-6, 1e-3, 1e-1, 10.0]
    search = tune_wiener_balance(triples, grid)
    assert isinstance(search, BalanceSearch)
    assert search.grid == tuple(grid) and search.count == 2
    # recompute the curve independently
    expected = [np.mean([psnr(wiener_deconvolve(b, k, g), s) for b, s, k in triples])
                for g in grid]
    np.testing.assert_allclose(search.mean_psnr, expected, rtol=0, atol=1e-9)
    assert search.balance == grid[int(np.argmax(expected))]
    # noise amplification at a tiny balance, over-smoothing at a huge one
    assert search.balance not in (grid[0], grid[-1])
    # the order of the grid does not change the choice
    assert tune_wiener_balance(triples, grid[::-1]).balance == search.balance


def test_tune_errors():
    kernel = _asymmetric_kernel()
    image = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="no .* triples"):
        tune_wiener_balance([], [0.1])
    with pytest.raises(ValueError, match="grid is empty"):
        tune_wiener_balance([(image, image, kernel)], [])
    with pytest.raises(ValueError, match="> 0"):
        tune_wiener_balance([(image, image, kernel)], [0.1, -1.0])
    with pytest.raises(ValueError, match="differ in shape"):
        tune_wiener_balance([(image, image[:8], kernel)], [0.1])


def test_default_grid():
    assert len(DEFAULT_BALANCE_GRID) == 17
    assert DEFAULT_BALANCE_GRID[0] == pytest.approx(1e-4)
    assert DEFAULT_BALANCE_GRID[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(DEFAULT_BALANCE_GRID)), 0.25)
