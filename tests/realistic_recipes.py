"""Checks shared by the per-family tests of the CPU variants and their realistic recipes
(``configs/realistic/*.yaml``, issue 11). Not a test module: imported by the test files."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

REALISTIC = Path(__file__).resolve().parents[1] / "configs" / "realistic"


def check_realistic_recipe(name: str, model: str):
    """Load ``configs/realistic/<name>.yaml`` and check the settings every recipe there shares
    (the model, identity start, online train data, real validation set, 256 crops, EMA,
    clipping, float32, EMA warm-up, intervals, cosine schedule over the run, no VGG term);
    returns the config for the recipe's own checks."""
    from deblurkit.training import load_config

    cfg = load_config(REALISTIC / f"{name}.yaml")
    assert cfg.model.name == model and cfg.model.kwargs.get("residual_init") == "zero"
    assert cfg.data.train.layout == "online" and cfg.data.train.crop_size == 256
    assert (cfg.data.val.layout, cfg.data.val.args) == ("gopro", {"root": "data/realval",
                                                                   "split": "val"})
    train = cfg.train
    assert (train.ema, train.ema_warmup, train.grad_clip, train.amp,
            train.channels_last) == (0.999, True, 1.0, "off", True)
    assert (train.val_every, train.ckpt_every, cfg.schedule.name) == (250, 250, "cosine")
    assert cfg.schedule.kwargs["total_steps"] == train.steps
    assert cfg.optim.name == "adam" and 2e-4 <= cfg.optim.lr <= 3e-4
    assert not any(loss.name in ("perceptual", "vgg_contextual") for loss in cfg.losses)
    return cfg


def max_conv_input_side(net: nn.Module, x: torch.Tensor) -> int:
    """The largest input height any (transposed) convolution module of ``net`` sees on ``x``."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-2]))
             for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in hooks:
            h.remove()
    return max(seen)
