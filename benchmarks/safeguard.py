"""An experiment: can a gate after the model keep a picture's input wherever the model barely
acts, and so remove the model's harm without losing its gain? Fitted on the tuning set, then
measured on the real validation set, per kind, with and without the gate.

Run by hand after ``make realtune`` and ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/safeguard.py                    # the bundled default model
    .venv/bin/python benchmarks/safeguard.py --model run/ema.safetensors --tag step3000

The gate: ``e(p)`` is the root mean square of the model's change (its residual ``y - x``) over
a ``(2 radius + 1)^2`` window, ``sigma`` the input's noise level (median absolute Haar HH
coefficient / 0.6745, Donoho and Johnstone 1994, at least 1/255), and the output
``x + g (y - x)`` with ``g = clamp((e / sigma - low) / (high - low), 0, 1)``: the input is kept
where the model changed it by less than ``low`` times the noise. A real deblurring edit moves
values by many times the noise around every blurred edge; the hope is that the harmful edits
(smoothing sharp noise, oversharpening sharp edges) are small.

Each setting of :data:`GRID` is scored on ``data/realtune`` (made from the *train* photographs
and clips). The chosen one has the fewest pairs made worse by more than 0.1 dB (all kinds), then
the highest mean gain on the blurred kinds, among the settings that keep at least ``--keep``
(90%) of the unguarded model's mean gain on the blurred kinds; when none does, the script says
so and reports the least harmful setting. Only then is ``data/realval`` scored, once unguarded
and once gated. Results: ``benchmarks/results/safeguard_<tag>.json``; what it found is in
docs/default-model.md ("Do no harm").
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
KINDS = ("kernel", "shake", "average", "sharp")
BLURRED = ("kernel", "shake", "average")
#: Median absolute deviation of a unit Gaussian (MAD / 0.6745 estimates sigma).
MAD_TO_SIGMA = 0.6745


@dataclass(frozen=True)
class SafeguardSettings:
    """The gate of :func:`safeguard`.

    Attributes:
        low: residual RMS, in units of the input's noise sigma, at or below which the input is
            kept.
        high: residual RMS (same units) at or above which the model's output is kept.
        radius: half-size in pixels of the square window the residual RMS is taken over.
        min_sigma: floor of the noise estimate (values in ``[0, 1]``), so that a noise-free
            input does not make every change look large.
    """

    low: float = 1.0
    high: float = 3.0
    radius: int = 4
    min_sigma: float = 1.0 / 255.0

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ValueError(f"need 0 <= low < high, got low={self.low}, high={self.high}")
        if self.radius < 0 or self.min_sigma <= 0:
            raise ValueError("radius must be >= 0 and min_sigma > 0")


def estimate_noise(x: Tensor) -> Tensor:
    """Noise sigma of each image from its finest diagonal Haar band (robust to edges).

    Args:
        x: images in ``[0, 1]``.

    Returns:
        sigma per image, shape ``(B, 1, 1, 1)``.

    Shape:
        - x: ``(B, C, H, W)`` with ``H, W >= 2``.

    """
    if x.ndim != 4 or x.shape[-2] < 2 or x.shape[-1] < 2:
        raise ValueError(f"expected (B, C, H>=2, W>=2), got {tuple(x.shape)}")
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :h, :w].float()
    hh = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
    return (hh.flatten(1).abs().median(dim=1).values / MAD_TO_SIGMA).view(-1, 1, 1, 1)


def safeguard_gate(x: Tensor, y: Tensor, settings: SafeguardSettings
                   ) -> Tensor:
    """The per-pixel weight of the model's change (0: keep the input, 1: keep the output).

    Args:
        x: the model's input, values in ``[0, 1]``.
        y: the model's output for ``x``.
        settings: thresholds and window.

    Returns:
        ``g`` in ``[0, 1]``.

    Shape:
        - x, y: ``(B, C, H, W)``
        - output: ``(B, 1, H, W)``
    """
    if x.shape != y.shape:
        raise ValueError(f"input {tuple(x.shape)} and output {tuple(y.shape)} differ in shape")
    energy = (y.float() - x.float()).pow(2).mean(dim=1, keepdim=True)
    if settings.radius:
        size = 2 * settings.radius + 1
        energy = F.avg_pool2d(F.pad(energy, [settings.radius] * 4, mode="replicate"), size,
                              stride=1)
    sigma = estimate_noise(x).clamp_min(settings.min_sigma)
    ratio = energy.sqrt() / sigma
    return ((ratio - settings.low) / (settings.high - settings.low)).clamp(0.0, 1.0)


def safeguard(x: Tensor, y: Tensor, settings: SafeguardSettings) -> Tensor:
    """Keep ``x`` where ``y`` changed it by no more than its noise (see the module docstring).

    Args:
        x: the model's input, values in ``[0, 1]``.
        y: the model's output for ``x``.
        settings: thresholds and window.

    Returns:
        ``x + g * (y - x)`` in ``y``'s dtype.

    Shape:
        - x, y, output: ``(B, C, H, W)``

    """
    gate = safeguard_gate(x, y, settings)
    return (x.float() + gate * (y.float() - x.float())).to(y.dtype)


#: Settings tried: (low, high, radius).
GRID = tuple((low, low + width, radius)
             for low, width, radius in itertools.product((0.5, 1.0, 1.5, 2.0, 3.0, 4.0),
                                                         (1.0, 2.0, 4.0), (2, 4, 8)))


def load_set(root: Path) -> list[dict]:
    """Every pair of a realistic set: kind, name, input and target (uint8)."""
    from deblurkit.io import read_image

    manifest = json.loads((root / "manifest.json").read_text())
    pairs = []
    for item in manifest["items"]:
        if item["kind"] in KINDS:
            pairs.append({"kind": item["kind"], "name": item["name"],
                          "blur": read_image(root / item["blur"]).pixels,
                          "sharp": read_image(root / item["sharp"]).pixels})
    return pairs


def run_model(pairs: list[dict], model: str | torch.nn.Module) -> None:
    """Add each pair's model output (float in [0, 1], not rounded); ``model``: a ``--model``
    value or a network."""
    from deblurkit.inference import Restorer

    restorer = Restorer(model, tile=None)
    for i, pair in enumerate(pairs):
        pair["output"] = np.asarray(restorer(pair["blur"].astype(np.float32) / 255.0),
                                    np.float32)
        print(f"\r{i + 1}/{len(pairs)} images", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


def to_uint8(out: np.ndarray) -> np.ndarray:
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def guarded(pair: dict, settings: SafeguardSettings | None) -> np.ndarray:
    """The output after the gate (None: the unguarded output), as 8-bit."""
    if settings is None:
        return to_uint8(pair["output"])
    x = torch.from_numpy(pair["blur"].astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    y = torch.from_numpy(pair["output"]).permute(2, 0, 1)[None]
    return to_uint8(safeguard(x, y, settings)[0].permute(1, 2, 0).numpy())


def score(pairs: list[dict], settings: SafeguardSettings | None = None,
          apply: Callable[[dict], np.ndarray] | None = None) -> dict:
    """Per kind: mean gain, worst change, pairs worse by more than 0.1 dB, PSNR against the
    input (mean and min). The output of a pair is ``apply(pair)`` (8-bit) when given, else
    :func:`guarded` with ``settings``."""
    from deblurkit.metrics import psnr

    per = {}
    for kind in KINDS:
        gains, vs_input = [], []
        for pair in (p for p in pairs if p["kind"] == kind):
            out = apply(pair) if apply is not None else guarded(pair, settings)
            base = float(psnr(pair["blur"], pair["sharp"]))
            gains.append(float(psnr(out, pair["sharp"])) - base)
            vs_input.append(float(psnr(out, pair["blur"])))
        finite = [v for v in vs_input if math.isfinite(v)]
        per[kind] = {"count": len(gains), "gain": float(np.mean(gains)),
                     "worst": float(min(gains)), "worse_by_0_1": int(sum(g < -0.1 for g in gains)),
                     "psnr_vs_input_mean": float(np.mean(finite)) if finite else math.inf,
                     "psnr_vs_input_min": float(min(vs_input))}
    return per


def blurred_gain(per: dict) -> float:
    return float(np.mean([per[k]["gain"] for k in BLURRED]))


def harmed(per: dict) -> int:
    return sum(per[k]["worse_by_0_1"] for k in KINDS)


def choose_on_tuning_set(tune: list[dict], candidates: list[dict],
                         apply_of: Callable[[dict], Callable[[dict], np.ndarray]],
                         keep: float) -> tuple[dict, list[dict], bool]:
    """Score every candidate setting on the tuning pairs and pick one: the fewest pairs worse
    by more than 0.1 dB, then the highest mean gain on the blurred kinds, among the settings
    that keep at least ``keep`` of the unguarded blurred-kind gain (when none does, among
    all, and the script says so).

    Returns:
        (the chosen candidate with its scores, every candidate with its scores, whether any
        candidate kept the gain).
    """
    floor = keep * blurred_gain(score(tune, None))
    tried = []
    for candidate in candidates:
        per = score(tune, apply=apply_of(candidate))
        tried.append({**candidate, "harmed": harmed(per), "blurred_gain": blurred_gain(per),
                      "kinds": per})
        print(f"{candidate}: harmed {harmed(per)}, blurred gain {blurred_gain(per):+.3f} dB",
              file=sys.stderr, flush=True)
    eligible = [t for t in tried if t["blurred_gain"] >= floor]
    if not eligible:
        print(f"no setting keeps {keep:.0%} of the unguarded gain; the least harmful one is "
              "reported", file=sys.stderr)
    best = min(eligible or tried, key=lambda t: (t["harmed"], -t["blurred_gain"]))
    return best, tried, bool(eligible)


def tuning_parser(description: str) -> argparse.ArgumentParser:
    """The options of a fit-on-the-tuning-set experiment: model, tag, both sets, keep."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", default="default", help="the deblurring model")
    parser.add_argument("--tag", default="default", help="results file suffix")
    parser.add_argument("--tune", default=str(REPO / "data" / "realtune"))
    parser.add_argument("--val", default=str(REPO / "data" / "realval"))
    parser.add_argument("--keep", type=float, default=0.9,
                        help="share of the unguarded blurred-kind gain a setting must keep")
    return parser


