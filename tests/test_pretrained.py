"""VGG16/VGG19 and InceptionResNetV2: published layouts, feature taps, and the weight loaders.

The published ImageNet files cannot be downloaded here, so the loaders are tested with state
dicts that the tests write in the published layout (.pth and .safetensors).
"""

from __future__ import annotations

import pathlib
import re

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from deblurkit.errors import UserError
from deblurkit.models import create_model, get_entry, list_models
from deblurkit.models.inception_resnet_v2 import (IRV2_FPN_TAPS, IRV2_WEIGHT_FILE,
                                                  InceptionResNetV2, InceptionResNetV2Features)
from deblurkit.models.vgg import VGG_WEIGHT_FILES, VGGFeatures, resolve_vgg_layer, vgg_layer_names

# Conv positions in torchvision's `features` (published vgg16-397923af / vgg19-dcbb9e9d).
VGG16_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG_FEATURE_PARAMS = {"vgg16": 14_714_688, "vgg19": 20_024_384}
# Published classifier shapes: Linear(25088, 4096), Linear(4096, 4096), Linear(4096, 1000).
VGG_CLASSIFIER = {"classifier.0": (4096, 25088), "classifier.3": (4096, 4096),
                  "classifier.6": (1000, 4096)}


def _published_conv_keys(convs: tuple[int, ...]) -> list[str]:
    return [f"features.{i}.{p}" for i in convs for p in ("weight", "bias")]


def _classifier_tensors() -> dict[str, torch.Tensor]:
    """Published-shape classifier entries without allocating 120M floats (stride-0 views;
    torch.save stores the one-element storage)."""
    out = {}
    for name, shape in VGG_CLASSIFIER.items():
        out[f"{name}.weight"] = torch.zeros(1).expand(*shape)
        out[f"{name}.bias"] = torch.zeros(1).expand(shape[0])
    return out


