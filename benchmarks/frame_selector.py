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
from common import auc, machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "video.md"
START, END = "<!-- selector-table:start -->", "<!-- selector-table:end -->"
MODES = ("laplacian", "classifier", "temporal")


def read_clip(folder: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Observed frames, S4's labels and the visible-blur labels of a clip folder."""
    from deblurkit.data.video import clip_rgb, load_clip

    s4, visible = (load_clip(folder, labels=kind) for kind in ("s4", "visible"))
    return (clip_rgb(s4), np.asarray([f.label for f in s4.frames]),
            np.asarray([f.label for f in visible.frames]))


def rates(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"accuracy": float((pred == y).mean()),
            "recall_blurred": float(pred[y == 1].mean()) if (y == 1).any() else None,
            "recall_sharp": float((~pred[y == 0]).mean()) if (y == 0).any() else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "realval" / "videos" / "val"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--classifier", action="append", default=[], metavar="NAME=FILE",
                        help="also score this frame classifier (mode classifier, threshold "
                        "0.5) as the row 'classifier (NAME)'; repeatable")
    args = parser.parse_args()

    import torch

    from deblurkit.inference.classifier import load_classifier
    from deblurkit.inference.resolve import load_backend
    from deblurkit.inference.selection import make_selector

    probability = load_classifier("default", device="cpu").probability
    rows = {mode: (mode, probability) for mode in MODES}
    for item in args.classifier:
        name, _, file = item.partition("=")
        rows[f"classifier ({name})"] = ("classifier",
                                        load_classifier(file, device="cpu").probability)

    clips = sorted(p for p in Path(args.root).iterdir() if (p / "labels.csv").is_file())
    data = [(c.name, *read_clip(c)) for c in clips]
    results: dict[str, dict] = {}
    for row, (mode, classify) in rows.items():
        per_clip, preds, scores = {}, [], []
        for name, frames, y, visible in data:
            sel = make_selector(mode, classifier=classify)
            out = [d for f in frames for _, d in sel.push(f)] + [d for _, d in sel.flush()]
            pred = np.asarray([d.deblur for d in out])
            per_clip[name] = {"s4": rates(y, pred),
                              "visible": rates(visible, pred)}
            preds.append(pred)
            scores.append(np.asarray([d.score for d in out], dtype=float))
        pred, score = np.concatenate(preds), np.concatenate(scores)
        results[row] = {key: {**rates(np.concatenate([d[i] for d in data]), pred),
                              "auc": auc(score, np.concatenate([d[i] for d in data]))}
                        for key, i in (("s4", 2), ("visible", 3))}
        results[row]["clips"] = per_clip
        print(row, "S4 labels", results[row]["s4"], "visible blur", results[row]["visible"],
              flush=True)

    frame = np.random.default_rng(0).random((720, 1280, 3), dtype=np.float32)
    x = torch.from_numpy(frame.transpose(2, 0, 1).copy())[None]
    backend = load_backend("default", device="cpu")
    with torch.inference_mode():
        backend(x)
        model_s = statistics.median(_timed(lambda: backend(x)) for _ in range(args.runs))
    cost = {}
    for row, (mode, classify) in rows.items():
        sel = make_selector(mode, classifier=classify)
        sel.push(frame)
        cost[row] = statistics.median(_timed(lambda: sel.push(frame)) for _ in range(args.runs))
    save_json("frame_selector.json", {"machine": machine(), "root": args.root,
                                      "results": results, "seconds_720p": cost,
                                      "default_model_seconds_720p": model_s})
    y_all = np.concatenate([d[2] for d in data])
    views = [("s4", "S4's labels"), ("visible", "visible-blur labels")]
    lines = ["", f"Real validation clips (`{Path(args.root).relative_to(REPO)}`): {len(data)} "
             f"clips, {len(y_all)} frames, {int(y_all.sum())} blurred by S4's labels, "
             f"{int(np.concatenate([d[3] for d in data]).sum())} with visible blur "
             "(`blur_psnr` below 35 dB, where the manifest records it).", "",
             "| mode | labels | accuracy | recall, blurred | recall, sharp | ROC AUC | "
             "s per 720p frame | share of the default model's time |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        for key, title in views:
            r = results[row][key]
            roc = "-" if r["auc"] is None else f"{r['auc']:.3f}"
            lines.append(f"| `{row}` | {title} | {100 * r['accuracy']:.1f}% | "
                         f"{100 * r['recall_blurred']:.1f}% | {100 * r['recall_sharp']:.1f}% | "
                         f"{roc} | {cost[row]:.3f} | {100 * cost[row] / model_s:.1f}% |")
    home = str(Path.home())
    command = " ".join(["benchmarks/frame_selector.py"]
                       + [f"--classifier {c}".replace(home, "$HOME") for c in args.classifier])
    lines += ["", f"Default deblurring model on the same 1280x720 frame: {model_s:.2f} s (fp32). "
              f"Measured on {machine()['cpu']} by `.venv/bin/python {command}`.", ""]
    replace_marked_block(DOC, START, END, "\n".join(lines))


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
