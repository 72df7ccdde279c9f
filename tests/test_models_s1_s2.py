"""S1 (multi-scale encoder-decoder), S2 (multi-scale residual network) and the
discriminators: structure as the papers specify, scale wiring, value ranges, the pyramid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from deblurkit.models import create_model
from deblurkit.models.discriminators import S2_LAYERS, PatchDiscriminator, S2Discriminator
from deblurkit.models.s1_msed import (EncoderDecoder, MultiScaleEncoderDecoder, ResBlock,
                                      area_pyramid)
from deblurkit.models.s2_msrn import (MSRB, MultiScaleResidualNetwork, gaussian_blur,
                                      gaussian_kernel1d, gaussian_pyramid, msrb_parameter_count)
from deblurkit.training.health import frozen_share
from realistic_recipes import REALISTIC, check_realistic_recipe, max_conv_input_side

REPO = REALISTIC.parents[1]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout


def s1_scale_parameters(w: int, r: int, cin: int = 3) -> int:
    """Parameters of one S1 scale from the paper's table (depth 4, widths w, 2w, 4w, 8w)."""
    w0, w1, w2, w3 = w, 2 * w, 4 * w, 8 * w
    res = lambda c: r * 2 * conv(3, c, c)                     # noqa: E731
    encoder = (conv(3, cin, w0) + res(w0) + conv(3, w0, w1) + res(w1)
               + conv(3, w1, w2) + res(w2) + conv(3, w2, w3) + res(w3))
    decoder = (res(w3) + conv(4, w3, w2) + res(2 * w2) + conv(4, 2 * w2, w1)
               + res(2 * w1) + conv(4, 2 * w1, w0) + res(2 * w0) + conv(3, 2 * w0, 3))
    return encoder + decoder


# ----------------------------------------------------------------------------------------- S1
def test_s1_scale_matches_the_paper_layout_at_full_width():
    assert count(EncoderDecoder(3, 3, base_width=32, depth=4, num_resblocks=2)) == \
        s1_scale_parameters(32, 2)


@pytest.mark.parametrize("num_scales", [1, 2, 3])
@pytest.mark.parametrize("fusion", ["weighted", "concat"])
def test_s1_weight_sharing_parameter_count(num_scales, fusion):
    cin = 3 if fusion == "weighted" else 6
    fusion_weights = num_scales - 1 if fusion == "weighted" else 0
    per_scale = s1_scale_parameters(4, 1, cin)
    separate = MultiScaleEncoderDecoder(num_scales, base_width=4, num_resblocks=1, fusion=fusion)
    shared = MultiScaleEncoderDecoder(num_scales, base_width=4, num_resblocks=1, fusion=fusion,
                                      share_weights=True)
    assert count(separate) == num_scales * per_scale + fusion_weights
    assert count(shared) == per_scale + fusion_weights


@pytest.mark.parametrize("num_scales", [1, 2, 3])
def test_s1_scales_are_halved_sizes_and_padding_multiple(num_scales):
    net = MultiScaleEncoderDecoder(num_scales, base_width=4, num_resblocks=1).eval()
    assert net.pad_multiple == 8 * 2 ** (num_scales - 1)
    with torch.no_grad():
        outs = net.forward_scales(torch.rand(1, 3, 37, 53))
        raw = net.restore(torch.zeros(1, 3, 64, 96))
    assert [o.shape[-2:] for o in outs] == [
        (math.ceil(37 / 2 ** k), math.ceil(53 / 2 ** k)) for k in reversed(range(num_scales))]
    assert [o.shape[-2:] for o in raw] == [
        (64 // 2 ** k, 96 // 2 ** k) for k in reversed(range(num_scales))]


def zero_(net: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    return net


@pytest.mark.parametrize("fusion", ["weighted", "concat"])
def test_s1_value_range_is_centered(fusion):
    # A network whose every weight is zero outputs 0 in its own range: x - 0.5 -> 0.5 gray.
    x = torch.rand(2, 3, 19, 23)
    net = zero_(MultiScaleEncoderDecoder(2, base_width=4, num_resblocks=1, fusion=fusion))
    assert torch.equal(net(x), torch.full_like(x, 0.5))
    # ... and with the global residual, the input itself.
    net = zero_(MultiScaleEncoderDecoder(2, base_width=4, num_resblocks=1, fusion=fusion,
                                         global_residual=True))
    assert torch.allclose(net(x), x, atol=1e-6)


def test_s1_area_pyramid_is_2x2_mean():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    coarse, fine = area_pyramid(x, 2)
    assert torch.equal(fine, x)
    assert torch.equal(coarse, torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]]))


