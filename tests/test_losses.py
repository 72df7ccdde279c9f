"""Tests of deblurkit.losses: exact values on tiny inputs, reductions, weights, errors,
gradcheck in float64, module == function, and the registry."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from deblurkit.errors import UserError
from deblurkit.losses import (CharbonnierLoss, ContextualLoss, FrameBCELoss, FrequencyL1Loss,
                              GANLoss, HuberLoss,
                              L1Loss, MSELoss, MultiScalePixelLoss, PerceptualLoss,
                              RelativisticAverageGANLoss, VGGContextualLoss, build_loss,
                              charbonnier_loss, contextual_loss, contextual_similarity,
                              frame_bce_loss, gan_loss, gradient_penalty, huber_loss, l1_loss,
                              list_losses, mse_loss, multiscale_pixel_loss, perceptual_loss,
                              register_loss, relativistic_average_loss)
from deblurkit.losses import perceptual as perceptual_module
from deblurkit.losses.perceptual import normalize_layer_weights
from deblurkit.models.vgg import VGGFeatures


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.fixture
def no_vgg_weights(tmp_path, monkeypatch):
    """No weight file anywhere; the one-time random-weights warning counted as given."""
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(perceptual_module, "_WARNED_RANDOM", {"vgg16", "vgg19"})


# --------------------------------------------------------------------------------------------
# Pixel losses
# --------------------------------------------------------------------------------------------
PIXEL = [
    # function, module class, keyword arguments, element-wise reference
    (mse_loss, MSELoss, {}, lambda d: d ** 2),
    (l1_loss, L1Loss, {}, lambda d: d.abs()),
    (charbonnier_loss, CharbonnierLoss, {"eps": 0.1}, lambda d: torch.sqrt(d ** 2 + 0.01)),
    (huber_loss, HuberLoss, {"delta": 0.3},
     lambda d: torch.where(d.abs() <= 0.3, 0.5 * d ** 2, 0.3 * (d.abs() - 0.15))),
]
PIXEL_IDS = ["mse", "l1", "charbonnier", "huber"]


@pytest.mark.parametrize(("fn", "cls", "kwargs", "reference"), PIXEL, ids=PIXEL_IDS)
class TestPixelLosses:
    def test_reductions_and_shapes(self, fn, cls, kwargs, reference):
        pred, target = rand(2, 3, 4, 5, seed=1), rand(2, 3, 4, 5, seed=2)
        none = fn(pred, target, reduction="none", **kwargs)
        assert none.shape == pred.shape
        torch.testing.assert_close(none, reference(pred - target))
        torch.testing.assert_close(fn(pred, target, reduction="mean", **kwargs), none.mean())
        torch.testing.assert_close(fn(pred, target, reduction="sum", **kwargs), none.sum())
        assert fn(pred, target, **kwargs).shape == ()

    def test_module_equals_function_times_weight(self, fn, cls, kwargs, reference):
        pred, target = rand(2, 3, 4, 4, seed=3), rand(2, 3, 4, 4, seed=4)
        for reduction in ("mean", "sum", "none"):
            module = cls(**kwargs, weight=2.5, reduction=reduction)
            torch.testing.assert_close(module(pred, target),
                                       2.5 * fn(pred, target, reduction=reduction, **kwargs))

    def test_errors(self, fn, cls, kwargs, reference):
        with pytest.raises(ValueError, match="same shape"):
            fn(torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4), **kwargs)
        with pytest.raises(ValueError, match="reduction"):
            fn(torch.zeros(2), torch.zeros(2), reduction="avg", **kwargs)
        with pytest.raises(ValueError, match="reduction"):
            cls(**kwargs, reduction="avg")
        with pytest.raises(ValueError, match="weight"):
            cls(**kwargs, weight=-1.0)
        with pytest.raises(TypeError):
            fn([0.0], torch.zeros(1), **kwargs)

    def test_gradcheck(self, fn, cls, kwargs, reference):
        pred = rand(1, 2, 3, 3, seed=5, dtype=torch.float64).requires_grad_()
        target = rand(1, 2, 3, 3, seed=6, dtype=torch.float64).requires_grad_()
        assert gradcheck(functools.partial(fn, **kwargs), (pred, target))


def test_frequency_l1_matches_numpy_fft_and_its_module():
    from deblurkit.losses import frequency_l1_loss

    pred, target = rand(2, 3, 6, 5, seed=7), rand(2, 3, 6, 5, seed=8)
    spectrum = np.fft.rfft2((pred - target).double().numpy())
    reference = np.abs(spectrum.real) + np.abs(spectrum.imag)
    none = frequency_l1_loss(pred, target, reduction="none")
    assert none.shape == (2, 3, 6, 3)
    np.testing.assert_allclose(none.numpy(), reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(float(frequency_l1_loss(pred, target)), reference.mean(), rtol=1e-5)
    torch.testing.assert_close(FrequencyL1Loss(weight=0.1, reduction="sum")(pred, target),
                               0.1 * frequency_l1_loss(pred, target, reduction="sum"))
    assert isinstance(build_loss("frequency_l1", weight=0.1), FrequencyL1Loss)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 inputs are computed in float32
        assert frequency_l1_loss(pred.bfloat16(), target.bfloat16()).dtype == torch.float32
    with pytest.raises(ValueError, match="same shape"):
        frequency_l1_loss(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 3))
    p64 = rand(1, 1, 4, 4, seed=9, dtype=torch.float64).requires_grad_()
    t64 = rand(1, 1, 4, 4, seed=10, dtype=torch.float64)
    assert gradcheck(lambda p: frequency_l1_loss(p, t64), (p64,))


def test_pixel_exact_values():
    pred = torch.zeros(4)
    target = torch.tensor([0.0, 0.5, -1.0, 3.0])
    assert float(mse_loss(pred, target)) == pytest.approx((0.25 + 1 + 9) / 4)
    assert float(l1_loss(pred, target, reduction="sum")) == pytest.approx(4.5)
    # Charbonnier: sqrt(x^2 + eps^2); a perfect prediction costs eps.
    assert charbonnier_loss(pred, target, eps=0.4, reduction="none").tolist() == pytest.approx(
        [0.4, math.sqrt(0.41), math.sqrt(1.16), math.sqrt(9.16)])
    # Huber (S4 eq. 6): 0.5 x^2 inside the threshold, delta (|x| - delta/2) outside.
    assert huber_loss(pred, target, delta=1.0, reduction="none").tolist() == pytest.approx(
        [0.0, 0.125, 0.5, 2.5])
    assert huber_loss(pred, target, delta=0.5, reduction="none").tolist() == pytest.approx(
        [0.0, 0.125, 0.375, 1.375])


def test_pixel_parity_with_torch():
    pred, target = rand(2, 3, 5, 5, seed=7) * 3, rand(2, 3, 5, 5, seed=8)
    torch.testing.assert_close(mse_loss(pred, target), F.mse_loss(pred, target))
    torch.testing.assert_close(l1_loss(pred, target), F.l1_loss(pred, target))
    for delta in (0.2, 1.0):
        torch.testing.assert_close(huber_loss(pred, target, delta=delta),
                                   F.huber_loss(pred, target, delta=delta))
    # Charbonnier tends to L1 far from zero.
    assert float(charbonnier_loss(pred + 10, target, eps=1e-3)) == pytest.approx(
        float(l1_loss(pred + 10, target)), rel=1e-6)


def test_pixel_bad_parameters():
    with pytest.raises(ValueError, match="eps"):
        charbonnier_loss(torch.zeros(1), torch.zeros(1), eps=0.0)
    with pytest.raises(ValueError, match="eps"):
        CharbonnierLoss(eps=-1.0)
    with pytest.raises(ValueError, match="delta"):
        huber_loss(torch.zeros(1), torch.zeros(1), delta=0.0)
    with pytest.raises(ValueError, match="delta"):
        HuberLoss(delta=-0.1)


# --------------------------------------------------------------------------------------------
# Multi-scale pixel loss (S2)
# --------------------------------------------------------------------------------------------
def _two_level_case():
    preds = [torch.zeros(2, 1, 1, 1), torch.zeros(2, 1, 2, 2)]
    targets = [torch.tensor([1.0, 0.0]).view(2, 1, 1, 1), torch.zeros(2, 1, 2, 2)]
    targets[1][0] = 2.0              # sample 0: MSE 4 at the fine level
    targets[1][1, 0, 0, 0] = 2.0     # sample 1: one pixel of 4 -> MSE 1
    return preds, targets


def test_multiscale_exact_values():
    preds, targets = _two_level_case()
    # sample 0: (1 + 4) / (2 * 2) = 1.25; sample 1: (0 + 1) / 4 = 0.25.
    none = multiscale_pixel_loss(preds, targets, reduction="none")
    assert none.tolist() == pytest.approx([1.25, 0.25])
    assert float(multiscale_pixel_loss(preds, targets)) == pytest.approx(0.75)
    assert float(multiscale_pixel_loss(preds, targets, reduction="sum")) == pytest.approx(1.5)
    # Per-level normalization 1/(c h w): a level with more channels is not weighted more.
    one = multiscale_pixel_loss([torch.zeros(1, 1, 2, 2)], [torch.ones(1, 1, 2, 2)])
    three = multiscale_pixel_loss([torch.zeros(1, 3, 4, 4)], [torch.ones(1, 3, 4, 4)])
    assert float(one) == float(three) == pytest.approx(0.5)   # 1/(2K) with K = 1


def test_multiscale_huber_form():
    preds, targets = _two_level_case()
    # sample 0: coarse error 1 -> 0.5 * 0.5^2 + 0.5 * (1 - 0.5) = 0.375; fine errors 2 (all
    # four) -> 0.5 * (2 - 0.25) = 0.875; (0.375 + 0.875) / 2. Sample 1: one fine error 2 of
    # four pixels -> 0.875 / 4, over 2 levels.
    none = multiscale_pixel_loss(preds, targets, reduction="none", delta=0.5)
    assert none.tolist() == pytest.approx([0.625, 0.875 / 8])
    # a threshold above every error is the paper's squared form
    torch.testing.assert_close(multiscale_pixel_loss(preds, targets, "none", delta=10.0),
                               multiscale_pixel_loss(preds, targets, "none"))
    # small errors: quadratic (the paper's); large errors: linear, with the Huber loss per level
    fine = [rand(2, 3, 8, 8, seed=1), rand(2, 3, 8, 8, seed=2)]
    goal = [rand(2, 3, 8, 8, seed=3), rand(2, 3, 8, 8, seed=4)]
    expected = sum(huber_loss(p, g, 0.01, "none").flatten(1).mean(1) for p, g in zip(fine, goal))
    torch.testing.assert_close(multiscale_pixel_loss(fine, goal, "none", delta=0.01),
                               expected / 2)
    module = MultiScalePixelLoss(delta=0.01, weight=100.0)
    torch.testing.assert_close(module(fine, goal), 100 * (expected / 2).mean())
    assert "delta=0.01" in repr(module)
    with pytest.raises(ValueError, match="delta"):
        MultiScalePixelLoss(delta=0.0)
    levels = [rand(2, 1, 4, 4, seed=10, dtype=torch.float64).requires_grad_()]
    goals = [rand(2, 1, 4, 4, seed=12, dtype=torch.float64)]
    assert gradcheck(lambda a: multiscale_pixel_loss([a], goals, delta=0.3), tuple(levels))


def test_multiscale_module_pyramid_and_weight():
    from deblurkit.models.s2_msrn import gaussian_pyramid

    preds, targets = _two_level_case()
    module = MultiScalePixelLoss(weight=1e-1, reduction="none")
    torch.testing.assert_close(module(preds, targets),
                               1e-1 * multiscale_pixel_loss(preds, targets, "none"))
    sharp = rand(2, 3, 9, 9, seed=9)
    pyramid = functools.partial(gaussian_pyramid, levels=3)
    with_callable = MultiScalePixelLoss(pyramid=pyramid)
    assert float(with_callable(gaussian_pyramid(sharp, 3), sharp)) == 0.0
    outputs = [level + 0.1 for level in gaussian_pyramid(sharp, 3)]
    assert float(with_callable(outputs, sharp)) == pytest.approx(0.01 * 3 / 6)
    with pytest.raises(TypeError, match="pyramid"):
        MultiScalePixelLoss()(outputs, sharp)
    with pytest.raises(TypeError):
        MultiScalePixelLoss(pyramid=3)


def test_multiscale_errors_and_gradcheck():
    preds, targets = _two_level_case()
    with pytest.raises(ValueError, match="levels"):
        multiscale_pixel_loss(preds, targets[:1])
    with pytest.raises(ValueError, match="at least one"):
        multiscale_pixel_loss([], [])
    with pytest.raises(ValueError, match="same shape"):
        multiscale_pixel_loss(preds, [targets[0], torch.zeros(2, 1, 3, 3)])
    with pytest.raises(ValueError, match="same B"):
        multiscale_pixel_loss([preds[0], torch.zeros(3, 1, 2, 2)],
                              [targets[0], torch.zeros(3, 1, 2, 2)])
    with pytest.raises(TypeError):
        multiscale_pixel_loss(preds[0], targets[0])
    levels = [rand(2, 1, 2, 2, seed=10, dtype=torch.float64).requires_grad_(),
              rand(2, 1, 4, 4, seed=11, dtype=torch.float64).requires_grad_()]
    goals = [rand(2, 1, 2, 2, seed=12, dtype=torch.float64),
             rand(2, 1, 4, 4, seed=13, dtype=torch.float64)]
    assert gradcheck(lambda a, b: multiscale_pixel_loss([a, b], goals), tuple(levels))


# --------------------------------------------------------------------------------------------
# Perceptual loss
# --------------------------------------------------------------------------------------------
def test_perceptual_functional_exact_values():
    pred = {"a": torch.zeros(2, 2, 1, 1), "b": torch.zeros(2, 1, 2, 2)}
    target = {"a": torch.ones(2, 2, 1, 1), "b": torch.zeros(2, 1, 2, 2)}
    target["b"][1, 0, 0, 0] = 2.0                  # sample 1, layer b: one value of 4 (mse)
    weights = {"a": 0.5, "b": 2.0}
    # mse: a -> 1 (mean), b -> 4 / 8 over the batch.
    assert float(perceptual_loss(pred, target, weights)) == pytest.approx(0.5 * 1 + 2.0 * 0.5)
    assert perceptual_loss(pred, target, weights, reduction="none").tolist() == pytest.approx(
        [0.5, 0.5 + 2.0 * 1.0])
    assert float(perceptual_loss(pred, target, weights, reduction="sum")) == pytest.approx(
        0.5 * 4 + 2.0 * 4)
    assert float(perceptual_loss(pred, target, weights, criterion="l1")) == pytest.approx(
        0.5 * 1 + 2.0 * 2 / 8)
    with pytest.raises(ValueError, match="criterion"):
        perceptual_loss(pred, target, weights, criterion="l3")
    with pytest.raises(ValueError, match="missing"):
        perceptual_loss(pred, target, {"c": 1.0})
    a = rand(1, 2, 2, 2, seed=14, dtype=torch.float64).requires_grad_()
    b = rand(1, 2, 2, 2, seed=15, dtype=torch.float64).requires_grad_()
    assert gradcheck(lambda x, y: perceptual_loss({"l": x}, {"l": y}, {"l": 0.3}), (a, b))


def test_layer_names_and_presets(no_vgg_weights):
    # S1's "layers 9 and 23" of VGG16 are relu2_2 and relu4_3.
    assert normalize_layer_weights("vgg16", {9: 0.002, 23: 0.0015}) == {
        "relu2_2": 0.002, "relu4_3": 0.0015}
    assert normalize_layer_weights("vgg19", ["conv3_3"]) == {"conv3_3": 1.0}
    with pytest.raises(ValueError, match="twice"):
        normalize_layer_weights("vgg16", {9: 1.0, "relu2_2": 1.0})
    with pytest.raises(UserError):
        normalize_layer_weights("vgg16", ["conv5_4"])      # VGG19 only
    s1 = PerceptualLoss(preset="s1")
    assert (s1.arch, s1.layer_weights) == ("vgg16", {"relu2_2": 0.002, "relu4_3": 0.0015})
    assert isinstance(s1.vgg, VGGFeatures) and s1.vgg.arch == "vgg16"
    block5 = PerceptualLoss(preset="s3_block5", weight=100.0)
    assert (block5.arch, block5.layer_weights, block5.weight) == (
        "vgg19", {"conv5_4": 1.0}, 100.0)
    for preset in ("deblurgan", "s5"):
        loss = PerceptualLoss(preset=preset)
        assert (loss.arch, loss.layer_weights) == ("vgg19", {"conv3_3": 1.0})
    default = PerceptualLoss()
    assert (default.arch, default.layer_weights) == ("vgg19", {"conv3_3": 1.0})
    with pytest.raises(ValueError, match="preset"):
        PerceptualLoss(preset="s9")


def test_perceptual_warns_once_without_weights(no_vgg_weights, monkeypatch, recwarn):
    monkeypatch.setattr(perceptual_module, "_WARNED_RANDOM", set())
    PerceptualLoss(layers=["relu1_1"], arch="vgg16")
    messages = [str(w.message) for w in recwarn.list if issubclass(w.category, UserWarning)]
    assert len(messages) == 1
    assert "RANDOM" in messages[0] and "vgg16-397923af.pth" in messages[0]
    PerceptualLoss(layers=["relu1_1"], arch="vgg16")
    assert len([w for w in recwarn.list if issubclass(w.category, UserWarning)]) == 1


def test_perceptual_loads_weights_from_default_place_and_path(tmp_path, monkeypatch, recwarn):
    monkeypatch.setattr(perceptual_module, "_WARNED_RANDOM", set())
    monkeypatch.setenv("DEBLURKIT_HOME", str(tmp_path))
    source = VGGFeatures("vgg16", layers=("relu1_2",))
    state = {k: torch.randn_like(v) for k, v in source.state_dict().items()}
    (tmp_path / "weights").mkdir()
    torch.save(state, tmp_path / "weights" / "vgg16-397923af.pth")
    loss = PerceptualLoss(layers={"relu1_2": 1.0}, arch="vgg16")
    assert not [w for w in recwarn.list if issubclass(w.category, UserWarning)]
    torch.testing.assert_close(loss.vgg.features[2].weight, state["features.2.weight"])
    explicit = tmp_path / "mine.pth"
    torch.save(state, explicit)
    loaded = PerceptualLoss(layers=["relu1_1"], arch="vgg16", pretrained=explicit)
    torch.testing.assert_close(loaded.vgg.features[0].bias, state["features.0.bias"])
    with pytest.raises(UserError):
        PerceptualLoss(layers=["relu1_1"], arch="vgg16", pretrained=tmp_path / "absent.pth")


def test_perceptual_module(no_vgg_weights):
    loss = PerceptualLoss(layers={"relu1_2": 0.7, "relu2_1": 0.2}, arch="vgg19", weight=3.0)
    pred = rand(2, 3, 8, 8, seed=16).requires_grad_()
    target = rand(2, 3, 8, 8, seed=17).requires_grad_()
    value = loss(pred, target)
    expected = 3.0 * perceptual_loss(loss.vgg(pred), loss.vgg(target), loss.layer_weights)
    torch.testing.assert_close(value, expected)
    assert loss(pred, pred).item() == 0.0
    assert float(value.detach()) > 0
    value.backward()
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0
    assert target.grad is None                      # the target is a constant of the loss
    assert all(p.grad is None and not p.requires_grad for p in loss.vgg.parameters())
    loss.train()
    assert loss.training and not loss.vgg.training
    assert loss.__class__(layers=["relu1_1"], reduction="none")(pred, target).shape == (2,)
    with pytest.raises(ValueError, match="RGB"):
        loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match="criterion"):
        PerceptualLoss(layers=["relu1_1"], criterion="huber")


def test_perceptual_module_gradcheck(no_vgg_weights):
    loss = PerceptualLoss(layers={"relu1_1": 0.5}, arch="vgg16").double()
    pred = rand(1, 3, 3, 3, seed=18, dtype=torch.float64).requires_grad_()
    target = rand(1, 3, 3, 3, seed=19, dtype=torch.float64)
    assert gradcheck(lambda x: loss(x, target), (pred,))


# --------------------------------------------------------------------------------------------
# Contextual loss
# --------------------------------------------------------------------------------------------
def _points(*points: tuple[float, ...]) -> torch.Tensor:
    """(1, C, 1, N) feature map holding the given C-dimensional points."""
    return torch.tensor(points, dtype=torch.float64).T.reshape(1, len(points[0]), 1, len(points))


def _contextual_reference(x: np.ndarray, y: np.ndarray, h: float, eps: float) -> float:
    """Loop implementation of Mechrez et al.'s CX for one sample (x: N_x x C, y: N_y x C)."""
    mu = y.mean(axis=0)
    xs, ys = x - mu, y - mu
    d = np.array([[1 - xi @ yj / (np.linalg.norm(xi) * np.linalg.norm(yj)) for yj in ys]
                  for xi in xs])
    cx = np.zeros_like(d)
    for i in range(len(xs)):
        rel = d[i] / (d[i].min() + eps)
        w = np.exp((1 - rel) / h)
        cx[i] = w / w.sum()
    return -math.log(np.mean([cx[:, j].max() for j in range(len(ys))]))


