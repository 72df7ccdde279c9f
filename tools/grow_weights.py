"""Grow a trained weight file into a deeper variant of its architecture, computing the same function.

Run by hand (docs/training.md, "Growing a trained network deeper"):

    .venv/bin/python tools/grow_weights.py \\
        --source src/deblurkit/pretrained/s1_msed_fast.safetensors \\
        --set num_resblocks='[1, 2, 5, 8]' --set decoder_resblocks='[1, 1, 2, 4]' \\
        -o $HOME/deblurkit-runs/grown/s1_deep

``--source`` is a weight file or a checkpoint folder (its ``ema.safetensors``, else
``model.safetensors``); each ``--set KEY=VALUE`` (VALUE read as YAML) overrides one constructor
argument of the source's architecture. The trained tensors are copied, every new residual block
starts as the identity (:func:`deblurkit.training.grow.grow_into`), and the tool checks on a
random picture that the deeper network's output equals the source's before writing
``OUT/ema.safetensors`` (the source's step, plus a ``grown`` entry naming the source, its step
and the new blocks) and the model's name and arguments: a file that a training config's
``model.init`` starts from (with the same ``model.kwargs``). An existing output is not
overwritten unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from deblurkit.errors import UserError
from deblurkit.models import create_model
from deblurkit.models.weights import load_model, read_metadata
from deblurkit.training.derived import derived_target, output_change, save_derived, weights_file
from deblurkit.training.grow import grow_into

#: Largest output difference (on [0, 1] pictures) accepted as "the same function".
TOLERANCE = 1e-5


def parse_overrides(items: list[str]) -> dict:
    """``["key=value", ...]`` -> ``{key: yaml(value)}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: use KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


def grow(source: Path, overrides: dict, out: Path, *, overwrite: bool = False) -> Path:
    """Write the grown network to ``out/ema.safetensors``; returns that path."""
    file = weights_file(source)
    target = derived_target(out, overwrite=overwrite)
    trained = load_model(file)
    kwargs = {**trained.deblurkit_kwargs, **overrides}
    try:
        deeper = create_model(trained.deblurkit_name, **kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{trained.deblurkit_name} with {overrides}: {exc}") from None
    new_blocks = grow_into(deeper, trained.state_dict())
    difference = output_change(deeper, trained)
    if difference > TOLERANCE:
        raise UserError(f"the grown network differs from {file} by {difference:.2e} "
                        f"(over {TOLERANCE:g}): not function-preserving")
    header = read_metadata(file)
    return save_derived(deeper, target, header, "grown", {
        "source": str(file), "source_step": header.get("step", ""),
        "overrides": overrides, "new_blocks": new_blocks})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, required=True,
                        help="trained weight file or checkpoint folder")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="constructor argument to change (YAML value)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args()
    try:
        overrides = parse_overrides(args.overrides)
        target = grow(args.source, overrides, args.out, overwrite=args.overwrite)
    except UserError as exc:
        print(f"grow_weights: error: {exc}", file=sys.stderr)
        return 1
    print(f"{target}: {args.source} grown with {overrides}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
