"""NAFNet, the peer network (deblurkit.models.nafnet): blocks against independent
computations, parameter counts from the paper's block formulas, identity start, any input
size, gradients, and the registered variants."""

from __future__ import annotations

import pytest
import torch

from deblurkit.models import create_model, list_models
from deblurkit.models.nafnet import (FAST_BLOCKS, GOPRO_BLOCKS, LayerNorm2d, NAFBlock, NAFNet, layer_norm_2d,
                                     simple_gate)
from realistic_recipes import check_realistic_recipe


def _block_params(c: int) -> int:
    """Parameters of one NAFBlock of width c, counted from Fig. 3c."""
    w = 2 * c
    return (2 * c                     # LN 1
            + c * w + w               # 1x1 expand
            + w * 9 + w               # 3x3 depthwise
            + c * c + c               # SCA 1x1 (on the gated c channels)
            + c * c + c               # 1x1 project
            + 2 * c                   # LN 2
            + c * w + w               # FFN 1x1 expand
            + c * c + c               # FFN 1x1 project
            + 2 * c)                  # beta, gamma


def _net_params(width: int, enc, middle, dec, unshuffle: int = 1) -> int:
    widths = [width * 2 ** i for i in range(len(enc) + 1)]
    pixels = 3 * unshuffle ** 2                                         # channels of a block
    total = pixels * width * 9 + width + width * pixels * 9 + pixels   # intro, ending
    total += sum(n * _block_params(widths[i]) for i, n in enumerate(enc))
    total += sum(widths[i] * widths[i + 1] * 4 + widths[i + 1] for i in range(len(enc)))  # 2x2 s2
    total += middle * _block_params(widths[-1])
    total += sum(widths[i + 1] * widths[i] * 4 for i in range(len(enc)))  # 1x1 before shuffle
    total += sum(n * _block_params(widths[i]) for i, n in enumerate(dec))
    return total


def test_layer_norm_normalises_each_pixel_over_its_channels():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 3) * 3 + 1
    weight, bias = torch.randn(5), torch.randn(5)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * weight.view(1, 5, 1, 1) + bias.view(1, 5, 1, 1)
    torch.testing.assert_close(layer_norm_2d(x, weight, bias), expected, atol=1e-5, rtol=1e-5)
    module = LayerNorm2d(5)
    module.weight.data, module.bias.data = weight, bias
    torch.testing.assert_close(module(x), layer_norm_2d(x, weight, bias))       # module == fn
    cl = x.to(memory_format=torch.channels_last)
    torch.testing.assert_close(layer_norm_2d(cl, weight, bias), expected, atol=1e-5, rtol=1e-5)


def test_simple_gate_multiplies_the_channel_halves():
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(simple_gate(x), x[:, :3] * x[:, 3:])
    with pytest.raises(ValueError, match="even number of channels"):
        simple_gate(torch.randn(1, 3, 2, 2))          # would broadcast 2 channels against 1


def test_a_fresh_block_is_the_identity_and_learns_through_its_scales():
    block = NAFBlock(8)
    x = torch.randn(1, 8, 6, 6)
    assert torch.equal(block(x), x)                   # beta = gamma = 0 at the start
    block(x).sum().backward()
    assert block.beta.grad.abs().sum() > 0 and block.gamma.grad.abs().sum() > 0


@pytest.mark.parametrize("width,enc,middle,dec", [(8, (1, 2), 1, (1, 1)),
                                                  (4, (0, 1, 3), 2, (1, 0, 1))])
def test_parameter_count_matches_the_block_formulas(width, enc, middle, dec):
    net = NAFNet(width=width, enc_blocks=enc, middle_blocks=middle, dec_blocks=dec)
    assert sum(p.numel() for p in net.parameters()) == _net_params(width, enc, middle, dec)
    assert net.pad_multiple == 2 ** len(enc)