def test_contextual_hand_computed():
    # Target points (1, 0) and (-1, 0) have mean zero. x1 = y1 (d = 0, 2); x2 = (0, 1) is at
    # distance 1 from both, so row 2 is (1/2, 1/2) and row 1 is (1, 0): CX = (1 + 1/2) / 2.
    x = _points((1.0, 0.0), (0.0, 1.0))
    y = _points((1.0, 0.0), (-1.0, 0.0))
    assert float(contextual_loss(x, y)) == pytest.approx(-math.log(0.75), abs=1e-12)
    # x1 at 60 degrees from y1: d = (0.5, 1.5), d~ = d / (0.5 + eps), so with h = 0.5 the row
    # is softmax((1 - d~) / h); x2 = y1 gives the row (1, 0). CX = (1 + b) / 2, b = row 1's 2nd.
    eps, h = 1e-5, 0.5
    x = _points((0.5, math.sqrt(3) / 2), (1.0, 0.0))
    d_rel = np.array([0.5, 1.5]) / (0.5 + eps)
    w = np.exp((1 - d_rel) / h)
    b = w[1] / w.sum()
    assert float(contextual_loss(x, y, band_width=h, eps=eps)) == pytest.approx(
        -math.log((1 + b) / 2), abs=1e-12)
    # A wider band width makes the affinity less selective: b grows, the loss falls.
    assert float(contextual_loss(x, y, band_width=2.0)) < float(contextual_loss(x, y, 0.5))


