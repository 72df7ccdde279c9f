"""Inference: backends, receptive field, tiling parity, auto tile size, Restorer, resolve, shard."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import PIL.Image
import pytest
import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.inference.backends import (
    Backend,
    TorchBackend,
    TorchScriptBackend,
    measure_receptive_field,
    resolve_device,
)
from deblurkit.inference.classifier import load_classifier
from deblurkit.inference.resolve import load_backend
from deblurkit.inference.restorer import Restorer, restore
from deblurkit.inference.shard import shard
from deblurkit.inference.tiling import (
    auto_tile_size,
    blend_weights,
    estimate_bytes_per_pixel,
    restore_strips,
    restore_tiled,
    tile_starts,
)
from deblurkit.io import from_float, to_float
from deblurkit.models import create_model

TOL_8BIT = 1.0 / 255.0


def _conv_stack(seed: int = 0) -> nn.Module:
    """Three 3x3 convolutions: receptive field exactly 7."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 3, 3, padding=1), nn.Sigmoid())


def _small_s1(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("s1_msed", base_width=4, depth=2, num_scales=2)


@pytest.fixture(scope="module")
def s1_backend() -> TorchBackend:
    return TorchBackend(_small_s1(), device="cpu")


def _image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    smooth = rng.random((1, 3, height // 4 + 2, width // 4 + 2)).astype(np.float32)
    x = torch.nn.functional.interpolate(torch.from_numpy(smooth), size=(height, width),
                                        mode="bilinear", align_corners=False)
    return (x + 0.1 * torch.from_numpy(rng.random((1, 3, height, width), dtype=np.float32))
            ).clamp(0, 1)


# ------------------------------------------------------------------------------ backends

def test_resolve_device_and_dtype_errors():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu7")
    with pytest.raises(UserError, match="fp16 needs a CUDA"):
        TorchBackend(_conv_stack(), device="cpu", dtype="fp16")
    with pytest.raises(UserError, match="unknown dtype"):
        TorchBackend(_conv_stack(), device="cpu", dtype="int8")


def test_torch_backend_clamps_and_keeps_numbers():
    net = nn.Conv2d(3, 3, 3, padding=1)
    with torch.no_grad():
        net.weight.mul_(10)
    x = _image(20, 24)
    reference = net(x).detach()
    backend = TorchBackend(net, device="cpu", channels_last=False)
    y = backend(x)
    assert isinstance(backend, Backend)
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert reference.min() < 0 and reference.max() > 1  # so clamping is exercised
    torch.testing.assert_close(y, reference.clamp(0, 1))
    y_cl = TorchBackend(net, device="cpu", channels_last=True)(x)
    torch.testing.assert_close(y_cl, y, atol=1e-5, rtol=0)
    y_bf16 = TorchBackend(net, device="cpu", dtype="bf16")(x)
    assert y_bf16.dtype == torch.float32
    assert (y_bf16 - y).abs().max() < 0.1  # bf16 has ~3 significant digits
    assert not torch.equal(y_bf16, y)  # autocast really computed in bf16


@pytest.mark.parametrize("layers, expected", [
    ([nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 5, padding=2)], 7),
    ([nn.Conv2d(3, 3, 3, padding=2, dilation=2)], 5),
    ([nn.Conv2d(3, 3, 1)], 1),
])
def test_receptive_field_of_known_networks(layers, expected):
    torch.manual_seed(0)
    assert measure_receptive_field(nn.Sequential(*layers), probe_size=33) == expected


def test_receptive_field_cached_per_model(s1_backend):
    field = s1_backend.receptive_field
    assert field is not None and field % 2 == 1 and 9 < field < 128
    again = TorchBackend(s1_backend.model, device="cpu")
    assert again.receptive_field == field
    assert TorchBackend(_conv_stack(), device="cpu").receptive_field == 7


# ------------------------------------------------------------------------------ tiling

def test_tile_starts_cover_axis_on_multiples():
    for length, tile, overlap, multiple in [(100, 40, 10, 1), (160, 64, 16, 16),
                                            (48, 64, 8, 16), (1000, 96, 40, 8)]:
        starts = tile_starts(length, tile, overlap, multiple)
        tile = min(tile, length)
        assert starts[0] == 0 and starts[-1] == length - tile
        assert all(s % multiple == 0 for s in starts)
        assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("length, tile, overlap, margin", [(100, 40, 10, 2), (67, 20, 8, 0),
                                                           (300, 64, 30, 15)])
def test_blend_weights_partition_of_unity(length, tile, overlap, margin):
    starts = tile_starts(length, tile, overlap)
    weights = blend_weights(starts, tile, length, margin)
    total = np.zeros(length)
    for start, w in zip(starts, weights):
        assert (w >= 0).all()
        total[start:start + tile] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert weights[0][0] == 1.0 and weights[-1][-1] == 1.0  # image borders: full weight
    effective = min(margin, (tile - (starts[1] - starts[0]) - 1) // 2)  # capped: ramp >= 1 px
    if effective:
        assert weights[0][-effective:].max() == 0.0  # cut edges: no weight within the margin
        assert weights[0][-effective - 1] > 0.0


def test_tiled_identity_is_exact_flat_and_textured():
    identity = lambda x: x.clone()  # noqa: E731
    x = _image(70, 90)
    torch.testing.assert_close(restore_tiled(identity, x, 32, 8), x, atol=1e-6, rtol=0)


def test_tiled_matches_untiled_conv_stack():
    backend = TorchBackend(_conv_stack(), device="cpu")
    x = _image(77, 101)
    reference = backend(x)
    tiled = restore_tiled(backend, x, 32, overlap=7, margin=3)
    assert (tiled - reference).abs().max() < 1e-5
    # a margin smaller than the receptive radius does show the cut: the test can fail
    cut = restore_tiled(backend, x, 32, overlap=7, margin=0)
    assert (cut - reference).abs().max() > 1e-3


def test_tiled_matches_untiled_s1_when_overlap_covers_receptive_field(s1_backend):
    field = s1_backend.receptive_field
    assert 3 * field <= 256  # so that overlap="auto" is not capped below the field
    x = _image(290, 330, seed=3)
    reference = s1_backend(x)
    tiled = restore_tiled(s1_backend, x, 2 * field + 8, overlap=field, margin=field // 2)
    assert (tiled - reference).abs().max() <= TOL_8BIT
    via_auto = restore_tiled(s1_backend, x, 256, overlap="auto")
    assert (via_auto - reference).abs().max() <= TOL_8BIT


def test_tile_equal_to_image_is_exactly_untiled(s1_backend):
    x = _image(64, 96)
    assert torch.equal(restore_tiled(s1_backend, x, 96, 32), s1_backend(x))
    y = _image(50, 70)  # not a multiple of pad_multiple: the tile rounds up to cover it
    assert torch.equal(restore_tiled(s1_backend, y, 70, 16), s1_backend(y))


@pytest.mark.parametrize("size,tile,overlap", [((77, 101), 32, 7), ((64, 96), 32, 8),
                                               ((130, 45), 48, 10), ((40, 40), 64, 8)])
def test_strips_are_bit_identical_to_tiles_and_never_hold_the_image(size, tile, overlap):
    backend = TorchBackend(_conv_stack(), device="cpu")
    x = _image(*size)
    height, width = size
    seen, bands = [], []
    out = torch.full_like(x, -1.0)

    def read(y0, y1, x0, x1):
        seen.append((y1 - y0, x1 - x0))
        return x[:, :, y0:y1, x0:x1]

    def write(y0, y1, rows):
        assert rows.shape == (1, 3, y1 - y0, width)
        bands.append((y0, y1))
        out[:, :, y0:y1] = rows

    restore_strips(backend, height, width, read, write, tile, overlap, margin=3)
    assert torch.equal(out, restore_tiled(backend, x, tile, overlap, margin=3))
    # bands arrive in order and cover every row once
    assert bands[0][0] == 0 and bands[-1][1] == height
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    if tile < max(size):     # tiled: nothing larger than a tile is ever read
        assert max(h for h, _ in seen) <= tile and max(w for _, w in seen) <= tile


def test_restorer_keeps_the_stored_depth_and_matches_float_tiling(s1_backend):
    rng = np.random.default_rng(5)
    x16 = rng.integers(0, 65536, (150, 170, 3), dtype=np.uint16)
    restorer = Restorer(s1_backend, tile=64, overlap=16)
    out = restorer(x16)
    assert out.dtype == np.uint16 and out.shape == x16.shape
    reference = restore_tiled(s1_backend, torch.from_numpy(to_float(x16).transpose(2, 0, 1))[None],
                              64, 16)
    expected = from_float(reference[0].permute(1, 2, 0).numpy(), 16)
    assert np.array_equal(out, expected)
    grey = x16[:, :, 0]
    assert restorer(grey).shape == grey.shape and restorer(grey).dtype == np.uint16


def test_tiling_rejects_overlap_of_half_the_tile():
    with pytest.raises(ValueError, match="half the tile"):
        restore_tiled(lambda x: x, _image(100, 100), 32, 16)


def test_auto_tile_size_multiple_and_bounds(s1_backend):
    multiple = s1_backend.pad_multiple
    per_pixel = estimate_bytes_per_pixel(s1_backend)
    assert per_pixel > 3 * 4  # at least the input and output float32 planes
    sizes = [auto_tile_size(s1_backend, available_bytes=n) for n in (10**6, 10**8, 10**12)]
    assert all(s % multiple == 0 and 128 <= s <= 1024 for s in sizes)
    assert sizes[0] == 128 and sizes == sorted(sizes)
    assert auto_tile_size(s1_backend, available_bytes=10**12, max_tile=300) == 300 // multiple * multiple
    middle = auto_tile_size(s1_backend, available_bytes=10**8, memory_fraction=1.0, safety=1.0)
    assert middle ** 2 * per_pixel <= 10**8 < (middle + 2 * multiple) ** 2 * per_pixel


# ------------------------------------------------------------------------------ Restorer

@pytest.fixture(scope="module")
def restorer(s1_backend) -> Restorer:
    return Restorer(s1_backend)


def _reference(backend, rgb_float: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(rgb_float.transpose(2, 0, 1).copy())[None]
    return backend(x)[0].permute(1, 2, 0).numpy()


def test_restorer_numpy_dtypes(restorer, s1_backend):
    rng = np.random.default_rng(1)
    rgb8 = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    out8 = restorer(rgb8)
    assert out8.dtype == np.uint8 and out8.shape == rgb8.shape
    np.testing.assert_array_equal(out8, from_float(_reference(s1_backend, to_float(rgb8)), 8))

    rgb16 = rng.integers(0, 65536, (21, 34, 3), dtype=np.uint16)
    out16 = restorer(rgb16)
    assert out16.dtype == np.uint16
    np.testing.assert_array_equal(out16, from_float(_reference(s1_backend, to_float(rgb16)), 16))

    rgbf = to_float(rgb8).astype(np.float64)
    outf = restorer(rgbf)
    assert outf.dtype == np.float64 and outf.shape == rgbf.shape
    np.testing.assert_allclose(outf, _reference(s1_backend, to_float(rgb8)), atol=1e-6)


def test_restorer_gray_and_alpha(restorer, s1_backend):
    rng = np.random.default_rng(2)
    gray = rng.integers(0, 256, (19, 23), dtype=np.uint8)
    out = restorer(gray)
    assert out.shape == gray.shape and out.dtype == np.uint8
    rgb = np.repeat(to_float(gray)[:, :, None], 3, axis=2)
    expected = from_float(_reference(s1_backend, rgb).mean(axis=2), 8)
    np.testing.assert_array_equal(out, expected)
    assert restorer(gray[:, :, None]).shape == (19, 23, 1)
    rgba = rng.integers(0, 256, (19, 23, 4), dtype=np.uint8)
    out_rgba = restorer(rgba)
    np.testing.assert_array_equal(out_rgba[:, :, 3], rgba[:, :, 3])
    np.testing.assert_array_equal(out_rgba[:, :, :3], restorer(rgba[:, :, :3]))


def test_restorer_pil(restorer):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for mode, array in [("RGB", rgb), ("L", rgb[:, :, 0]),
                        ("RGBA", np.dstack([rgb, rgb[:, :, :1]]))]:
        image = PIL.Image.fromarray(array, mode=mode)
        out = restorer(image)
        assert isinstance(out, PIL.Image.Image) and out.mode == mode and out.size == (30, 20)
        np.testing.assert_array_equal(np.asarray(out), restorer(array))
    palette = PIL.Image.fromarray(rgb).convert("P")
    assert restorer(palette).mode == "RGB"


def test_restorer_tensors_keep_shape_dtype_device(restorer, s1_backend):
    x = _image(24, 40)
    y = restorer(x)
    assert y.shape == x.shape and y.dtype == torch.float32 and y.device == x.device
    torch.testing.assert_close(y, s1_backend(x))
    chw = restorer(x[0])
    assert chw.shape == x.shape[1:]
    torch.testing.assert_close(chw, y[0])
    gray = restorer(x[:, :1].double())
    assert gray.shape == (1, 1, 24, 40) and gray.dtype == torch.float64
    as_u8 = (x * 255).round().to(torch.uint8)
    out_u8 = restorer(as_u8)
    assert out_u8.dtype == torch.uint8 and out_u8.shape == as_u8.shape
    with pytest.raises(TypeError, match="cannot restore"):
        restorer([1, 2, 3])


def test_restorer_tiled_options(s1_backend):
    x = np.random.default_rng(4).random((290, 270, 3), dtype=np.float32)
    whole = Restorer(s1_backend).restore_array(x)
    tiled = Restorer(s1_backend, tile=256, overlap="auto").restore_array(x)
    assert np.abs(tiled - whole).max() <= TOL_8BIT
    auto = Restorer(s1_backend, tile="auto")
    assert auto.tile_size() % s1_backend.pad_multiple == 0
    assert auto.restore_array(x).shape == x.shape


def test_restore_one_shot_and_lazy_package_export():
    x = np.zeros((16, 16, 3), np.uint8)
    assert restore(x, model=_conv_stack(), device="cpu").shape == x.shape
    code = ("import sys, deblurkit; assert 'torch' not in sys.modules; "
            "from deblurkit import restore, Restorer; "
            "from deblurkit.inference.restorer import restore as r; assert restore is r")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------ resolve

def test_load_backend_default_and_errors(tmp_path):
    from deblurkit.pretrained import bundled_card

    backend = load_backend("default", device="cpu")
    assert backend.model.deblurkit_name == Restorer(device="cpu").backend.model.deblurkit_name
    assert backend.pad_multiple == bundled_card("default").pad_multiple
    with pytest.raises(UserError, match="unknown model"):
        load_backend("no_such_model")
    with pytest.raises(UserError, match="model file not found"):
        load_backend(tmp_path / "missing.safetensors")
    with pytest.raises(UserError, match="not a generator|is a classifier"):
        load_backend("s4_frame_selector")
    with pytest.raises(UserError, match="needs an .onnx file"):
        load_backend("s1_msed_1scale", backend="onnxruntime")
    odd = tmp_path / "weights.bin"
    odd.write_bytes(b"x")
    with pytest.raises(UserError, match="state dict without its architecture; add --arch"):
        load_backend(odd)


def test_load_backend_name_warns_untrained(capsys):
    backend = load_backend("s1_msed_1scale", device="cpu")
    assert backend.name == "torch" and backend.pad_multiple == 8
    assert "untrained weights" in capsys.readouterr().err


def test_load_backend_safetensors_and_torchscript(tmp_path, s1_backend):
    from deblurkit.models.weights import save_model

    net = _small_s1(seed=5)
    path = save_model(net, tmp_path / "net.safetensors")
    x = _image(32, 48)
    expected = TorchBackend(net, device="cpu")(x)
    loaded = load_backend(path, device="cpu")
    torch.testing.assert_close(loaded(x), expected)
    scripted = torch.jit.trace(_conv_stack().eval(), torch.rand(1, 3, 16, 16))
    ts_path = tmp_path / "net.pt"
    scripted.save(str(ts_path))
    ts_backend = load_backend(ts_path, device="cpu")
    assert isinstance(ts_backend, TorchScriptBackend) and ts_backend.name == "torchscript"
    torch.testing.assert_close(ts_backend(x), TorchBackend(_conv_stack(), device="cpu")(x))
    garbage = tmp_path / "bad.pt"
    garbage.write_bytes(b"not torchscript")
    with pytest.raises(UserError, match="not a readable TorchScript"):
        load_backend(garbage, device="cpu")


def test_load_classifier(capsys):
    default = load_classifier(None, device="cpu")
    assert default.model.deblurkit_name == "s4_frame_selector"
    assert capsys.readouterr().err == ""      # bundled weights are trained: no warning
    with pytest.raises(UserError, match="not a classifier|is a generator"):
        load_classifier("s1_msed_1scale")
    clf = load_classifier("s4_frame_selector", device="cpu")
    assert "untrained weights" in capsys.readouterr().err
    p = clf(torch.rand(2, 3, 64, 64))
    assert p.shape == (2,) and ((p >= 0) & (p <= 1)).all()


# ------------------------------------------------------------------------------ shard

def test_shard_round_robin_disjoint_cover(monkeypatch):
    items = list(range(11))
    parts = [shard(items, rank=r, world=3) for r in range(3)]
    assert parts[0] == [0, 3, 6, 9, 10][:4] and sorted(sum(parts, [])) == items
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert shard(items) == [1, 3, 5, 7, 9]
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(UserError, match="invalid rank"):
        shard(items)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert shard(items) == items
