"""Weight files derived from trained ones (deblurkit.training.derived): which file a path
names, refusal to replace an output, the measured output change, and the written header."""

from __future__ import annotations

import json

import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.training.derived import (DERIVED_FILE, derived_target, output_change,
                                        save_derived, weights_file)

SMALL = {"base_width": 8, "max_width": 16}


def small(seed: int = 0):
    torch.manual_seed(seed)
    return create_model("s1_msed_fast", **SMALL)


def test_weights_file_prefers_a_checkpoint_folders_ema(tmp_path):
    folder = tmp_path / "step_00000100"
    folder.mkdir()
    save_model(small(), folder / "model.safetensors")
    assert weights_file(folder) == folder / "model.safetensors"      # no EMA kept: raw weights
    save_model(small(), folder / "ema.safetensors")
    assert weights_file(folder) == folder / "ema.safetensors"
    assert weights_file(folder / "model.safetensors") == folder / "model.safetensors"


@pytest.mark.parametrize("name", ["missing.safetensors", "empty_folder"])
def test_weights_file_names_what_is_missing(tmp_path, name):
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(UserError, match="not found"):
        weights_file(tmp_path / name)


def test_derived_target_refuses_an_existing_output_unless_asked(tmp_path):
    target = derived_target(tmp_path / "out")
    assert target == tmp_path / "out" / DERIVED_FILE and not target.parent.exists()
    target.parent.mkdir()
    target.write_bytes(b"x")
    with pytest.raises(UserError, match="exists"):
        derived_target(tmp_path / "out")
    assert derived_target(tmp_path / "out", overwrite=True) == target


def test_output_change_is_zero_for_the_same_function_and_exact_otherwise():
    a, b = small(0), small(0)
    assert output_change(a, b) == 0.0
    with torch.no_grad():                      # a constant shift of the output convolution's bias
        last = a.scales[0].decoder[-1].out
        last.bias.add_(0.01)
    change = output_change(a, b)
    assert change == pytest.approx(0.01, abs=2e-3)
    assert output_change(a, b, seed=0) == change               # seeded: the same picture
    assert not a.training and not b.training


def test_save_derived_carries_step_and_config_and_records_how(tmp_path):
    src = save_model(small(), tmp_path / "src.safetensors",
                     metadata={"step": "4500", "config": "name: x", "other": "dropped"})
    target = derived_target(tmp_path / "out")
    save_derived(small(1), target, read_metadata(src), "made", {"alpha": 0.5, "source": str(src)})
    header = read_metadata(target)
    assert header["step"] == "4500" and header["config"] == "name: x" and "other" not in header
    assert json.loads(header["made"]) == {"alpha": 0.5, "source": str(src)}
    reloaded, fresh = load_model(target), small(1)
    for key, value in fresh.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value), key