def test_contextual_matches_loop_reference():
    pred = rand(2, 3, 2, 2, seed=20, dtype=torch.float64)          # N_x = 4
    target = rand(2, 3, 1, 5, seed=21, dtype=torch.float64)        # N_y = 5
    none = contextual_loss(pred, target, band_width=0.3, reduction="none")
    assert none.shape == (2,)
    for b in range(2):
        expected = _contextual_reference(pred[b].reshape(3, -1).T.numpy(),
                                         target[b].reshape(3, -1).T.numpy(), 0.3, 1e-5)
        assert float(none[b]) == pytest.approx(expected, rel=1e-10)
    torch.testing.assert_close(contextual_loss(pred, target, 0.3), none.mean())
    torch.testing.assert_close(contextual_loss(pred, target, 0.3, reduction="sum"), none.sum())
    cx = contextual_similarity(pred, target, 0.3)
    assert bool(((cx > 0) & (cx <= 1)).all())


def test_contextual_invariances():
    x = rand(2, 4, 3, 3, seed=22)
    assert float(contextual_loss(x, x)) < 1e-4                      # identical -> near zero
    y = rand(2, 4, 3, 3, seed=23)
    base = contextual_loss(x, y, reduction="none")
    assert bool((base > 0.1).all())
    # Positions do not matter (sets of features), nor the scale around the target mean.
    shuffled = x.flatten(2)[:, :, torch.randperm(9, generator=torch.Generator().manual_seed(0))]
    torch.testing.assert_close(contextual_loss(shuffled, y, reduction="none"), base)
    mu = y.flatten(2).mean(dim=2).view(2, 4, 1, 1)
    torch.testing.assert_close(contextual_loss(mu + 3.0 * (x - mu), y, reduction="none"), base)


