"""`--model FILE.pth --arch NAME [--arch-kwargs JSON]` (issue 14): third-party state dicts
read with torch.load(weights_only=True), BasicSR containers, the same architecture checks as a
.safetensors file's stored arguments, official NAFNet checkpoints, and one-line refusals."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.cli import main
from deblurkit.errors import UserError
from deblurkit.inference.resolve import load_backend
from deblurkit.inference.restorer import Restorer
from deblurkit.io import read_image, write_image
from deblurkit.models import create_model
from deblurkit.models.files import load_network, parse_model_spec, torch_archive_kind
from deblurkit.models.nafnet import (from_official_state_dict, looks_official,
                                     to_official_state_dict)
from deblurkit.models.weights import load_state_dict_model, save_model

#: The cheapest registered generator, shrunk further (the CLI round trip and the refusals).
ARCH = "s1_msed"
KWARGS = {"base_width": 4, "depth": 2, "num_scales": 1}
#: A small NAFNet whose decoder lists differ per level (so the coarse -> fine order of the
#: official ``ups`` / ``decoders`` is exercised) and whose blocks are not the identity.
NAF_KWARGS = {"width": 4, "enc_blocks": [1, 2], "middle_blocks": 1, "dec_blocks": [2, 1],
              "scale_init": 0.5}


def _tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model(ARCH, **KWARGS).eval()


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def _refused(argv: list[str], capsys, *fragments: str) -> str:
    """The command exits 1 with one line on stderr (no traceback) containing ``fragments``."""
    code, err = _cli(argv, capsys)
    assert code == 1, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.fixture
def image(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    path = tmp_path / "in.png"
    write_image(path, rng.integers(0, 256, (20, 28, 3), dtype=np.uint8))
    return path


# ------------------------------------------------------------------ containers
def test_basicsr_params_ema_is_preferred_over_params(tmp_path):
    ema, raw = _tiny(1), _tiny(2)
    path = tmp_path / "basicsr.pth"
    torch.save({"params": raw.state_dict(), "params_ema": ema.state_dict(), "iter": 5}, path)
    loaded = load_state_dict_model(path, ARCH, KWARGS)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in ema.state_dict().items())
    only_params = tmp_path / "params.pth"
    torch.save({"params": raw.state_dict()}, only_params)
    loaded = load_state_dict_model(only_params, ARCH, KWARGS)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in raw.state_dict().items())
    assert loaded.deblurkit_name == ARCH and not loaded.training


@pytest.mark.parametrize("wrap", [
    lambda sd: {f"module.{k}": v for k, v in sd.items()},                  # DataParallel
    lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}},
    lambda sd: {"net_g": sd, "optimizer": {"lr": 0.1}},
    lambda sd: {"model": sd, "epoch": 3},
], ids=["module-prefix", "state_dict+module", "net_g", "model"])
def test_wrappers_and_the_module_prefix_are_understood(tmp_path, wrap):
    net = _tiny(3)
    path = tmp_path / "w.ckpt"
    torch.save(wrap(net.state_dict()), path)
    loaded = load_state_dict_model(path, ARCH, KWARGS)
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), net(x))


def test_pt_is_told_apart_by_its_entries_and_torchscript_still_needs_no_arch(tmp_path):
    from deblurkit.export import export_torchscript

    net = _tiny()
    script = export_torchscript(net, tmp_path / "net.pt", verify=False, receptive_field=False)
    state = tmp_path / "state.pt"
    torch.save(net.state_dict(), state)
    assert torch_archive_kind(script) == "torchscript"
    assert torch_archive_kind(state) == "state_dict"
    assert parse_model_spec(script).source == "torchscript"
    assert parse_model_spec(state, arch=ARCH, arch_kwargs=KWARGS).source == "state_dict"
    x = np.random.default_rng(0).random((16, 24, 3), dtype=np.float32)
    by_script = Restorer(str(script), device="cpu")(x)
    by_state = Restorer(parse_model_spec(state, arch=ARCH, arch_kwargs=KWARGS), device="cpu")(x)
    np.testing.assert_allclose(by_state, by_script, atol=1e-5)


# ------------------------------------------------------------------ the command line
def test_restore_round_trip_with_a_state_dict_and_arch(tmp_path, image, capsys):
    net = _tiny()
    reference = save_model(net, tmp_path / "ref.safetensors")
    state = tmp_path / "w.pth"
    torch.save({"params": net.state_dict()}, state)
    common = [str(image), "--device", "cpu", "--tile", "0"]
    code, err = _cli(["restore", *common, "-o", str(tmp_path / "a"), "--model", str(state),
                      "--arch", ARCH, "--arch-kwargs", json.dumps(KWARGS)], capsys)
    assert code == 0, err
    assert "UNTRAINED" not in err
    code, err = _cli(["restore", *common, "-o", str(tmp_path / "b"), "--model",
                      str(reference)], capsys)
    assert code == 0, err
    out = read_image(tmp_path / "a" / "in.png").pixels
    expected = read_image(tmp_path / "b" / "in.png").pixels
    assert out.shape == expected.shape and np.array_equal(out, expected)


def test_state_dicts_without_arch_and_arch_without_state_dicts_are_refused(tmp_path, image,
                                                                           capsys):
    state = tmp_path / "w.pth"
    torch.save(_tiny().state_dict(), state)
    state_pt = tmp_path / "w.pt"
    torch.save(_tiny().state_dict(), state_pt)
    saved = save_model(_tiny(), tmp_path / "net.safetensors")
    onnx = tmp_path / "net.onnx"
    onnx.write_bytes(b"x")
    run = ["restore", str(image), "-o", str(tmp_path / "out"), "--device", "cpu"]
    _refused([*run, "--model", str(state)], capsys, "w.pth", "add --arch NAME")
    _refused([*run, "--model", str(state_pt)], capsys, "w.pt", "saved with torch.save",
             "add --arch NAME")
    _refused([*run, "--arch", ARCH], capsys, "default", "needs --model to be a state dict")
    _refused([*run, "--model", "s1_msed", "--arch", ARCH], capsys, "drop --arch")
    _refused([*run, "--model", str(saved), "--arch", ARCH], capsys, "net.safetensors",
             "names its own architecture; drop --arch")
    _refused([*run, "--model", str(onnx), "--arch", ARCH], capsys, "net.onnx", "drop --arch")
    _refused([*run, "--model", str(state), "--arch-kwargs", "{}"], capsys,
             "--arch-kwargs needs --arch NAME")
    _refused([*run, "--model", str(state), "--arch", "s9_nothing"], capsys, "w.pth",
             "--arch: unknown model 's9_nothing'")
    _refused([*run, "--model", str(state), "--arch", "s4_frame_selector"], capsys,
             "is a classifier, not a generator")
    _refused([*run, "--model", str(tmp_path / "missing.pth"), "--arch", ARCH], capsys,
             "missing.pth: model file not found")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({**KWARGS, "base_width": "4"}, "--arch-kwargs['base_width'] must be an integer, got a "
                                    "string"),
    ({**KWARGS, "base_width": 0}, "--arch-kwargs['base_width'] must be at least 1, got 0"),
    ({**KWARGS, "base_width": -3}, "--arch-kwargs['base_width'] must be at least 1, got -3"),
    ({**KWARGS, "global_residual": 1}, "--arch-kwargs['global_residual'] must be a boolean, "
                                       "got an integer"),
    ({**KWARGS, "nope": 1}, "has no argument(s) ['nope']"),
    ({**KWARGS, "base_width": {"a": 1}}, "--arch-kwargs['base_width'] is not a plain JSON"),
    ([4, 2], "--arch-kwargs must be a JSON object, got list"),
    ({**KWARGS, "base_width": 8}, "shape mismatch of tensor"),
], ids=["type", "zero", "negative", "bool", "unknown", "nested", "list", "other-width"])
def test_bad_arch_kwargs_are_refused_in_one_line(tmp_path, image, capsys, kwargs, fragment):
    state = tmp_path / "w.pth"
    torch.save(_tiny().state_dict(), state)
    _refused(["restore", str(image), "-o", str(tmp_path / "out"), "--device", "cpu",
              "--model", str(state), "--arch", ARCH, "--arch-kwargs", json.dumps(kwargs)],
             capsys, "w.pth: ", fragment)


def test_a_huge_architecture_is_refused_before_anything_is_allocated(tmp_path):
    state = tmp_path / "w.pth"
    torch.save(_tiny().state_dict(), state)
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"w.pth: shape mismatch .*\[4000.* by --arch 's1_msed'"):
        load_state_dict_model(state, ARCH, {**KWARGS, "base_width": 4000})
    assert time.perf_counter() - start < 5   # the 4000-wide network was only built on meta


def test_missing_unexpected_and_misshapen_keys_are_named(tmp_path, image, capsys):
    state = _tiny().state_dict()
    first, second = list(state)[:2]
    cases = {
        "missing.pth": ({k: v for k, v in state.items() if k != first},
                        ["does not match --arch 's1_msed'", "1 missing", first]),
        "extra.pth": ({**state, "head.weight": torch.zeros(2)},
                      ["1 unexpected", "head.weight"]),
        "shape.pth": ({**state, second: torch.zeros(7)},
                      [f"shape mismatch of tensor {second!r}: [7] in the file"]),
    }
    for name, (payload, fragments) in cases.items():
        path = tmp_path / name
        torch.save({"params": payload}, path)
        _refused(["restore", str(image), "-o", str(tmp_path / "out"), "--device", "cpu",
                  "--model", str(path), "--arch", ARCH, "--arch-kwargs", json.dumps(KWARGS)],
                 capsys, name, *fragments)


class _Payload:
    """Pickled code: weights_only loading must refuse it without running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_with_more_than_tensors_is_refused_by_weights_only(tmp_path, image, capsys):
    marker = tmp_path / "executed"
    evil = tmp_path / "evil.pth"
    torch.save({"params": {"w": torch.zeros(1), "x": _Payload(marker)}}, evil)
    err = _refused(["restore", str(image), "-o", str(tmp_path / "out"), "--device", "cpu",
                    "--model", str(evil), "--arch", ARCH], capsys,
                   "evil.pth: cannot be read with torch.load(weights_only=True)",
                   "Unsupported global", "holds more than tensors")
    assert "\x1b[" not in err and not marker.exists()
    strings = tmp_path / "strings.pth"
    torch.save({"params": {"w": torch.zeros(1), "note": "hello"}}, strings)
    _refused(["restore", str(image), "-o", str(tmp_path / "out"), "--device", "cpu",
              "--model", str(strings), "--arch", ARCH], capsys, "strings.pth: not a state dict",
             "note")


