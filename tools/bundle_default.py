"""Copy trained checkpoints into the package as the bundled default weights.

Run by hand after the default recipes have trained (docs/default-model.md, "Reproduce"):

    .venv/bin/python tools/bundle_default.py \\
        --deblur runs/default/deblur/checkpoints/step_00016000 \\
        --selector runs/default/frame_selector/checkpoints/step_00002500

Each checkpoint's ``model.safetensors`` is re-saved (weights unchanged) under
``src/deblurkit/pretrained/`` with the file name its :class:`~deblurkit.pretrained.WeightCard`
gives, and with header metadata that says where it came from: the recipe path, the fully
resolved config of the run (``config.yaml`` of the checkpoint), the step, and the SHA-256 of
the synthesized data's ``manifest.json`` (which records every parameter of every pair). The
run's ``curves.png`` is copied to ``docs/images/<file stem>-curves.png`` for the model card.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

from deblurkit.errors import UserError
from deblurkit.models.weights import load_model, read_metadata, save_model
from deblurkit.pretrained import bundled_card

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "src" / "deblurkit" / "pretrained"
IMAGES_DIR = ROOT / "docs" / "images"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def bundle(name: str, checkpoint: Path, data: Path) -> Path:
    """Re-save ``checkpoint/model.safetensors`` as the bundled file of ``name``."""
    card = bundled_card(name)
    weights = checkpoint / "model.safetensors"
    config = checkpoint / "config.yaml"
    if not weights.is_file():
        raise UserError(f"{weights}: not found")
    model = load_model(weights)
    step = read_metadata(weights).get("step", "")
    manifest = data / "manifest.json"
    metadata = {
        "recipe": card.recipe,
        "step": step,
        "config": config.read_text() if config.is_file() else "",
        "data_manifest_sha256": _sha256(manifest) if manifest.is_file() else "",
        "model_card": "docs/default-model.md",
        "value_range": list(card.value_range),
        "colour_order": card.colour_order,
    }
    target = PACKAGE_DIR / card.file
    save_model(model, target, metadata=metadata, overwrite=True)
    target.chmod(0o644)
    curves = checkpoint.parent.parent / "curves.png"
    if curves.is_file():
        shutil.copyfile(curves, IMAGES_DIR / (Path(card.file).stem.replace('_', '-') + '-curves.png'))
    print(f"{name}: {weights} (step {step}) -> {target} "
          f"({target.stat().st_size / 1e6:.2f} MB, sha256 {_sha256(target)[:16]})")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deblur", type=Path, help="checkpoint folder of the deblur run")
    parser.add_argument("--selector", type=Path, help="checkpoint folder of the selector run")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "default",
                        help="the synthesized data the runs used (for the manifest hash)")
    args = parser.parse_args()
    try:
        if args.deblur:
            bundle("default", args.deblur, args.data)
        if args.selector:
            bundle("default_selector", args.selector, args.data)
    except UserError as exc:
        print(f"bundle_default: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
