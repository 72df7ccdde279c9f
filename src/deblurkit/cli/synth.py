"""Synthesize a paired deblurring dataset (train and test splits) in the GoPro layout.

Kinds (--kinds, mixed round-robin):
  kernel   uniform camera-shake blur b = k*l + n (random trajectory kernel, Gaussian
           noise, 8-bit); the true kernel is saved in <scene>/kernel/<name>.npy (+ .png)
  average  GoPro protocol: M = 7/9/11/13 high-fps frames averaged in linear light,
           the middle frame is the sharp target
  video    S4 partially blurred clips: intervals of 7..12 frames averaged or kept sharp,
           at most 70% of the frames blurred, labels in <clip>/labels.csv

Sources (--source, several allowed): procedural (dead leaves and rendered moving scenes),
skimage (photographs bundled with scikit-image), or paths of images, image folders and
high-frame-rate videos (read with PyAV). The test split uses separate seeds and, for file
sources, separate files.

Output: OUT/{train,test}/<scene>/{blur,sharp}/<name>.png, OUT/manifest.json (every
parameter of every pair), OUT/preview.png. The same --seed gives the same bytes whatever
--workers.

Realistic sets from real content (--config SPEC.yaml): photographs and high-frame-rate
sequences with their real capture rate, the camera degradation model of training (linear
light, camera response, saturation, kernel or homography shake or frame averaging,
Poisson-Gaussian noise, JPEG / H.264), pairs per kind and labelled partially blurred clips.
`make realval` runs it with configs/data/realval.yaml.

Example:
  deblurkit synth -o data/synth --train 500 --test 100
  deblurkit synth --config configs/data/realval.yaml -o data/realval
  deblurkit synth -o data/mine --source photos/ clip240fps.mp4 --kinds average,video
"""

from __future__ import annotations

import argparse
import sys
import time

from deblurkit.cli._common import non_negative_int, positive_int
from deblurkit.errors import UserError

HELP = "synthesize a paired blur/sharp dataset (kernels, frame averaging, S4 videos)"


def _size(value: str) -> tuple[int, int]:
    """argparse type: ``N`` or ``HxW``."""
    parts = value.lower().split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not N or HxW") from None
    if len(numbers) == 1:
        numbers *= 2
    if len(numbers) != 2 or min(numbers) < 8:
        raise argparse.ArgumentTypeError(f"{value!r}: need N or HxW with sides >= 8")
    return numbers[0], numbers[1]


def _kinds(value: str) -> tuple[str, ...]:
    from deblurkit.synth.job import KINDS

    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(
            f"{value!r}: kinds are a comma list of {', '.join(KINDS)}")
    return kinds


