"""Weight-space interpolation (deblurkit.training.interpolation) and its tool
(tools/interpolate_weights.py): exact end points and midpoint, integer buffers, errors,
module == function, and the blended checkpoint folder the bundling tool reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.training.interpolation import interpolate_state, interpolate_weights
from scripts import load_script

TOOL = Path(__file__).resolve().parent.parent / "tools" / "interpolate_weights.py"
SMALL = {"stem_channels": 4, "widths": [4, 8, 8, 8], "norm": "batch"}


def pair(seed: int = 0):
    """Two small frame classifiers (with batch-norm buffers) with different random weights."""
    torch.manual_seed(seed)
    a = create_model("s4_frame_selector", **SMALL)
    b = create_model("s4_frame_selector", **SMALL)
    with torch.no_grad():
        for name, buf in b.named_buffers():
            if name.endswith("num_batches_tracked"):
                buf.fill_(7)
            elif name.endswith("running_mean"):
                buf.normal_()
    return a, b


def test_end_points_are_exact():
    a, b = pair()
    for alpha, ref in ((0.0, a), (1.0, b)):
        out = interpolate_weights(a, b, alpha).state_dict()
        for key, value in ref.state_dict().items():
            if value.is_floating_point():
                assert torch.equal(out[key], value), key


def test_midpoint_and_integer_buffers():
    a, b = pair()
    sa, sb = a.state_dict(), b.state_dict()
    out = interpolate_weights(a, b, 0.25).state_dict()
    for key, value in sb.items():
        if value.is_floating_point():
            expected = (0.75 * sa[key].double() + 0.25 * value.double()).float()
            torch.testing.assert_close(out[key], expected, rtol=0, atol=1e-7)
        else:   # counters are not blended: they come from ``end``
            assert torch.equal(out[key], value) and int(out[key]) == 7


def test_inputs_unchanged_and_result_is_new():
    a, b = pair()
    before = {k: v.clone() for k, v in a.state_dict().items()}
    mid = interpolate_weights(a, b, 0.5)
    assert mid is not a and mid is not b
    assert mid.deblurkit_name == b.deblurkit_name and mid.deblurkit_kwargs == b.deblurkit_kwargs
    for key, value in a.state_dict().items():
        assert torch.equal(value, before[key])


def test_module_equals_function():
    a, b = pair()
    mid = interpolate_weights(a, b, 0.6).state_dict()
    direct = interpolate_state(a.state_dict(), b.state_dict(), 0.6)
    assert mid.keys() == direct.keys()
    for key in mid:
        assert torch.equal(mid[key], direct[key])


def test_blend_with_itself_is_the_same_network():
    """Any alpha between a model and itself gives the same outputs (float64 blend, exact)."""
    a, _ = pair()
    a.eval()
    x = torch.rand(2, 3, 64, 64)
    same = interpolate_weights(a, a, 0.37).eval()
    with torch.no_grad():
        assert torch.equal(same(x), a(x))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan")])
def test_alpha_out_of_range(alpha):
    a, b = pair()
    with pytest.raises(UserError, match="alpha"):
        interpolate_weights(a, b, alpha)


def test_different_architectures_refused():
    a = create_model("s4_frame_selector", **SMALL)
    b = create_model("s4_frame_selector", **{**SMALL, "widths": [4, 8, 8, 16]})
    with pytest.raises(UserError, match="different architectures"):
        interpolate_weights(a, b, 0.5)


def test_state_keys_and_shapes_checked():
    sa = {"w": torch.zeros(2), "v": torch.zeros(1)}
    with pytest.raises(UserError, match="differ"):
        interpolate_state(sa, {"w": torch.zeros(2)}, 0.5)
    with pytest.raises(UserError, match="shape"):
        interpolate_state({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)


@pytest.fixture()
def tool():
    return load_script(TOOL)


def test_tool_writes_a_checkpoint_folder(tool, tmp_path):
    a, b = pair()
    start = save_model(a, tmp_path / "start.safetensors", metadata={"step": "4500"})
    run = tmp_path / "run" / "checkpoints" / "step_00000010"
    run.mkdir(parents=True)
    save_model(b, run / "ema.safetensors", metadata={"step": "10", "weights": "ema"})
    (run / "config.yaml").write_text("name: x\n")
    out = tmp_path / "blend"
    target = tool.blend(start, run, 0.5, out)
    assert target == out / "ema.safetensors"
    assert (out / "config.yaml").read_text() == "name: x\n"
    header = read_metadata(target)
    assert header["step"] == "10"
    info = json.loads(header["interpolation"])
    assert info["alpha"] == 0.5 and info["start_step"] == "4500" and info["end_step"] == "10"
    blended = load_model(target).state_dict()
    expected = interpolate_weights(a, b, 0.5).state_dict()
    for key in expected:
        assert torch.equal(blended[key], expected[key]), key
    with pytest.raises(UserError, match="exists"):
        tool.blend(start, run, 0.5, out)


def test_tool_bad_input_is_one_line(tool, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["interpolate_weights.py", "--start",
                                      str(tmp_path / "missing.safetensors"), "--end",
                                      str(tmp_path), "--alpha", "0.5", "-o",
                                      str(tmp_path / "out")])
    assert tool.main() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.safetensors" in err[0]
