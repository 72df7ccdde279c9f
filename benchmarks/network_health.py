"""How much of a trained network still learns: frozen share and activation size per level.

Run by hand (never by the tests):

    .venv/bin/python benchmarks/network_health.py --model default --model s1 --model nafnet_fast
    git show 76f70bb:src/deblurkit/pretrained/default_deblur.safetensors > /tmp/step2568.safetensors
    .venv/bin/python benchmarks/network_health.py --model /tmp/step2568.safetensors --tag step2568

For each ``--model`` (a bundled or registered name, or a weight file): one L1 backward pass, in
float32 and train mode, on a fixed batch of training crops made on the fly from the *train*
split of ``../shared/data`` (``configs/realistic/deblur.yaml``'s data, seed 0, 4 crops of 256 x
256), then

- ``frozen``: the share of the parameter elements whose gradient is exactly zero
  (:func:`deblurkit.training.health.frozen_share`): parameters no gradient reaches, which an
  optimizer can never move (a dead sub-network);
- ``levels``: the root-mean-square output of every encoder / decoder stage (modules named
  ``...encoder.N`` / ``...decoders.N`` and the like), from fine to coarse and back: activations
  that grow by orders of magnitude at the coarse levels, or a stage whose output is exactly 0,
  show where a network died;
- ``receptive_field``: the effective receptive field of the trained weights, in pixels
  (:func:`deblurkit.models.receptive_field.measure_receptive_field`: the square around an
  output pixel holding all but a small share of its input gradient), which a dead coarse path
  shrinks to that of the levels still alive.

Results: ``benchmarks/results/network_health.json`` (one entry per model, keyed by ``--tag`` or
the model's name), merged with earlier runs.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import load_json, machine, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RECIPE = REPO / "configs" / "realistic" / "deblur.yaml"
RESULTS = "network_health.json"
STAGE = re.compile(r"(^|\.)(encoder|decoder)s?\.\d+$")


def training_batch(count: int = 4, size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` (blurred, sharp) training crops of the default recipe's data, seed 0."""
    from deblurkit.data.online import OnTheFlyPairs

    args = dict(yaml.safe_load(RECIPE.read_text())["data"]["train"]["args"])
    args.update(crop_size=size, seed=0)
    data = OnTheFlyPairs.from_config(args)
    items = [data[i] for i in range(count)]
    return (torch.stack([i["blur"] for i in items]), torch.stack([i["sharp"] for i in items]))


def health(model: torch.nn.Module, blur: torch.Tensor, sharp: torch.Tensor) -> dict:
    """Frozen share, per-stage output RMS and receptive field of ``model`` on one batch."""
    from deblurkit.models.receptive_field import measure_receptive_field
    from deblurkit.training.health import frozen_share

    model.float().train()
    levels: dict[str, float] = {}
    hooks = [module.register_forward_hook(
        lambda _m, _i, out, name=name: levels.__setitem__(
            name, float((out[0] if isinstance(out, tuple) else out).detach().pow(2).mean().sqrt())))
        for name, module in model.named_modules() if STAGE.search(name)]
    model.zero_grad(set_to_none=True)
    out = model(blur)
    out = out[0] if isinstance(out, (list, tuple)) else out
    loss = (out - sharp).abs().mean()
    loss.backward()
    for hook in hooks:
        hook.remove()
    frozen = frozen_share(model)
    field = measure_receptive_field(model.eval(), pad_multiple=getattr(model, "pad_multiple", 1))
    return {"frozen": frozen, "loss": float(loss.detach()), "receptive_field": field,
            "levels": levels}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True,
                        help="bundled or registered name, or weight file (repeatable)")
    parser.add_argument("--tag", action="append", default=[],
                        help="name to file each model's result under (default: the model)")
    args = parser.parse_args()
    from deblurkit.errors import UserError
    from deblurkit.models.files import load_network

    torch.manual_seed(0)
    blur, sharp = training_batch()
    results = (load_json(RESULTS) or {}).get("models", {})
    tags = args.tag + [None] * (len(args.model) - len(args.tag))
    for spec, tag in zip(args.model, tags):
        try:
            model = load_network(spec, kind="generator")
        except UserError as exc:
            print(f"network_health: {exc}", file=sys.stderr)
            return 1
        entry = health(model, blur, sharp)
        key = tag or Path(spec).stem
        results[key] = {"model": spec, **entry}
        stages = "  ".join(f"{k.split('.', 2)[-1] if k.startswith('scales.') else k} "
                           f"{v:.2g}" for k, v in entry["levels"].items())
        print(f"{key}: frozen {entry['frozen']:.1%}, loss {entry['loss']:.4f}, receptive field "
              f"{entry['receptive_field']} px; {stages}")
    save_json(RESULTS, {"machine": machine(), "models": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