def test_contextual_module_errors_gradcheck():
    x, y = rand(2, 4, 3, 3, seed=24), rand(2, 4, 3, 3, seed=25)
    torch.testing.assert_close(ContextualLoss(band_width=0.2, weight=0.5)(x, y),
                               0.5 * contextual_loss(x, y, band_width=0.2))
    assert ContextualLoss(reduction="none")(x, y).shape == (2,)
    with pytest.raises(ValueError, match="band_width"):
        ContextualLoss(band_width=0.0)
    with pytest.raises(ValueError, match="band_width"):
        contextual_loss(x, y, band_width=-1.0)
    with pytest.raises(ValueError, match="eps"):
        ContextualLoss(eps=0.0)
    with pytest.raises(ValueError, match="same B and C"):
        contextual_loss(x, y[:, :3])
    with pytest.raises(ValueError, match="reduction"):
        contextual_loss(x, y, reduction="max")
    a = rand(1, 3, 2, 2, seed=26, dtype=torch.float64).requires_grad_()
    b = rand(1, 3, 2, 2, seed=27, dtype=torch.float64).requires_grad_()
    assert gradcheck(lambda p, t: contextual_loss(p, t, band_width=0.5), (a, b))


def test_vgg_contextual(no_vgg_weights):
    loss = VGGContextualLoss(layers={"relu1_1": 1.0, "relu1_2": 0.5}, weight=0.5)
    x, y = rand(1, 3, 6, 6, seed=28), rand(1, 3, 6, 6, seed=29)
    fx, fy = loss.vgg(x), loss.vgg(y)
    expected = 0.5 * (contextual_loss(fx["relu1_1"], fy["relu1_1"])
                      + 0.5 * contextual_loss(fx["relu1_2"], fy["relu1_2"]))
    torch.testing.assert_close(loss(x, y), expected)
    assert float(loss(x, x)) < 1e-3
    assert VGGContextualLoss().layer_weights == {"relu4_2": 1.0}