@pytest.mark.parametrize("cross", [True, False])
def test_s1_cross_scale_residuals_join_the_scales(cross):
    # With the fusion weight at 1 the finer scale sees only its own input; the coarse scale
    # can then only reach the fine output through the cross-scale feature residuals.
    torch.manual_seed(0)
    net = MultiScaleEncoderDecoder(2, base_width=4, num_resblocks=1,
                                   cross_scale_residual=cross).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        net.fusion_weights.fill_(1.0)
        before = net(x)
        for p in net.scales[0].parameters():
            p.add_(0.1)
        after = net(x)
    assert torch.equal(before, after) is not cross


def test_s1_fusion_weight_starts_at_half_and_mixes_inputs():
    net = MultiScaleEncoderDecoder(3, base_width=4, num_resblocks=1)
    assert torch.equal(net.fusion_weights.detach(), torch.tensor([0.5, 0.5]))
    assert net.scales[0].encoder[0].conv.in_channels == 3
    concat = MultiScaleEncoderDecoder(3, base_width=4, num_resblocks=1, fusion="concat")
    assert concat.fusion_weights is None
    assert all(s.encoder[0].conv.in_channels == 6 for s in concat.scales)


def test_s1_xavier_initialisation():
    net = MultiScaleEncoderDecoder(1, base_width=8, num_resblocks=1)
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            receptive = module.weight[0, 0].numel()
            fan_in = module.weight.shape[1] * receptive
            fan_out = module.weight.shape[0] * receptive
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            assert module.weight.abs().max() <= bound
            assert module.weight.abs().max() > 0.5 * bound
            assert not module.bias.any()


def test_s1_variants_and_argument_checks():
    assert create_model("s1_msed_3scale", base_width=4).num_scales == 3
    assert create_model("s1_msed_1scale", base_width=4).num_scales == 1
    shared = create_model("s1_msed_shared", base_width=4)
    assert shared.share_weights and len(shared.scales) == 1
    default = create_model("s1_msed", base_width=4)
    assert default.num_scales == 2 and not default.share_weights and len(default.scales) == 2
    with pytest.raises(ValueError, match="fusion"):
        MultiScaleEncoderDecoder(fusion="sum")
    with pytest.raises(ValueError, match="num_scales"):
        MultiScaleEncoderDecoder(num_scales=0)


def test_s1_per_level_resblocks_follow_the_counts():
    net = EncoderDecoder(base_width=4, depth=3, num_resblocks=[0, 1, 3], decoder_resblocks=2)
    assert [len(b.resblocks) for b in net.encoder] == [0, 1, 3]
    assert [len(b.resblocks) for b in net.decoder] == [2, 2, 2]
    with pytest.raises(ValueError, match="num_resblocks"):
        EncoderDecoder(depth=3, num_resblocks=[1, 2])
    capped = EncoderDecoder(base_width=4, depth=3, max_width=6)
    assert [b.conv.out_channels for b in capped.encoder] == [4, 6, 6]
    assert capped(torch.rand(1, 3, 8, 8))[0].shape == (1, 3, 8, 8)