class _Marker:
    """A pickled object whose unpickling would create a file (must never run)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


# ----------------------------------------------------------------------------------- VGG
@pytest.mark.parametrize("arch, convs", [("vgg16", VGG16_CONVS), ("vgg19", VGG19_CONVS)])
def test_vgg_keys_and_parameter_count_match_published(arch, convs):
    with torch.device("meta"):
        net = VGGFeatures(arch, layers=("pool5",))
    assert list(net.state_dict()) == _published_conv_keys(convs)
    assert sum(p.numel() for p in net.parameters()) == VGG_FEATURE_PARAMS[arch]
    assert net.published_keys()[-6:] == [f"classifier.{i}.{p}" for i in (0, 3, 6)
                                         for p in ("weight", "bias")]
    assert not any(p.requires_grad for p in net.parameters())


def test_vgg_layer_names_and_one_based_indices():
    assert resolve_vgg_layer("vgg16", 9) == (8, "relu2_2")     # S1's "layer 9"
    assert resolve_vgg_layer("vgg16", "23") == (22, "relu4_3")  # S1's "layer 23"
    assert resolve_vgg_layer("vgg19", "conv3_3") == (14, "conv3_3")
    assert resolve_vgg_layer("vgg19", "relu5_4") == (35, "relu5_4")
    assert resolve_vgg_layer("vgg19", "pool5") == (36, "pool5")
    assert len(vgg_layer_names("vgg16")) == 31 and vgg_layer_names("vgg16")[-1] == "pool5"
    for arch, bad in [("vgg16", "relu5_4"), ("vgg16", 0), ("vgg16", 32), ("vgg19", "conv6_1")]:
        with pytest.raises(UserError):
            resolve_vgg_layer(arch, bad)


def test_vgg_features_values_normalization_and_depth():
    torch.manual_seed(0)
    net = VGGFeatures("vgg16", layers=(23, "conv2_2", "relu2_2"))
    assert len(net.features) == 23  # built only up to relu4_3
    assert net.layer_names == ["relu4_3", "conv2_2", "relu2_2"]
    x = torch.rand(2, 3, 20, 28)
    out = net(x)
    assert list(out) == ["relu4_3", "conv2_2", "relu2_2"]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    normalized = (x - mean) / std
    torch.testing.assert_close(out["relu4_3"], net.features(normalized))
    torch.testing.assert_close(out["conv2_2"], net.features[:8](normalized))
    # relu must not overwrite the conv output it follows
    torch.testing.assert_close(out["relu2_2"], torch.relu(out["conv2_2"]))
    assert out["relu4_3"].shape == (2, 512, 20 // 8, 28 // 8)
    raw = VGGFeatures("vgg16", layers=(9,), normalize_input=False)
    raw.load_state_dict(net.state_dict(), strict=False)
    torch.testing.assert_close(raw(normalized)["relu2_2"], out["relu2_2"])


def test_vgg_gradient_reaches_input_not_frozen_weights():
    net = VGGFeatures("vgg19", layers=("relu2_1",))
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    net(x)["relu2_1"].square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_vgg_full_checkpoint_loads_with_skipped_keys_reported(tmp_path, caplog):
    torch.manual_seed(1)
    source = VGGFeatures("vgg16", layers=("pool5",))
    state = {**source.state_dict(), **_classifier_tensors()}
    path = tmp_path / VGG_WEIGHT_FILES["vgg16"]
    torch.save(state, path)

    full = VGGFeatures("vgg16", layers=("pool5",))
    with caplog.at_level("INFO"):
        skipped = full.load_pretrained(path)
    assert skipped == sorted(f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias"))
    assert "classifier.0.weight" in caplog.text
    loaded = full.state_dict()
    for key, value in source.state_dict().items():
        assert torch.equal(loaded[key], value)

    shallow = VGGFeatures("vgg16", layers=(9,))
    skipped = shallow.load_pretrained(path)
    assert skipped == sorted(_published_conv_keys(VGG16_CONVS[4:]) + list(_classifier_tensors()))
    x = torch.rand(1, 3, 16, 16)
    normalized = (x - shallow.mean) / shallow.std
    torch.testing.assert_close(shallow(x)["relu2_2"], source.features[:9](normalized),
                               rtol=0, atol=0)


def test_vgg_safetensors_round_trip_and_default_location(tmp_path, monkeypatch):
    torch.manual_seed(2)
    source = VGGFeatures("vgg19", layers=("relu2_2",))
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    default = tmp_path / "weights" / VGG_WEIGHT_FILES["vgg19"]
    with pytest.raises(UserError) as info:
        VGGFeatures("vgg19", layers=("relu2_2",)).load_pretrained()
    message = str(info.value)
    assert str(default) in message and "vgg19-dcbb9e9d.pth" in message
    assert "DEBLURKIT_HOME" in message and "\n" not in message

    default.parent.mkdir()
    torch.save(source.state_dict(), default)   # found at the default location, path=None
    target = VGGFeatures("vgg19", layers=("relu2_2",))
    assert target.load_pretrained() == []
    file = tmp_path / "vgg19.safetensors"
    save_file(source.state_dict(), str(file))
    other = VGGFeatures("vgg19", layers=("relu2_2",))
    assert other.load_pretrained(file) == []
    x = torch.rand(1, 3, 12, 12)
    torch.testing.assert_close(other(x)["relu2_2"], source(x)["relu2_2"], rtol=0, atol=0)
    torch.testing.assert_close(target(x)["relu2_2"], source(x)["relu2_2"], rtol=0, atol=0)


def test_vgg_renamed_and_reshaped_keys_are_errors(tmp_path):
    state = VGGFeatures("vgg16", layers=(9,)).state_dict()
    renamed = dict(state)
    renamed["features.0.weights"] = renamed.pop("features.0.weight")
    torch.save(renamed, tmp_path / "renamed.pth")
    with pytest.raises(UserError) as info:
        VGGFeatures("vgg16", layers=(9,)).load_pretrained(tmp_path / "renamed.pth")
    assert re.search(r"missing key\(s\): features\.0\.weight(;|$)", str(info.value))
    assert re.search(r"unexpected key\(s\): features\.0\.weights(;|$)", str(info.value))
    reshaped = dict(state)
    reshaped["features.2.weight"] = torch.zeros(64, 64, 1, 1)
    save_file(reshaped, str(tmp_path / "reshaped.safetensors"))
    with pytest.raises(UserError, match=r"features\.2\.weight"):
        VGGFeatures("vgg16", layers=(9,)).load_pretrained(tmp_path / "reshaped.safetensors")


def test_pth_with_pickled_code_is_refused(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Marker(marker)}, path)
    with pytest.raises(UserError, match="weights_only"):
        VGGFeatures("vgg16", layers=(1,)).load_pretrained(path)
    with pytest.raises(UserError, match="weights_only"):
        InceptionResNetV2Features(taps=("conv2d_1a",)).load_pretrained(path)
    assert not marker.exists()


def test_registered_feature_extractors():
    assert {"vgg16_features", "vgg19_features",
            "inception_resnet_v2_features"} <= set(list_models(kind="features"))
    net = create_model("vgg16_features", layers=[9, 23])
    assert net.arch == "vgg16" and net.layer_names == ["relu2_2", "relu4_3"]
    assert create_model("vgg19_features").arch == "vgg19"
    assert get_entry("inception_resnet_v2_features").kind == "features"


# ---------------------------------------------------------------------- InceptionResNetV2
@pytest.fixture(scope="module")
def irv2() -> InceptionResNetV2:
    """The full published network (55.8M parameters), built once."""
    torch.manual_seed(3)
    return InceptionResNetV2().eval()


def test_irv2_parameter_count_and_known_keys(irv2):
    assert sum(p.numel() for p in irv2.parameters()) == 55_845_001  # 1001 classes
    with torch.device("meta"):
        imagenet1000 = InceptionResNetV2(num_classes=1000)
        assert sum(p.numel() for p in imagenet1000.parameters()) == 55_843_464
    state = irv2.state_dict()
    expected_shapes = {
        "conv2d_1a.conv.weight": (32, 3, 3, 3),
        "conv2d_1a.bn.running_var": (32,),
        "conv2d_4a.conv.weight": (192, 80, 3, 3),
        "mixed_5b.branch0.conv.weight": (96, 192, 1, 1),
        "mixed_5b.branch3.1.conv.weight": (64, 192, 1, 1),
        "repeat.0.branch0.conv.weight": (32, 320, 1, 1),
        "repeat.9.conv2d.weight": (320, 128, 1, 1),
        "mixed_6a.branch1.2.conv.weight": (384, 256, 3, 3),
        "repeat_1.19.branch1.1.conv.weight": (160, 128, 1, 7),
        "mixed_7a.branch2.2.conv.weight": (320, 288, 3, 3),
        "repeat_2.8.branch1.2.conv.weight": (256, 224, 3, 1),
        "block8.conv2d.weight": (2080, 448, 1, 1),
        "block8.conv2d.bias": (2080,),
        "conv2d_7b.conv.weight": (1536, 2080, 1, 1),
        "last_linear.weight": (1001, 1536),
        "last_linear.bias": (1001,),
    }
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, key
    assert "repeat.10.conv2d.weight" not in state and "repeat_2.9.conv2d.weight" not in state
    assert not any(k.endswith("conv.bias") for k in state)  # BasicConv2d convs have no bias
    assert irv2.conv2d_1a.bn.eps == pytest.approx(1e-3)
    scales = (irv2.repeat[0].scale, irv2.repeat_1[0].scale, irv2.repeat_2[0].scale)
    assert scales == (0.17, 0.10, 0.20)
    assert irv2.block8.scale == 1.0 and not irv2.block8.activate


def test_irv2_valid_classification_forward(irv2):
    x = torch.rand(1, 3, 75, 75)  # the smallest input of the published geometry
    with torch.no_grad():
        a, b = irv2(x), irv2(x)
    assert a.shape == (1, 1001) and torch.isfinite(a).all()
    assert torch.equal(a, b)


def test_irv2_geometry_valid_and_same():
    with torch.device("meta"):
        valid = InceptionResNetV2Features(taps=IRV2_FPN_TAPS, padding="valid")
        sizes = {k: tuple(v.shape[-2:]) for k, v in valid(torch.zeros(1, 3, 299, 299)).items()}
        assert sizes == {"conv2d_1a": (149, 149), "maxpool_3a": (73, 73), "maxpool_5a": (35, 35),
                         "mixed_6a": (17, 17), "mixed_7a": (8, 8)}
        same = InceptionResNetV2Features()
        out = same(torch.zeros(2, 3, 37, 53))
        assert [tuple(v.shape) for v in out.values()] == [
            (2, 32, 19, 27), (2, 64, 10, 14), (2, 192, 5, 7), (2, 1088, 3, 4), (2, 2080, 2, 2)]
        assert list(InceptionResNetV2(padding="same").state_dict()) == \
            list(InceptionResNetV2().state_dict())


def test_irv2_features_load_published_layout(tmp_path):
    torch.manual_seed(4)
    source = InceptionResNetV2Features(taps=("mixed_5b",), padding="valid").eval()
    state = source.state_dict()
    torch.save(state, tmp_path / "stem.pth")
    save_file(state, str(tmp_path / "stem.safetensors"))

    same = InceptionResNetV2Features(taps=("mixed_5b",), padding="same").eval()
    assert same.load_pretrained(tmp_path / "stem.safetensors") == []
    shallow = InceptionResNetV2Features(taps=("conv2d_1a", "maxpool_3a"), padding="valid").eval()
    skipped = shallow.load_pretrained(tmp_path / "stem.pth")
    assert skipped == sorted(k for k in state if k.split(".")[0] in
                             ("conv2d_3b", "conv2d_4a", "mixed_5b"))
    x = torch.rand(1, 3, 80, 80)
    with torch.no_grad():
        expected = source(x)["mixed_5b"]
        torch.testing.assert_close(shallow(x)["maxpool_3a"],
                                   source.maxpool_3a(source.conv2d_2b(source.conv2d_2a(
                                       source.conv2d_1a(x * 2 - 1)))), rtol=0, atol=0)
        assert expected.shape == (1, 320, 7, 7)
        assert same(x)["mixed_5b"].shape == (1, 320, 10, 10)

    # PyTorch < 0.4 files have no num_batches_tracked: still a complete state dict
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(old, tmp_path / "old.pth")
    assert InceptionResNetV2Features(taps=("mixed_5b",)).load_pretrained(tmp_path / "old.pth") == []

    missing = dict(state)
    del missing["mixed_5b.branch3.1.bn.running_var"]
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(UserError, match=r"missing key.*mixed_5b\.branch3\.1\.bn\.running_var"):
        InceptionResNetV2Features(taps=("mixed_5b",)).load_pretrained(tmp_path / "missing.pth")


def test_irv2_missing_file_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path / "home"))
    with pytest.raises(UserError) as info:
        InceptionResNetV2Features(taps=("conv2d_1a",)).load_pretrained()
    assert str(tmp_path / "home" / "weights" / IRV2_WEIGHT_FILE) in str(info.value)
    with pytest.raises(UserError, match="nowhere.pth"):
        InceptionResNetV2Features(taps=("conv2d_1a",)).load_pretrained(tmp_path / "nowhere.pth")


def test_irv2_bad_taps():
    with pytest.raises(UserError):
        InceptionResNetV2Features(taps=("avgpool_1a",))
    assert isinstance(InceptionResNetV2Features(taps="conv2d_1a").conv2d_1a, nn.Module)
