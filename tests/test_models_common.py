"""Contract tests run on every registered model (picked up from ``list_models()``).

Cost control: each test builds the model with the small-width overrides of ``SMALL_KWARGS``
(first matching glob wins; an unknown model is tested with its defaults), except the
"default variant" tests, which run ONE forward of each registered default at a small size and
no backward. Backbones without a width argument (VGG, InceptionResNetV2) run at full width on
small inputs.
"""

from __future__ import annotations

import fnmatch
import json

import pytest
import torch
from torch import Tensor

from deblurkit.models import RestorationNet, create_model, get_entry, list_models
from deblurkit.models.weights import load_model, save_model

#: Small-width overrides per model name glob, used for the backward / round-trip tests.
SMALL_KWARGS: dict[str, dict] = {
    # non-zero block scales, as for nafnet below
    "s1_msed_fast_stable": {"base_width": 4, "num_resblocks": 1, "res_scale": 0.1},
    "s1_msed*": {"base_width": 4, "num_resblocks": 1},
    "s2_msrn*": {"width": 8, "num_msrb": 1},
    # three levels: on 4x4 pixel blocks, four poolings leave a 1x1 map at these input sizes
    "s3_msdn_cpu": {"stem_channels": 8, "growth_rate": 4, "block_layers": [1, 1, 1],
                    "bottleneck_layers": 1, "decoder_channels": [8, 8, 8]},
    "s3_*": {"stem_channels": 8, "growth_rate": 4, "block_layers": [1, 1, 1, 1],
             "bottleneck_layers": 1, "decoder_channels": [8, 8, 8, 8]},
    "s4_deblurnet*": {"stem_channels": 8, "body_channels": 8, "num_blocks": 2},
    "s4_frame_selector": {"stem_channels": 8, "widths": [8, 8, 8, 8]},
    "s5_*resnet": {"base_width": 8, "num_blocks": 2},
    "s5_*fpn*": {"num_filters": 16, "num_filters_fpn": 16},
    # non-zero block scales: at the paper's zero start the layers inside each block get their
    # first gradient only after one step (tests/test_models_nafnet.py covers that start)
    "nafnet_*": {"width": 4, "enc_blocks": [1, 1, 1, 2], "scale_init": 0.1},
    "patchgan*": {"base_width": 8},
    "vgg*_features": {"requires_grad": True},
    "inception_resnet_v2_features": {"requires_grad": True},
}
#: Input sizes per kind: generators get odd sizes; discriminators the paper's 256 crops.
SMALL_INPUT = {"generator": (1, 3, 37, 53), "classifier": (2, 3, 37, 53),
               "features": (1, 3, 37, 53), "discriminator": (1, 3, 256, 256)}

ALL = list_models()
GENERATORS = list_models(kind="generator")
DISCRIMINATORS = list_models(kind="discriminator")
CLASSIFIERS = list_models(kind="classifier")
FEATURES = list_models(kind="features")


def small_kwargs(name: str) -> dict:
    for pattern, kwargs in SMALL_KWARGS.items():
        if fnmatch.fnmatchcase(name, pattern):
            return dict(kwargs)
    return {}


def build(name: str, small: bool = True) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **(small_kwargs(name) if small else {}))


def make_input(shape: tuple[int, ...], seed: int = 1) -> Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def tensors_of(output) -> list[Tensor]:
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, dict):
        return [v for v in output.values()]
    return list(output)


def run_all_heads(net: torch.nn.Module, x: Tensor):
    """The model's output on every head: multi-task generators (``forward_all``) run each
    task decoder, other models their ``forward``."""
    forward_all = getattr(net, "forward_all", None)
    return forward_all(x) if callable(forward_all) else net(x)