def test_a_plain_safetensors_state_dict_takes_arch_too(tmp_path):
    from safetensors.torch import save_file

    net = _tiny()
    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    with pytest.raises(UserError, match="--model FILE --arch NAME"):
        load_network(path)
    loaded = load_network(parse_model_spec(path, arch=ARCH, arch_kwargs=KWARGS))
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(loaded(x), net(x))


# ------------------------------------------------------------------ official NAFNet
class _OfficialBlock(nn.Module):
    """NAFBlock in the official layout (megvii-research/NAFNet, NAFNet_arch.py): the reference
    the key map is checked against."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, 2 * c, 1)
        self.conv2 = nn.Conv2d(2 * c, 2 * c, 3, padding=1, groups=2 * c)
        self.conv3 = nn.Conv2d(c, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c, 1))
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1 = _OfficialNorm(c)
        self.norm2 = _OfficialNorm(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: Tensor) -> Tensor:
        a, b = self.conv2(self.conv1(self.norm1(inp))).chunk(2, dim=1)
        x = a * b
        y = inp + self.conv3(x * self.sca(x)) * self.beta
        a, b = self.conv4(self.norm2(y)).chunk(2, dim=1)
        return y + self.conv5(a * b) * self.gamma


class _OfficialNorm(nn.Module):
    def __init__(self, c: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), eps

    def forward(self, x: Tensor) -> Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class _OfficialNAFNet(nn.Module):
    """The official NAFNet layout: ``ups`` / ``decoders`` built coarse -> fine, zero padding."""

    def __init__(self, width: int, middle_blk_num: int, enc_blk_nums: list[int],
                 dec_blk_nums: list[int]) -> None:
        super().__init__()
        self.intro = nn.Conv2d(3, width, 3, padding=1)
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.encoders, self.decoders = nn.ModuleList(), nn.ModuleList()
        self.ups, self.downs = nn.ModuleList(), nn.ModuleList()
        chan = width
        for num in enc_blk_nums:
            self.encoders.append(nn.Sequential(*[_OfficialBlock(chan) for _ in range(num)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, 2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[_OfficialBlock(chan) for _ in range(middle_blk_num)])
        for num in dec_blk_nums:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False),
                                          nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[_OfficialBlock(chan) for _ in range(num)]))
        self.padder_size = 2 ** len(self.encoders)

    def forward(self, inp: Tensor) -> Tensor:
        h, w = inp.shape[-2:]
        inp = F.pad(inp, (0, -w % self.padder_size, 0, -h % self.padder_size))
        x = self.intro(inp)
        encs = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            encs.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, encs[::-1]):
            x = decoder(up(x) + skip)
        return (self.ending(x) + inp)[:, :, :h, :w]


def _official_checkpoint(tmp_path) -> tuple[nn.Module, Path]:
    torch.manual_seed(5)
    ours = create_model("nafnet_w16", **NAF_KWARGS).eval()
    official = to_official_state_dict(ours.state_dict())
    path = tmp_path / "NAFNet-official.pth"
    torch.save({"params": official}, path)          # as BasicSR saves it
    return ours, path


def test_the_key_map_matches_the_official_layout():
    torch.manual_seed(5)
    ours = create_model("nafnet_w16", **NAF_KWARGS).eval()
    reference = _OfficialNAFNet(width=4, middle_blk_num=1, enc_blk_nums=[1, 2],
                                dec_blk_nums=[1, 2])        # official order: coarse -> fine
    official = to_official_state_dict(ours.state_dict())
    assert looks_official(official) and not looks_official(ours.state_dict())
    reference.load_state_dict(official, strict=True)        # every name and shape fits
    assert list(from_official_state_dict(official)) == list(ours.state_dict())
    x = torch.rand(1, 3, 16, 20)                            # a multiple of 2^L: no padding
    with torch.no_grad():
        torch.testing.assert_close(reference.eval()(x), ours(x), atol=1e-5, rtol=1e-5)


def test_an_official_nafnet_checkpoint_restores_like_our_model(tmp_path, capsys):
    ours, path = _official_checkpoint(tmp_path)
    spec = parse_model_spec(path, arch="nafnet_w16", arch_kwargs=NAF_KWARGS)
    loaded = load_network(spec, kind="generator")
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(loaded(x), ours(x))
    image = np.random.default_rng(1).random((21, 30, 3), dtype=np.float32)
    from_file = Restorer(spec, device="cpu", tile=None)(image)
    assert np.array_equal(from_file, Restorer(ours, device="cpu", tile=None)(image))
    backend = load_backend(spec, device="cpu")
    assert backend.pad_multiple == 4
    assert capsys.readouterr().err == ""


def test_an_official_nafnet_checkpoint_of_another_size_is_refused_by_name(tmp_path):
    _, path = _official_checkpoint(tmp_path)
    with pytest.raises(UserError, match=r"NAFNet-official.pth: shape mismatch of tensor "
                                        r"'[^']+': \[4[],].* by --arch 'nafnet_w16'"):
        load_state_dict_model(path, "nafnet_w16", {**NAF_KWARGS, "width": 8})
    with pytest.raises(UserError, match=r"does not match --arch 'nafnet_w16' \(tensors "
                                        r"\d+ missing: decoders\.1\.1\."):
        load_state_dict_model(path, "nafnet_w16", {**NAF_KWARGS, "dec_blocks": [2, 2]})
    with pytest.raises(UserError, match="does not match --arch 'nafnet_w16'"):
        load_state_dict_model(path, "nafnet_w16")          # the GoPro block counts
