"""Deblur the blurred frames of videos; keep every frame, its timestamp, and the audio.

Decodes with PyAV, picks the frames to deblur (--select), deblurs those with --model and
writes all frames in their original order with their original timestamps (variable frame
rate stays variable); the audio streams are copied packet for packet. Decoding, inference
and encoding run concurrently with bounded queues (the whole video is never held).

Selection (--select; scores are "higher = more blurred", deblur when score >= --threshold):
  temporal    (default) sharpness at 4 scales relative to the 15 frames around, combined by
              a logistic model fitted on real training clips (threshold calibrated there):
              a frame is deblurred when it is blurrier than its neighbours. Footage blurred
              throughout has no sharper neighbours and is left as it is: use --select all
  all         deblur every frame
  classifier  S4's frame classifier on every frame: P(blurred) (--classifier, default 0.5)
  middle15    S4's fast mode: classify the middle frame of each run of 15, label the run
  laplacian   no weights: 1 - var(Laplacian(luma)) / (0.9-quantile over the 15 frames around)

One INPUT: -o is the output file (suffix .mp4, .mkv, .mov, .webm, .avi picks the container).
Several INPUTs: -o is a folder; each output keeps its input's file name, and --report, if
given, is a folder receiving NAME.json per video. Under torchrun the inputs are split across
the ranks. --report writes per-frame scores and timings and S4's run-time model
T_run = t_d * N_b + t_c * N_a (see docs/video.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deblurkit.cli._common import (add_classifier_argument, add_model_arguments, make_restorer,
                                   non_negative_float, odd_int, positive_float, positive_int,
                                   unit_float)

if TYPE_CHECKING:
    from deblurkit.inference.classifier import FrameClassifier

HELP = "deblur the blurred frames of videos (S4 frame selection), keeping timing and audio"


def _key_value(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r} is not KEY=VALUE")
    return key, val


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deblurkit.inference.selection import (DEFAULT_LAPLACIAN_WINDOW, DEFAULT_SELECT,
                                               SELECT_MODES)
    from deblurkit.inference.video import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_QUEUE_SIZE

    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="video file(s)")
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output file (one INPUT) or folder (several INPUTs)")
    add_model_arguments(parser)
    parser.add_argument("--select", choices=SELECT_MODES, default=DEFAULT_SELECT,
                        help=f"which frames to deblur (default {DEFAULT_SELECT}; see above)")
    parser.add_argument("--threshold", type=unit_float, default=None, metavar="T",
                        help="deblur a frame when its score >= T (default 0.5)")
    add_classifier_argument(parser)
    parser.add_argument("--laplacian-window", type=odd_int(1),
                        default=DEFAULT_LAPLACIAN_WINDOW, metavar="N",
                        help="laplacian: frames in the centred reference window (odd, "
                             f"default {DEFAULT_LAPLACIAN_WINDOW})")
    parser.add_argument("--laplacian-reference", type=positive_float, default=None,
                        metavar="V",
                        help="laplacian: absolute reference sharpness instead of the window "
                             "(variance of the Laplacian of [0,1] luma)")
    parser.add_argument("--report", default=None, metavar="JSON",
                        help="write the per-frame and total report (a folder with several "
                             "inputs)")
    parser.add_argument("--codec", default=DEFAULT_CODEC,
                        help=f"video encoder (default {DEFAULT_CODEC}; ffv1 for lossless)")
    parser.add_argument("--crf", type=non_negative_float, default=DEFAULT_CRF,
                        help=f"constant rate factor for x264/x265/VP9/AV1 (default "
                             f"{DEFAULT_CRF:g}; ignored by other codecs)")
    parser.add_argument("--preset", default=None,
                        help="encoder preset, e.g. x264's ultrafast ... veryslow")
    parser.add_argument("--pix-fmt", default=None,
                        help="output pixel format (default yuv420p for x264/x265/VP9/AV1, "
                             "else the input's)")
    parser.add_argument("--codec-option", type=_key_value, action="append", default=[],
                        metavar="KEY=VALUE", help="extra encoder option (repeatable)")
    parser.add_argument("--no-audio", dest="audio", action="store_false",
                        help="drop the audio streams instead of copying them")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="keep the output of a video that decodes to fewer frames than "
                             "its container states (default: an error, nothing written)")
    parser.add_argument("--queue-size", type=positive_int, default=DEFAULT_QUEUE_SIZE,
                        metavar="N", help=f"capacity of each inter-stage queue (default "
                                          f"{DEFAULT_QUEUE_SIZE})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing outputs and reports (never the input)")


def plan_outputs(inputs: list[Path], output: Path, report: Path | None
                 ) -> list[tuple[Path, Path, Path | None]]:
    """Pair every input with its output file and report path.

    One input: ``output`` is the file and ``report`` the JSON file. Several inputs: both are
    folders; the output keeps the input's file name, the report is ``NAME.json``.

    Raises:
        UserError: several inputs with an existing non-folder output, two inputs with the same
            file name, or an output that is its input.
    """
    from deblurkit.errors import UserError

    if len(inputs) == 1 and not output.is_dir():
        pairs = [(inputs[0], output, report)]
    else:
        if output.exists() and not output.is_dir():
            raise UserError(f"{output}: with several inputs, -o must be a folder")
        if report is not None and report.exists() and not report.is_dir():
            raise UserError(f"{report}: with several inputs, --report must be a folder")
        names: dict[str, Path] = {}
        for src in inputs:
            if src.name in names:
                raise UserError(f"{src}: same file name as {names[src.name]}; their outputs in "
                                f"{output} would collide")
            names[src.name] = src
        pairs = [(src, output / src.name, report / f"{src.name}.json" if report else None)
                 for src in inputs]
    for src, dst, _ in pairs:
        if src.resolve() == dst.resolve():
            raise UserError(f"{dst}: output is the input video; choose another -o")
    return pairs


def frame_classifier(args: argparse.Namespace) -> FrameClassifier | None:
    """The frame classifier of ``--classifier`` with the model's ``--device`` and ``--dtype``,
    or None when ``--select`` scores no frame with it."""
    from deblurkit.inference.classifier import FrameClassifier
    from deblurkit.inference.selection import CLASSIFIER_MODES

    if args.select not in CLASSIFIER_MODES:
        return None
    return FrameClassifier(args.classifier, device=args.device, dtype=args.dtype)


def _shard(items: list[Any]) -> list[Any]:
    from deblurkit.inference.shard import shard

    return list(shard(items))


def _precheck(src: Path, dst: Path, report: Path | None, overwrite: bool) -> None:
    """Fail fast, before any model is loaded: unreadable input, existing output."""
    from deblurkit.errors import OutputExistsError
    from deblurkit.inference.video import open_video

    if not overwrite:
        for path in (dst, report):
            if path is not None and path.exists():
                raise OutputExistsError(path)
    open_video(src).container.close()


def run(args: argparse.Namespace) -> int:
    from deblurkit.errors import UserError
    from deblurkit.inference.selection import make_selector
    from deblurkit.inference.video import EncodeOptions, frame_deblur, restore_video
    from deblurkit.inference.video.containers import display_note

    inputs = [Path(p) for p in args.inputs]
    output = Path(args.output)
    report = Path(args.report) if args.report else None
    if len(inputs) > 1:
        output.mkdir(parents=True, exist_ok=True)
        if report is not None:
            report.mkdir(parents=True, exist_ok=True)
    jobs = _shard(plan_outputs(inputs, output, report))
    if not jobs:
        return 0
    single = len(inputs) == 1
    failures: list[str] = []

    def fail(exc: UserError) -> None:
        if single:
            raise exc
        failures.append(str(exc))
        print(f"deblurkit video: error: {exc}", file=sys.stderr)

    todo = []
    for src, dst, rep in jobs:
        try:
            _precheck(src, dst, rep, args.overwrite)
        except UserError as exc:
            fail(exc)
            continue
        todo.append((src, dst, rep))

    encode = EncodeOptions(codec=args.codec, crf=args.crf, preset=args.preset,
                           pix_fmt=args.pix_fmt, options=dict(args.codec_option),
                           audio=args.audio)
    classifier = deblur = None
    if todo:
        classifier = frame_classifier(args)
        deblur = frame_deblur(make_restorer(args))
    for src, dst, rep in todo:
        selector = make_selector(args.select, threshold=args.threshold,
                                 classifier=classifier.probability if classifier else None,
                                 laplacian_window=args.laplacian_window,
                                 laplacian_reference=args.laplacian_reference)
        try:
            result = restore_video(src, dst, selector=selector, deblur=deblur, encode=encode,
                                   allow_truncated=args.allow_truncated,
                                   report_path=rep, overwrite=args.overwrite,
                                   queue_size=args.queue_size, model=str(args.model),
                                   threshold=getattr(selector, "threshold", None),
                                   extra_report={"classifier": str(args.classifier)
                                                 if classifier is not None else None})
        except UserError as exc:
            fail(exc)
            continue
        t = result.report["totals"]
        notes = [f"{t['wall_seconds']:.1f} s"]
        if result.report["truncated"]:
            notes.append(f"truncated: decoded {t['N_a']} of the "
                         f"{result.report['frames_stated']} frames its container states")
        if (t["N_b"] == 0 and t["N_a"] > getattr(selector, "max_pending", 0)
                and args.select in ("temporal", "laplacian")):
            notes.append("no frame was blurrier than its neighbours (for footage blurred "
                         "throughout use --select all)")
        note = display_note(result.report["output"]["display_matrix"])
        if note:
            notes.append(f"{note} kept")
        print(f"{src} -> {dst}: {t['N_b']}/{t['N_a']} frames deblurred, " + ", ".join(notes),
              file=sys.stderr)
    if failures:
        print(f"deblurkit video: {len(failures)} of {len(jobs)} videos failed",
              file=sys.stderr)
        return 1
    return 0
