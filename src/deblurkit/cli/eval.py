"""Score images against sharp references: per-image and mean PSNR / SSIM.

Pairs the files of --blur and --sharp by relative path (the suffix may differ: a/1.png pairs
with a/1.jpg). Instead of two folders, --gopro ROOT scores a GoPro-layout dataset
(ROOT/<split>/<scene>/{blur,sharp}/, as GoPro ships and `deblurkit synth` writes), with
--split and --blur-folder (blur or blur_gamma, recorded in the JSON). Without a model the blurred input itself is scored (the identity baseline).
Prints a table on stdout and, with --json, writes the scores and the conventions used.
Files present on one side only, unreadable files and size mismatches are reported (table,
stderr, JSON) and make the exit status 1; the good pairs are still scored and written.

With --model the blurred images are first restored by that model (same options as
`deblurkit restore`: --backend, --tile/--overlap, --device, --dtype) and the JSON gains the
wall time of each restore call (images[].seconds) and its mean (seconds_per_image).

Defaults: RGB, no border crop, 7x7 uniform SSIM window (scikit-image), data range from the
bit depth. Papers' "Y channel" numbers: --channel y (BT.601 as MATLAB rgb2ycbcr), often with
--crop-border; Wang et al.'s SSIM: --ssim-window gaussian. See docs/metrics.md.
"""

from __future__ import annotations

import argparse
import sys

from deblurkit.cli._common import existing_dir, non_negative_int, odd_int, positive_float
from deblurkit.errors import UserError

HELP = "score images against sharp references (PSNR / SSIM)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--blur", type=existing_dir, metavar="DIR",
                        help="folder of blurred (or restored) images, searched recursively")
    parser.add_argument("--sharp", type=existing_dir, metavar="DIR",
                        help="folder of sharp references with the same relative paths")
    parser.add_argument("--gopro", type=existing_dir, metavar="ROOT",
                        help="instead of --blur/--sharp: a GoPro-layout dataset root")
    parser.add_argument("--split", default="test", help="with --gopro: split (default test)")
    parser.add_argument("--blur-folder", choices=("blur", "blur_gamma"), default="blur",
                        help="with --gopro: which blurred folder to score (default blur)")
    parser.add_argument("--json", metavar="OUT", default=None,
                        help="write per-image and mean scores and the conventions as JSON")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --json file")
    parser.add_argument("--channel", choices=("rgb", "y"), default="rgb",
                        help="score RGB (default) or BT.601 luma Y as MATLAB rgb2ycbcr")
    parser.add_argument("--crop-border", type=non_negative_int, default=0, metavar="N",
                        help="pixels removed from each side before scoring (default 0)")
    parser.add_argument("--ssim-window", choices=("uniform", "gaussian"), default="uniform",
                        help="uniform 7x7 (scikit-image default) or gaussian sigma 1.5 "
                             "(Wang et al. 2004)")
    parser.add_argument("--win-size", type=odd_int(3), default=None, metavar="N",
                        help="SSIM window side (default 7 uniform, 11 gaussian)")
    parser.add_argument("--no-quantize", dest="quantize", action="store_false",
                        help="score float model outputs as they are instead of rounded to "
                             "--quantize-bits (no effect on the identity baseline)")
    parser.add_argument("--quantize-bits", type=int, choices=(8, 16), default=8,
                        help="bit depth model outputs are rounded to before scoring (default 8)")
    parser.add_argument("--data-range", type=positive_float, default=None, metavar="R",
                        help="peak-to-peak range of the scored values (default: from the bit "
                             "depth: 255, 65535, or 1.0 when the two folders' depths differ)")
    from deblurkit.cli._common import add_model_arguments

    add_model_arguments(parser, model_default=None, tile_default=None,
                        model_help="none: the blurred input itself is scored")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deblurkit.errors import OutputExistsError, UserError
    from deblurkit.metrics.config import MetricConfig
    from deblurkit.metrics.evaluate import (evaluate_folders, evaluate_gopro, format_table,
                                            problem_lines)
    from deblurkit.utils.atomic import write_text_atomic
    from deblurkit.utils.progress import progress

    if args.gopro is not None and (args.blur or args.sharp):
        raise UserError("pass either --gopro ROOT or --blur DIR --sharp DIR, not both", 2)
    if args.gopro is None and not (args.blur and args.sharp):
        raise UserError("--blur DIR and --sharp DIR are required (or --gopro ROOT)", 2)
    config = MetricConfig(data_range=args.data_range, channel=args.channel,
                          crop_border=args.crop_border, quantize=args.quantize,
                          quantize_bits=args.quantize_bits, ssim_window=args.ssim_window,
                          win_size=args.win_size)
    json_path = Path(args.json) if args.json else None
    if json_path is not None and json_path.exists() and not args.overwrite:
        raise OutputExistsError(json_path)  # fail before the work, not after

    def wrap(iterable, total):
        return progress(iterable, total=total, desc="eval", unit="img")

    restore_fn, model_name = None, None
    if getattr(args, "model", None) is None and (args.arch or args.arch_kwargs is not None):
        raise UserError("--arch / --arch-kwargs describe a state-dict --model FILE; give one")
    if getattr(args, "model", None) is not None:
        from deblurkit.cli._common import make_restorer

        restorer = make_restorer(args)  # fails here (before the loop) on a bad model
        restore_fn, model_name = restorer, str(args.model)
    if args.gopro is not None:
        result = evaluate_gopro(args.gopro, args.split, args.blur_folder, config,
                                restore=restore_fn, model=model_name, wrap=wrap)
    else:
        result = evaluate_folders(args.blur, args.sharp, config, restore=restore_fn,
                                  model=model_name, wrap=wrap)
    sys.stdout.write(format_table(result))
    sys.stdout.flush()
    for line in problem_lines(result):
        print(f"deblurkit eval: {line}", file=sys.stderr)
    if not result.images and not result.missing and not result.failed:
        print(f"deblurkit eval: no images found in {result.blur_dir} or {result.sharp_dir}",
              file=sys.stderr)
    if json_path is not None:
        write_text_atomic(json_path, result.to_json(), overwrite=args.overwrite)
        print(f"deblurkit eval: wrote {json_path}", file=sys.stderr)
    summary = (f"{result.count} scored, {len(result.missing)} missing, "
               f"{len(result.failed)} failed")
    if result.mean_seconds is not None:
        summary += f", {result.mean_seconds:.3f} s per image ({result.model})"
    print(f"deblurkit eval: {summary}", file=sys.stderr)
    return result.exit_code