# --------------------------------------------------------------------------------------------
# Adversarial losses
# --------------------------------------------------------------------------------------------
LOGITS = [-1.0, 0.5, 2.0]


def _mean(values):
    return sum(values) / len(values)


GAN_EXPECTED = {
    # gan_type: (D on real, D on fake, G on fake)
    "vanilla": (_mean([softplus(-v) for v in LOGITS]), _mean([softplus(v) for v in LOGITS]),
                -_mean([softplus(v) for v in LOGITS])),            # G: E[log(1 - D(G(z)))]
    "nsgan": (_mean([softplus(-v) for v in LOGITS]), _mean([softplus(v) for v in LOGITS]),
              _mean([softplus(-v) for v in LOGITS])),              # G: -E[log D(G(z))]
    "lsgan": (_mean([(v - 1) ** 2 for v in LOGITS]), _mean([v ** 2 for v in LOGITS]),
              _mean([(v - 1) ** 2 for v in LOGITS])),
    "wgan": (-_mean(LOGITS), _mean(LOGITS), -_mean(LOGITS)),
    "hinge": (_mean([max(0, 1 - v) for v in LOGITS]), _mean([max(0, 1 + v) for v in LOGITS]),
              -_mean(LOGITS)),
}


@pytest.mark.parametrize("gan_type", sorted(GAN_EXPECTED))
def test_gan_exact_values_and_gradcheck(gan_type):
    pred = torch.tensor(LOGITS)
    d_real, d_fake, g_fake = GAN_EXPECTED[gan_type]
    loss = GANLoss(gan_type)
    assert float(loss(pred, True, is_disc=True)) == pytest.approx(d_real, rel=1e-6)
    assert float(loss(pred, False, is_disc=True)) == pytest.approx(d_fake, rel=1e-6)
    assert float(loss(pred, True, is_disc=False)) == pytest.approx(g_fake, rel=1e-6)
    weighted = GANLoss(gan_type, weight=1e-4, disc_weight=0.01, reduction="sum")
    assert float(weighted(pred, True, is_disc=False)) == pytest.approx(3e-4 * g_fake, rel=1e-6)
    assert float(weighted(pred, False, is_disc=True)) == pytest.approx(0.03 * d_fake, rel=1e-6)
    assert GANLoss(gan_type, reduction="none")(torch.zeros(2, 1, 3, 3), True).shape == (2, 1, 3, 3)
    x = rand(2, 1, 2, 2, seed=30, dtype=torch.float64).sub(0.5).mul(4).requires_grad_()
    for target_is_real, is_disc in itertools.product((True, False), repeat=2):
        assert gradcheck(lambda p: gan_loss(p, target_is_real, is_disc, gan_type), (x,))


