"""deblurkit.metrics: parity with scikit-image, the Y / crop / quantize conventions, torch."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import skimage.data
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblurkit.metrics import MetricConfig, MetricInputError, psnr, rgb_to_y, ssim
from deblurkit.metrics.reference import psnr_ssim, quantize

PARITY = 1e-6
DTYPES = ("uint8", "uint16", "float32", "float64")


# -- test images ----------------------------------------------------------------------------


def _to_dtype(image01: np.ndarray, dtype: str) -> np.ndarray:
    """float64 [0, 1] -> the dtype (integers rounded)."""
    if dtype in ("uint8", "uint16"):
        peak = np.iinfo(dtype).max
        return np.round(image01 * peak).astype(dtype)
    return image01.astype(dtype)


def _random_pair(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    ref = rng.random(shape)
    test = np.clip(ref + rng.normal(0.0, 0.1, shape), 0.0, 1.0)
    return test, ref


def _natural_pair(rng: np.random.Generator, gray: bool) -> tuple[np.ndarray, ...]:
    """A 96x80 crop of a bundled photograph and a blurred + noisy copy, float64 [0, 1]."""
    if gray:
        ref = skimage.data.camera()[150:246, 200:280].astype(np.float64) / 255
        blurred = ndimage.gaussian_filter(ref, 1.2)
    else:
        ref = skimage.data.astronaut()[60:156, 180:260].astype(np.float64) / 255
        blurred = ndimage.gaussian_filter(ref, (1.2, 1.2, 0))
    test = np.clip(blurred + rng.normal(0.0, 0.02, ref.shape), 0.0, 1.0)
    return test, ref


def _pair(kind: str, gray: bool, dtype: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "random":
        test, ref = _random_pair(rng, (40, 36) if gray else (40, 36, 3))
    else:
        test, ref = _natural_pair(rng, gray)
    return _to_dtype(test, dtype), _to_dtype(ref, dtype)


def _sk_data_range(dtype: str) -> float:
    return float(np.iinfo(dtype).max) if dtype.startswith("uint") else 1.0


def _sk_input(array: np.ndarray) -> np.ndarray:
    # scikit-image computes float32 inputs in float32; give it float64 to get its exact value.
    return array.astype(np.float64) if array.dtype == np.float32 else array


# -- PSNR parity ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["random", "natural"])
@pytest.mark.parametrize("gray", [True, False], ids=["gray", "rgb"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data_range", [None, 0.5])
def test_psnr_matches_skimage(kind, gray, dtype, data_range):
    test, ref = _pair(kind, gray, dtype)
    sk_range = _sk_data_range(dtype) if data_range is None else data_range * _sk_data_range(dtype)
    ours_range = None if data_range is None else sk_range
    expected = peak_signal_noise_ratio(_sk_input(ref), _sk_input(test), data_range=sk_range)
    ours = psnr(test, ref, data_range=ours_range, quantize=False)
    assert ours == pytest.approx(expected, abs=PARITY)
    assert 5 < expected < 60  # the pair is neither identical nor unrelated


def test_psnr_default_data_range_is_skimages_dtype_default():
    for dtype in ("uint8", "uint16", "float64"):
        test, ref = _pair("natural", False, dtype)
        assert psnr(test, ref, quantize=False) == pytest.approx(
            peak_signal_noise_ratio(ref, test), abs=PARITY)


def test_psnr_known_value_and_identical_is_inf():
    a = np.zeros((8, 8), np.uint8)
    b = a.copy()
    b[0, 0] = 255  # MSE = 255^2 / 64 -> PSNR = 10 log10(64)
    assert psnr(a, b) == pytest.approx(10 * math.log10(64), abs=1e-12)
    assert psnr(a, a) == math.inf
    assert psnr(a.astype(np.float32), a.astype(np.float32)) == math.inf


# -- SSIM parity ----------------------------------------------------------------------------

SSIM_CONVENTIONS = {
    # name: (our overrides, scikit-image kwargs)
    "uniform7": ({}, {}),
    "uniform3": ({"win_size": 3}, {"win_size": 3}),
    "uniform11-population": ({"win_size": 11, "use_sample_covariance": False},
                             {"win_size": 11, "use_sample_covariance": False}),
    "gaussian-wang": ({"ssim_window": "gaussian"},
                      {"gaussian_weights": True, "sigma": 1.5,
                       "use_sample_covariance": False}),
    "gaussian-sample-cov": ({"ssim_window": "gaussian", "use_sample_covariance": True},
                            {"gaussian_weights": True, "use_sample_covariance": True}),
    "gaussian-sigma1-win7": ({"ssim_window": "gaussian", "sigma": 1.0, "win_size": 7},
                             {"gaussian_weights": True, "sigma": 1.0, "win_size": 7,
                              "use_sample_covariance": False}),
    "gaussian-narrow-crop": ({"ssim_window": "gaussian", "win_size": 5},  # filter wider than
                             {"gaussian_weights": True, "win_size": 5,   # the excluded border
                              "use_sample_covariance": False}),
    "constants": ({"K1": 0.02, "K2": 0.05}, {"K1": 0.02, "K2": 0.05}),
}


@pytest.mark.parametrize("kind", ["random", "natural"])
@pytest.mark.parametrize("gray", [True, False], ids=["gray", "rgb"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("convention", sorted(SSIM_CONVENTIONS))
def test_ssim_matches_skimage(kind, gray, dtype, convention):
    ours_kwargs, sk_kwargs = SSIM_CONVENTIONS[convention]
    test, ref = _pair(kind, gray, dtype)
    expected = structural_similarity(_sk_input(test), _sk_input(ref),
                                     data_range=_sk_data_range(dtype),
                                     channel_axis=None if gray else -1, **sk_kwargs)
    ours = ssim(test, ref, quantize=False, **ours_kwargs)
    assert ours == pytest.approx(expected, abs=PARITY)
    assert 0.05 < expected < 0.99


@pytest.mark.parametrize("data_range", [0.5, 2.0])
def test_ssim_matches_skimage_with_explicit_data_range(data_range):
    test, ref = _pair("natural", False, "float64")
    expected = structural_similarity(test, ref, data_range=data_range, channel_axis=-1,
                                     gaussian_weights=True, use_sample_covariance=False)
    ours = ssim(test, ref, data_range=data_range, ssim_window="gaussian", quantize=False)
    assert ours == pytest.approx(expected, abs=PARITY)


def test_ssim_identical_is_one_and_is_symmetric():
    test, ref = _pair("natural", False, "uint8")
    assert ssim(ref, ref) == 1.0
    assert ssim(test, ref) == pytest.approx(ssim(ref, test), abs=1e-15)


# -- Y channel --------------------------------------------------------------------------------


def _hand_y(rgb_uint8: np.ndarray) -> np.ndarray:
    """BT.601 Y on the 0..255 scale, pixel by pixel (MATLAB rgb2ycbcr, unrounded)."""
    out = np.empty(rgb_uint8.shape[:2])
    for i in range(rgb_uint8.shape[0]):
        for j in range(rgb_uint8.shape[1]):
            r, g, b = (int(v) / 255.0 for v in rgb_uint8[i, j])
            out[i, j] = 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    return out


def test_rgb_to_y_matches_the_bt601_formula():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(rgb), _hand_y(rgb), rtol=0, atol=1e-12)
    # the same luma in the units of each storage type
    np.testing.assert_allclose(rgb_to_y(rgb.astype(np.float64) / 255), _hand_y(rgb) / 255,
                               atol=1e-14)
    np.testing.assert_allclose(rgb_to_y(rgb.astype(np.uint16) * 257), _hand_y(rgb) * 257,
                               atol=1e-9)
    white_black = np.array([[[255, 255, 255], [0, 0, 0]]], np.uint8)
    np.testing.assert_allclose(rgb_to_y(white_black), [[235.0, 16.0]], atol=1e-12)


def test_rgb_to_y_equals_skimage_rgb2ycbcr_luma_in_input_units():
    from skimage.color import rgb2ycbcr

    rgb = np.random.default_rng(5).random((6, 5, 3))
    # scikit-image returns Y on the 0..255 scale whatever the input; ours keeps the input's
    np.testing.assert_allclose(rgb_to_y(rgb) * 255, rgb2ycbcr(rgb)[..., 0], rtol=0, atol=1e-12)


def test_rgb_to_y_treats_grey_as_equal_rgb():
    grey = np.random.default_rng(4).integers(0, 256, (6, 6), dtype=np.uint8)
    as_rgb = np.repeat(grey[..., None], 3, axis=-1)
    np.testing.assert_allclose(rgb_to_y(grey), rgb_to_y(as_rgb), atol=1e-12)
    np.testing.assert_allclose(rgb_to_y(grey[..., None]), rgb_to_y(as_rgb), atol=1e-12)


@pytest.mark.parametrize("window", ["uniform", "gaussian"])
def test_y_channel_scores_equal_skimage_on_hand_computed_luma(window):
    test, ref = _pair("natural", False, "uint8")
    y_test, y_ref = _hand_y(test), _hand_y(ref)
    gaussian = window == "gaussian"
    assert psnr(test, ref, channel="y") == pytest.approx(
        peak_signal_noise_ratio(y_ref, y_test, data_range=255), abs=PARITY)
    assert ssim(test, ref, channel="y", ssim_window=window) == pytest.approx(
        structural_similarity(y_test, y_ref, data_range=255, gaussian_weights=gaussian,
                              use_sample_covariance=not gaussian), abs=PARITY)


def test_y_channel_scores_do_not_depend_on_storage_type():
    test8, ref8 = _pair("natural", False, "uint8")
    by_type = {
        "uint8": (test8, ref8),
        "uint16": (test8.astype(np.uint16) * 257, ref8.astype(np.uint16) * 257),
        "float64": (test8 / 255.0, ref8 / 255.0),
    }
    scores = {k: psnr_ssim(t, r, channel="y") for k, (t, r) in by_type.items()}
    for value in scores.values():
        assert value == pytest.approx(scores["uint8"], abs=1e-9)


def test_y_channel_rejects_four_channels():
    image = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(MetricInputError, match="channel='y'"):
        psnr(image, image, channel="y")


# -- border crop --------------------------------------------------------------------------------


@pytest.mark.parametrize("border", [1, 4])
@pytest.mark.parametrize("channel", ["rgb", "y"])
def test_crop_border_equals_scoring_the_cropped_arrays(border, channel):
    test, ref = _pair("natural", False, "uint8")
    cropped = (test[border:-border, border:-border], ref[border:-border, border:-border])
    cfg = MetricConfig(channel=channel, crop_border=border)
    assert psnr(test, ref, cfg) == psnr(*cropped, channel=channel)
    assert ssim(test, ref, cfg) == ssim(*cropped, channel=channel)
    assert psnr(test, ref, cfg) != psnr(test, ref, channel=channel)


def test_crop_border_too_large_is_an_error():
    image = np.zeros((10, 20), np.uint8)
    with pytest.raises(MetricInputError, match="crop_border=5"):
        psnr(image, image, crop_border=5)


# -- quantization ---------------------------------------------------------------------------------


def test_quantize_rounds_the_restored_image_to_8_bits():
    reference = np.array([[0.5, 0.3]])
    restored = reference.copy()
    # 0.5 * 255 = 127.5 -> 128 and 0.3 * 255 = 76.5 -> 76 (half to even): each off by 0.5/255
    assert psnr(restored, reference, quantize=False) == math.inf
    assert psnr(restored, reference) == pytest.approx(20 * math.log10(510), abs=1e-9)
    np.testing.assert_array_equal(quantize(restored, 8) * 255, [[128.0, 76.0]])


def test_quantize_clips_and_matches_an_8_bit_reference_exactly():
    levels = np.array([[0, 1, 127, 128, 254, 255]], np.uint8)
    restored = levels / 255.0 + np.array([[-0.3, 0.4, 0.2, -0.45, 0.1, 0.6]]) / 255.0
    assert psnr(restored, levels) == math.inf  # float vs uint8: compared in [0, 1]
    assert psnr(restored, levels, quantize=False) < 60


def test_quantize_bits_16_and_integer_inputs_untouched():
    ref = np.array([[0.5, 0.5]])  # 32767.5 -> 32768: off by 0.5 / 65535
    assert psnr(ref, ref, quantize_bits=16) == pytest.approx(20 * math.log10(2 * 65535),
                                                              abs=1e-6)
    a = np.array([[3, 200]], np.uint8)
    b = np.array([[4, 200]], np.uint8)
    assert psnr(a, b) == psnr(a, b, quantize=False)


def test_mixed_dtypes_compare_in_unit_range():
    ref8 = np.array([[10, 20], [30, 40]], np.uint8)
    ref16 = ref8.astype(np.uint16) * 257
    assert psnr(ref16, ref8) == math.inf
    assert psnr(ref8 / 255.0, ref8, data_range=1.0) == math.inf


# -- configuration and errors --------------------------------------------------------------------


def test_config_resolves_and_records_every_convention():
    d = MetricConfig().as_dict()
    assert d == {"data_range": None, "channel": "rgb", "crop_border": 0, "quantize": True,
                 "quantize_bits": 8, "ssim_window": "uniform", "win_size": 7, "sigma": 1.5,
                 "truncate": 3.5, "K1": 0.01, "K2": 0.03, "use_sample_covariance": True}
    g = MetricConfig(ssim_window="gaussian", data_range=255).as_dict()
    assert (g["win_size"], g["use_sample_covariance"], g["data_range"]) == (11, False, 255.0)


@pytest.mark.parametrize("bad", [{"channel": "lab"}, {"crop_border": -1}, {"win_size": 4},
                                 {"ssim_window": "box"}, {"data_range": 0},
                                 {"quantize_bits": 0}, {"sigma": 0}, {"K1": -0.1}])
def test_config_rejects_invalid_values(bad):
    with pytest.raises(ValueError):
        MetricConfig(**bad)


def test_overrides_apply_to_a_given_config():
    test, ref = _pair("natural", False, "uint8")
    cfg = MetricConfig(channel="y")
    assert psnr(test, ref, cfg, crop_border=2) == psnr(test, ref, MetricConfig(channel="y",
                                                                                 crop_border=2))


def test_input_errors():
    with pytest.raises(MetricInputError, match="differ"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(MetricInputError, match="larger than"):
        ssim(np.zeros((6, 6)), np.zeros((6, 6)))
    with pytest.raises(MetricInputError, match="dtype"):
        psnr(np.zeros((8, 8), np.int32), np.zeros((8, 8), np.int32))


def test_numpy_metrics_do_not_import_torch():
    code = ("import sys, numpy as np, deblurkit.metrics as m; "
            "m.psnr(np.zeros((8, 8)), np.ones((8, 8))); m.ssim(np.zeros((8, 8)), np.ones((8, 8)));"
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- torch ----------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")
from deblurkit.metrics import psnr_torch, ssim_torch  # noqa: E402

TORCH_CONFIGS = {
    "default": MetricConfig(),
    "no-quantize": MetricConfig(quantize=False),
    "gaussian": MetricConfig(ssim_window="gaussian"),
    "gaussian-win5": MetricConfig(ssim_window="gaussian", win_size=5, quantize=False),
    "y-crop": MetricConfig(channel="y", crop_border=3),
    "range-uniform3": MetricConfig(data_range=2.0, win_size=3, use_sample_covariance=False),
}


def _batch(seed: int, channels: int = 3, size: tuple[int, int] = (30, 26)) -> tuple:
    rng = np.random.default_rng(seed)
    ref = rng.random((3, *size, channels))
    ref[1] = ndimage.gaussian_filter(ref[1], (2, 2, 0))  # one smooth image in the batch
    test = np.clip(ref + rng.normal(0, 0.05, ref.shape), 0, 1)
    return test, ref


def _to_tensor(batch: np.ndarray, dtype) -> "torch.Tensor":
    return torch.from_numpy(batch).permute(0, 3, 1, 2).to(dtype)


@pytest.mark.parametrize("name", sorted(TORCH_CONFIGS))
@pytest.mark.parametrize("channels", [1, 3])
def test_torch_batch_equals_numpy_per_image(name, channels):
    cfg = TORCH_CONFIGS[name]
    test, ref = _batch(5, channels)
    exp_psnr = [psnr(t, r, cfg) for t, r in zip(test, ref)]
    exp_ssim = [ssim(t, r, cfg) for t, r in zip(test, ref)]
    for dtype, ssim_tol, psnr_tol in ((torch.float64, 1e-12, 1e-10),
                                      (torch.float32, 2e-6, 1e-4)):
        x, y = _to_tensor(test, dtype), _to_tensor(ref, dtype)
        got_psnr, got_ssim = psnr_torch(x, y, cfg), ssim_torch(x, y, cfg)
        assert got_psnr.shape == got_ssim.shape == (3,)
        assert got_psnr.dtype == got_ssim.dtype == dtype
        np.testing.assert_allclose(got_psnr.numpy(), exp_psnr, rtol=0, atol=psnr_tol)
        np.testing.assert_allclose(got_ssim.numpy(), exp_ssim, rtol=0, atol=ssim_tol)


def test_torch_float32_input_matches_numpy_on_the_same_float32_values():
    test, ref = _batch(6)
    x32, y32 = _to_tensor(test, torch.float32), _to_tensor(ref, torch.float32)
    expected = [ssim(t, r) for t, r in zip(x32.permute(0, 2, 3, 1).numpy(),
                                           y32.permute(0, 2, 3, 1).numpy())]
    np.testing.assert_allclose(ssim_torch(x32, y32).numpy(), expected, rtol=0, atol=2e-6)


def test_torch_identical_and_errors():
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(psnr_torch(x, x, quantize=False)).all()
    assert torch.equal(ssim_torch(x, x, quantize=False), torch.ones(2))
    q = torch.round(x * 255) / 255
    assert torch.isinf(psnr_torch(x, q)).all()  # x is quantized to q first
    with pytest.raises(MetricInputError):
        ssim_torch(x, x[:, :, :10])
    with pytest.raises(MetricInputError):
        ssim_torch(x[:, :, :5, :5], x[:, :, :5, :5])
    with pytest.raises(MetricInputError):
        psnr_torch((x * 255).to(torch.uint8), (x * 255).to(torch.uint8))


@pytest.mark.parametrize("window, size", [("uniform", 8), ("gaussian", 12)])
def test_ssim_torch_gradcheck(window, size):
    gen = torch.Generator().manual_seed(1)
    ref = torch.rand(1, 2, size, size, generator=gen, dtype=torch.float64)
    x = (ref + 0.1 * torch.rand(1, 2, size, size, generator=gen, dtype=torch.float64))
    x.requires_grad_(True)
    cfg = MetricConfig(ssim_window=window, quantize=False)
    assert torch.autograd.gradcheck(lambda t: ssim_torch(t, ref, cfg), (x,))


def test_quantize_passes_gradients_straight_through():
    gen = torch.Generator().manual_seed(2)
    ref = torch.rand(1, 3, 12, 12, generator=gen, dtype=torch.float64)
    x = (ref + 0.05 * torch.randn(1, 3, 12, 12, generator=gen, dtype=torch.float64)).clamp(0, 1)
    x.requires_grad_(True)
    ssim_torch(x, ref).sum().backward()  # quantize=True by default
    q = (torch.round(x.detach() * 255) / 255).requires_grad_(True)
    ssim_torch(q, ref, quantize=False).sum().backward()
    assert x.grad.abs().sum() > 0
    torch.testing.assert_close(x.grad, q.grad, rtol=0, atol=1e-12)
