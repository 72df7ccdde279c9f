"""Draw on-the-fly training pairs of every blur kind as one picture (docs/images/degradation-kinds.png).

    .venv/bin/python tools/degradation_samples.py ../shared/data -o docs/images/degradation-kinds.png

One row per kind (``kernel``, ``shake``, ``average``, ``objects``, unblurred), ``--pairs``
pairs per row, each shown as input | target, made by :func:`deblurkit.synth.degrade.make_sample`
from the train split with the held-out scenes left out (``configs/data/holdout.txt``), the
default degradation otherwise (noise, compression, exposure as drawn). Item ``i`` of a row uses
``numpy.random.default_rng([--seed, row, i])``: the picture is the same on every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deblurkit.errors import UserError
    from deblurkit.synth.corpus import HighFpsSpec, HoldOut, open_sources
    from deblurkit.synth.degrade import BLUR_KINDS, DegradationConfig, make_sample
    from deblurkit.utils.atomic import atomic_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="the data root (holds photos/ and highfps/)")
    ap.add_argument("-o", "--output", type=Path, required=True)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        sources = open_sources([args.root / "photos" / "train"],
                               [HighFpsSpec(str(args.root / "highfps" / "train"), 1000)],
                               holdout=HoldOut(str(REPO / "configs" / "data" / "holdout.txt")),
                               min_side=args.size)
    except UserError as exc:
        print(f"{args.root}: {exc}", file=sys.stderr)
        return 1
    base = DegradationConfig()
    rows = [(k, dataclasses.replace(base, kind_weights={k: 1.0}, sharp_fraction=0.0))
            for k in BLUR_KINDS]
    rows.append(("unblurred", dataclasses.replace(base, sharp_fraction=1.0)))
    fig, axes = plt.subplots(len(rows), 2 * args.pairs, squeeze=False,
                             figsize=(2 * args.pairs * 1.6, len(rows) * 1.75))
    for r, (name, cfg) in enumerate(rows):
        for i in range(args.pairs):
            s = make_sample(sources, cfg, args.size, np.random.default_rng([args.seed, r, i]))
            psnr = s.params.get("blur_psnr")
            for j, (image, label) in enumerate(((s.blur, f"{name} input" + (
                    f"\n{psnr:.1f} dB" if psnr else "")), (s.sharp, "target"))):
                ax = axes[r, 2 * i + j]
                ax.imshow(np.clip(image, 0, 1), interpolation="nearest")
                ax.set_title(label, fontsize=7)
                ax.axis("off")
    fig.suptitle("On-the-fly training pairs per blur kind (input | target; blur PSNR before "
                 "noise)", fontsize=9)
    fig.tight_layout()
    with atomic_path(args.output, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
