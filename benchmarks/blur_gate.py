"""An experiment: keep a picture as it is unless the frame classifier says it is blurred.

The deblurring model's harm on the real validation set falls on nearly clean pictures (the
``sharp`` pairs and blurred pairs whose input is already clean). The pixel-level gate of
``benchmarks/safeguard.py`` cannot tell a useful change from a harmful one. This gate decides
per picture, from S4's frame classifier: ``p`` = P(blurred) of the input, and the output is
``x + g (y - x)`` with ``g = clamp((p - low) / (high - low), 0, 1)``, so a picture the
classifier calls sharp is returned as it came.

Run by hand after ``make realtune`` and ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/blur_gate.py --classifier default --tag selector_default
    .venv/bin/python benchmarks/blur_gate.py --classifier RUN/checkpoints/step_N/model.safetensors

Each ``(low, high)`` of :data:`GRID` is scored on ``data/realtune`` (made from the *train*
photographs and clips), and the choice rule is ``benchmarks/safeguard.py``'s: fewest pairs
worse by more than 0.1 dB, then the highest mean gain on the blurred kinds, among the settings
that keep at least ``--keep`` (90%) of the ungated gain. Only then is ``data/realval`` scored,
ungated and gated. Results: ``benchmarks/results/blur_gate_<tag>.json`` and the picture
``docs/images/blur-gate-<tag>.png`` (P(blurred) per kind on both sets, with the gate).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import auc, machine, save_json  # noqa: E402
from safeguard import (BLURRED, KINDS, blurred_gain, choose_on_tuning_set, harmed,  # noqa: E402
                       load_set, run_model, score, to_uint8, tuning_parser)

REPO = Path(__file__).resolve().parent.parent
#: (low, high) settings tried; high - low = 0.01 is a hard threshold at ``low``.
GRID = tuple((low, round(low + width, 4)) for low in (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
                                                    0.7, 0.8, 0.9)
             for width in (0.01, 0.1, 0.2, 0.4) if low + width <= 1.0)


def gate_weight(p: float, low: float, high: float) -> float:
    """The weight of the model's change for a picture with P(blurred) ``p``."""
    return float(np.clip((p - low) / (high - low), 0.0, 1.0))


def gated(pair: dict, low: float, high: float) -> np.ndarray:
    """``x + g (y - x)`` as 8-bit."""
    g = gate_weight(pair["p"], low, high)
    x = pair["blur"].astype(np.float32) / 255.0
    return to_uint8(x + g * (pair["output"] - x))


def add_probability(pairs: list[dict], classifier) -> None:
    for pair in pairs:
        pair["p"] = classifier.probability(pair["blur"])


def separation(pairs: list[dict]) -> dict:
    p = np.asarray([q["p"] for q in pairs])
    y = np.asarray([q["kind"] != "sharp" for q in pairs], dtype=int)
    return {"auc_blurred_vs_sharp": auc(p, y),
            "p_by_kind": {k: {"mean": float(np.mean([q["p"] for q in pairs if q["kind"] == k])),
                              "min": float(min(q["p"] for q in pairs if q["kind"] == k)),
                              "max": float(max(q["p"] for q in pairs if q["kind"] == k))}
                          for k in KINDS}}


def picture(sets: dict[str, list[dict]], low: float, high: float, out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 3.6), sharey=True)
    for ax, (name, pairs) in zip(np.atleast_1d(axes), sets.items()):
        ax.axvspan(0, low, color="0.85", label="input kept", zorder=0)
        if high > low:
            ax.axvspan(low, min(high, 1.0), color="0.93", label="blend", zorder=0)
        for i, kind in enumerate(KINDS):
            p = [q["p"] for q in pairs if q["kind"] == kind]
            ax.scatter(p, np.full(len(p), i) + np.linspace(-0.25, 0.25, len(p)), s=9,
                       label=kind, zorder=2)
        ax.set(xlim=(0, 1), xlabel="P(blurred) of the input", title=name,
               yticks=range(len(KINDS)), yticklabels=KINDS)
    np.atleast_1d(axes)[0].legend(loc="lower right", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="default", help="the frame classifier")
    args = parser.parse_args()

    from deblurkit.inference.classifier import load_classifier

    classifier = load_classifier(args.classifier, device="cpu")
    tune = load_set(Path(args.tune))
    run_model(tune, args.model)
    add_probability(tune, classifier)
    plain = score(tune)
    best, tried, eligible = choose_on_tuning_set(
        tune, [{"low": low, "high": high} for low, high in GRID],
        lambda c: lambda pair: gated(pair, c["low"], c["high"]), args.keep)
    low, high = best["low"], best["high"]
    print(f"tuning set: ungated harmed {harmed(plain)}, gain {blurred_gain(plain):+.3f} dB; "
          f"chosen low {low} high {high}: harmed {best['harmed']}, "
          f"gain {best['blurred_gain']:+.3f} dB", file=sys.stderr)

    val = load_set(Path(args.val))
    run_model(val, args.model)
    add_probability(val, classifier)
    report = {"ungated": score(val), "gated": score(val, apply=lambda pair: gated(pair, low, high))}
    for name, per in report.items():
        print(name, {k: {m: round(v, 3) for m, v in per[k].items()} for k in KINDS})
    apart = {"tune": separation(tune), "val": separation(val)}
    print("separation, tune", apart["tune"]["auc_blurred_vs_sharp"],
          "val", apart["val"]["auc_blurred_vs_sharp"])
    picture({"data/realtune (gate fitted here)": tune, "data/realval (measured)": val}, low, high,
            REPO / "docs" / "images" / f"blur-gate-{args.tag}.png",
            f"classifier {args.tag}: P(blurred) per picture and the gate "
            f"(low {low}, high {high})")
    save_json(f"blur_gate_{args.tag}.json", {
        "machine": machine(), "model": args.model, "classifier": args.classifier,
        "keep": args.keep, "blurred_kinds": list(BLURRED),
        "tune": {"root": args.tune, "ungated": plain, "tried": tried,
                 "any_setting_keeps_the_gain": eligible,
                 "chosen": {"low": low, "high": high}, "separation": apart["tune"]},
        "val": {"root": args.val, **report, "separation": apart["val"]}})


if __name__ == "__main__":
    main()
