"""The low-pass guard (deblurkit.models.guard): what it removes, what it keeps, where it runs."""

from __future__ import annotations

import numpy as np
import pytest
import skimage
import torch
from scipy import ndimage

from deblurkit.inference import Restorer
from deblurkit.models import create_model
from deblurkit.models.guard import (GuardSettings, LowpassGuard, attach_guard, block_factor,
                                   lowpass_guard, smooth)
from deblurkit.models.layers import gaussian_blur
from deblurkit.pretrained import BUNDLED, load_bundled


def test_guard_smoke_and_shape():
    x, y = torch.rand(2, 3, 20, 30), torch.rand(2, 3, 20, 30)
    out = lowpass_guard(x, y, sigma=2.0, strength=0.5)
    assert out.shape == x.shape and out.dtype == y.dtype


def test_guard_removes_a_uniform_change_and_keeps_a_fine_one():
    """A brightness shift is all low-pass (removed); a checkerboard at the Nyquist frequency
    has nothing below it (kept: block means cancel it exactly; the exact Gaussian's response
    at pi is ~exp(-pi^2 sigma^2 / 2) per axis)."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 48, 48)
    board = ((torch.arange(48)[:, None] + torch.arange(48)[None]) % 2).float() * 0.2 - 0.1
    for sigma in (1.5, 3.0, 6.0):                      # exact Gaussian, 2x2 and 4x4 blocks
        assert torch.allclose(lowpass_guard(x, x + 0.05, sigma=sigma), x, atol=1e-6)
        y = x + board
        assert torch.allclose(lowpass_guard(x, y, sigma=sigma), y, atol=1e-6)


@pytest.mark.parametrize("sigma", [1.0, 1.5])
def test_smooth_below_two_pixels_is_scipys_gaussian(sigma):
    """No blocks below sigma 2: the exact Gaussian (radius ceil(3 sigma), mirror padding),
    and the guard is ``y - strength * G_sigma(y - x)``."""
    rng = np.random.default_rng(1)
    x, y = rng.random((2, 1, 1, 40, 36)).astype(np.float64)
    strength = 0.75
    expected = y[0, 0] - strength * ndimage.gaussian_filter(y[0, 0] - x[0, 0], sigma,
                                                            mode="mirror", truncate=3.0)
    ours = lowpass_guard(torch.from_numpy(x), torch.from_numpy(y), sigma, strength)[0, 0]
    assert block_factor(sigma) == 1
    assert np.allclose(ours.numpy(), expected, atol=1e-10)


def test_smooth_on_blocks_follows_the_full_resolution_gaussian_on_a_real_change():
    """From sigma 4 the low-pass runs on 4x4 block means; on the bundled default's change of a
    photograph it stays within 0.6 / 255 of the full-resolution Gaussian (0.15 / 255 away from
    the borders), and a constant passes unchanged."""
    image = skimage.data.astronaut()[100:356, 120:376].astype(np.float32) / 255.0
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    net = attach_guard(load_bundled("default"), None)
    with torch.no_grad():
        change = net(x) - x
    exact = gaussian_blur(change, 2 * 18 + 1, 6.0)
    error = (smooth(change, 6.0) - exact).abs() * 255
    assert block_factor(6.0) == 4 and exact.abs().max() * 255 > 0.5   # not a trivial change
    assert error.max() < 0.6 and error[..., 12:-12, 12:-12].max() < 0.15
    assert torch.allclose(smooth(torch.full((1, 3, 30, 50), 0.3), 6.0), torch.tensor(0.3))


def test_guard_strength_zero_and_identity_change():
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    assert torch.equal(lowpass_guard(x, y, sigma=2.0, strength=0.0), y)
    assert torch.equal(lowpass_guard(x, x.clone(), sigma=2.0), x)


@pytest.mark.parametrize("kwargs, message", [({"sigma": 0.0}, "sigma"),
                                             ({"sigma": 1.0, "strength": 1.5}, "strength")])
def test_guard_settings_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GuardSettings(**kwargs)


def test_guard_shape_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        lowpass_guard(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9), sigma=1.0)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        lowpass_guard(torch.rand(3, 8, 8), torch.rand(3, 8, 8), sigma=1.0)


def test_guard_gradcheck():
    x = torch.rand(1, 2, 9, 10, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 2, 9, 10, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: lowpass_guard(a, b, 1.0, 0.75), (x, y))


def test_guard_module_equals_function_and_holds_no_state():
    settings = GuardSettings(sigma=1.5, strength=0.6)
    module = LowpassGuard(settings)
    x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
    assert torch.equal(module(x, y), lowpass_guard(x, y, 1.5, 0.6))
    assert module.state_dict() == {} and "sigma=1.5" in repr(module)


def test_attached_guard_runs_in_forward_not_in_training_outputs():
    torch.manual_seed(0)
    net = create_model("s1_msed_fast", base_width=4, max_width=8).eval()
    keys = set(net.state_dict())
    x = torch.rand(1, 3, 32, 32)
    plain = net(x)
    attach_guard(net, GuardSettings(sigma=2.0))
    assert set(net.state_dict()) == keys               # weights files are unchanged
    assert torch.allclose(net(x), lowpass_guard(x, plain, 2.0), atol=1e-6)
    assert torch.equal(net.forward_scales(x)[-1], plain)   # what training sees
    assert torch.equal(attach_guard(net, None)(x), plain)


def test_guard_refuses_a_model_with_its_own_forward():
    with pytest.raises(TypeError, match="cannot carry a guard"):
        attach_guard(create_model("s5_multitask_fpn"), GuardSettings(sigma=2.0))
    with pytest.raises(TypeError, match="cannot carry a guard"):
        attach_guard(torch.nn.Conv2d(3, 3, 1), GuardSettings(sigma=2.0))


def test_bundled_default_carries_its_fitted_guard_and_the_others_none():
    """The setting chosen on data/realtune by benchmarks/lowpass_guard.py (model card)."""
    assert BUNDLED["default"].guard == GuardSettings(sigma=6.0, strength=0.75)
    model = load_bundled("default")
    assert isinstance(model.guard, LowpassGuard) and model.guard.settings == BUNDLED["default"].guard
    assert all(card.guard is None for name, card in BUNDLED.items() if name != "default")
    assert load_bundled("s1").guard is None


def test_guarded_default_tiles_like_it_runs_whole():
    """The guard widens the receptive field by its Gaussian's radius; automatic overlap
    measures it through forward, so tiled and untiled outputs still agree."""
    rng = np.random.default_rng(0)
    image = (rng.random((200, 232, 3)) * 255).astype(np.uint8)
    whole = Restorer("default")(image)
    tiled = Restorer("default", tile=192, overlap="auto")(image)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_guarded_network_exports_to_onnx_with_dynamic_sizes(tmp_path):
    """The guard is part of forward, so the exported file carries it; the export verifies
    ONNX Runtime against PyTorch on a second size (batch 2), here sides not divisible by the
    guard's 4x4 blocks."""
    from deblurkit.export.onnx import export_onnx
    from deblurkit.inference.onnx_backend import OnnxBackend

    torch.manual_seed(0)
    net = attach_guard(create_model("s1_msed_fast", base_width=4, max_width=8),
                       GuardSettings(sigma=6.0, strength=0.75)).eval()
    path = export_onnx(net, tmp_path / "guarded.onnx", receptive_field=False)
    x = torch.rand(1, 3, 45, 70)
    with torch.no_grad():                       # the exported graph clamps to [0, 1]
        expected = net(x).clamp(0, 1)
        unguarded = attach_guard(net, None)(x).clamp(0, 1)
    got = OnnxBackend(path)(x)
    assert float((got - expected).abs().max()) < 1e-4
    assert float((got - unguarded).abs().max()) > 1e-2


def test_restore_no_guard_runs_the_bare_network_and_refuses_where_there_is_none(tmp_path, capsys):
    """``--no-guard`` takes the default's guard off; with a model that has none it says so
    in one line and exits 1."""
    from deblurkit.cli import main
    from deblurkit.io import read_image, write_image

    image = skimage.data.astronaut()[:64, :96]
    write_image(tmp_path / "a.png", image)
    assert main(["restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "g"), "--tile", "0"]) == 0
    assert main(["restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "n"), "--tile", "0",
                 "--no-guard"]) == 0
    guarded = read_image(tmp_path / "g" / "a.png").pixels
    bare = read_image(tmp_path / "n" / "a.png").pixels
    x = torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        want = attach_guard(load_bundled("default"), None)(x)[0].permute(1, 2, 0).numpy()
    assert np.abs(bare.astype(int) - np.round(np.clip(want, 0, 1) * 255).astype(int)).max() <= 1
    assert not np.array_equal(guarded, bare)
    capsys.readouterr()
    assert main(["restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "s"), "--model", "s1",
                 "--no-guard"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no guard" in err[0]