def random_projection(output, seed: int = 2) -> Tensor:
    """A scalar mixing every output value with random signs (a mean could hide dead paths,
    e.g. behind instance norm)."""
    g = torch.Generator().manual_seed(seed)
    return sum((t * torch.randn(t.shape, generator=g)).sum() for t in tensors_of(output))


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_family_registers_models():
    assert {"s1_msed", "s1_msed_1scale", "s1_msed_3scale", "s2_msrn", "s2_discriminator",
            "patchgan", "patchgan_wgan"} <= set(ALL)
    assert GENERATORS and DISCRIMINATORS


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_default_variant_keeps_odd_size(name):
    net = build(name, small=False).eval()
    assert isinstance(net, RestorationNet)
    assert isinstance(net.pad_multiple, int) and net.pad_multiple >= 1
    x = make_input((1, 3, 37, 53))
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 64, 64)])
def test_generator_small_output_shape(name, shape):
    net = build(name).eval()
    x = make_input(shape)
    with torch.no_grad():
        y = net(x)
        scales = net.forward_scales(x)
    assert y.shape == x.shape
    assert torch.equal(scales[-1], y)
    for k, out in enumerate(reversed(scales)):   # fine -> coarse: ceil(H / 2**k)
        assert out.shape[-2:] == (-(-shape[2] // 2 ** k), -(-shape[3] // 2 ** k))


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_receives_a_gradient(name):
    net = build(name).train()
    kind = get_entry(name).kind
    random_projection(run_all_heads(net, make_input(SMALL_INPUT[kind]))).backward()
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    assert trainable, f"{name} has no trainable parameter"
    no_grad = [n for n, p in trainable if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    not_finite = [n for n, p in trainable if not torch.isfinite(p.grad).all()]
    assert not not_finite, f"non-finite gradients: {not_finite}"
    zero = [n for n, p in trainable if not p.grad.any()]
    assert not zero, f"parameters whose gradient is exactly zero: {zero}"


@pytest.mark.parametrize("name", ALL)
def test_eval_mode_is_deterministic(name):
    net = build(name).eval()
    x = make_input(SMALL_INPUT[get_entry(name).kind])
    with torch.no_grad():
        first, second = tensors_of(run_all_heads(net, x)), tensors_of(run_all_heads(net, x))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("name", ALL)
def test_safetensors_round_trip_restores_identical_outputs(name, tmp_path):
    net = build(name)
    x = make_input(SMALL_INPUT[get_entry(name).kind])
    with torch.no_grad():
        net.train()
        net(x)              # moves batch-norm running statistics away from their init
        net.eval()
        expected = tensors_of(run_all_heads(net, x))
    path = save_model(net, tmp_path / f"{name}.safetensors", metadata={"test": name})
    loaded = load_model(path)
    assert type(loaded) is type(net)
    assert loaded.deblurkit_name == name
    assert loaded.deblurkit_kwargs == json.loads(json.dumps(net.deblurkit_kwargs))
    assert loaded.deblurkit_metadata["test"] == name
    assert not loaded.training
    with torch.no_grad():
        got = tensors_of(run_all_heads(loaded, x))
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_accepts_a_256_batch(name):
    net = build(name, small=False).eval()
    x = make_input((2, 3, 256, 256))
    with torch.no_grad():
        scores = net(x)
    assert scores.shape[0] == 2
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_outputs_probabilities(name):
    net = build(name, small=False).eval()
    x = torch.cat([make_input((2, 3, 64, 64)), torch.zeros(1, 3, 64, 64),
                   torch.ones(1, 3, 64, 64)])
    with torch.no_grad():
        p = net(x)
    assert p.shape[0] == 4 and p.numel() == 4
    assert ((p >= 0) & (p <= 1)).all()


@pytest.mark.parametrize("name", FEATURES)
def test_features_return_a_dict_of_maps(name):
    net = build(name, small=False).eval()
    with torch.no_grad():
        features = net(make_input((1, 3, 64, 64)))
    assert isinstance(features, dict) and features
    for key, value in features.items():
        assert isinstance(key, str)
        assert value.dim() == 4 and value.shape[0] == 1