@pytest.mark.parametrize("num_scales", [1, 2])
def test_s1_space_to_depth_is_exact_and_runs_no_full_resolution_convolution(num_scales):
    net = MultiScaleEncoderDecoder(num_scales=num_scales, base_width=4, depth=2,
                                   space_to_depth=2, global_residual=True, residual_init="zero")
    assert net.pad_multiple == 2 * 2 * 2 ** (num_scales - 1)
    x = torch.rand(1, 3, 19, 29)
    assert torch.equal(net(x), x)  # zero-initialised residual: the identity, exactly
    first = net.scales[0].encoder[0].conv
    assert first.in_channels == 12 and net.scales[0].decoder[-1].out.out_channels == 12
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-2:]))
             for m in net.modules() if isinstance(m, nn.Conv2d)]
    net(torch.rand(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert max(s[0] for s in seen) == 16  # every convolution sees at most half resolution


def test_s1_fast_variant_is_registered_and_starts_at_the_identity():
    net = create_model("s1_msed_fast", base_width=4, residual_init="zero")
    x = torch.rand(1, 3, 24, 40)
    assert net.space_to_depth == 2 and torch.equal(net(x), x)


def test_s1_stable_variant_adds_one_zero_scale_per_block_and_no_resample_relu():
    fast = create_model("s1_msed_fast", base_width=8, max_width=16)
    stable = create_model("s1_msed_fast_stable", base_width=8, max_width=16,
                          residual_init="zero")
    blocks = [m for m in stable.modules() if isinstance(m, ResBlock)]
    assert all(torch.equal(b.scale, torch.zeros_like(b.scale)) for b in blocks)
    assert count(stable) - count(fast) == sum(b.conv1.in_channels for b in blocks)
    network = stable.scales[0]
    assert all(isinstance(block.act, nn.Identity) for block in [*network.encoder, *network.decoder])
    assert all(isinstance(block.act, nn.ReLU) for block in fast.scales[0].encoder)
    x = torch.rand(1, 3, 40, 24)
    assert torch.equal(stable(x), x)
    with pytest.raises(ValueError, match="resample_activation"):
        create_model("s1_msed_fast", resample_activation="gelu")


@pytest.mark.parametrize("name, dead", [("s1_msed_fast", True), ("s1_msed_fast_stable", False)])
def test_s1_coarse_levels_die_behind_a_negative_upsampling_only_with_the_paper_relu(name, dead):
    """The failure of the long run (docs/default-model.md): once the transposed convolution that
    joins the coarse levels to the finest outputs only negative values, its ReLU passes no
    gradient to any coarser parameter. Without that ReLU the same weights still learn."""
    torch.manual_seed(0)
    net = create_model(name, base_width=8, max_width=16, global_residual=True)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, ResBlock) and module.scale is not None:
                module.scale.fill_(0.1)                      # a trained block's scale
        net.scales[0].decoder[2].out.bias.fill_(-1e3)      # the layer that died in the run
    x = torch.rand(2, 3, 128, 128)
    (net(x) - torch.rand_like(x)).abs().mean().backward()
    coarse = [p for n, p in net.named_parameters()    # all but the finest level and the join
              if not n.startswith(("scales.0.encoder.0.", "scales.0.decoder.3.",
                                   "scales.0.decoder.2.out."))]
    silent = sum(int((p.grad == 0).sum()) for p in coarse) / sum(p.numel() for p in coarse)
    assert silent == 1.0 if dead else silent < 1e-3
    assert frozen_share(net) > 0.5 if dead else frozen_share(net) < 0.1


def test_s1_stable_variant_learns_everywhere_after_its_first_step():
    torch.manual_seed(0)
    net = create_model("s1_msed_fast_stable", base_width=8, max_width=16, residual_init="zero")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.rand(2, 3, 128, 128), torch.rand(2, 3, 128, 128)
    shares = []
    for _ in range(3):
        optimizer.zero_grad()
        (net(x) - y).abs().mean().backward()
        shares.append(frozen_share(net))
        optimizer.step()
    assert shares[0] > 0.5 and shares[2] < 0.01   # zero scales and output: silent for one step


def test_s1_stable_block_keeps_bf16_autocast_in_bf16():
    """A float32 scale times a bf16 branch would turn the residual stream into float32 under
    CPU autocast (every later elementwise op at twice the memory traffic); the block multiplies
    in the branch's dtype, and in float32 it computes exactly ``x + scale * branch``."""
    torch.manual_seed(0)
    block = ResBlock(8, res_scale=0.5)
    x = torch.rand(1, 8, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = block.conv1(x)
        assert block(h).dtype == torch.bfloat16
    branch = block.conv2(block.act(block.conv1(x)))
    assert torch.equal(block(x), x + block.scale * branch)


# ----------------------------------------------------------------------------------------- S2
@pytest.mark.parametrize("m", [4, 64])
def test_msrb_parameter_count(m):
    # 3x3 M->M, 5x5 M->M, 3x3 2M->2M, 5x5 2M->2M, 1x1 4M->M, each with a bias.
    expected = conv(3, m, m) + conv(5, m, m) + conv(3, 2 * m, 2 * m) + conv(5, 2 * m, 2 * m) \
        + conv(1, 4 * m, m)
    assert count(MSRB(m)) == expected == msrb_parameter_count(m) == 174 * m * m + 7 * m


def test_msrb_follows_equations_2_to_7():
    torch.manual_seed(0)
    block = MSRB(4)
    x = torch.randn(1, 4, 9, 11)
    f = nn.functional
    s1 = f.relu(f.conv2d(x, block.conv3_1.weight, block.conv3_1.bias, padding=1))
    p1 = f.relu(f.conv2d(x, block.conv5_1.weight, block.conv5_1.bias, padding=2))
    s2 = f.relu(f.conv2d(torch.cat([s1, p1], 1), block.conv3_2.weight, block.conv3_2.bias,
                         padding=1))
    p2 = f.relu(f.conv2d(torch.cat([p1, s1], 1), block.conv5_2.weight, block.conv5_2.bias,
                         padding=2))
    expected = x + f.conv2d(torch.cat([s2, p2], 1), block.fuse.weight, block.fuse.bias)
    assert torch.allclose(block(x), expected, atol=1e-6)


def test_gaussian_pyramid_of_a_constant_is_constant():
    x = torch.full((2, 3, 37, 53), 0.3)
    levels = gaussian_pyramid(x, 3)
    assert [t.shape[-2:] for t in levels] == [(10, 14), (19, 27), (37, 53)]
    assert levels[-1] is x
    for level in levels:
        assert torch.allclose(level, torch.full_like(level, 0.3), atol=1e-6)


def test_gaussian_blur_matches_scipy_mirror_filter():
    rng = np.random.default_rng(0)
    image = rng.random((12, 17)).astype(np.float32)
    ours = gaussian_blur(torch.from_numpy(image)[None, None], kernel_size=5, sigma=1.0)[0, 0]
    reference = ndimage.gaussian_filter(image.astype(np.float64), sigma=1.0, mode="mirror",
                                        truncate=2.0)
    np.testing.assert_allclose(ours.numpy(), reference, atol=1e-6)
    assert torch.isclose(gaussian_kernel1d(5, 1.0).sum(), torch.tensor(1.0))
    # The next level samples the blurred image at even positions.
    coarse = gaussian_pyramid(torch.from_numpy(image)[None, None], 2)[0][0, 0]
    np.testing.assert_allclose(coarse.numpy(), reference[::2, ::2], atol=1e-6)


def test_s2_generator_structure_and_scales():
    net = MultiScaleResidualNetwork(num_levels=3, num_msrb=2, width=8)
    assert net.pad_multiple == 4
    assert [s.head.in_channels for s in net.scales] == [3, 6, 6]
    assert all(len(s.blocks) == 2 and s.fusion.in_channels == 16 and s.fusion.kernel_size == (1, 1)
               for s in net.scales)
    with torch.no_grad():
        outs = net.forward_scales(torch.rand(1, 3, 37, 53))
    assert [o.shape[-2:] for o in outs] == [(10, 14), (19, 27), (37, 53)]
    transposed = MultiScaleResidualNetwork(width=8, num_msrb=1, upsample="transposed")
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in transposed.modules()) == 2
    with pytest.raises(ValueError, match="upsample"):
        MultiScaleResidualNetwork(upsample="nearest")


def test_s2_value_range_is_centered():
    x = torch.rand(1, 3, 16, 20)
    net = zero_(MultiScaleResidualNetwork(width=4, num_msrb=1))
    assert torch.equal(net(x), torch.full_like(x, 0.5))


# ---------------------------------------------------------------------------- discriminators
def test_s2_discriminator_layers_follow_table_1():
    d = S2Discriminator()
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 9
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == list(S2_LAYERS)
    assert [c.out_channels for c in convs] == [32, 64, 64, 128, 128, 256, 256, 512, 512]
    assert [c.stride[0] for c in convs] == [2, 1, 2, 1, 4, 1, 4, 1, 4]
    assert [c.kernel_size[0] for c in convs] == [5] * 8 + [4]
    assert convs[0].in_channels == 3
    assert (d.fc.in_features, d.fc.out_features) == (512, 1)


def test_s2_discriminator_logits_sigmoid_and_input_range():
    torch.manual_seed(0)
    logits_net = S2Discriminator()
    probs_net = S2Discriminator(sigmoid=True)
    probs_net.load_state_dict(logits_net.state_dict())
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        logits = logits_net(x)
        assert torch.allclose(probs_net(x), torch.sigmoid(logits))
        # [0, 1] input is mapped to [-1, 1]: a manual pass over 2x - 1 agrees.
        h = 2 * x - 1
        for module in logits_net.features:
            h = module(h)
        manual = logits_net.fc(h.mean(dim=(2, 3)))
    assert torch.allclose(logits, manual, atol=1e-6)
    with pytest.raises(ValueError, match="256x256"):
        logits_net(torch.rand(1, 3, 128, 128))


def test_patchgan_layouts():
    pix2pix = create_model("patchgan")
    wgan = create_model("patchgan_wgan")
    with torch.no_grad():
        assert pix2pix(torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)
        assert wgan(torch.rand(1, 3, 256, 256)).shape == (1, 1, 35, 35)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in wgan.modules())
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in wgan.modules()) == 3
    keys = list(pix2pix.state_dict())
    assert keys[:3] == ["model.0.weight", "model.0.bias", "model.2.weight"]
    assert "model.2.bias" not in keys and "model.2.bias" in wgan.state_dict()
    assert [m.out_channels for m in pix2pix.modules() if isinstance(m, nn.Conv2d)] == \
        [64, 128, 256, 512, 1]
    assert [m.stride[0] for m in pix2pix.modules() if isinstance(m, nn.Conv2d)] == \
        [2, 2, 2, 1, 1]


