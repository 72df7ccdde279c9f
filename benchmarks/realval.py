"""The real validation set per kind: what it holds, how blurred its inputs are, and (with
``--model``) how much a model changes them.

Run by hand after ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/realval.py                        # the set itself
    .venv/bin/python benchmarks/realval.py --model default        # + a model, per kind
    .venv/bin/python benchmarks/realval.py --model default --tta 8  # + quality mode

For every kind of image pair (``kernel``, ``shake``, ``average``, ``sharp``): the count, the
PSNR / SSIM of the input against the target (RGB, 8-bit, scikit-image SSIM with a 7x7 uniform
window: docs/metrics.md), and with ``--model`` the restored output's PSNR / SSIM, the mean gain,
the worst image's change and how many images got worse by more than 0.1 dB. For the clips:
count, frames, blurred share. Identical pairs (a sharp input with no noise and no
compression) have infinite PSNR; they are counted apart and left out of the PSNR means.

Results: ``benchmarks/results/realval.json`` (``realval_<model>.json`` with a model) and, for
the set itself, the table between the ``realval-table`` markers of ``docs/synthesis.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "synthesis.md"
START, END = "<!-- realval-table:start -->", "<!-- realval-table:end -->"
KINDS = ("kernel", "shake", "average", "sharp")


def _scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from deblurkit.metrics import psnr, ssim

    return float(psnr(a, b)), float(ssim(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "realval"))
    parser.add_argument("--model", default=None, help="a --model value (default, a file ...)")
    parser.add_argument("--tta", type=int, default=1, choices=(1, 2, 4, 8),
                        help="test-time augmentation views (the restore command's --tta)")
    args = parser.parse_args()

    from deblurkit.io import read_image

    root = Path(args.root)
    manifest = json.loads((root / "manifest.json").read_text())
    restorer = None
    if args.model:
        from deblurkit.inference import Restorer

        restorer = Restorer(args.model, tta=args.tta)
    split = manifest["config"]["split"]
    per_kind = {}
    for kind in KINDS:
        rows = []
        for item in (i for i in manifest["items"] if i["kind"] == kind):
            blur = read_image(root / item["blur"]).pixels
            sharp = read_image(root / item["sharp"]).pixels
            row = {"name": item["name"]}
            row["input_psnr"], row["input_ssim"] = _scores(blur, sharp)
            if restorer is not None:
                start = time.perf_counter()
                out = restorer(blur)
                row["seconds"] = time.perf_counter() - start
                row["psnr"], row["ssim"] = _scores(out, sharp)
            rows.append(row)
        finite = [r for r in rows if math.isfinite(r["input_psnr"])]
        summary = {"count": len(rows), "identical_pairs": len(rows) - len(finite),
                   "input_psnr": float(np.mean([r["input_psnr"] for r in finite])) if finite else None,
                   "input_ssim": float(np.mean([r["input_ssim"] for r in rows])) if rows else None}
        if restorer is not None and rows:
            gains = [r["psnr"] - r["input_psnr"] for r in finite]
            summary.update(psnr=float(np.mean([r["psnr"] for r in finite])) if finite else None,
                           ssim=float(np.mean([r["ssim"] for r in rows])),
                           gain=float(np.mean(gains)) if gains else None,
                           worst=float(min(gains)) if gains else None,
                           worse_by_0_1=int(sum(g < -0.1 for g in gains)),
                           seconds_per_image=float(np.mean([r["seconds"] for r in rows])),
                           min_psnr_on_identical=min((r["psnr"] for r in rows
                                                      if not math.isfinite(r["input_psnr"])),
                                                     default=None))
        per_kind[kind] = {"summary": summary, "images": rows}
        print(kind, json.dumps(summary), flush=True)
    clips = [i for i in manifest["items"] if i["kind"].startswith("clip_")]
    clip_summary = {"count": len(clips), "frames": sum(c["frames"] for c in clips),
                    "blurred": sum(c["blurred"] for c in clips),
                    "from_sequences": sum(c["kind"] == "clip_sequence" for c in clips),
                    "from_photos": sum(c["kind"] == "clip_photo" for c in clips)}
    data = {"machine": machine(), "root": str(root), "split": split, "model": args.model,
            "tta": args.tta,
            "kinds": per_kind, "clips": clip_summary}
    name = "realval.json" if args.model is None else f"realval_{Path(args.model).stem}.json"
    if args.tta > 1:
        name = name.replace(".json", f"_tta{args.tta}.json")
    save_json(name, data)
    if args.model is None:
        size = manifest["config"]["size"]
        rows = ["", f"| kind (`data/realval/{split}/<kind>/`) | pairs | content | input PSNR | "
                "input SSIM |", "| --- | ---: | --- | ---: | ---: |"]
        content = {"kernel": "val photos, uniform camera shake (kernel)",
                   "shake": "val photos, non-uniform camera shake (homographies)",
                   "average": "val 1000 fps clips, 8-33 ms of real motion averaged",
                   "sharp": "val photos and clip frames, not blurred (noise, compression)"}
        for kind in KINDS:
            s = per_kind[kind]["summary"]
            note = f" ({s['identical_pairs']} identical left out)" if s["identical_pairs"] else ""
            psnr_text = f"{s['input_psnr']:.2f} dB{note}" if s["input_psnr"] else "-"
            rows.append(f"| `{kind}` | {s['count']} | {content[kind]} | {psnr_text} | "
                        f"{s['input_ssim']:.3f} |")
        c = clip_summary
        rows += ["", f"Plus {c['count']} partially blurred clips in `data/realval/videos/{split}/` "
                 f"({c['from_sequences']} from the 1000 fps clips, played forwards and backwards, "
                 f"intervals of 15-33 ms; {c['from_photos']} from camera pans over val photos, "
                 f"intervals of 7-12 frames): {c['frames']} frames, {c['blurred']} blurred "
                 f"({100 * c['blurred'] / max(c['frames'], 1):.0f}%), labels in `labels.csv` "
                 "(S4's protocol: a frame is blurred when its interval was averaged).",
                 f"All crops are {size}x{size}. Numbers from "
                 "`.venv/bin/python benchmarks/realval.py` (PSNR/SSIM of the input against the "
                 "target, RGB, 8-bit).", ""]
        replace_marked_block(DOC, START, END, "\n".join(rows))


if __name__ == "__main__":
    main()