@pytest.mark.parametrize("size", [(16, 16), (37, 53), (5, 9)])
def test_any_input_size_and_batch(size):
    net = NAFNet(width=4, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1)).eval()
    x = torch.rand(2, 3, *size)
    y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    torch.testing.assert_close(net(x[1:]), y[1:], atol=1e-5, rtol=1e-5)   # no batch mixing


def test_zero_residual_init_is_the_identity_and_bad_arguments_are_refused():
    net = NAFNet(width=4, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1),
                 residual_init="zero")
    x = torch.rand(1, 3, 20, 12)
    assert torch.equal(net(x), x)
    with pytest.raises(ValueError, match="as many encoder as decoder"):
        NAFNet(width=4, enc_blocks=(1, 1), dec_blocks=(1,))
    with pytest.raises(ValueError):
        NAFNet(width=0)
    with pytest.raises(ValueError):
        NAFNet(width=4, residual_init="ones")


def test_gradcheck_tiny():
    torch.manual_seed(0)
    # non-zero scales, so every path carries gradient
    net = NAFNet(width=2, enc_blocks=(1,), middle_blocks=1, dec_blocks=(1,),
                 scale_init=0.5).double()
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x,), eps=1e-6, atol=1e-4)


def test_registered_variants_use_the_papers_gopro_blocks():
    assert {"nafnet_w16", "nafnet_w32"} <= set(list_models("nafnet_*", kind="generator"))
    with torch.device("meta"):
        for name, width in (("nafnet_w16", 16), ("nafnet_w32", 32)):
            net = create_model(name)
            assert sum(p.numel() for p in net.parameters()) == _net_params(
                width, GOPRO_BLOCKS["enc_blocks"], GOPRO_BLOCKS["middle_blocks"],
                GOPRO_BLOCKS["dec_blocks"])
            assert net.pad_multiple == 16


def test_unshuffled_network_works_on_pixel_blocks():
    torch.manual_seed(0)
    kw = dict(width=4, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))
    net = NAFNet(**kw, unshuffle=2, scale_init=0.5).eval()
    assert sum(p.numel() for p in net.parameters()) == _net_params(4, (1, 1), 1, (1, 1), 2)
    assert net.pad_multiple == 8 and net.intro.in_channels == 12 and net.ending.out_channels == 12
    x = torch.rand(2, 3, 21, 10)                        # padded to multiples of 8, cropped back
    y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    # the same as the paper's network run on the space-to-depth picture, shuffled back
    plain = NAFNet(**kw, scale_init=0.5).eval()
    plain.intro, plain.ending = net.intro, net.ending
    plain.load_state_dict(net.state_dict())
    z = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        inner = torch.nn.functional.pixel_unshuffle(z, 2)
        expected = z + torch.nn.functional.pixel_shuffle(plain.restore(inner) - inner, 2)
        torch.testing.assert_close(net(z), expected, atol=1e-5, rtol=1e-5)
    zero = NAFNet(**kw, unshuffle=2, residual_init="zero")
    assert torch.equal(zero(x), x)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="unshuffle"):
            NAFNet(**kw, unshuffle=bad)


def test_fast_variant_fits_the_default_budgets():
    with torch.device("meta"):
        net = create_model("nafnet_fast")
    count = sum(p.numel() for p in net.parameters())
    assert count == _net_params(FAST_BLOCKS["width"], FAST_BLOCKS["enc_blocks"],
                                FAST_BLOCKS["middle_blocks"], FAST_BLOCKS["dec_blocks"], 2)
    assert count * 2 < 8e6                              # float16 file under 8 MB
    assert net.unshuffle == 2 and net.pad_multiple == 32


@pytest.mark.parametrize("name", ["nafnet_w16", "nafnet_w32", "nafnet_fast"])
def test_realistic_peer_recipes(name):
    cfg = check_realistic_recipe(name, name)
    assert cfg.task == "supervised"
    assert [(t.name, t.weight) for t in cfg.losses] == [("l1", 1.0), ("frequency_l1", 0.01)]
