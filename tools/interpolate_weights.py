"""Blend two weight files of one architecture in weight space (WiSE-FT), as a checkpoint folder.

Run by hand (docs/default-model.md, "Do no harm"):

    .venv/bin/python tools/interpolate_weights.py \\
        --start src/deblurkit/pretrained/s1_msed_fast.safetensors \\
        --end $HOME/deblurkit-runs/default_sharp30/checkpoints/step_00002400 \\
        --alpha 0.5 -o $HOME/deblurkit-runs/blends/sharp30_a050

``--start`` and ``--end`` are weight files or checkpoint folders (a folder gives its
``ema.safetensors``, else ``model.safetensors``). The output folder holds ``ema.safetensors``
(``(1 - alpha) * start + alpha * end``, :func:`deblurkit.training.interpolation.interpolate_weights`)
with ``end``'s header (its step) plus an ``interpolation`` entry naming both sources, their steps
and ``alpha``, and ``end``'s ``config.yaml`` when it has one: a folder that
``benchmarks/realval.py --model FOLDER/ema.safetensors`` measures and
``tools/bundle_default.py --bundle NAME=FOLDER`` bundles. An existing output is not
overwritten unless ``--overwrite`` is given.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from deblurkit.errors import UserError
from deblurkit.models.weights import load_model, read_metadata
from deblurkit.training.derived import derived_target, save_derived, weights_file
from deblurkit.training.interpolation import interpolate_weights


def blend(start: Path, end: Path, alpha: float, out: Path, *, overwrite: bool = False) -> Path:
    """Write the blend of ``start`` and ``end`` to ``out/ema.safetensors``; returns that path."""
    start_file, end_file = weights_file(start), weights_file(end)
    target = derived_target(out, overwrite=overwrite)
    model = interpolate_weights(load_model(start_file), load_model(end_file), alpha)
    header = read_metadata(end_file)
    save_derived(model, target, header, "interpolation", {
        "start": str(start_file), "start_step": read_metadata(start_file).get("step", ""),
        "end": str(end_file), "end_step": header.get("step", ""),
        "alpha": alpha}, carry=("step", "config", "weights"))
    config = end_file.parent / "config.yaml"
    if config.is_file():
        shutil.copyfile(config, out / "config.yaml")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", type=Path, required=True, help="weights at alpha = 0")
    parser.add_argument("--end", type=Path, required=True, help="weights at alpha = 1")
    parser.add_argument("--alpha", type=float, required=True, help="blend weight in [0, 1]")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args()
    try:
        target = blend(args.start, args.end, args.alpha, args.out, overwrite=args.overwrite)
    except UserError as exc:
        print(f"interpolate_weights: error: {exc}", file=sys.stderr)
        return 1
    print(f"{target}: (1 - {args.alpha}) x {args.start} + {args.alpha} x {args.end}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
