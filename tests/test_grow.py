"""Growing a trained network deeper (deblurkit.training.grow) and its tool
(tools/grow_weights.py): the deeper network computes exactly the trained function, the trained
tensors are copied and the new blocks are the identity yet trainable, and every mismatch is
refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.s1_msed import ResBlock
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.training.grow import grow_into
from scripts import load_script

TOOL = Path(__file__).resolve().parent.parent / "tools" / "grow_weights.py"
SMALL = {"base_width": 8, "max_width": 16}
DEEPER = {"num_resblocks": [1, 2, 4, 6], "decoder_resblocks": [1, 1, 2, 3]}


def trained(seed: int = 0):
    """A small s1_msed_fast with random (non-zero) weights everywhere, output layer included."""
    torch.manual_seed(seed)
    model = create_model("s1_msed_fast", **SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_resblock_zero_residual_is_identity():
    block = ResBlock(4)
    block.zero_residual_()
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(block(x), x)
    assert float(block.conv1.weight.detach().abs().sum()) > 0   # the first layer keeps its init


def test_grown_network_computes_the_same_function():
    small = trained()
    deep = create_model("s1_msed_fast", **SMALL, **DEEPER).eval()
    new = grow_into(deep, small.state_dict())
    # encoder levels 2 and 3 gain 1 and 2 blocks; decoder levels 2 and 3 gain 1 and 1
    assert len(new) == 5 and all(".resblocks." in n for n in new)
    assert "scales.0.encoder.3.resblocks.5" in new and "scales.0.decoder.0.resblocks.2" in new
    x = torch.rand(2, 3, 48, 80)
    with torch.no_grad():
        torch.testing.assert_close(deep(x), small(x), rtol=0, atol=1e-6)
    for key, value in small.state_dict().items():       # trained tensors copied exactly
        assert torch.equal(deep.state_dict()[key], value), key


def test_new_blocks_get_gradients():
    small = trained()
    deep = create_model("s1_msed_fast", **SMALL, **DEEPER).train()
    new = grow_into(deep, small.state_dict())
    deep(torch.rand(1, 3, 32, 32)).square().mean().backward()
    for name in new:
        block = deep.get_submodule(name)
        assert float(block.conv2.weight.grad.abs().sum()) > 0, name   # zeroed layer learns


def test_same_depth_is_a_plain_copy():
    small = trained()
    same = create_model("s1_msed_fast", **SMALL)
    assert grow_into(same, small.state_dict()) == []


def test_mismatches_refused():
    small = trained().state_dict()
    with pytest.raises(UserError, match="only depth can grow"):
        grow_into(create_model("s1_msed_fast", base_width=8, max_width=32), small)
    shallower = create_model("s1_msed_fast", **SMALL, num_resblocks=[1, 1, 1, 1])
    with pytest.raises(UserError, match="has no place"):
        grow_into(shallower, small)
    # a new tensor outside any growable block (the fusion weight of a second scale that
    # shares the first one's network) is refused
    with pytest.raises(UserError, match="fusion_weights .*not part of a block"):
        grow_into(create_model("s1_msed_fast", **SMALL, num_scales=2, share_weights=True), small)


def test_partly_trained_block_refused():
    small = trained().state_dict()
    partial = {k: v for k, v in small.items()
               if not k.startswith("scales.0.encoder.3.resblocks.3.conv2")}
    with pytest.raises(UserError, match="partly trained"):
        grow_into(create_model("s1_msed_fast", **SMALL), partial)


@pytest.fixture()
def tool():
    return load_script(TOOL)


def test_tool_writes_a_trainable_start(tool, tmp_path):
    small = trained()
    source = save_model(small, tmp_path / "s.safetensors", metadata={"step": "4500"})
    out = tmp_path / "grown"
    target = tool.grow(source, tool.parse_overrides(
        ["num_resblocks=[1, 2, 4, 6]", "decoder_resblocks=[1, 1, 2, 3]"]), out)
    assert target == out / "ema.safetensors"
    header = read_metadata(target)
    assert header["step"] == "4500"
    info = json.loads(header["grown"])
    assert info["source_step"] == "4500" and len(info["new_blocks"]) == 5
    assert info["overrides"] == DEEPER
    deep = load_model(target)
    assert deep.deblurkit_kwargs["num_resblocks"] == [1, 2, 4, 6]
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(deep(x), small(x), rtol=0, atol=1e-6)
    with pytest.raises(UserError, match="exists"):
        tool.grow(source, {}, out)


def test_tool_bad_input_is_one_line(tool, tmp_path, monkeypatch, capsys):
    source = save_model(trained(), tmp_path / "s.safetensors")
    for argv, needle in ((["--source", str(tmp_path / "missing.safetensors")], "missing"),
                         (["--source", str(source), "--set", "width"], "KEY=VALUE"),
                         (["--source", str(source), "--set", "base_width=16"], "only depth")):
        monkeypatch.setattr(sys, "argv", ["grow_weights.py", *argv, "-o", str(tmp_path / "o")])
        assert tool.main() == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], err