def test_gan_generator_saturation_and_labels():
    # When D confidently rejects fakes (logit -10), the minimax generator gradient vanishes
    # and the non-saturating one does not.
    pred = torch.tensor([-10.0], requires_grad=True)
    (minimax,) = torch.autograd.grad(gan_loss(pred, True, False, "vanilla"), pred)
    (nonsat,) = torch.autograd.grad(gan_loss(pred, True, False, "nsgan"), pred)
    assert -1e-4 < float(minimax) < 0 and float(nonsat) == pytest.approx(-1.0, abs=1e-4)
    smooth = GANLoss("lsgan", real_label=0.9, fake_label=0.1)
    assert float(smooth(torch.tensor([0.5]), True, True)) == pytest.approx(0.16)
    assert float(smooth(torch.tensor([0.5]), False, True)) == pytest.approx(0.16)
    bce = GANLoss("nsgan", real_label=0.9)
    assert float(bce(torch.tensor([0.0]), True, True)) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="gan_type"):
        GANLoss("wgan-gp")
    with pytest.raises(ValueError, match="gan_type"):
        gan_loss(torch.zeros(1), True, True, "relativistic")


def _linear_critic(w: torch.Tensor):
    return lambda x: (w * x).flatten(1).sum(dim=1)


def test_gradient_penalty_linear_critic_exact():
    w = rand(1, 3, 4, 4, seed=31)
    real, fake = rand(5, 3, 4, 4, seed=32), rand(5, 3, 4, 4, seed=33)
    gp = gradient_penalty(_linear_critic(w), real, fake, rng=np.random.default_rng(0))
    assert float(gp) == pytest.approx(10.0 * (float(w.norm()) - 1.0) ** 2, rel=1e-5)
    none = gradient_penalty(_linear_critic(w), real, fake, weight=2.0, reduction="none",
                            rng=np.random.default_rng(0))
    assert none.shape == (5,)
    torch.testing.assert_close(none, torch.full((5,), 2.0 * (float(w.norm()) - 1.0) ** 2))


