"""``residual_init="zero"``: every generator with a global skip starts as the identity and
still trains every parameter (S1, S2, S3, S4, S5 ResNet and FPN)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deblurkit.models.base import (RESIDUAL_INITS, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.s1_msed import MultiScaleEncoderDecoder
from deblurkit.models.s2_msrn import MultiScaleResidualNetwork
from deblurkit.models.s3_msdn import MultiScaleDenseNet
from deblurkit.models.s4_deblurnet import FrameDeblurNet
from deblurkit.models.s5_multitask import build_s5_fpn, build_s5_resnet

#: Tiny versions of each generator with the identity start (name -> (factory, input side)).
IDENTITY_NETS = {
    "s1_2scales": (lambda: MultiScaleEncoderDecoder(num_scales=2, base_width=4,
                                                    global_residual=True, residual_init="zero"), 16),
    "s1_concat_shared": (lambda: MultiScaleEncoderDecoder(
        num_scales=2, base_width=4, fusion="concat", share_weights=True, global_residual=True,
        residual_init="zero"), 16),
    "s2": (lambda: MultiScaleResidualNetwork(num_levels=3, num_msrb=1, width=4,
                                             global_residual=True, residual_init="zero"), 16),
    "s3": (lambda: MultiScaleDenseNet(stem_channels=4, growth_rate=2, block_layers=[2, 2],
                                      bottleneck_layers=1, decoder_channels=[4, 4],
                                      residual_init="zero"), 16),
    "s4": (lambda: FrameDeblurNet(stem_channels=4, body_channels=4, num_blocks=1,
                                  residual_init="zero"), 16),
    "s5_resnet": (lambda: build_s5_resnet(tasks=["a", "b"], base_width=4, num_blocks=1,
                                          residual_init="zero"), 16),
}


def _input(side: int, seed: int = 0) -> torch.Tensor:
    # odd sizes exercise the padding; values well inside [0, 1] like real images
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, side + 3, side + 1, generator=gen) * 0.9 + 0.05


def _seeded(factory):
    torch.manual_seed(0)
    return factory()


@pytest.mark.parametrize("name", sorted(IDENTITY_NETS))
def test_zero_residual_init_outputs_the_input(name: str) -> None:
    factory, side = IDENTITY_NETS[name]
    net = _seeded(factory).eval()
    x = _input(side)
    with torch.no_grad():
        outputs = net.forward_scales(x)
        torch.testing.assert_close(outputs[-1], x, rtol=0, atol=1e-6)
        # multi-scale models: every scale returns its own (downsampled) input
        for out in outputs:
            assert torch.isfinite(out).all()
        if hasattr(net, "forward_all"):
            for out in net.forward_all(x).values():
                torch.testing.assert_close(out, x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", sorted(IDENTITY_NETS))
def test_default_init_is_not_the_identity(name: str) -> None:
    """Control: the paper's init does change the input (so the test above can fail)."""
    factory, side = IDENTITY_NETS[name]
    torch.manual_seed(0)
    net = factory()
    x = _input(side)
    # rebuild the same network without the zero start by re-randomizing its output layers
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)) and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    with torch.no_grad():
        assert (net.eval()(x) - x).abs().max() > 1e-3


def _missing_gradients(net: nn.Module, steps: int, all_scales: bool) -> list[str]:
    """Parameters with no (or an all-zero) gradient at the backward pass after ``steps``
    Adam steps, with a loss on the finest output or on every scale's output."""
    x = _input(16, seed=1)
    target = _input(16, seed=2)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def backward() -> None:
        optimizer.zero_grad(set_to_none=True)
        if hasattr(net, "forward_tasks"):
            outputs = list(net.forward_tasks({task: x for task in net.tasks}).values())
            targets = [target] * len(outputs)
        elif all_scales:
            outputs = net.forward_scales(x)
            targets = [nn.functional.interpolate(target, size=o.shape[-2:], mode="area")
                       for o in outputs]
        else:
            outputs, targets = [net(x)], [target]
        loss = sum((o - t).square().mean() for o, t in zip(outputs, targets))
        loss.backward()

    for _ in range(steps):
        backward()
        optimizer.step()
    backward()
    return [n for n, p in net.named_parameters()
            if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]


@pytest.mark.parametrize("name", sorted(IDENTITY_NETS))
def test_every_parameter_gets_a_gradient_after_one_step(name: str) -> None:
    """At step 0 only the zeroed layers learn; one step later every parameter does (with a
    loss on every output the model returns, as the multi-scale losses do)."""
    net = _seeded(IDENTITY_NETS[name][0]).train()
    assert _missing_gradients(net, steps=1, all_scales=True) == []


def test_s1_finest_only_loss_reaches_the_coarse_scale_after_two_steps() -> None:
    """S1 trains on the finest output only: the coarse scale's path to the loss crosses two
    zeroed layers (its own output conv and the fine scale's), so its inner layers learn from
    the second step on."""
    factory = IDENTITY_NETS["s1_2scales"][0]
    missing = _missing_gradients(_seeded(factory).train(), steps=1, all_scales=False)
    assert missing and all(n.startswith("scales.0.") for n in missing)
    assert _missing_gradients(_seeded(factory).train(), steps=2, all_scales=False) == []


def test_s3_zero_init_uses_a_plain_zero_last_conv() -> None:
    net = _seeded(IDENTITY_NETS["s3"][0])
    assert type(net.head) is nn.Conv2d and not hasattr(net.head, "parametrizations")
    assert float(net.head.weight.detach().abs().max()) == 0.0
    assert float(net.head.bias.detach().abs().max()) == 0.0
    default = MultiScaleDenseNet(stem_channels=4, growth_rate=2, block_layers=[2, 2],
                                 bottleneck_layers=1, decoder_channels=[4, 4])
    assert hasattr(default.head, "parametrizations")  # the paper's weight-normalized conv


def test_s5_fpn_zero_init_outputs_the_input() -> None:
    torch.manual_seed(0)
    net = build_s5_fpn(tasks=["deblur"], num_filters=8, num_filters_fpn=8,
                       residual_init="zero").eval()
    x = _input(32)[:1]
    with torch.no_grad():
        torch.testing.assert_close(net(x), x, rtol=0, atol=1e-6)
    assert float(net.decoders["deblur"].final.weight.abs().max()) == 0.0


def test_default_is_the_papers_init_and_bad_values_are_refused() -> None:
    assert RESIDUAL_INITS == ("default", "zero")
    assert MultiScaleEncoderDecoder(base_width=4).residual_init == "default"
    with pytest.raises(ValueError, match="residual_init"):
        check_residual_init("ones")
    with pytest.raises(ValueError, match="global input->output skip"):
        MultiScaleEncoderDecoder(base_width=4, residual_init="zero")  # no global_residual
    with pytest.raises(ValueError, match="global input->output skip"):
        MultiScaleResidualNetwork(width=4, num_msrb=1, residual_init="zero")
    with pytest.raises(ValueError, match="global input->output skip"):
        build_s5_resnet(base_width=4, num_blocks=1, global_skip=False, residual_init="zero")


def test_zero_init_output_layer_on_plain_and_weight_normalized_layers() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1)
    zero_init_output_layer_(conv)
    assert float(conv.weight.abs().max()) == 0.0 and float(conv.bias.abs().max()) == 0.0
    wn = nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 3, 3, padding=1))
    zero_init_output_layer_(wn)
    assert float(wn.weight.abs().max()) == 0.0
