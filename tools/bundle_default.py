"""Copy trained checkpoints into the package as bundled weights (the default and the others).

Run by hand after the recipes have trained (docs/default-model.md, "Reproduce";
docs/system-models.md):

    .venv/bin/python tools/bundle_default.py \\
        --deblur $HOME/deblurkit-runs/default_fast/checkpoints/step_00003000 --storage float16
    .venv/bin/python tools/bundle_default.py --storage float16 \\
        --bundle s2=$HOME/deblurkit-runs/variants/s2/checkpoints/step_00000675

Each checkpoint's weights (``ema.safetensors``, the exponential moving average, when the run
kept one, else ``model.safetensors``; ``--weights`` chooses) are re-saved under
``src/deblurkit/pretrained/`` with the file name its :class:`~deblurkit.pretrained.WeightCard`
gives, optionally stored in half precision (``--storage float16``: the file halves and
``load_model`` casts back to float32; measure the cost with ``benchmarks/realval.py`` on both
files), and with header metadata that says where it came from: the recipe path, the fully
resolved config of the run (``config.yaml`` of the checkpoint: for an on-the-fly recipe it
holds the whole degradation model), the step, which weights, and the SHA-256 of the
synthesized data's ``manifest.json`` when the run read a fixed data set. The run's curves
are drawn afresh from its ``metrics.csv`` and copied to ``docs/images/<file stem>-curves.png``
for the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import torch

from deblurkit.errors import UserError
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.pretrained import bundled_card
from deblurkit.training.checkpoint import checkpoint_weights
from deblurkit.training.logs import plot_curves

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "deblurkit" / "pretrained"
IMAGES_DIR = ROOT / "docs" / "images"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: Storage types ``--storage`` offers.
STORAGE = {"float32": torch.float32, "float16": torch.float16}


def bundle(name: str, checkpoint: Path, data: Path | None, *, weights: str = "auto",
           storage: str = "float32") -> Path:
    """Re-save a checkpoint's weights as the bundled file of ``name``.

    Args:
        name: the bundled name (a key of ``deblurkit.pretrained.BUNDLED``).
        checkpoint: the checkpoint folder (``.../checkpoints/step_N``).
        data: the fixed data set the run read (its ``manifest.json`` is hashed), or ``None``.
        weights: ``"ema"``, ``"model"`` or ``"auto"`` (the EMA when the checkpoint has one).
        storage: ``"float32"`` or ``"float16"`` (see :func:`save_model`).
    """
    card = bundled_card(name)
    source = checkpoint_weights(checkpoint, weights)
    weights = source.stem
    config = checkpoint / "config.yaml"
    model = load_model(source)
    header = read_metadata(source)
    step = header.get("step", "")
    manifest = data / "manifest.json" if data is not None else None
    metadata = {
        "recipe": card.recipe,
        "step": step,
        "weights": weights,
        "config": config.read_text() if config.is_file() else "",
        "data_manifest_sha256": _sha256(manifest) if manifest and manifest.is_file() else "",
        "model_card": card.model_card,
        "value_range": list(card.value_range),
        "colour_order": card.colour_order,
    }
    if "interpolation" in header:   # a blend of two weight files (tools/interpolate_weights.py)
        metadata["interpolation"] = header["interpolation"]
    target = PACKAGE_DIR / card.file
    save_model(model, target, metadata=metadata, overwrite=True, storage_dtype=STORAGE[storage])
    target.chmod(0o644)
    curves = plot_curves(checkpoint.parent.parent)   # fresh from the run's metrics.csv
    if curves is not None and curves.is_file():
        shutil.copyfile(curves, IMAGES_DIR / (Path(card.file).stem.replace('_', '-') + '-curves.png'))
    print(f"{name}: {source} (step {step}, {storage}) -> {target} "
          f"({target.stat().st_size / 1e6:.2f} MB, sha256 {_sha256(target)[:16]})")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deblur", type=Path, help="checkpoint folder of the deblur run")
    parser.add_argument("--selector", type=Path, help="checkpoint folder of the selector run")
    parser.add_argument("--bundle", action="append", default=[], metavar="NAME=CHECKPOINT",
                        help="any bundled name (deblurkit.pretrained.BUNDLED, e.g. s2) and the "
                             "checkpoint folder of its run (repeatable)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the fixed synthesized data the runs read (its manifest is "
                             "hashed); not needed for on-the-fly recipes")
    parser.add_argument("--weights", choices=("auto", "ema", "model"), default="auto",
                        help="which weights of the checkpoint (auto: the EMA if kept)")
    parser.add_argument("--storage", choices=sorted(STORAGE), default="float32",
                        help="storage type of the bundled file (float16 halves it)")
    args = parser.parse_args()
    try:
        if args.deblur:
            bundle("default", args.deblur, args.data, weights=args.weights,
                   storage=args.storage)
        if args.selector:
            bundle("default_selector", args.selector, args.data, weights=args.weights,
                   storage=args.storage)
        for item in args.bundle:
            name, sep, folder = item.partition("=")
            if not sep or not name or not folder:
                raise UserError(f"--bundle {item!r}: expected NAME=CHECKPOINT")
            bundle(name, Path(folder), args.data, weights=args.weights, storage=args.storage)
    except UserError as exc:
        print(f"bundle_default: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