def test_gradient_penalty_norm_is_per_sample():
    # All of w's unit norm sits on one pixel of a 3 x 4 x 4 sample: the per-sample gradient
    # norm is exactly 1, so the penalty is 0. A per-pixel norm would give (0 - 1)^2 on the 15
    # other pixels, a norm over the whole batch sqrt(B).
    w = torch.zeros(1, 3, 4, 4)
    w[0, :, 1, 2] = torch.tensor([0.6, 0.0, 0.8])
    real, fake = rand(4, 3, 4, 4, seed=34), rand(4, 3, 4, 4, seed=35)
    gp = gradient_penalty(_linear_critic(w), real, fake, rng=np.random.default_rng(1))
    assert float(gp) == pytest.approx(0.0, abs=1e-10)
    per_pixel = (w.norm(dim=1) - 1).square().mean()
    assert float(per_pixel) > 0.9                             # what a per-pixel norm gives


def test_gradient_penalty_one_alpha_per_sample():
    # Critic D(x) = 0.5 sum w x^2 has gradient w * x^, so the norm depends on the mix.
    w = rand(1, 2, 3, 3, seed=36)
    real, fake = rand(3, 2, 3, 3, seed=37), rand(3, 2, 3, 3, seed=38)
    critic = lambda x: 0.5 * (w * x.square()).flatten(1).sum(dim=1)  # noqa: E731
    alpha = torch.tensor([0.0, 0.3, 1.0])
    mixed = alpha.view(3, 1, 1, 1) * real + (1 - alpha.view(3, 1, 1, 1)) * fake
    expected = ((w * mixed).flatten(1).norm(dim=1) - 1).square()
    torch.testing.assert_close(
        gradient_penalty(critic, real, fake, weight=1.0, alpha=alpha, reduction="none"),
        expected)
    # Drawn from the numpy Generator: B uniform values, reproducible.
    drawn = torch.from_numpy(np.random.default_rng(7).random(3)).float()
    torch.testing.assert_close(
        gradient_penalty(critic, real, fake, rng=np.random.default_rng(7)),
        gradient_penalty(critic, real, fake, alpha=drawn))
    with pytest.raises(ValueError, match="rng"):
        gradient_penalty(critic, real, fake)
    with pytest.raises(ValueError, match="one value per sample"):
        gradient_penalty(critic, real, fake, alpha=torch.rand(2))
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(critic, real, fake[:2], rng=np.random.default_rng(0))