def test_patchgan_receptive_field_is_70():
    # One output patch depends on a 70x70 input window (n_layers=3, no norm to keep it local).
    d = PatchDiscriminator(base_width=4, norm="none", padding=1)
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    d(x)[0, 0, 5, 5].backward()
    rows = x.grad[0].abs().sum(dim=(0, 2)).nonzero()
    cols = x.grad[0].abs().sum(dim=(0, 1)).nonzero()
    assert rows.max() - rows.min() + 1 == 70
    assert cols.max() - cols.min() + 1 == 70


# ------------------------------------------------------------------- CPU variants and recipes
def test_s1_realistic_recipe_uses_the_fast_variant_and_the_papers_pixel_loss():
    cfg = check_realistic_recipe("s1", "s1_msed_fast")
    assert [loss.name for loss in cfg.losses] == ["mse"] and cfg.task == "supervised"


def test_s1_finetune_recipe_is_s1s_recipe_started_from_the_bundled_s1_file():
    from deblurkit.models.weights import load_model
    from deblurkit.pretrained import BUNDLED
    from deblurkit.training import load_config

    s1 = load_config(REALISTIC / "s1.yaml")
    cfg = load_config(REALISTIC / "s1_finetune.yaml")
    # the long run's step 4500: the default's file when the recipe was made, `s1` since
    assert cfg.model.init == "src/deblurkit/pretrained/" + BUNDLED["s1"].file
    assert load_model(REPO / cfg.model.init).deblurkit_name == cfg.model.name == s1.model.name
    assert (cfg.model.kwargs, cfg.data, cfg.losses, cfg.task) == (
        s1.model.kwargs, s1.data, s1.losses, s1.task)        # S1's network, data and loss
    assert (cfg.train.steps, cfg.train.ema, cfg.train.ema_warmup) == (s1.train.steps, 0.999, True)
    warm = cfg.schedule.kwargs    # warm-up, then a cosine over the rest of S1's budget
    assert cfg.schedule.name == "warmup" and cfg.optim.lr < s1.optim.lr
    assert warm["warmup_steps"] + warm["after"]["total_steps"] == cfg.train.steps


