"""Frame selection on the real validation clips: every mode side by side, and its cost.

Run by hand after ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/frame_selector.py

For each mode (``laplacian``, ``classifier`` = the bundled single-frame S4 classifier,
``temporal`` = the bundled temporal selector) it streams every clip of
``data/realval/videos/val`` through :func:`deblurkit.inference.selection.make_selector` (the
same path as ``deblurkit video --select MODE``) with the mode's default threshold and compares
the decisions with ``labels.csv`` (S4's labels): accuracy, recall of blurred and of sharp
frames, per clip and over all frames. Cost: the median time of one decision on a 1280x720 frame
(for the streaming selectors, the per-frame scoring) against the default deblurring model's
time on the same frame, measured in this run (fp32, all threads).

Results: ``benchmarks/results/frame_selector.json`` and the table between the
``selector-table`` markers of ``docs/video.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "video.md"
START, END = "<!-- selector-table:start -->", "<!-- selector-table:end -->"
MODES = ("laplacian", "classifier", "temporal")


def read_clip(folder: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Observed frames (float32 [0, 1]), S4's labels and the visible-blur labels (None without
    the manifest's ``blur_psnr``) of a clip folder."""
    from deblurkit.data.video import load_clip, read_blur_psnr, visible_blur_labels
    from deblurkit.io import read_image, to_float

    frames = load_clip(folder).frames
    labels = [int(f.label) for f in frames]
    blur_psnr = read_blur_psnr(folder)
    visible = None if blur_psnr is None else np.asarray(visible_blur_labels(labels, blur_psnr))
    return ([np.asarray(to_float(read_image(f.blur).pixels), np.float32) for f in frames],
            np.asarray(labels), visible)


def rates(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"accuracy": float((pred == y).mean()),
            "recall_blurred": float(pred[y == 1].mean()) if (y == 1).any() else None,
            "recall_sharp": float((~pred[y == 0]).mean()) if (y == 0).any() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "realval" / "videos" / "val"))
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import torch

    from deblurkit.inference.classifier import load_classifier
    from deblurkit.inference.resolve import load_backend
    from deblurkit.inference.selection import make_selector

    probability = load_classifier("default", device="cpu").probability

    clips = sorted(p for p in Path(args.root).iterdir() if (p / "labels.csv").is_file())
    data = [(c.name, *read_clip(c)) for c in clips]
    results: dict[str, dict] = {}
    have_visible = all(v is not None for _, _, _, v in data)
    for mode in MODES:
        per_clip, preds = {}, []
        for name, frames, y, visible in data:
            sel = make_selector(mode, classifier=probability)
            out = [d for f in frames for _, d in sel.push(f)] + [d for _, d in sel.flush()]
            pred = np.asarray([d.deblur for d in out])
            per_clip[name] = {"s4": rates(y, pred),
                              "visible": rates(visible, pred) if visible is not None else None}
            preds.append(pred)
        pred = np.concatenate(preds)
        results[mode] = {"s4": rates(np.concatenate([d[2] for d in data]), pred),
                         "visible": rates(np.concatenate([d[3] for d in data]), pred)
                         if have_visible else None,
                         "clips": per_clip}
        print(mode, "S4 labels", results[mode]["s4"], "visible blur", results[mode]["visible"],
              flush=True)

    frame = np.random.default_rng(0).random((720, 1280, 3), dtype=np.float32)
    x = torch.from_numpy(frame.transpose(2, 0, 1).copy())[None]
    backend = load_backend("default", device="cpu")
    with torch.inference_mode():
        backend(x)
        model_s = statistics.median(_timed(lambda: backend(x)) for _ in range(args.runs))
    cost = {}
    for mode in MODES:
        sel = make_selector(mode, classifier=probability)
        sel.push(frame)
        cost[mode] = statistics.median(_timed(lambda: sel.push(frame)) for _ in range(args.runs))
    save_json("frame_selector.json", {"machine": machine(), "root": args.root,
                                      "results": results, "seconds_720p": cost,
                                      "default_model_seconds_720p": model_s})
    y_all = np.concatenate([d[2] for d in data])
    views = [("s4", "S4's labels")] + ([("visible", "visible-blur labels")] if have_visible else [])
    rows = ["", f"Real validation clips (`{Path(args.root).relative_to(REPO)}`): {len(data)} clips, "
            f"{len(y_all)} frames, {int(y_all.sum())} blurred by S4's labels"
            + (f", {int(np.concatenate([d[3] for d in data]).sum())} with visible blur "
               f"(`blur_psnr` below 35 dB)." if have_visible else "."), "",
            "| mode | labels | accuracy | recall, blurred | recall, sharp | s per 720p frame | "
            "share of the default model's time |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for mode in MODES:
        for key, title in views:
            r = results[mode][key]
            rows.append(f"| `{mode}` | {title} | {100 * r['accuracy']:.1f}% | "
                        f"{100 * r['recall_blurred']:.1f}% | {100 * r['recall_sharp']:.1f}% | "
                        f"{cost[mode]:.3f} | {100 * cost[mode] / model_s:.1f}% |")
    rows += ["", f"Default deblurring model on the same 1280x720 frame: {model_s:.2f} s (fp32). "
             f"Measured on {machine()['cpu']} by `.venv/bin/python benchmarks/frame_selector.py`.",
             ""]
    replace_marked_block(DOC, START, END, "\n".join(rows))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
