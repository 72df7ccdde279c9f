"""Training health (deblurkit.training.health): the frozen share of a network counts exactly the
parameter elements its gradients no longer reach, and the training engine logs it and warns once
when most of the network is dead."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from deblurkit.models import create_model
from deblurkit.models.weights import save_model
from deblurkit.training import build_config, train
from deblurkit.training.health import FROZEN_WARNING, frozen_share


def test_counts_elements_without_gradient_exactly():
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU(), nn.Conv2d(3, 1, 1))
    with torch.no_grad():
        net[0].bias.copy_(torch.tensor([-1e3, 1.0, 1.0]))   # first channel dead
        net[0].weight.fill_(0.1)
    net(torch.rand(4, 2, 5, 5)).sum().backward()
    # dead: channel 0's 2 weights + its bias, and the output weight reading it: 4 of 13
    assert frozen_share(net) == pytest.approx(4 / 13)


def test_missing_and_untrainable():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    assert frozen_share(net) == 1.0                            # no backward yet
    net[0].requires_grad_(False)
    net(torch.rand(2, 3)).sum().backward()
    assert frozen_share(net) == 0.0                            # only trainable ones count
    assert frozen_share(nn.ReLU()) == 0.0


def test_healthy_network_has_no_frozen_part():
    torch.manual_seed(0)
    net = create_model("s1_msed_fast", base_width=8, max_width=16, residual_init="default",
                       global_residual=True)
    x = torch.rand(2, 3, 128, 128)     # coarsest level 8 x 8: every 3 x 3 tap sees the picture
    (net(x) - torch.rand_like(x)).abs().mean().backward()
    assert frozen_share(net) < 0.01


def _pairs(root, count=4, size=32):
    rng = np.random.default_rng(0)
    for i in range(count):
        for kind in ("blur", "sharp"):
            folder = root / "train" / "scene0" / kind
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
                folder / f"{i:04d}.png")
    return root


@pytest.mark.parametrize("dead", [False, True])
def test_engine_logs_frozen_share_and_warns_once(tmp_path, capsys, dead):
    torch.manual_seed(0)
    kwargs = {"num_scales": 1, "base_width": 4, "depth": 2}
    model = create_model("s1_msed", **kwargs)
    if dead:   # the inner decoder's upsampling ReLU never fires: the coarse level is dead
        with torch.no_grad():
            model.scales[0].decoder[0].out.bias.fill_(-1e3)
    init = save_model(model, tmp_path / "init.safetensors")
    data = {"task": "supervised",
            "model": {"name": "s1_msed", "kwargs": kwargs, "init": str(init)},
            "data": {"train": {"layout": "gopro", "args": {"root": str(_pairs(tmp_path / "d")),
                                                           "split": "train"},
                               "crop_size": 16, "batch_size": 2}},
            "losses": [{"name": "l1"}],
            "train": {"steps": 6, "out_dir": str(tmp_path / "run"), "val_every": 0,
                      "ckpt_every": 0, "device": "cpu", "log_every": 1}}
    train(build_config(data))
    with open(tmp_path / "run" / "metrics.csv") as f:
        frozen = [float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "frozen"]
    assert len(frozen) == 6
    err = capsys.readouterr().err
    if dead:
        assert min(frozen) > FROZEN_WARNING
        assert err.count("got no gradient") == 1 and "dead sub-network" in err
    else:
        assert max(frozen) < 0.01 and "got no gradient" not in err
