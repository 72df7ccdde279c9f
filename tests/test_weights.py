"""Weight files: save/load of deblurkit models, safe reading of third-party state dicts, and
checked loading that reports every mismatch."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from deblurkit.errors import OutputExistsError, UserError
from deblurkit.models import create_model
from deblurkit.models.weights import (FORMAT_VERSION, load_model, load_state_dict_checked,
                                      read_metadata, read_state_dict, save_model)


class Pickled:
    """An arbitrary object: pickled code that weights_only loading must refuse."""

    def __init__(self) -> None:
        self.value = 3


def tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))


def small_s1() -> nn.Module:
    torch.manual_seed(0)
    return create_model("s1_msed", base_width=4, num_resblocks=1)


def test_save_and_load_restore_name_kwargs_weights_and_metadata(tmp_path):
    net = small_s1()
    path = save_model(net, tmp_path / "net.safetensors", metadata={"epoch": 3, "note": "hi"})
    metadata = read_metadata(path)
    assert metadata["deblurkit_name"] == "s1_msed"
    assert json.loads(metadata["deblurkit_kwargs"]) == {"num_scales": 2, "base_width": 4,
                                                        "num_resblocks": 1}
    assert metadata["format_version"] == str(FORMAT_VERSION)
    assert metadata["epoch"] == "3" and metadata["note"] == "hi"
    loaded = load_model(path)
    assert loaded.deblurkit_kwargs == net.deblurkit_kwargs
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items(),
                                  strict=True):
        assert k1 == k2 and torch.equal(v1, v2)
    assert [p.name for p in tmp_path.iterdir()] == ["net.safetensors"]   # no temp file left


def test_half_precision_storage_halves_the_file_and_loads_back_as_float32(tmp_path):
    net = small_s1()
    full = save_model(net, tmp_path / "full.safetensors")
    half = save_model(net, tmp_path / "half.safetensors", storage_dtype=torch.float16)
    assert read_metadata(half)["storage_dtype"] == "float16"
    assert "storage_dtype" not in read_metadata(full)
    stored = read_state_dict(half)
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    tensor_bytes = sum(v.numel() * 4 for v in net.state_dict().values())
    assert full.stat().st_size - half.stat().st_size >= 0.45 * tensor_bytes
    loaded = load_model(half)
    for (key, value), (_, original) in zip(loaded.state_dict().items(),
                                           net.state_dict().items(), strict=True):
        assert value.dtype == original.dtype, key
        # exactly the float16 rounding of the original, nothing else
        assert torch.equal(value, original.half().to(original.dtype)), key
    with pytest.raises(UserError, match="floating-point"):
        save_model(net, tmp_path / "int.safetensors", storage_dtype=torch.int8)


def test_save_refuses_models_not_built_by_create_model(tmp_path):
    with pytest.raises(UserError, match="create_model"):
        save_model(tiny(), tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


def test_save_refuses_reserved_metadata_and_existing_file_without_overwrite(tmp_path):
    net = small_s1()
    with pytest.raises(UserError, match="reserved"):
        save_model(net, tmp_path / "a.safetensors", metadata={"deblurkit_name": "other"})
    with pytest.raises(UserError, match="reserved"):
        save_model(net, tmp_path / "a.safetensors", metadata={"storage_dtype": "float16"})
    save_model(net, tmp_path / "a.safetensors")
    with pytest.raises(OutputExistsError):
        save_model(net, tmp_path / "a.safetensors", overwrite=False)


def test_save_handles_tied_weights(tmp_path):
    net = tiny()
    net.add_module("tied", net[2])           # same parameters under two names
    net.deblurkit_name, net.deblurkit_kwargs = "tiny", {}
    path = save_model(net, tmp_path / "tied.safetensors")
    state = read_state_dict(path)
    assert torch.equal(state["tied.weight"], state["2.weight"])


def test_load_model_rejects_plain_safetensors_and_newer_formats(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(UserError, match="not a deblurkit model file"):
        load_model(plain)
    newer = tmp_path / "newer.safetensors"
    save_file({"w": torch.zeros(2)}, str(newer),
              metadata={"deblurkit_name": "s1_msed", "deblurkit_kwargs": "{}",
                        "format_version": str(FORMAT_VERSION + 1)})
    with pytest.raises(UserError, match="newer"):
        load_model(newer)


def test_load_model_reports_mismatched_weights(tmp_path):
    path = save_model(small_s1(), tmp_path / "net.safetensors")
    state = read_state_dict(path)
    metadata = read_metadata(path)
    metadata["deblurkit_kwargs"] = json.dumps({"num_scales": 2, "base_width": 8,
                                               "num_resblocks": 1})
    save_file(state, str(tmp_path / "bad.safetensors"), metadata=metadata)
    with pytest.raises(UserError, match="shape mismatch"):
        load_model(tmp_path / "bad.safetensors")


def test_corrupt_safetensors_is_a_user_error(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(UserError, match="broken.safetensors"):
        read_state_dict(path)
    with pytest.raises(UserError, match="broken.safetensors"):
        load_model(path)


def test_missing_file_names_the_path_and_the_hint(tmp_path):
    missing = tmp_path / "vgg16.pth"
    with pytest.raises(UserError) as info:
        read_state_dict(missing, hint="put the ImageNet VGG16 weights there")
    message = str(info.value)
    assert str(missing) in message and "put the ImageNet VGG16 weights there" in message
    assert "\n" not in message


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"state_dict": sd, "epoch": 4},
    lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}, "optimizer": {}},
    lambda sd: {"params_ema": sd, "params": {k: v + 1 for k, v in sd.items()}},
    lambda sd: {f"_orig_mod.{k}": v for k, v in sd.items()},
])
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin", ".ckpt"])
def test_read_state_dict_unwraps_torch_checkpoints(tmp_path, wrap, suffix):
    state = tiny().state_dict()
    path = tmp_path / f"w{suffix}"
    torch.save(wrap(state), path)
    got = read_state_dict(path)
    assert list(got) == list(state)
    assert all(torch.equal(got[k], state[k]) for k in state)


def test_read_state_dict_only_loads_weights_never_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Pickled()}, path)
    with pytest.raises(UserError, match="weights_only=True"):
        read_state_dict(path)


def test_read_state_dict_refuses_non_state_dicts_and_unknown_suffixes(tmp_path):
    path = tmp_path / "mixed.pth"
    torch.save({"w": torch.zeros(1), "epoch": 3}, path)
    with pytest.raises(UserError, match="epoch"):
        read_state_dict(path)
    other = tmp_path / "weights.npz"
    other.write_bytes(b"")
    with pytest.raises(UserError, match="unknown weight file type"):
        read_state_dict(other)


def test_checked_load_copies_values():
    source, target = tiny(), nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                                           nn.Conv2d(4, 2, 1))
    with torch.no_grad():
        source[0].weight.add_(1.0)
    load_state_dict_checked(target, source.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(),
                                                 target.state_dict().values(), strict=True))


def test_checked_load_lists_every_missing_unexpected_and_mismatched_key():
    state = tiny().state_dict()
    del state["0.bias"]
    state["extra.weight"] = torch.zeros(1)
    state["2.weight"] = torch.zeros(5, 4, 1, 1)
    with pytest.raises(UserError) as info:
        load_state_dict_checked(tiny(), state, source="w.pth")
    message = str(info.value)
    assert message.startswith("w.pth:")
    assert "missing key(s): 0.bias" in message
    assert "unexpected key(s): extra.weight" in message
    assert "2.weight (file (5, 4, 1, 1) vs model (2, 4, 1, 1))" in message


def test_checked_load_non_strict_warns_but_never_accepts_shape_mismatches(caplog):
    state = tiny().state_dict()
    del state["0.bias"]
    state["extra.weight"] = torch.zeros(1)
    target = tiny()
    with torch.no_grad():
        target[2].weight.zero_()
    with caplog.at_level(logging.WARNING, logger="deblurkit.models.weights"):
        load_state_dict_checked(target, state, strict=False)
    assert "0.bias" in caplog.text and "extra.weight" in caplog.text
    assert torch.equal(target[2].weight, state["2.weight"])
    state["2.weight"] = torch.zeros(5, 4, 1, 1)
    with pytest.raises(UserError, match="shape mismatch"):
        load_state_dict_checked(tiny(), state, strict=False)


def test_checked_load_ignores_only_what_is_asked_and_says_so(caplog):
    state = tiny().state_dict()
    state["fc.weight"] = torch.zeros(1000, 4)      # a classifier head the model lacks
    state["2.weight"] = torch.zeros(5, 4, 1, 1)      # a head with another class count
    target = tiny()
    before = target[2].weight.clone()
    with caplog.at_level(logging.INFO, logger="deblurkit.models.weights"):
        load_state_dict_checked(target, state, ignore=("fc.*", "2"))
    assert "fc.weight" in caplog.text and "2.weight" in caplog.text
    assert torch.equal(target[2].weight, before)
    assert torch.equal(target[0].weight, state["0.weight"])
    with pytest.raises(UserError, match="unexpected key"):
        load_state_dict_checked(tiny(), state, ignore=("2",))


def test_saved_kwargs_drop_pretrained_init_files(tmp_path):
    """A file that only initialised the weights (pretrained backbone) is not needed to reload."""
    backbone = tmp_path / "irv2.safetensors"
    features = create_model("inception_resnet_v2_features")
    save_file({k: v.contiguous() for k, v in features.state_dict().items()}, str(backbone))
    net = create_model("s5_fpn_inception", pretrained_backbone=str(backbone)).eval()
    path = save_model(net, tmp_path / "fpn.safetensors")
    backbone.unlink()  # gone: the saved model must still load
    assert json.loads(read_metadata(path)["deblurkit_kwargs"])["pretrained_backbone"] is None
    again = load_model(path)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(net(x), again(x))


def test_untrusted_metadata_is_checked_before_anything_is_allocated(tmp_path):
    import json
    import time

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from deblurkit.models import create_model
    from deblurkit.models.weights import load_model, save_model

    good = save_model(create_model("s1_msed", base_width=4, depth=2, num_scales=1),
                      tmp_path / "good.safetensors")
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(good))
    kwargs = json.loads(meta["deblurkit_kwargs"])

    def forged(name, **changes):
        path = tmp_path / f"{name}.safetensors"
        save_file(tensors, str(path), metadata={**meta, **changes})
        return path

    start = time.perf_counter()
    with pytest.raises(UserError, match=r"huge.safetensors: shape mismatch .* \[4000\] by its"):
        load_model(forged("huge", deblurkit_kwargs=json.dumps({**kwargs, "base_width": 4000})))
    assert time.perf_counter() - start < 5  # nothing of the 10 GB network was allocated
    with pytest.raises(UserError, match="list.safetensors: deblurkit_kwargs metadata must be a "
                                        "JSON object"):
        load_model(forged("list", deblurkit_kwargs="[1, 2]"))
    with pytest.raises(UserError, match=r"nested.safetensors: deblurkit_kwargs\['base_width'\] "
                                        "is not a plain JSON value"):
        load_model(forged("nested", deblurkit_kwargs=json.dumps({**kwargs,
                                                                  "base_width": {"a": 1}})))
    with pytest.raises(UserError, match=r"strarg.safetensors: deblurkit_kwargs\['depth'\] must "
                                        "be an integer, got a string"):
        load_model(forged("strarg", deblurkit_kwargs=json.dumps({**kwargs, "depth": "2"})))
    with pytest.raises(UserError, match=r"zero.safetensors: deblurkit_kwargs\['base_width'\] must "
                                        "be at least 1, got 0"):
        load_model(forged("zero", deblurkit_kwargs=json.dumps({**kwargs, "base_width": 0})))
    with pytest.raises(UserError, match=r"listarg.safetensors: deblurkit_kwargs\['num_scales'\] "
                                        "must be an integer, got a list"):
        load_model(forged("listarg", deblurkit_kwargs=json.dumps({**kwargs, "num_scales": [2]})))
    with pytest.raises(UserError, match="unknownarg.safetensors: its stored arguments do not"):
        load_model(forged("unknownarg", deblurkit_kwargs=json.dumps({**kwargs, "nope": 1})))
    assert load_model(good).deblurkit_name == "s1_msed"


def test_stored_arguments_asking_for_far_more_tensors_than_the_file_holds_stop_at_once(tmp_path):
    import json
    import time

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from deblurkit.models import create_model
    from deblurkit.models.weights import load_model, save_model

    good = save_model(create_model("nafnet_w16", enc_blocks=[1, 1], dec_blocks=[1, 1],
                                   middle_blocks=1), tmp_path / "good.safetensors")
    with safe_open(str(good), "pt") as f:
        meta = f.metadata()
    kwargs = json.loads(meta["deblurkit_kwargs"])
    forged = tmp_path / "deep.safetensors"
    save_file(load_file(str(good)), str(forged),
              metadata={**meta, "deblurkit_kwargs": json.dumps({**kwargs,
                                                                "middle_blocks": 1_000_000})})
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"deep.safetensors: its stored arguments describe a "
                                        r"network of more than \d+ tensors, the file holds \d+"):
        load_model(forged)
    assert time.perf_counter() - start < 5
    assert load_model(good).deblurkit_name == "nafnet_w16"
