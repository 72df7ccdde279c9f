"""S5 multi-task generators: shared encoder, named task decoders, ResNet and FPN variants."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from deblurkit.errors import UserError
from deblurkit.models import create_model, get_entry, list_models
from deblurkit.models.s5_multitask import (DEFAULT_TASKS, FPNDecoder, FPNEncoder,
                                           MultiTaskGenerator, ResidualPyramidBackbone,
                                           ResnetDecoder, ResnetEncoder, build_s5_resnet)
from deblurkit.models.weights import load_model, save_model
from realistic_recipes import check_realistic_recipe

ODD = (1, 3, 37, 53)
SMALL_RESNET = dict(base_width=8, num_blocks=2)
SMALL_FPN = dict(num_filters=16, num_filters_fpn=32)


def _zero_final_convs(net: MultiTaskGenerator) -> None:
    """Zero the last conv of every decoder: D_i(E(x)) = 0, so the output is the input."""
    with torch.no_grad():
        for decoder in net.decoders.values():
            last = decoder.final if hasattr(decoder, "final") else decoder.body[-1]
            last.weight.zero_()
            last.bias.zero_()


@pytest.fixture(scope="module")
def fpn() -> MultiTaskGenerator:
    """Small-width 3-task FPN generator (the InceptionResNetV2 backbone is fixed size)."""
    torch.manual_seed(0)
    return create_model("s5_multitask_fpn", **SMALL_FPN)


def test_registered_variants():
    names = set(list_models("s5_*"))
    assert {"s5_multitask_resnet", "s5_deblurgan_resnet", "s5_multitask_fpn",
            "s5_fpn_inception"} <= names
    for name in names:
        assert get_entry(name).kind == "generator"
    assert create_model("s5_deblurgan_resnet", **SMALL_RESNET).tasks == ["deblur"]
    assert create_model("s5_multitask_resnet", **SMALL_RESNET).tasks == list(DEFAULT_TASKS)


def test_resnet_split_structure():
    net = build_s5_resnet(**SMALL_RESNET)
    assert isinstance(net.encoder, ResnetEncoder)
    assert all(isinstance(d, ResnetDecoder) for d in net.decoders.values())
    assert net.pad_multiple == 4
    convs = [m for m in net.encoder.body if isinstance(m, torch.nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(7, 7), (3, 3), (3, 3)]
    assert [c.stride for c in convs] == [(1, 1), (2, 2), (2, 2)]
    assert net.encoder.out_channels == 32
    decoder = net.decoders["deblur"].body
    kinds = [type(m).__name__ for m in decoder if not type(m).__name__.endswith(("Norm2d", "ReLU"))]
    assert kinds == ["ConvTranspose2d", "ConvTranspose2d", "ReflectionPad2d", "Conv2d"]
    # every parameter belongs to the encoder or to exactly one decoder
    prefixes = {name.split(".")[0] if name.startswith("encoder") else ".".join(name.split(".")[:2])
                for name, _ in net.named_parameters()}
    assert prefixes == {"encoder", "decoders.deblur", "decoders.dehaze", "decoders.derain"}


@pytest.mark.parametrize("variant", ["resnet", "fpn"])
def test_tasks_shapes_and_task_outputs_differ(variant, fpn):
    torch.manual_seed(1)
    net = build_s5_resnet(**SMALL_RESNET) if variant == "resnet" else fpn
    net.eval()
    x = torch.rand(*ODD)
    with torch.no_grad():
        outs = net.forward_all(x)
        assert list(outs) == list(DEFAULT_TASKS)
        for task, out in outs.items():
            assert out.shape == ODD
            torch.testing.assert_close(net(x, task=task), out)
        torch.testing.assert_close(net(x), outs["deblur"])  # default task
        assert not torch.allclose(outs["deblur"], outs["dehaze"])
        assert not torch.allclose(outs["dehaze"], outs["derain"])
        assert torch.equal(net(x, "derain"), net(x, "derain"))  # eval mode is deterministic


def test_default_task_and_unknown_task():
    torch.manual_seed(2)
    net = build_s5_resnet(tasks=["deblur", "derain"], default_task="derain", **SMALL_RESNET).eval()
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x, task="derain"))
        net.default_task = "deblur"
        torch.testing.assert_close(net(x), net(x, task="deblur"))
    with pytest.raises(UserError, match="dehaze"):
        net(x, task="dehaze")
    with pytest.raises(UserError):
        net.default_task = "nope"
    with pytest.raises(UserError):
        build_s5_resnet(tasks=[], **SMALL_RESNET)
    with pytest.raises(UserError):
        build_s5_resnet(tasks=["de.blur"], **SMALL_RESNET)


@pytest.mark.parametrize("variant", ["resnet", "fpn"])
def test_global_skip_is_exact_identity_when_decoder_outputs_zero(variant, fpn):
    torch.manual_seed(3)
    net = build_s5_resnet(**SMALL_RESNET) if variant == "resnet" else \
        create_model("s5_fpn_inception", **SMALL_FPN)
    _zero_final_convs(net)
    net.eval()
    x = torch.rand(*ODD)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-6)
    clamped = build_s5_resnet(clamp_output=True, **SMALL_RESNET).eval()
    with torch.no_grad():
        out = clamped(torch.rand(*ODD))
    assert out.min() >= 0 and out.max() <= 1


def test_resnet_gradients_from_every_task_reach_shared_encoder():
    torch.manual_seed(4)
    net = build_s5_resnet(**SMALL_RESNET)
    encoder_params = list(net.encoder.parameters())
    x = torch.rand(2, 3, 24, 24)
    for task in net.tasks:
        net.zero_grad(set_to_none=True)
        net(x, task).square().mean().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder_params)
        for other, decoder in net.decoders.items():
            got = [p.grad is not None for p in decoder.parameters()]
            assert all(got) if other == task else not any(got)
    # the training step: one batch per task (different sizes), losses summed, one backward
    net.zero_grad(set_to_none=True)
    outs = net.forward_tasks({"deblur": torch.rand(2, 3, 24, 24),
                              "dehaze": torch.rand(1, 3, 19, 30),
                              "derain": torch.rand(1, 3, 16, 16)})
    assert outs["dehaze"].shape == (1, 3, 19, 30)
    sum(o.mean() for o in outs.values()).backward()
    assert all(p.grad is not None for p in net.parameters())


def test_resnet_safetensors_round_trip(tmp_path):
    torch.manual_seed(5)
    net = create_model("s5_multitask_resnet", tasks=["deblur", "dehaze"], **SMALL_RESNET).eval()
    path = save_model(net, tmp_path / "s5.safetensors")
    again = load_model(path)
    assert again.tasks == ["deblur", "dehaze"]
    x = torch.rand(1, 3, 21, 18)
    with torch.no_grad():
        for task in net.tasks:
            assert torch.equal(net(x, task), again(x, task))


def test_fpn_split_shapes_and_gradients(fpn):
    assert isinstance(fpn.encoder, FPNEncoder) and fpn.pad_multiple == 32
    assert all(isinstance(d, FPNDecoder) for d in fpn.decoders.values())
    fpn.train()
    x = torch.rand(1, 3, 64, 64)
    features = fpn.encode(x * 2 - 1)
    assert [tuple(f.shape) for f in features] == [(1, 4 * 16, 16, 16), (1, 16, 32, 32)]
    # every task's output depends on the shared encoder, down to the first backbone conv
    first = fpn.encoder.backbone.conv2d_1a.conv.weight
    lateral = fpn.encoder.lateral4.weight
    grads = []
    for task in fpn.tasks:
        fpn.zero_grad(set_to_none=True)
        fpn.decode(features, x * 2 - 1, task).mean().backward(retain_graph=True)
        grads.append(first.grad.clone())
        assert lateral.grad is not None and lateral.grad.abs().sum() > 0
        assert first.grad.abs().sum() > 0
    assert not torch.allclose(grads[0], grads[1])
    fpn.zero_grad(set_to_none=True)
    sum(fpn.decode(features, x * 2 - 1, t).mean() for t in fpn.tasks).backward()
    assert [n for n, p in fpn.named_parameters() if p.grad is None] == []
    fpn.zero_grad(set_to_none=True)


def test_fpn_pretrained_backbone_and_freeze(fpn, tmp_path):
    path = tmp_path / "inceptionresnetv2.safetensors"
    save_file(fpn.encoder.backbone.state_dict(), str(path))
    loaded = create_model("s5_fpn_inception", pretrained_backbone=str(path), freeze_backbone=True,
                          **SMALL_FPN)
    got = loaded.encoder.backbone.state_dict()
    for key, value in fpn.encoder.backbone.state_dict().items():
        assert torch.equal(got[key], value), key
    assert not any(p.requires_grad for p in loaded.encoder.backbone.parameters())
    assert all(p.requires_grad for p in loaded.encoder.lateral0.parameters())
    loaded.encoder.set_backbone_trainable(True)
    assert all(p.requires_grad for p in loaded.encoder.backbone.parameters())
    with pytest.raises(UserError, match="inceptionresnetv2-520b38e4.pth"):
        create_model("s5_fpn_inception", pretrained_backbone=str(tmp_path / "absent.pth"),
                     **SMALL_FPN)


@pytest.mark.parametrize("name", ["s5_multitask_resnet", "s5_fpn_inception"])
def test_default_variants_forward(name):
    torch.manual_seed(6)
    net = create_model(name).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        out = net(x)
    assert out.shape == x.shape and torch.isfinite(out).all()


# ---------------------------------------------------------------- CPU variant and recipe
def test_fpn_cpu_variant_is_an_fpn_over_a_small_backbone():
    net = create_model("s5_fpn_cpu", residual_init="zero").eval()
    assert net.tasks == ["deblur"] and net.pad_multiple == 32
    assert isinstance(net.encoder, FPNEncoder) and isinstance(net.decoders["deblur"], FPNDecoder)
    backbone = net.encoder.backbone
    assert isinstance(backbone, ResidualPyramidBackbone)
    assert not any(isinstance(m, (torch.nn.InstanceNorm2d, torch.nn.BatchNorm2d))
                   for m in net.modules())
    taps = backbone(torch.zeros(1, 3, 64, 96))
    assert [tuple(t.shape[1:]) for t in taps] == [(32, 32, 48), (48, 16, 24), (96, 8, 12),
                                                  (128, 4, 6), (192, 2, 3)]
    x = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-6)  # identity start
    with pytest.raises(UserError, match="inception_resnet_v2"):
        create_model("s5_fpn_cpu", pretrained_backbone="weights.pth")
    with pytest.raises(ValueError, match="one per level"):
        ResidualPyramidBackbone(widths=(8, 8, 8), blocks=(1, 1, 1))


def test_fpn_cpu_realistic_recipe():
    cfg = check_realistic_recipe("s5", "s5_fpn_cpu")
    assert cfg.task == "adversarial" and [(t.name, t.weight, t.kwargs) for t in cfg.losses] == [
        ("huber", 100.0, {"delta": 0.01})]  # S4's pixel term for the VGG term (and 0.5 L1)
    assert (cfg.gan.gan_type, cfg.gan.gp_weight, cfg.gan.d_loss_weight) == ("wgan", 10.0, 0.01)
    assert cfg.gan.adv_weight <= 1e-3
