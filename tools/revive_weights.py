"""Re-initialise the dead part of a trained network, keeping the live part and its function.

Run by hand (docs/default-model.md, "The plateau was a dead network"):

    .venv/bin/python tools/revive_weights.py \\
        --source src/deblurkit/pretrained/s1_msed_fast.safetensors \\
        --keep scales.0.encoder.0. --keep scales.0.decoder.3. \\
        --silence scales.0.decoder.2.out -o runs/realistic/revived_s1

Every tensor whose name starts with a ``--keep`` prefix is copied from ``--source``; every
other tensor is drawn afresh by the architecture's own initialisation (``--seed``). The layer
named by ``--silence`` (the layer through which the fresh part feeds the kept part) gets weight
0 and bias ``--bias`` (a small positive value: behind a ReLU, a zero bias would leave it dead),
so the fresh part starts silent but reachable by gradients. The tool measures, on a random
picture, how far the revived network's output moves from the source's (``max_change``, in
[0, 1] units) and refuses to write when it is over ``--tolerance``. The output folder holds
``ema.safetensors`` with the source's step and a ``revived`` header entry (source, step, kept
prefixes, silenced layer, bias, seed, max_change): a start for a training config's
``model.init`` (``configs/realistic/deblur_revive.yaml``). An existing output is not
overwritten unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.weights import load_model, read_metadata
from deblurkit.training.derived import derived_target, output_change, save_derived, weights_file


def revive(source: Path, keep: list[str], silence: str, out: Path, *, bias: float = 1e-4,
           seed: int = 0, tolerance: float = 1e-3, overwrite: bool = False) -> Path:
    """Write the revived network to ``out/ema.safetensors``; returns that path."""
    file = weights_file(source)
    target = derived_target(out, overwrite=overwrite)
    trained = load_model(file)
    state = trained.state_dict()
    for prefix in keep:
        if not any(k.startswith(prefix) for k in state):
            raise UserError(f"--keep {prefix}: no tensor of {trained.deblurkit_name} starts so")
    torch.manual_seed(seed)
    fresh = create_model(trained.deblurkit_name, **trained.deblurkit_kwargs)
    merged = {k: (state[k] if k.startswith(tuple(keep)) else v)
              for k, v in fresh.state_dict().items()}
    fresh.load_state_dict(merged)
    try:
        layer = fresh.get_submodule(silence)
    except AttributeError:
        raise UserError(f"--silence {silence}: no such layer in {trained.deblurkit_name}") from None
    if silence.startswith(tuple(keep)) or getattr(layer, "bias", None) is None:
        raise UserError(f"--silence {silence}: must be a re-initialised layer with a bias")
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.fill_(bias)
    change = output_change(fresh, trained)
    if change > tolerance:
        raise UserError(f"the revived network's output moves by {change:.2e} from {file} "
                        f"(over {tolerance:g}): keep more, or silence the layer that joins them")
    header = read_metadata(file)
    return save_derived(fresh, target, header, "revived", {
        "source": str(file), "source_step": header.get("step", ""), "keep": keep,
        "silence": silence, "bias": bias, "seed": seed, "max_change": change})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="trained weight file or checkpoint folder")
    parser.add_argument("--keep", action="append", required=True, metavar="PREFIX",
                        help="tensors to keep (name prefix; repeatable)")
    parser.add_argument("--silence", required=True, metavar="LAYER",
                        help="re-initialised layer to start at weight 0 and bias --bias")
    parser.add_argument("--bias", type=float, default=1e-4, help="its bias (default 1e-4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh tensors")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest output change accepted (default 1e-3)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args()
    try:
        target = revive(args.source, args.keep, args.silence, args.out, bias=args.bias,
                        seed=args.seed, tolerance=args.tolerance, overwrite=args.overwrite)
    except UserError as exc:
        print(f"revive_weights: error: {exc}", file=sys.stderr)
        return 1
    change = json.loads(read_metadata(target)["revived"])["max_change"]
    print(f"{target}: {args.source} with all but {', '.join(args.keep)} re-initialised "
          f"(output moved by {change:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
