"""Re-initialising the dead part of a trained network (tools/revive_weights.py): the live part
is copied exactly, the rest is fresh, the joining layer starts silent yet reachable by
gradients, the output barely moves, and a network whose part is not dead is refused."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.training.health import frozen_share
from scripts import load_script

TOOL = Path(__file__).resolve().parent.parent / "tools" / "revive_weights.py"
SMALL = {"base_width": 8, "max_width": 16}
KEEP = ["scales.0.encoder.0.", "scales.0.decoder.3."]
SILENCE = "scales.0.decoder.2.out"


@pytest.fixture()
def tool():
    return load_script(TOOL)


def source(tmp_path, dead: bool = True) -> Path:
    """A small s1_msed_fast with non-zero weights; ``dead``: its coarse path never fires."""
    torch.manual_seed(0)
    model = create_model("s1_msed_fast", **SMALL)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
        if dead:
            model.get_submodule(SILENCE).bias.fill_(-1e3)
    return save_model(model, tmp_path / "src.safetensors", metadata={"step": "4500"})


def test_revived_network_keeps_the_live_part_and_learns_everywhere(tool, tmp_path):
    src = source(tmp_path)
    old = load_model(src)
    target = tool.revive(src, KEEP, SILENCE, tmp_path / "out")
    new = load_model(target)
    old_state, new_state = old.state_dict(), new.state_dict()
    for key, value in new_state.items():
        if key.startswith(tuple(KEEP)):
            assert torch.equal(value, old_state[key]), key          # copied exactly
        elif key.startswith(SILENCE):
            expected = torch.full_like(value, 1e-4 if key.endswith("bias") else 0.0)
            assert torch.equal(value, expected), key                # silent, bias 1e-4
        else:
            assert not torch.equal(value, old_state[key]), key      # drawn afresh
    info = json.loads(read_metadata(target)["revived"])
    assert info["keep"] == KEEP and info["silence"] == SILENCE and info["source_step"] == "4500"
    assert 0 < info["max_change"] <= 1e-3
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert float((new(x) - old(x)).abs().max()) <= 1e-3
    # the dead source learns only at its finest level; the revived one is reachable after
    # one step (the silent layer gets its gradient at once, the rest from the second step)
    for model in (old, new):
        model.train()
        model(x).square().mean().backward()
    assert frozen_share(old) > 0.5
    assert float(new.get_submodule(SILENCE).weight.grad.abs().sum()) > 0


def test_same_seed_same_start(tool, tmp_path):
    src = source(tmp_path)
    a = load_model(tool.revive(src, KEEP, SILENCE, tmp_path / "a", seed=3)).state_dict()
    b = load_model(tool.revive(src, KEEP, SILENCE, tmp_path / "b", seed=3)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_refusals(tool, tmp_path):
    live = source(tmp_path, dead=False)
    with pytest.raises(UserError, match="moves by"):        # its coarse path mattered
        tool.revive(live, KEEP, SILENCE, tmp_path / "o1")
    dead = source(tmp_path)
    with pytest.raises(UserError, match="--keep nothing"):
        tool.revive(dead, ["nothing."], SILENCE, tmp_path / "o2")
    with pytest.raises(UserError, match="no such layer"):
        tool.revive(dead, KEEP, "scales.0.decoder.9.out", tmp_path / "o3")
    with pytest.raises(UserError, match="re-initialised layer"):
        tool.revive(dead, KEEP, "scales.0.decoder.3.out", tmp_path / "o4")
    tool.revive(dead, KEEP, SILENCE, tmp_path / "o5")
    with pytest.raises(UserError, match="exists"):
        tool.revive(dead, KEEP, SILENCE, tmp_path / "o5")


def test_bad_input_is_one_line(tool, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["revive_weights.py", "--source",
                                      str(tmp_path / "missing.safetensors"), "--keep", "a.",
                                      "--silence", "b", "-o", str(tmp_path / "o")])
    assert tool.main() == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.safetensors" in err[0]
