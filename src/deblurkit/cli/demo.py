"""Restore the samples that ship with the install using the bundled default model (offline).

The samples (``deblurkit/demo_assets/``, made by ``tools/make_demo_assets.py``) are a
camera-shake-blurred photo with its sharp reference and a short partially blurred video with
sound and per-frame labels; both pictures are held out of the default model's training data.
In OUT (default demo-output/):

  1. photo_restored.png   the photo restored by ``--model default`` (whole image, no tiles);
  2. clip_restored.mp4    the clip with the frames the bundled frame selector calls blurred
                          deblurred (``deblurkit video --select classifier``), audio copied;
     clip_report.json     that command's per-frame report (scores, timings, S4 run time);
  3. before_after.png     blurred | restored | sharp for the photo, and a strip of clip frames
                          before / after;
  4. metrics.md, .json    PSNR / SSIM of the photo before and after, the selector against the
                          clip's labels, timings.

Files of an earlier demo in OUT are replaced; nothing else there is touched.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import UserError

HELP = "restore the bundled sample photo and video with the default model (`make demo`)"

#: Folder of the samples inside the ``deblurkit`` package (package data, no Python), and
#: their file names.
ASSETS_FOLDER = "demo_assets"
PHOTO_BLURRED = "photo_blurred.png"
PHOTO_SHARP = "photo_sharp.png"
CLIP = "clip.mp4"
CLIP_LABELS = "clip_labels.csv"
ASSET_FILES = (PHOTO_BLURRED, PHOTO_SHARP, CLIP, CLIP_LABELS)
#: What the demo writes in OUT.
OUTPUT_FILES = ("photo_restored.png", "clip_restored.mp4", "clip_report.json",
                "before_after.png", "metrics.md", "metrics.json")
#: Model and frame classifier the demo uses (the bundled ones).
DEMO_MODEL = "default"
DEMO_CLASSIFIER = "default"
#: Clip frames shown in the before/after strip.
STRIP_FRAMES = 4
#: Layout of before_after.png: gap between panels, label band height, font size (pixels).
FIGURE_GAP = 8
LABEL_HEIGHT = 22
FONT_SIZE = 14
FIGURE_BACKGROUND = (255, 255, 255)
LABEL_COLOUR = (0, 0, 0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", type=Path, metavar="DIR",
                        help="output folder (default demo-output); files of an earlier demo "
                             "there are replaced")
    parser.add_argument("--assets", default=None, type=Path, metavar="DIR",
                        help="folder with the samples (photo_blurred.png, photo_sharp.png, "
                             "clip.mp4, clip_labels.csv; default: the bundled ones)")
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when present), cpu, cuda, cuda:N (default auto)")


def default_assets_dir() -> Path:
    """The folder of the bundled samples inside the installed package."""
    return Path(str(resources.files("deblurkit").joinpath(ASSETS_FOLDER)))


def check_assets(folder: Path) -> dict[str, Path]:
    """Paths of the four samples in ``folder``.

    Raises:
        UserError: a missing sample (one line naming it).
    """
    paths = {name: folder / name for name in ASSET_FILES}
    for path in paths.values():
        if not path.is_file():
            raise UserError(f"{path}: demo sample missing (reinstall deblurkit, or regenerate "
                            "with tools/make_demo_assets.py)")
    return paths


def read_labels(path: Path) -> list[int]:
    """The clip's ``frame,blurred`` labels (:func:`deblurkit.data.video.read_labels`) as a
    list of 0/1 in frame order.

    Raises:
        UserError: what ``read_labels`` refuses, frames not numbered 0..N-1, or no frames.
    """
    from deblurkit.data.video import read_labels as read_label_file

    labels = read_label_file(path)
    for i, frame in enumerate(labels):
        if not frame.isdigit() or int(frame) != i:
            raise UserError(f"{path}: line {i + 2} is not '{i},0' or '{i},1'")
    if not labels:
        raise UserError(f"{path}: no frames")
    return list(labels.values())


def selector_agreement(selected: list[bool], labels: list[int]) -> dict[str, float | None]:
    """How the frame selector's decisions compare with the clip's labels.

    Args:
        selected: per frame, whether the selector sent it to the deblurring model.
        labels: per frame, 1 if it is blurred.

    Returns:
        ``accuracy`` (share of frames where both agree), ``precision`` (selected frames that
        are blurred; None if none selected), ``recall`` (blurred frames selected; None if none
        is blurred).

    Example:
        >>> selector_agreement([True, False, True, False], [1, 0, 0, 0])["accuracy"]
        0.75
    """
    if len(selected) != len(labels):
        raise ValueError(f"{len(selected)} decisions for {len(labels)} labels")
    sel = np.asarray(selected, bool)
    lab = np.asarray(labels, bool)
    tp = int(np.sum(sel & lab))
    return {"accuracy": float(np.mean(sel == lab)),
            "precision": tp / int(sel.sum()) if sel.any() else None,
            "recall": tp / int(lab.sum()) if lab.any() else None}


# ---------------------------------------------------------------------- the figure
def _font(size: int = FONT_SIZE) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def labelled_row(panels: list[np.ndarray], labels: list[str], gap: int = FIGURE_GAP,
                 label_height: int = LABEL_HEIGHT) -> np.ndarray:
    """Panels side by side, each under a one-line text label (Pillow's default font).

    Args:
        panels: ``H x W x 3`` uint8 images of one height.
        labels: one per panel.
        gap: pixels between panels.
        label_height: height of the text band above the panels.

    Returns:
        ``(label_height + H) x (sum W + gaps) x 3`` uint8 on a white background.
    """
    from PIL import Image, ImageDraw

    h = panels[0].shape[0]
    width = sum(p.shape[1] for p in panels) + gap * (len(panels) - 1)
    canvas = Image.new("RGB", (width, label_height + h), FIGURE_BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = _font()
    x = 0
    for panel, text in zip(panels, labels):
        canvas.paste(Image.fromarray(panel), (x, label_height))
        draw.text((x + 4, 3), text, fill=LABEL_COLOUR, font=font)
        x += panel.shape[1] + gap
    return np.asarray(canvas)


def _fit_width(image: np.ndarray, width: int) -> np.ndarray:
    from PIL import Image

    if image.shape[1] == width:
        return image
    height = max(1, int(round(image.shape[0] * width / image.shape[1])))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def stack_rows(rows: list[np.ndarray], gap: int = FIGURE_GAP) -> np.ndarray:
    """Rows one under the other, left aligned, on white (``gap`` pixels between)."""
    width = max(r.shape[1] for r in rows)
    height = sum(r.shape[0] for r in rows) + gap * (len(rows) - 1)
    out = np.full((height, width, 3), FIGURE_BACKGROUND, np.uint8)
    y = 0
    for r in rows:
        out[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0] + gap
    return out


def strip_indices(labels: list[int], count: int = STRIP_FRAMES) -> list[int]:
    """Up to ``count`` frames for the strip, evenly spread over the blurred ones (all frames
    when none is blurred).

    Example:
        >>> strip_indices([0, 1, 1, 0, 1, 1, 1, 0], 3)
        [1, 4, 6]
    """
    pool = [i for i, b in enumerate(labels) if b] or list(range(len(labels)))
    if len(pool) <= count:
        return pool
    picks = np.linspace(0, len(pool) - 1, count).round().astype(int)
    return [pool[i] for i in picks]


def decode_frames(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """The frames ``indices`` of a video as ``H x W x 3`` uint8 RGB (decoded in order)."""
    import av

    from deblurkit.io import from_float
    from deblurkit.inference.video import frame_to_rgb

    wanted, out = set(indices), {}
    try:
        with av.open(str(path)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i in wanted:
                    out[i] = from_float(frame_to_rgb(frame), 8)
                if len(out) == len(wanted):
                    break
    except (av.FFmpegError, OSError) as exc:
        raise UserError(f"{path}: cannot decode video: {exc}") from None
    return out


def before_after_figure(photo: tuple[np.ndarray, np.ndarray, np.ndarray],
                        photo_labels: tuple[str, str, str],
                        clip_before: list[np.ndarray], clip_after: list[np.ndarray],
                        clip_labels_before: list[str], clip_labels_after: list[str],
                        gap: int = FIGURE_GAP) -> np.ndarray:
    """The demo's figure: photo blurred | restored | sharp, then clip frames before / after.

    The clip frames are scaled (Lanczos) so that the strip is as wide as the photo row; the
    photo panels are shown at their own size.

    Returns:
        ``H x W x 3`` uint8.
    """
    rows = [labelled_row(list(photo), list(photo_labels), gap)]
    if clip_before:
        k = len(clip_before)
        width = max(1, (rows[0].shape[1] - gap * (k - 1)) // k)
        rows.append(labelled_row([_fit_width(f, width) for f in clip_before],
                                 clip_labels_before, gap))
        rows.append(labelled_row([_fit_width(f, width) for f in clip_after],
                                 clip_labels_after, gap))
    return stack_rows(rows, gap)


# ---------------------------------------------------------------------- the steps
@dataclass
class PhotoResult:
    blurred: np.ndarray
    restored: np.ndarray
    sharp: np.ndarray
    seconds: float


def restore_photo(paths: dict[str, Path], out: Path, device: str) -> PhotoResult:
    """Step 1: ``--model default`` on the whole blurred photo -> OUT/photo_restored.png."""
    from deblurkit.inference.restorer import Restorer
    from deblurkit.io import read_image, write_image

    blurred = read_image(paths[PHOTO_BLURRED]).pixels
    sharp = read_image(paths[PHOTO_SHARP]).pixels
    for path, img in ((paths[PHOTO_BLURRED], blurred), (paths[PHOTO_SHARP], sharp)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise UserError(f"{path}: expected an 8-bit RGB image")
    if blurred.shape != sharp.shape:
        raise UserError(f"{paths[PHOTO_SHARP]}: {sharp.shape[1]}x{sharp.shape[0]} does not "
                        f"match the blurred photo's {blurred.shape[1]}x{blurred.shape[0]}")
    restorer = Restorer(DEMO_MODEL, device=device)
    start = time.perf_counter()
    restored = restorer(blurred)
    seconds = time.perf_counter() - start
    write_image(out / "photo_restored.png", restored, overwrite=True)
    return PhotoResult(blurred, restored, sharp, seconds)


def restore_clip(paths: dict[str, Path], out: Path, device: str) -> dict[str, Any]:
    """Step 2: ``deblurkit video --select classifier`` on the clip; returns the report."""
    from deblurkit.inference.classifier import FrameClassifier
    from deblurkit.inference.restorer import Restorer
    from deblurkit.inference.selection import make_selector
    from deblurkit.inference.video import frame_deblur, restore_video

    classifier = FrameClassifier(DEMO_CLASSIFIER, device=device)
    deblur = frame_deblur(Restorer(DEMO_MODEL, device=device))
    selector = make_selector("classifier", classifier=classifier.probability)
    result = restore_video(paths[CLIP], out / "clip_restored.mp4", selector=selector,
                           deblur=deblur, report_path=out / "clip_report.json",
                           overwrite=True, model=DEMO_MODEL, threshold=selector.threshold,
                           extra_report={"classifier": DEMO_CLASSIFIER})
    return result.report


def photo_metrics(photo: PhotoResult) -> dict[str, Any]:
    """PSNR (dB) / SSIM of the blurred input and of the restored photo against the sharp one
    (RGB, 8-bit, default :class:`~deblurkit.metrics.MetricConfig`)."""
    from deblurkit.metrics import psnr, ssim

    return {
        "input": {"psnr": psnr(photo.blurred, photo.sharp),
                  "ssim": ssim(photo.blurred, photo.sharp)},
        "restored": {"psnr": psnr(photo.restored, photo.sharp),
                     "ssim": ssim(photo.restored, photo.sharp)},
        "seconds": photo.seconds,
        "size": [int(photo.sharp.shape[1]), int(photo.sharp.shape[0])],
    }


def video_metrics(report: dict[str, Any], labels: list[int], labels_path: Path
                  ) -> dict[str, Any]:
    """Frames, labels, selections, selector agreement and timings from the clip report."""
    frames = report["frames"]
    if len(frames) != len(labels):
        raise UserError(f"{labels_path}: {len(labels)} labels for a clip of {len(frames)} "
                        "frames")
    selected = [bool(f["deblurred"]) for f in frames]
    totals = report["totals"]
    return {
        "frames": len(frames),
        "labelled_blurred": int(sum(labels)),
        "selected": int(sum(selected)),
        "selector": selector_agreement(selected, labels),
        "threshold": report.get("threshold"),
        "seconds": totals["wall_seconds"],
        "t_c": totals["t_c"],
        "t_d": totals["t_d"],
        "speedup_vs_all": totals.get("speedup_vs_all"),
        "audio_copied": report["output"]["audio_copied"],
    }


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not np.isfinite(value):
        return "inf"
    return format(value, spec)


def metrics_markdown(metrics: dict[str, Any]) -> str:
    """The two small tables of metrics.md."""
    p, v = metrics["photo"], metrics["video"]
    sel = v["selector"]
    speedup = v["speedup_vs_all"]
    lines = [
        f"Model: `{metrics['model']}`, frame selector: `{metrics['classifier']}` "
        f"(device {metrics['device']}).",
        "",
        f"Photo ({p['size'][0]} x {p['size'][1]}), against the sharp reference:",
        "",
        "| photo | PSNR (dB) | SSIM |",
        "| --- | ---: | ---: |",
        f"| blurred input | {_fmt(p['input']['psnr'], '.2f')} | "
        f"{_fmt(p['input']['ssim'], '.4f')} |",
        f"| restored | {_fmt(p['restored']['psnr'], '.2f')} | "
        f"{_fmt(p['restored']['ssim'], '.4f')} |",
        "",
        f"Restoring the photo took {p['seconds']:.2f} s.",
        "",
        "| video | frames | labelled blurred | selected | selector accuracy | precision | "
        "recall | seconds | speed-up vs deblurring all |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| clip.mp4 | {v['frames']} | {v['labelled_blurred']} | {v['selected']} | "
        f"{_fmt(sel['accuracy'], '.1%')} | {_fmt(sel['precision'], '.1%')} | "
        f"{_fmt(sel['recall'], '.1%')} | {v['seconds']:.1f} | "
        f"{_fmt(speedup, '.2f') + 'x' if speedup is not None else 'n/a'} |",
        "",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from deblurkit.io import write_image
    from deblurkit.utils.atomic import write_text_atomic

    total_start = time.perf_counter()
    out: Path = args.out
    folder = args.assets if args.assets is not None else default_assets_dir()
    paths = check_assets(folder)
    labels = read_labels(paths[CLIP_LABELS])
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    print(f"[1/4] restoring {paths[PHOTO_BLURRED]} with --model {DEMO_MODEL}", flush=True)
    photo = restore_photo(paths, out, args.device)

    print(f"[2/4] restoring {paths[CLIP]} ({len(labels)} frames): the bundled frame "
          "selector picks the blurred frames, the model deblurs them", flush=True)
    report = restore_clip(paths, out, args.device)

    print("[3/4] scoring against the references and labels", flush=True)
    metrics = {"model": DEMO_MODEL, "classifier": DEMO_CLASSIFIER, "device": args.device,
               "assets": str(folder), "photo": photo_metrics(photo),
               "video": video_metrics(report, labels, paths[CLIP_LABELS])}
    table = metrics_markdown(metrics)
    write_text_atomic(out / "metrics.md", "# deblurkit demo\n\n" + table, overwrite=True)

    print("[4/4] drawing the before/after figure", flush=True)
    shown = strip_indices(labels)
    before = decode_frames(paths[CLIP], shown)
    after = decode_frames(out / "clip_restored.mp4", shown)
    shown = [i for i in shown if i in before and i in after]
    decided = {f["index"]: f["deblurred"] for f in report["frames"]}
    p = metrics["photo"]
    figure = before_after_figure(
        (photo.blurred, photo.restored, photo.sharp),
        (f"blurred input  {p['input']['psnr']:.2f} dB",
         f"restored ({DEMO_MODEL} model)  {p['restored']['psnr']:.2f} dB",
         "sharp reference"),
        [before[i] for i in shown], [after[i] for i in shown],
        [f"clip frame {i}: input ({'blurred' if labels[i] else 'sharp'})" for i in shown],
        [f"clip frame {i}: output ({'deblurred' if decided.get(i) else 'not selected'})"
         for i in shown])
    write_image(out / "before_after.png", figure, overwrite=True)
    metrics["seconds_total"] = time.perf_counter() - total_start
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n",
                      overwrite=True)

    print()
    print(table)
    print(f"demo outputs in {out}/ ({metrics['seconds_total']:.1f} s):")
    notes = {"photo_restored.png": "the restored photo",
             "clip_restored.mp4": "the restored clip (audio copied)",
             "clip_report.json": "per-frame selector scores, decisions and timings",
             "before_after.png": "blurred | restored | sharp, and clip frames before/after",
             "metrics.md": "the tables above",
             "metrics.json": "the same numbers, machine-readable"}
    for name in OUTPUT_FILES:
        print(f"  {out / name}  {notes[name]}")
    return 0
