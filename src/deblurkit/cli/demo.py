"""Run the toolkit end to end on inputs that ship with the install (no downloads).

What it does now, in OUT (default demo-output/):

  1. synthesizes a small test set from the photographs bundled with scikit-image and from
     procedural scenes: camera-shake kernel blur, GoPro-style frame-averaged blur and one
     partially blurred video clip (OUT/data/, with manifest.json of every parameter);
  2. scores the blurred images against their sharp references (PSNR / SSIM, the identity
     baseline a deblurring model must beat): a table on stdout and OUT/eval.json;
  3. writes OUT/preview.png (rows of blurred | sharp | kernel) and prints where things are.

No trained default model ships yet, so the demo restores nothing yet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the toolkit end to end on bundled inputs (what `make demo` runs)"

#: The demo's data: small enough for a minute on 2 cores, every kind represented.
DEMO_PAIRS = 12
DEMO_CLIP_FRAMES = 30
DEMO_SIZE = (256, 256)
DEMO_SEED = 2026


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", type=Path, metavar="DIR",
                        help="output folder (default demo-output); an earlier demo output "
                             "there is replaced")
    parser.add_argument("--workers", type=int, default=None,
                        help="synthesis worker processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    import shutil
    import sys

    from deblurkit.metrics.evaluate import evaluate_gopro, format_table
    from deblurkit.synth.job import SynthConfig, run_synth
    from deblurkit.utils.atomic import write_text_atomic

    out: Path = args.out
    data = out / "data"
    print(f"[1/3] synthesizing {DEMO_PAIRS} blurred/sharp pairs and 1 partially blurred clip "
          f"from bundled inputs into {data}", flush=True)
    manifest = run_synth(SynthConfig(
        out=data, n_train=0, n_test=DEMO_PAIRS, size=DEMO_SIZE, seed=DEMO_SEED,
        sources=("procedural", "skimage"), video_clips=0, test_video_clips=1,
        clip_frames=DEMO_CLIP_FRAMES, workers=args.workers, overwrite=True))
    clip = manifest.clips[0]["params"] if manifest.clips else None

    print("[2/3] scoring the blurred inputs against the sharp references "
          "(identity baseline)", flush=True)
    result = evaluate_gopro(data, "test")
    sys.stdout.write(format_table(result))
    write_text_atomic(out / "eval.json", result.to_json(), overwrite=True)

    print("[3/3] writing the preview", flush=True)
    preview = out / "preview.png"
    if (data / "preview.png").exists():
        shutil.copyfile(data / "preview.png", preview)

    print(f"\ndemo outputs in {out}/:")
    print(f"  data/             {len(manifest.pairs)} test pairs (GoPro layout) and "
          f"{len(manifest.clips)} clip in data/videos/"
          + (f" ({clip['frames']} frames, {clip['blurred']} blurred)" if clip else ""))
    print("  data/manifest.json  every synthesis parameter of every pair")
    print(f"  eval.json         PSNR/SSIM of the blurred inputs: mean PSNR "
          f"{result.mean_psnr:.2f} dB, SSIM {result.mean_ssim:.4f}")
    print("  preview.png       blurred | sharp | kernel")
    print("No trained default model ships yet: nothing is restored in this version.")
    return result.exit_code