def test_s2_cpu_variant_keeps_pyramid_and_msrbs_on_pixel_blocks():
    net = create_model("s2_msrn_cpu", width=4, residual_init="zero").eval()
    assert (net.num_levels, net.space_to_depth, net.pad_multiple) == (3, 4, 16)
    assert [s.head.in_channels for s in net.scales] == [48, 96, 96]
    assert all(len(s.blocks) == 2 and isinstance(s.blocks[0], MSRB) and s.tail.out_channels == 48
               for s in net.scales)
    x = torch.rand(1, 3, 70, 90)
    with torch.no_grad():
        outs = net.forward_scales(x)
    assert [o.shape[-2:] for o in outs] == [(18, 23), (35, 45), (70, 90)]
    torch.testing.assert_close(outs[-1], x, rtol=0, atol=1e-6)  # identity start
    assert max_conv_input_side(net, torch.rand(1, 3, 64, 64)) == 16  # 1/4 of the finest level


def test_s2_realistic_recipe():
    cfg = check_realistic_recipe("s2", "s2_msrn_cpu")
    assert cfg.task == "adversarial" and cfg.gan.gan_type == "nsgan"
    assert [(loss.name, loss.input, loss.pyramid, loss.weight, loss.kwargs)
            for loss in cfg.losses] == [
        ("multiscale_pixel", "scales", "gaussian", 100.0, {"delta": 0.01})]  # the robust form
    assert cfg.gan.discriminator.name == "s2_discriminator" and cfg.gan.adv_weight == 1e-4
    disc = create_model(cfg.gan.discriminator.name, **cfg.gan.discriminator.kwargs)
    assert disc(torch.rand(1, 3, 256, 256)).shape == (1, 1)