def test_gradient_penalty_trains_critic_only():
    w = torch.nn.Parameter(rand(1, 1, 2, 2, seed=39) * 2)
    generator_param = torch.nn.Parameter(torch.ones(1))
    real = rand(2, 1, 2, 2, seed=40)
    fake = rand(2, 1, 2, 2, seed=41) * generator_param
    gp = gradient_penalty(_linear_critic(w), real, fake, weight=10.0,
                          rng=np.random.default_rng(2))
    gp.backward()
    norm = w.detach().norm()
    torch.testing.assert_close(w.grad, 10.0 * 2 * (norm - 1) * w.detach() / norm)
    assert generator_param.grad is None


def test_relativistic_average_exact():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([1.0, -1.0])
    # mean(fake) = 0, mean(real) = 1: real - 0 = (2, 0), fake - 1 = (0, -2).
    log2 = math.log(2)
    d = log2 + softplus(-2.0)                   # BCE((2,0), 1) + BCE((0,-2), 0)
    g = log2 + softplus(2.0)                    # BCE((2,0), 0) + BCE((0,-2), 1)
    assert float(relativistic_average_loss(real, fake, is_disc=True)) == pytest.approx(d)
    assert float(relativistic_average_loss(real, fake, is_disc=False)) == pytest.approx(g)
    none = relativistic_average_loss(real, fake, True, reduction="none")
    assert none.tolist() == pytest.approx([softplus(-2) + log2, log2 + softplus(-2)])
    module = RelativisticAverageGANLoss(weight=0.1, disc_weight=2.0)
    assert float(module(real, fake, is_disc=False)) == pytest.approx(0.1 * g)
    assert float(module(real, fake, is_disc=True)) == pytest.approx(2.0 * d)
    with pytest.raises(ValueError, match="same shape"):
        relativistic_average_loss(real, fake[:1], True)
    a = rand(2, 1, 2, 2, seed=42, dtype=torch.float64).requires_grad_()
    b = rand(2, 1, 2, 2, seed=43, dtype=torch.float64).requires_grad_()
    for is_disc in (True, False):
        assert gradcheck(lambda r, f: relativistic_average_loss(r, f, is_disc), (a, b))


def test_frame_bce():
    logits, labels = torch.zeros(2), torch.tensor([1.0, 0.0])
    assert float(frame_bce_loss(logits, labels, pos_weight=3.0)) == pytest.approx(
        2 * math.log(2))
    x = rand(6, seed=44).sub(0.5).mul(6)
    y = torch.tensor([1, 0, 1, 1, 0, 0])
    torch.testing.assert_close(
        FrameBCELoss(pos_weight=0.5, weight=2.0)(x, y),
        2.0 * F.binary_cross_entropy_with_logits(x, y.float(), pos_weight=torch.tensor(0.5)))
    assert FrameBCELoss(reduction="none")(x, y).shape == (6,)
    with pytest.raises(ValueError, match="pos_weight"):
        FrameBCELoss(pos_weight=0.0)
    with pytest.raises(ValueError, match="same shape"):
        frame_bce_loss(x, y[:3])
    z = rand(4, seed=45, dtype=torch.float64).requires_grad_()
    assert gradcheck(lambda t: frame_bce_loss(t, torch.tensor([1.0, 0.0, 1.0, 0.0],
                                                                 dtype=torch.float64), 2.0), (z,))


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
def test_registry(no_vgg_weights):
    expected = {"mse": MSELoss, "l1": L1Loss, "charbonnier": CharbonnierLoss, "huber": HuberLoss,
                "multiscale_pixel": MultiScalePixelLoss, "contextual": ContextualLoss,
                "gan": GANLoss, "relativistic_gan": RelativisticAverageGANLoss,
                "frame_bce": FrameBCELoss, "perceptual": PerceptualLoss,
                "vgg_contextual": VGGContextualLoss, "frequency_l1": FrequencyL1Loss}
    assert set(list_losses()) == set(expected)
    for name in ("mse", "l1", "charbonnier", "huber", "multiscale_pixel", "contextual", "gan",
                 "relativistic_gan", "frame_bce"):
        assert type(build_loss(name)) is expected[name]
    perceptual = build_loss("perceptual", layers=["relu1_1"], weight=100.0)
    assert isinstance(perceptual, PerceptualLoss) and perceptual.weight == 100.0
    assert build_loss("huber", delta=0.01, weight=100).delta == 0.01
    with pytest.raises(UserError, match="unknown loss 'ssim'"):
        build_loss("ssim")
    with pytest.raises(UserError, match="'huber'"):
        build_loss("huber", threshold=0.5)
    with pytest.raises(UserError, match="'gan'"):
        build_loss("gan", gan_type="bogus")
    with pytest.raises(ValueError, match="already registered"):
        register_loss("mse")(type("Again", (torch.nn.Module,), {}))
    assert list_losses().count("mse") == 1
