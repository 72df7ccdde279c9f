"""Fit the temporal frame selector (``deblurkit video --select temporal``) on labelled clips.

    deblurkit synth --config configs/data/selector_train.yaml -o data/selector_train
    .venv/bin/python tools/fit_temporal_selector.py data/selector_train/videos/train

Reads every clip folder (``blur/*.png`` + ``labels.csv``, S4's labels), computes each frame's
:func:`deblurkit.inference.selection.clip_features`, and fits a logistic regression (L2 1e-3,
L-BFGS, float64) to the labels. Labels: by default S4's with invisible blur called sharp
(:func:`deblurkit.data.video.visible_blur_labels`: a frame whose averaged interval stays
within 35 dB of its reference, the synth manifest's ``blur_psnr``; the training clips hold
whole near-static 1000 fps windows whose "blurred" frames are 35-69 dB from their references,
and fitted to S4's labels the model learns that a soft scene is a blurred one). Features: by
default only those relative to the window (the issue's premise: blur is relative; the
frame's own sharpness depends on content and resolution). The threshold is calibrated on the
*training* clips only: out-of-fold probabilities (5 folds by clip, so a clip never scores
itself) and the threshold that maximises the lower of the two class recalls (blurred and sharp
frames count alike). The final model is refitted on every training clip. Writes the model to
``src/deblurkit/pretrained/default_temporal_selector.safetensors``, the out-of-fold ROC and
precision-recall curves to ``docs/images/temporal-selector-roc.png`` and the numbers to
``benchmarks/results/temporal_selector_fit.json``. The validation clips are never read here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
L2 = 1e-3
FOLDS = 5


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-regularised logistic regression on standardised x."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = torch.from_numpy((x - mean) / scale)
    t = torch.from_numpy(y)
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, t) + L2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mean, scale, w.detach().numpy(), float(b.detach())


def calibrate(p: np.ndarray, y: np.ndarray) -> float:
    """Threshold maximising min(recall of blurred, recall of sharp) on the given scores."""
    candidates = np.unique(np.concatenate([p, [0.5]]))
    best, best_t = -1.0, 0.5
    for t in candidates:
        pred = p >= t
        score = min(pred[y == 1].mean(), (~pred[y == 0]).mean())
        if score > best:
            best, best_t = score, float(t)
    return best_t


def curves_png(p: np.ndarray, y: np.ndarray, threshold: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-p)
    ys = y[order]
    tp, fp = np.cumsum(ys), np.cumsum(1 - ys)
    tpr, fpr = tp / max(ys.sum(), 1), fp / max((1 - ys).sum(), 1)
    precision = tp / np.maximum(tp + fp, 1)
    auc = float(np.trapezoid(np.concatenate([[0], tpr]), np.concatenate([[0], fpr])))
    at = p >= threshold
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    axes[0].plot(fpr, tpr)
    axes[0].plot([at[y == 0].mean()], [at[y == 1].mean()], "o", label=f"threshold {threshold:.3f}")
    axes[0].set(xlabel="false positive rate (sharp frames deblurred)",
                ylabel="true positive rate (blurred frames found)", title=f"ROC, AUC {auc:.3f}")
    axes[0].legend(loc="lower right")
    axes[1].plot(tpr, precision)
    axes[1].set(xlabel="recall (blurred frames)", ylabel="precision", title="precision-recall")
    fig.suptitle("temporal frame selector, out-of-fold on the training clips")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", help="folder of labelled clip folders (training split)")
    parser.add_argument("--features", choices=("relative", "all"), default="relative",
                        help="relative (default): only the features relative to the window, "
                        "the frame's own sharpness gets weight 0 (content- and "
                        "resolution-independent); all: the absolute ones too")
    parser.add_argument("--labels", choices=("visible", "s4"), default="visible",
                        help="visible (default): S4's labels with invisible blur called sharp "
                        "(the manifest's blur_psnr at or above 35 dB); s4: S4's labels as they are")
    parser.add_argument("--out", default=str(REPO / "src" / "deblurkit" / "pretrained" /
                                             "default_temporal_selector.safetensors"))
    args = parser.parse_args()

    from deblurkit.data.video import clip_rgb, load_clip
    from deblurkit.inference.selection import TemporalModel, clip_features
    from deblurkit.utils.progress import progress

    folders = sorted(p for p in Path(args.clips).iterdir() if (p / "labels.csv").is_file())
    if not folders:
        sys.exit(f"{args.clips}: no labelled clip folders")
    feats, labels, groups = [], [], []
    for g, folder in enumerate(progress(folders, total=len(folders), desc="clips", unit="clip")):
        clip = load_clip(folder, labels=args.labels)
        y = np.asarray([f.label for f in clip.frames], dtype=np.float64)
        feats.append(clip_features(clip_rgb(clip)))
        labels.append(y)
        groups.append(np.full(len(y), g))
    x, y, g = np.concatenate(feats), np.concatenate(labels), np.concatenate(groups)
    used = np.arange(x.shape[1])
    if args.features == "relative":
        used = used[: 2 * x.shape[1] // 3]  # [relative to quantile, relative to median, own]
    full = x
    x = x[:, used]

    def widen(mean, scale, w):
        """Back to every feature: unused ones get weight 0 (mean 0, scale 1)."""
        m, sc, wt = np.zeros(full.shape[1]), np.ones(full.shape[1]), np.zeros(full.shape[1])
        m[used], sc[used], wt[used] = mean, scale, w
        return m, sc, wt

    oof = np.zeros(len(y))
    fold_of_clip = np.random.default_rng(0).permutation(len(folders)) % FOLDS
    for k in range(FOLDS):
        test = fold_of_clip[g] == k
        mean, scale, w, b = fit_logistic(x[~test], y[~test])
        mean, scale, w = widen(mean, scale, w)
        oof[test] = TemporalModel(tuple(mean), tuple(scale), tuple(w), b).probability(full[test])
    threshold = calibrate(oof, y)
    mean, scale, w, b = fit_logistic(x, y)
    mean, scale, w = widen(mean, scale, w)
    model = TemporalModel(tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, w)),
                          b, threshold=threshold)
    model.save(args.out)
    pred = oof >= threshold
    summary = {"clips": len(folders), "frames": int(len(y)), "blurred": int(y.sum()),
               "features": ("relative only" if args.features == "relative"
                            else "relative and absolute"),
               "labels": ("visible blur (S4's, blur_psnr >= 35 dB called sharp)"
                          if args.labels == "visible" else "S4's"),
               "threshold": threshold, "l2": L2, "folds": FOLDS,
               "out_of_fold": {"accuracy": float((pred == y).mean()),
                               "recall_blurred": float(pred[y == 1].mean()),
                               "recall_sharp": float((~pred[y == 0]).mean())},
               "weights": list(map(float, w)), "bias": b}
    curves_png(oof, y, threshold, REPO / "docs" / "images" / "temporal-selector-roc.png")
    (REPO / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "benchmarks" / "results" / "temporal_selector_fit.json").write_text(
        json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["out_of_fold"]), "threshold", round(threshold, 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())