def main() -> None:
    args = tuning_parser(__doc__.splitlines()[0]).parse_args()

    tune = load_set(Path(args.tune))
    run_model(tune, args.model)
    plain = score(tune, None)
    candidates = [{"low": low, "high": high, "radius": radius} for low, high, radius in GRID]
    best, tried, eligible = choose_on_tuning_set(
        tune, candidates, lambda c: lambda pair: guarded(pair, SafeguardSettings(**c)),
        args.keep)
    chosen = SafeguardSettings(low=best["low"], high=best["high"], radius=best["radius"])
    print(f"tuning set: unguarded harmed {harmed(plain)}, gain {blurred_gain(plain):+.3f} dB; "
          f"chosen {chosen}", file=sys.stderr)

    val = load_set(Path(args.val))
    run_model(val, args.model)
    report = {"unguarded": score(val, None), "guarded": score(val, chosen)}
    for name, per in report.items():
        print(name, {k: {m: round(v, 3) for m, v in per[k].items()} for k in KINDS})
    save_json(f"safeguard_{args.tag}.json", {
        "machine": machine(), "model": args.model, "keep": args.keep,
        "tune": {"root": args.tune, "unguarded": plain, "tried": tried,
                 "any_setting_keeps_the_gain": eligible,
                 "chosen": {"low": chosen.low, "high": chosen.high, "radius": chosen.radius,
                            "min_sigma": chosen.min_sigma}},
        "val": {"root": args.val, **report}})


if __name__ == "__main__":
    main()
