"""Tests of the shared layers, S3 (MSDN / DN) and S4 (DeblurNet generator and frame selector)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from deblurkit.models import create_model, get_entry
from deblurkit.models.layers import PTELU, ResnetBlock, make_norm, ptelu, set_inference_dropout
from deblurkit.models.s3_msdn import DenseBlock, MultiScaleDenseNet, PyramidPooling
from deblurkit.models.s4_deblurnet import FrameDeblurNet, FrameSelector, count_macs
from realistic_recipes import check_realistic_recipe, max_conv_input_side

S3_TINY = dict(stem_channels=6, growth_rate=3, block_layers=[1, 2, 1, 1], bottleneck_layers=2,
               decoder_channels=[8, 6, 6, 4])
S4_TINY = dict(stem_channels=4, body_channels=6, num_blocks=2)
CLF_TINY = dict(stem_channels=4, widths=[4, 6, 6, 8])


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- layers


def test_ptelu_exact_values_per_channel():
    x = torch.tensor([[-3.0, -0.5, 0.0, 0.25, 2.0], [-3.0, -0.5, 0.0, 0.25, 2.0]]).view(1, 2, 5)
    alpha = torch.tensor([1.5, 0.25])
    beta = torch.tensor([0.5, 4.0])
    out = ptelu(x, alpha, beta)
    for c in range(2):
        for i, v in enumerate(x[0, c].tolist()):
            expected = v if v >= 0 else alpha[c].item() * math.tanh(beta[c].item() * v)
            assert out[0, c, i].item() == pytest.approx(expected, abs=1e-6)


def test_ptelu_module_init_and_smoothness_at_zero():
    act = PTELU(3)
    assert torch.equal(act.alpha, torch.ones(3)) and torch.equal(act.beta, torch.ones(3))
    # alpha * beta = 1: left and right derivatives at 0 agree.
    x = torch.tensor([-1e-4, 1e-4], dtype=torch.float64).view(1, 1, 2).repeat(1, 3, 1)
    x.requires_grad_(True)
    act = act.double()
    act(x).sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x), atol=1e-6)
    # saturates at -alpha for very negative inputs
    assert act(torch.full((1, 3, 1), -50.0, dtype=torch.float64)).allclose(
        -act.alpha.detach().view(1, 3, 1))


def test_ptelu_gradcheck_float64():
    g = _gen(1)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, generator=g)
    x = (x + 0.1 * x.sign()).requires_grad_(True)  # keep away from the kink at 0
    alpha = (torch.rand(3, dtype=torch.float64, generator=g) + 0.5).requires_grad_(True)
    beta = (torch.rand(3, dtype=torch.float64, generator=g) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(ptelu, (x, alpha, beta))


def test_make_norm_kinds():
    assert isinstance(make_norm("batch", 4), nn.BatchNorm2d)
    inorm = make_norm("instance", 4)
    assert isinstance(inorm, nn.InstanceNorm2d) and not inorm.affine
    assert not inorm.track_running_stats
    assert isinstance(make_norm("none", 4), nn.Identity)
    with pytest.raises(ValueError, match="norm must be one of"):
        make_norm("group", 4)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_resnet_block_is_identity_plus_branch(norm):
    block = ResnetBlock(4, norm=norm, dropout=0.5).eval()
    x = torch.randn(2, 4, 5, 7, generator=_gen())
    convs = [m for m in block.body if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 and any(isinstance(m, nn.Dropout) for m in block.body)
    assert (convs[0].bias is None) == (norm == "batch")
    with torch.no_grad():
        y = block(x)
        assert not torch.allclose(y, x)
        convs[1].weight.zero_()
        if convs[1].bias is not None:
            convs[1].bias.zero_()
        assert torch.allclose(block(x), x, atol=1e-6)


def test_set_inference_dropout_keeps_batch_stats_unchanged():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5)).eval()
    before = net[1].running_mean.clone(), net[1].running_var.clone()
    set_inference_dropout(net, True)
    x = torch.randn(2, 3, 8, 8, generator=_gen())
    with torch.no_grad():
        assert not torch.equal(net(x), net(x))
    assert torch.equal(net[1].running_mean, before[0])
    assert torch.equal(net[1].running_var, before[1])
    set_inference_dropout(net, False)
    assert not net[1].training and not net[2].training and net[1].momentum == 0.1
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


# ---------------------------------------------------------------- S3


def _s3(**kw) -> MultiScaleDenseNet:
    torch.manual_seed(0)
    return MultiScaleDenseNet(**{**S3_TINY, **kw})


def test_s3_weight_norm_on_every_conv_and_ptelu_activations():
    net = _s3()
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) > 10
    assert all(parametrize.is_parametrized(m, "weight") for m in convs)
    banned = (nn.BatchNorm2d, nn.InstanceNorm2d, nn.ReLU)
    assert not any(isinstance(m, banned) for m in net.modules())
    assert any(isinstance(m, PTELU) for m in net.modules())
    dropouts = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and set(dropouts) == {0.2}


def test_s3_dn_has_no_pyramid_and_fewer_params():
    msdn, dn = _s3(pyramid_pooling=True), _s3(pyramid_pooling=False)
    assert any(isinstance(m, PyramidPooling) for m in msdn.modules())
    assert not any(isinstance(m, PyramidPooling) for m in dn.modules())
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(dn) < count(msdn)
    assert get_entry("s3_dn").defaults["pyramid_pooling"] is False
    assert get_entry("s3_msdn").defaults["pyramid_pooling"] is True


def test_s3_structure_four_levels_and_pad_multiple():
    net = _s3()
    assert len(net.encoder_blocks) == 4 and len(net.transitions_up) == 4
    assert net.pad_multiple == 16
    assert all(isinstance(d.pool, nn.MaxPool2d) for d in net.transitions_down)
    # dense block widths: input + layers * growth
    assert [b.out_channels for b in net.encoder_blocks] == [9, 15, 18, 21]


def test_pyramid_pooling_channels_and_branches():
    pp = PyramidPooling(8, bins=[1, 2, 3, 6], reduction=4)
    x = torch.randn(2, 8, 12, 12, generator=_gen())
    y = pp(x)
    assert y.shape == (2, 8 + 4 * 2, 12, 12) and pp.out_channels == 16
    assert torch.equal(y[:, :8], x)
    # the 1-bin branch is the global average: constant over space
    one = y[:, 8:10]
    assert torch.allclose(one, one[..., :1, :1].expand_as(one))
    # works on a map smaller than the largest bin
    assert pp(torch.randn(1, 8, 3, 5, generator=_gen())).shape == (1, 16, 3, 5)


@pytest.mark.parametrize("pyramid", [True, False])
def test_s3_shape_grad_dropout_and_determinism(pyramid):
    net = _s3(pyramid_pooling=pyramid)
    x = torch.rand(1, 3, 37, 53, generator=_gen())
    net.train()
    y = net(x)
    assert y.shape == x.shape
    y.mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing
    with torch.no_grad():
        assert not torch.equal(net(x), net(x))  # dropout 0.2 active in training
        net.eval()
        assert torch.equal(net(x), net(x))


def test_s3_global_skip_and_tanh_bound():
    net = _s3().eval()
    x = torch.rand(2, 3, 20, 17, generator=_gen())
    with torch.no_grad():
        y = net(x)
        # output = input + tanh(r) in [-1, 1] units -> at most 0.5 away in [0, 1] units
        assert (y - x).abs().max() <= 0.5 + 1e-6
        net.head.parametrizations.weight.original0.zero_()  # weight-norm magnitude g = 0
        net.head.bias.zero_()
        assert torch.allclose(net(x), x, atol=1e-6)
    clamped = _s3(clamp_output=True).eval()
    with torch.no_grad():
        out = clamped(torch.ones(1, 3, 16, 16))
    assert out.max() <= 1.0 and out.min() >= 0.0


def test_s3_rejects_mismatched_decoder():
    with pytest.raises(ValueError, match="decoder_channels"):
        MultiScaleDenseNet(block_layers=[1, 1], decoder_channels=[4, 4, 4])


@pytest.mark.parametrize("name", ["s3_msdn", "s3_dn"])
def test_s3_default_variants_forward(name):
    torch.manual_seed(0)
    net = create_model(name).eval()
    with torch.no_grad():
        y = net(torch.rand(1, 3, 48, 40, generator=_gen()))
    assert y.shape == (1, 3, 48, 40) and torch.isfinite(y).all()


# ---------------------------------------------------------------- S4 generator


def _s4(**kw) -> FrameDeblurNet:
    torch.manual_seed(0)
    return FrameDeblurNet(**{**S4_TINY, **kw})


def test_s4_default_has_15_resblocks_and_paper_widths():
    net = create_model("s4_deblurnet")
    blocks = [m for m in net.modules() if isinstance(m, ResnetBlock)]
    assert len(blocks) == 15
    assert net.l1[0].out_channels == 16 and net.l1[0].kernel_size == (7, 7)
    assert net.l2[0].out_channels == 64 and net.l2[0].kernel_size == (5, 5)
    one_by_one = [net.l35[0], net.l36, net.l37]
    assert all(c.kernel_size == (1, 1) for c in one_by_one) and net.l37.out_channels == 3
    assert {m.p for m in net.modules() if isinstance(m, nn.Dropout)} == {0.5}
    assert any(isinstance(m, nn.InstanceNorm2d) for m in net.modules())


@pytest.mark.parametrize("kw", [{}, {"downsample": False}, {"num_strided": 1},
                                {"norm": "batch", "downsample": False}])
def test_s4_global_skip_zeroed_last_layer_is_identity(kw):
    net = _s4(**kw).eval()
    x = torch.rand(2, 3, 37, 53, generator=_gen())
    with torch.no_grad():
        assert not torch.allclose(net(x), x, atol=1e-3)
        net.l37.weight.zero_()
        net.l37.bias.zero_()
        assert torch.allclose(net(x), x, atol=1e-6)


@pytest.mark.parametrize("norm, present, absent", [
    ("instance", nn.InstanceNorm2d, nn.BatchNorm2d),
    ("batch", nn.BatchNorm2d, nn.InstanceNorm2d),
    ("none", None, (nn.BatchNorm2d, nn.InstanceNorm2d)),
])
def test_s4_norm_option(norm, present, absent):
    net = _s4(norm=norm)
    modules = list(net.modules())
    assert not any(isinstance(m, absent) for m in modules)
    if present is not None:
        # 2 per ResBlock + L33 + L34
        assert sum(isinstance(m, present) for m in modules) == 2 * 2 + 2
    with pytest.raises(ValueError, match="norm"):
        _s4(norm="layer")


@pytest.mark.parametrize("kw, multiple, transposed, strided", [
    ({}, 4, 2, 2), ({"num_strided": 1}, 2, 1, 1), ({"downsample": False}, 1, 0, 0)])
def test_s4_downsample_readings(kw, multiple, transposed, strided):
    net = _s4(**kw)
    assert net.pad_multiple == multiple
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in net.modules()) == transposed
    assert sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in net.modules()) == strided
    x = torch.rand(1, 3, 37, 53, generator=_gen())
    y = net(x)
    assert y.shape == x.shape
    y.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_s4_long_skips_only_at_full_resolution():
    assert _s4(downsample=False).long_skips and not _s4().long_skips
    with pytest.raises(ValueError, match="long_skips"):
        _s4(long_skips=True)
    with_skips = _s4(downsample=False).eval()
    without = _s4(downsample=False, long_skips=False).eval()
    without.load_state_dict(with_skips.state_dict())
    x = torch.rand(1, 3, 16, 16, generator=_gen())
    with torch.no_grad():
        assert not torch.allclose(with_skips(x), without(x))


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_s4_dropout_at_inference(norm):
    x = torch.rand(2, 3, 24, 24, generator=_gen())
    plain = _s4(norm=norm).eval()
    with torch.no_grad():
        assert torch.equal(plain(x), plain(x))
    noisy = _s4(norm=norm, dropout_at_inference=True).eval()
    stats = lambda: [b.clone() for n, b in noisy.named_buffers() if "running" in n]  # noqa: E731
    before = stats()
    with torch.no_grad():
        assert not torch.equal(noisy(x), noisy(x))
    assert len(before) == (2 * 6 if norm == "batch" else 0)  # 6 BN layers
    assert all(torch.equal(a, b) for a, b in zip(before, stats()))
    noisy.train()
    assert all(m.training for m in noisy.modules())
    assert all(m.momentum == 0.1 for m in noisy.modules() if isinstance(m, nn.BatchNorm2d))


def test_count_macs_matches_analytic_formula_full_resolution():
    s, b, n, h, w = 4, 6, 2, 16, 20
    net = FrameDeblurNet(stem_channels=s, body_channels=b, num_blocks=n, downsample=False)
    per_pixel = 49 * 3 * s + 25 * s * b + 2 * n * 9 * b * b + 2 * 9 * b * b + 2 * b * b + 3 * b
    assert count_macs(net.eval(), h, w) == per_pixel * h * w


def test_s4_registered_readings():
    assert get_entry("s4_deblurnet_table1").defaults == {"norm": "batch", "downsample": False}
    assert get_entry("s4_deblurnet_half").defaults == {"num_strided": 1}
    assert get_entry("s4_frame_selector").kind == "classifier"
    net = create_model("s4_deblurnet_table1").eval()
    assert net.pad_multiple == 1 and net.long_skips
    with torch.no_grad():
        assert net(torch.rand(1, 3, 16, 24, generator=_gen())).shape == (1, 3, 16, 24)
    net = create_model("s4_deblurnet").eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 37, 53, generator=_gen())).shape == (1, 3, 37, 53)


# ---------------------------------------------------------------- S4 classifier


def test_frame_selector_probability_and_logits():
    torch.manual_seed(0)
    clf = FrameSelector(**CLF_TINY).eval()
    x = torch.cat([torch.rand(3, 3, 37, 53, generator=_gen()), torch.zeros(1, 3, 37, 53),
                   torch.ones(1, 3, 37, 53)])
    with torch.no_grad():
        p, logits = clf(x), clf.forward_logits(x)
    assert p.shape == (5,) and logits.shape == (5,)
    assert ((p >= 0) & (p <= 1)).all()
    assert torch.allclose(p, torch.sigmoid(logits))
    loss = nn.BCEWithLogitsLoss()(clf.train().forward_logits(x), torch.ones(5))
    loss.backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in clf.parameters())


def test_frame_selector_structure():
    clf = create_model("s4_frame_selector")
    convs = [m for m in clf.features if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * 4
    assert [c.out_channels for c in convs] == [64, 64, 128, 256, 512]
    assert convs[0].kernel_size == (5, 5)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in clf.modules()) == 4
    assert {m.negative_slope for m in clf.modules() if isinstance(m, nn.LeakyReLU)} == {0.3}
    linears = [m for m in clf.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].out_features == 1
    with torch.no_grad():
        p = clf.eval()(torch.rand(1, 3, 33, 65, generator=_gen()))
    assert p.shape == (1,) and 0 <= p.item() <= 1
    hidden = FrameSelector(**CLF_TINY, fc_hidden=16)
    assert [m.out_features for m in hidden.modules() if isinstance(m, nn.Linear)] == [16, 1]


@pytest.mark.parametrize("size", [(6, 6), (7, 9), (13, 5), (16, 24)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_sliced_adaptive_pooling_equals_torch(size, bins):
    from deblurkit.models.layers import adaptive_avg_pool2d

    if min(size) < bins:
        pytest.skip("fewer pixels than bins")
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    assert torch.allclose(adaptive_avg_pool2d(x, bins), F.adaptive_avg_pool2d(x, bins),
                          atol=1e-12)


# ---------------------------------------------------------------- CPU variants and recipes


def test_s3_cpu_variant_keeps_dense_blocks_and_pyramid_pooling_on_pixel_blocks():
    net = create_model("s3_msdn_cpu", residual_init="zero").eval()
    assert (net.space_to_depth, net.pad_multiple) == (4, 64)
    assert isinstance(net.pyramid, PyramidPooling) and len(net.encoder_blocks) == 4
    assert all(isinstance(b, DenseBlock) for b in [*net.encoder_blocks, net.bottleneck])
    assert [len(b.layers) for b in net.encoder_blocks] == [4, 4, 3, 2]
    assert not any(isinstance(m, nn.Dropout) and m.p > 0 for m in net.modules())
    assert net.head.out_channels == 48 and net.stem[0].in_channels == 48
    x = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-6)  # identity start
    assert max_conv_input_side(net, torch.rand(1, 3, 64, 64)) == 16  # no full resolution


def test_s4_cpu_variant_keeps_the_generator_on_pixel_blocks():
    net = create_model("s4_deblurnet_cpu", residual_init="zero").eval()
    assert (net.space_to_depth, net.pad_multiple, len(net.blocks)) == (4, 8, 15)
    assert net.l1[0].in_channels == 48 and net.l37.out_channels == 48
    assert not any(isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d, nn.Dropout))
                   for m in net.modules())
    assert isinstance(net.l33[0], nn.ConvTranspose2d) and net.l2[0].stride == (2, 2)
    x = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-6)  # identity start (L37 = 0)
    assert max_conv_input_side(net, torch.rand(1, 3, 64, 64)) == 16
    small = FrameDeblurNet(space_to_depth=2, **S4_TINY).eval()  # text reading, 2x2 blocks
    assert small.pad_multiple == 8 and small.l1[0].in_channels == 12
    with torch.no_grad():
        assert small(x).shape == x.shape


@pytest.mark.parametrize("name, model", [("s3", "s3_msdn_cpu"), ("s4", "s4_deblurnet_cpu")])
def test_s3_s4_realistic_recipes(name, model):
    cfg = check_realistic_recipe(name, model)
    # S4's pixel term as published; S3's in place of its VGG term (docs/training.md)
    assert cfg.task == "adversarial" and [(t.name, t.weight, t.kwargs) for t in cfg.losses] == [
        ("huber", 100.0, {"delta": 0.01})]
    assert (cfg.gan.gan_type, cfg.gan.gp_weight, cfg.gan.discriminator.name) == (
        "wgan", 10.0, "patchgan_wgan")
    assert cfg.gan.adv_weight <= 1e-3  # small: an untrained critic must not swamp the pixels
