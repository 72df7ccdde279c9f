"""Export to ONNX / TorchScript: parity with eager PyTorch at two sizes (one odd, so the
in-graph padding is exercised) for every registered model, metadata, OnnxBackend and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurkit.cli import main
from deblurkit.errors import UserError
from deblurkit.export import (export_onnx, export_torchscript, load_torchscript,
                              read_onnx_metadata)
from deblurkit.export import common as export_common
from deblurkit.models import create_model, get_entry, list_models

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from deblurkit.inference.onnx_backend import OnnxBackend, resolve_providers  # noqa: E402

#: Narrow variants so that every registered model exports in a few seconds; the architecture
#: (layers, padding, multi-scale structure) is the registered one, only the widths shrink.
SMALL_KWARGS: dict[str, dict] = {
    "s1_msed": dict(base_width=4),
    "s1_msed_1scale": dict(base_width=4),
    "s1_msed_3scale": dict(base_width=4),
    "s1_msed_shared": dict(base_width=4),
    "s1_msed_fast": dict(base_width=4),
    "s1_msed_fast_stable": dict(base_width=4),
    "s2_msrn": dict(width=8),
    "s2_msrn_small": dict(width=8),
    "s2_msrn_cpu": dict(width=8, num_msrb=1),
    "s3_dn": dict(stem_channels=8, growth_rate=4, block_layers=(1, 1, 1, 1), bottleneck_layers=1,
                  decoder_channels=(16, 8, 8, 8)),
    "s3_msdn": dict(stem_channels=8, growth_rate=4, block_layers=(1, 1, 1, 1),
                    bottleneck_layers=1, decoder_channels=(16, 8, 8, 8)),
    # three levels (pad multiple 32, not 64): a trace keeps the reflect padding of its example,
    # which a 30-pixel side padded to 64 cannot use
    "s3_msdn_cpu": dict(stem_channels=8, growth_rate=4, block_layers=(1, 1, 1),
                        bottleneck_layers=1, decoder_channels=(16, 8, 8)),
    "s4_deblurnet": dict(body_channels=8, num_blocks=1),
    "s4_deblurnet_cpu": dict(body_channels=8, num_blocks=1),
    "s4_deblurnet_half": dict(body_channels=8, num_blocks=1),
    "s4_deblurnet_table1": dict(body_channels=8, num_blocks=1),
    "s4_frame_selector": dict(stem_channels=8, widths=(8, 8, 16, 16)),
    "s5_deblurgan_resnet": dict(base_width=8, num_blocks=1),
    "s5_multitask_resnet": dict(base_width=8, num_blocks=1),
    "s5_fpn_inception": dict(num_filters=8, num_filters_fpn=8),
    "s5_multitask_fpn": dict(num_filters=8, num_filters_fpn=8),
    "s5_fpn_cpu": dict(num_filters=8, num_filters_fpn=8, backbone_widths=(8, 8, 8, 8, 8)),
    "nafnet_w16": dict(width=4, enc_blocks=(1, 1, 1, 2)),
    "nafnet_w32": dict(width=4, enc_blocks=(1, 1, 1, 2)),
    "nafnet_fast": dict(width=4, enc_blocks=(1, 1, 1, 2)),  # unshuffle=2 kept
}
#: Input sizes of the parity check: odd sizes (padding inside the graph) and batch 2.
SIZES = [(1, 37, 53), (2, 30, 44)]
TOLERANCE = 1e-4

ALL = [n for n in list_models() if get_entry(n).kind in ("generator", "classifier")]
ONNX_OK = TS_OK = ALL  # every generator and the classifier export to both formats


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **SMALL_KWARGS.get(name, {})).eval()


def eager(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        y = model(x)
    return y.clamp(0, 1) if get_entry(model.deblurkit_name).kind == "generator" else y


def inputs(seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    return [torch.rand(b, 3, h, w, generator=generator) for b, h, w in SIZES]


def test_every_model_is_covered():
    assert set(ALL) <= set(SMALL_KWARGS), "add a small variant for new models"
    assert "s4_frame_selector" in ONNX_OK and "s4_frame_selector" in TS_OK


@pytest.mark.parametrize("name", ONNX_OK)
def test_onnx_parity(name, tmp_path):
    model = build(name)
    path = export_onnx(model, tmp_path / f"{name}.onnx", verify=False, receptive_field=False)
    backend = OnnxBackend(path, threads=1)
    assert backend.pad_multiple == getattr(model, "pad_multiple", 1)
    assert backend.kind == get_entry(name).kind
    for x in inputs():
        got, want = backend(x), eager(model, x)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) <= TOLERANCE, (name, tuple(x.shape))
    meta = read_onnx_metadata(path)
    assert meta["deblurkit_name"] == name
    assert meta["input_range"] == "[0, 1]"


@pytest.mark.parametrize("name", TS_OK)
def test_torchscript_parity(name, tmp_path):
    model = build(name)
    path = export_torchscript(model, tmp_path / f"{name}.pt", verify=False,
                              receptive_field=False)
    module, meta = load_torchscript(path)
    assert int(meta["pad_multiple"]) == getattr(model, "pad_multiple", 1)
    for x in inputs():
        with torch.no_grad():
            got = module(x)
        want = eager(model, x)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) <= TOLERANCE, (name, tuple(x.shape))


def test_verification_catches_a_size_specialised_trace(tmp_path):
    # an example that is a multiple of pad_multiple would trace no padding: refused up front
    model = build("s4_deblurnet")
    with pytest.raises(UserError, match="multiple of the model's pad multiple"):
        export_onnx(model, tmp_path / "a.onnx", example_size=(64, 65))
    assert not (tmp_path / "a.onnx").exists()


def test_verified_export_metadata_and_refusals(tmp_path):
    model = build("s1_msed")
    path = export_onnx(model, tmp_path / "s1.onnx")  # verify + receptive field on
    meta = read_onnx_metadata(path)
    assert meta["pad_multiple"] == "16" and meta["deblurkit_kind"] == "generator"
    assert int(meta["receptive_field"]) > 1
    assert meta["deblurkit_kwargs"] == '{"base_width": 4, "num_scales": 2}'
    backend = OnnxBackend(path)
    assert backend.receptive_field == int(meta["receptive_field"])
    with pytest.raises(UserError, match="already exists"):
        export_onnx(model, path)
    with pytest.raises(UserError, match="only generators and the frame classifier"):
        export_onnx(create_model("patchgan"), tmp_path / "d.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s1.onnx"]


def test_onnx_backend_small_inputs_and_providers(tmp_path, caplog):
    model = build("s1_msed")   # pad multiple 16: a 5 x 7 input cannot be reflect-padded
    path = export_onnx(model, tmp_path / "s1.onnx", verify=False, receptive_field=False)
    backend = OnnxBackend(path, providers="cuda", threads=1)
    assert backend.providers[-1] == "CPUExecutionProvider"
    for shape in [(1, 3, 5, 7), (1, 3, 3, 40)]:
        x = torch.rand(*shape)
        assert float((backend(x) - eager(model, x)).abs().max()) <= TOLERANCE
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(UserError, match="unknown ONNX Runtime provider"):
        resolve_providers("tpu")
    with pytest.raises(ValueError, match="B x 3 x H x W"):
        backend(torch.rand(3, 8, 8))


def test_torchscript_backend_reads_metadata_and_pads_small_inputs(tmp_path):
    from deblurkit.inference.backends import TorchScriptBackend

    model = build("s1_msed")   # pad multiple 16
    path = export_torchscript(model, tmp_path / "s1.pt", verify=False)
    backend = TorchScriptBackend(path, device="cpu", channels_last=False)
    assert backend.pad_multiple == 16
    assert backend.receptive_field == int(backend.metadata["receptive_field"])
    for shape in [(1, 3, 5, 7), (1, 3, 3, 40), (2, 3, 37, 53)]:
        x = torch.rand(*shape)
        assert float((backend(x) - eager(model, x)).abs().max()) <= TOLERANCE


def test_onnx_backend_foreign_and_bad_files(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["y"])], "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])])
    foreign = tmp_path / "double.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), foreign)
    backend = OnnxBackend(foreign)
    assert (backend.pad_multiple, backend.receptive_field) == (1, None)
    x = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(backend(x), torch.full_like(x, 0.6))          # 2x
    assert float(backend(torch.full_like(x, 0.9)).max()) == 1.0          # clamped
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(UserError, match="not a loadable ONNX model"):
        OnnxBackend(tmp_path / "junk.onnx")
    with pytest.raises(UserError, match="not found"):
        OnnxBackend(tmp_path / "missing.onnx")


def test_export_cli_end_to_end(tmp_path, capsys, monkeypatch):
    import importlib.util
    import json

    from deblurkit.cli import COMMANDS
    from deblurkit.models.weights import load_model, save_model

    monkeypatch.setitem(COMMANDS, "export", "deblurkit.cli.export")

    weights = save_model(build("s4_deblurnet"), tmp_path / "net.safetensors")
    out = tmp_path / "net.onnx"
    assert main(["export", str(weights), "-o", str(out)]) == 0
    assert "verified against PyTorch" in capsys.readouterr().out
    meta = read_onnx_metadata(out)
    assert meta["deblurkit_name"] == "s4_deblurnet"
    assert json.loads(meta["deblurkit_kwargs"])["body_channels"] == 8
    x = torch.rand(1, 3, 37, 53)
    assert float((OnnxBackend(out)(x) - eager(load_model(weights).eval(), x)).abs().max()) \
        <= TOLERANCE
    before = out.read_bytes()
    assert main(["export", str(weights), "-o", str(out)]) == 1             # no --overwrite
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["export", str(weights), "-o", str(out), "--overwrite", "--opset", "18",
                 "--height", "41", "--width", "59"]) == 0
    assert read_onnx_metadata(out)["opset"] == "18"
    assert read_onnx_metadata(out)["example_size"] == "41x59"
    ts = tmp_path / "net.pt"   # format from the suffix
    assert main(["export", str(weights), "-o", str(ts)]) == 0
    module, meta = load_torchscript(ts)
    assert meta["format"] == "torchscript"
    capsys.readouterr()
    # a registered name: untrained weights, loudly
    assert main(["export", "s4_deblurnet_half", "-o", str(tmp_path / "u.onnx"),
                 "--no-verify"]) == 0
    assert "UNTRAINED" in capsys.readouterr().err
    # refusals: one-line errors, nothing written
    assert main(["export", "patchgan", "-o", str(tmp_path / "m.onnx")]) == 1
    assert "patchgan" in capsys.readouterr().err and not (tmp_path / "m.onnx").exists()
    assert main(["export", "s4_deblurnet", "-o", str(tmp_path / "x.bin")]) == 1
    assert "--format" in capsys.readouterr().err
    assert main(["export", "s4_deblurnet", "-o", str(tmp_path / "h.onnx"), "--height", "9"]) == 1
    dynamo = main(["export", "s4_deblurnet", "--exporter", "dynamo", "--no-verify",
                   "-o", str(tmp_path / "dyn.onnx")])
    if importlib.util.find_spec("onnxscript") is None:
        assert dynamo == 1 and "onnxscript" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "h.onnx").exists()


def test_restore_cli_with_onnxruntime_backend(tmp_path, monkeypatch, capsys):
    """`deblurkit restore --backend onnxruntime` on an exported file matches eager PyTorch."""
    pytest.importorskip("deblurkit.cli.restore")
    from deblurkit.cli import COMMANDS
    from deblurkit.io import read_image, write_image

    monkeypatch.setitem(COMMANDS, "restore", "deblurkit.cli.restore")
    model = build("s4_deblurnet")
    onnx_file = export_onnx(model, tmp_path / "net.onnx", verify=False, receptive_field=False)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    write_image(tmp_path / "in" / "a.png", pixels)
    status = main(["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model",
                   str(onnx_file), "--backend", "onnxruntime", "--tile", "0"])
    assert status == 0, capsys.readouterr().err
    restored = read_image(tmp_path / "out" / "a.png").pixels.astype(np.float64) / 255
    x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
    want = eager(model, x)[0].permute(1, 2, 0).numpy()
    assert restored.shape == want.shape
    assert np.abs(restored - want).max() <= 1 / 255 + 1e-6