def _range(value: str) -> tuple[float, float]:
    """argparse type: ``A`` or ``A,B`` (floats, A <= B)."""
    try:
        numbers = [float(p) for p in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not A or A,B") from None
    if len(numbers) == 1:
        numbers *= 2
    if len(numbers) != 2 or not 0 <= numbers[0] <= numbers[1]:
        raise argparse.ArgumentTypeError(f"{value!r}: need 0 <= A <= B")
    return numbers[0], numbers[1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (empty or new; see --overwrite)")
    parser.add_argument("--config", default=None, metavar="SPEC",
                        help="YAML spec of a realistic set from real photos and high-fps "
                        "sequences (see docs/synthesis.md); the options below that choose "
                        "data are then not used")
    parser.add_argument("--train", type=non_negative_int, default=500, metavar="N",
                        help="image pairs (kernel/average) in the train split (default 500)")
    parser.add_argument("--test", type=non_negative_int, default=100, metavar="N",
                        help="image pairs in the test split (default 100)")
    parser.add_argument("--size", type=_size, default=(256, 256), metavar="N|HxW",
                        help="crop size of every pair and clip frame (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--kinds", type=_kinds, default=("kernel", "average", "video"),
                        metavar="LIST", help="comma list of kernel, average, video "
                        "(default all three)")
    parser.add_argument("--source", nargs="+", default=None, metavar="SRC",
                        help="procedural, skimage, or image/folder/video paths "
                        "(default: procedural skimage)")
    parser.add_argument("--video-clips", type=non_negative_int, default=4, metavar="N",
                        help="partially blurred clips in the train split (default 4)")
    parser.add_argument("--test-video-clips", type=non_negative_int, default=None,
                        metavar="N", help="clips in the test split (default: in proportion "
                        "to --test/--train, at least 1)")
    parser.add_argument("--clip-frames", type=positive_int, default=50, metavar="N",
                        help="output frames per clip (default 50; S4 uses 100)")
    parser.add_argument("--kernel-size", type=positive_int, default=31, metavar="K",
                        help="camera-shake kernel side (default 31)")
    parser.add_argument("--noise", type=_range, default=(0.0, 0.01), metavar="A[,B]",
                        help="Gaussian noise sigma range for the kernel kind, [0,1] units "
                        "(default 0,0.01)")
    parser.add_argument("--response", choices=("gamma", "srgb", "none"), default="gamma",
                        help="camera response for frame averaging (default gamma)")
    parser.add_argument("--gamma", type=float, default=2.2,
                        help="exponent of the gamma response (default 2.2)")
    parser.add_argument("--kernel-response", choices=("gamma", "srgb", "none"),
                        default="none", help="blur kernel pairs in linear light with this "
                        "response (default none: b = k*l + n on the stored values)")
    parser.add_argument("--max-blurred", type=float, default=0.7, metavar="F",
                        help="largest blurred fraction of a clip (default 0.7, S4)")
    parser.add_argument("--skip-probability", type=float, default=0.4, metavar="P",
                        help="probability that a clip interval stays sharp (default 0.4)")
    parser.add_argument("--holdout", type=float, default=None, metavar="F",
                        help="fraction of the files of each file source (scikit-image photos, "
                        "your images/videos) used only by the test split (default: the test "
                        "split's share of the pairs)")
    parser.add_argument("--workers", type=positive_int, default=None, metavar="K",
                        help="worker processes (default: all cores)")
    parser.add_argument("--no-preview", action="store_true", help="do not write preview.png")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier synth output in OUT")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deblurkit.io import BatchReport
    from deblurkit.synth.job import NAMED_SOURCES, SynthConfig, run_synth

    if args.config is not None:
        return _run_realistic(args)
    if not 0.0 <= args.max_blurred <= 1.0:
        raise UserError(f"--max-blurred: {args.max_blurred} is not in [0, 1]")
    if not 0.0 <= args.skip_probability <= 1.0:
        raise UserError(f"--skip-probability: {args.skip_probability} is not in [0, 1]")
    if not args.gamma > 0:
        raise UserError(f"--gamma: {args.gamma} must be > 0")
    config = SynthConfig(
        out=Path(args.output), n_train=args.train, n_test=args.test, size=args.size,
        seed=args.seed, kinds=args.kinds, sources=tuple(args.source or NAMED_SOURCES),
        video_clips=args.video_clips, test_video_clips=args.test_video_clips,
        clip_frames=args.clip_frames, kernel_size=args.kernel_size,
        noise_sigma=args.noise, kernel_response=args.kernel_response,
        response=args.response, gamma=args.gamma, max_blurred_fraction=args.max_blurred,
        skip_probability=args.skip_probability, holdout_fraction=args.holdout,
        workers=args.workers,
        overwrite=args.overwrite, preview=not args.no_preview)
    report = BatchReport()
    start = time.perf_counter()
    manifest = run_synth(config, report)
    elapsed = time.perf_counter() - start
    counts = manifest.data["counts"]
    print(f"wrote {counts['train']['pairs']} train + {counts['test']['pairs']} test pairs, "
          f"{counts['train']['clips']} + {counts['test']['clips']} clips "
          f"({counts['train']['clip_frames'] + counts['test']['clip_frames']} frames) "
          f"to {config.out} in {elapsed:.1f} s")
    if report.failures:
        print(f"deblurkit synth: {report.summary()}", file=sys.stderr)
    return report.exit_code


#: Options that choose data in the procedural / photo mode (refused with --config).
_DATA_OPTIONS = {"train": 500, "test": 100, "size": (256, 256), "seed": 0, "source": None,
                 "kinds": ("kernel", "average", "video"), "video_clips": 4, "holdout": None}


def _run_realistic(args: argparse.Namespace) -> int:
    from deblurkit.io import BatchReport
    from deblurkit.synth.realistic import load_realistic_config, run_realistic

    clash = [k for k, default in _DATA_OPTIONS.items() if getattr(args, k) != default]
    if clash:
        raise UserError(f"--{clash[0].replace('_', '-')}: not used with --config (the spec "
                        "file decides the data)")
    spec = load_realistic_config(args.config)
    report = BatchReport()
    start = time.perf_counter()
    data = run_realistic(spec, args.output, overwrite=args.overwrite, report=report)
    counts = data["counts"]
    pairs = ", ".join(f"{counts[k]} {k}" for k in ("kernel", "shake", "average", "sharp"))
    print(f"wrote {pairs} pairs and {counts['clip_sequence'] + counts['clip_photo']} clips "
          f"({counts['clip_frames']} frames) to {args.output} in "
          f"{time.perf_counter() - start:.1f} s")
    if report.failures:
        print(f"deblurkit synth: {report.summary()}", file=sys.stderr)
    return report.exit_code
