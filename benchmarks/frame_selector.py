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


def read_clip(folder: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Observed frames (float32 [0, 1]) and S4 labels of a clip folder, read by
    :func:`deblurkit.data.video.load_clip` (which checks that every frame has a label)."""
    from deblurkit.data.video import load_clip
    from deblurkit.io import read_image, to_float

    frames = load_clip(folder).frames
    return ([np.asarray(to_float(read_image(f.blur).pixels), np.float32) for f in frames],
            np.asarray([f.label for f in frames]))


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
    for mode in MODES:
        per_clip, ys, preds = {}, [], []
        for name, frames, y in data:
            sel = make_selector(mode, classifier=probability)
            out = [d for f in frames for _, d in sel.push(f)] + [d for _, d in sel.flush()]
            pred = np.asarray([d.deblur for d in out])
            per_clip[name] = rates(y, pred)
            ys.append(y)
            preds.append(pred)
        results[mode] = {"all": rates(np.concatenate(ys), np.concatenate(preds)),
                         "clips": per_clip}
        print(mode, results[mode]["all"], flush=True)

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
    rows = ["", f"Real validation clips (`{Path(args.root).relative_to(REPO)}`): {len(data)} clips, "
            f"{len(y_all)} frames, {int(y_all.sum())} blurred (S4's labels).", "",
            "| mode | accuracy | recall, blurred | recall, sharp | s per 720p frame | "
            "share of the default model's time |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for mode in MODES:
        r = results[mode]["all"]
        rows.append(f"| `{mode}` | {100 * r['accuracy']:.1f}% | {100 * r['recall_blurred']:.1f}% | "
                    f"{100 * r['recall_sharp']:.1f}% | {cost[mode]:.3f} | "
                    f"{100 * cost[mode] / model_s:.1f}% |")
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
