"""An experiment: take the coarse part out of the model's change, keep the fine part.

Motion blur moves light around without making a region brighter or darker on average: a blur
kernel sums to one, so a picture's local means (over a window wider than the blur) are those
of its sharp original. A deblurring model that changes them is not deblurring. The harm the
models here do to pictures without blur is of that kind (docs/default-model.md: on the worst
tuning pair, the shadows between leaves darkened over patches tens of pixels wide). This guard
keeps the model's change ``r = y - x`` except its low-pass part:

    out = y - strength * G_sigma(y - x)

with ``G_sigma`` a Gaussian blur (reflect padding): :func:`deblurkit.models.guard.lowpass_guard`.
It has no learned part and costs one separable blur of the output. The setting chosen for the
bundled default is in its card (``deblurkit.pretrained.BUNDLED["default"].guard``); this
script scores the unguarded network (``--model`` names a file, or ``s1``...; ``default`` is
scored without its guard).

Run by hand after ``make realtune`` and ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/lowpass_guard.py                     # the bundled default
    .venv/bin/python benchmarks/lowpass_guard.py --model RUN/checkpoints/step_N/ema.safetensors --tag stepN

Each ``(sigma, strength)`` of :data:`GRID` is scored on ``data/realtune`` (made from the
*train* photographs and clips). The rule: among the settings that keep at least ``--keep``
(90%) of the unguarded model's mean gain on the blurred kinds, the fewest pairs worse than
their input by more than 0.1 dB, then the largest worst-pair change (to 0.01 dB), then the
highest blurred-kind gain. Only then is ``data/realval`` scored, unguarded and guarded.
Results: ``benchmarks/results/lowpass_guard_<tag>.json``.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save_json  # noqa: E402
from safeguard import (BLURRED, KINDS, blurred_gain, harmed, load_set, run_model,  # noqa: E402
                       score, to_uint8, tuning_parser)

from deblurkit.models.files import load_network  # noqa: E402
from deblurkit.models.guard import lowpass_guard as guard_output  # noqa: E402

#: (sigma in pixels, strength) settings tried.
GRID = tuple(itertools.product((1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 32.0),
                               (0.5, 0.75, 1.0)))


def guarded(pair: dict, sigma: float, strength: float) -> np.ndarray:
    x = torch.from_numpy(pair["blur"].astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    y = torch.from_numpy(pair["output"]).permute(2, 0, 1)[None]
    return to_uint8(guard_output(x, y, sigma, strength)[0].permute(1, 2, 0).numpy())


def worst(per: dict) -> float:
    return min(per[k]["worst"] for k in KINDS)


def choose(tune: list[dict], keep: float) -> tuple[dict, list[dict], bool]:
    """Score every setting on the tuning pairs and pick one by the module's rule."""
    floor = keep * blurred_gain(score(tune))
    tried = []
    for sigma, strength in GRID:
        per = score(tune, apply=lambda pair: guarded(pair, sigma, strength))
        tried.append({"sigma": sigma, "strength": strength, "harmed": harmed(per),
                      "worst": worst(per), "blurred_gain": blurred_gain(per), "kinds": per})
        print(f"sigma {sigma:g} strength {strength:g}: harmed {harmed(per)}, worst "
              f"{worst(per):+.2f} dB, blurred gain {blurred_gain(per):+.3f} dB",
              file=sys.stderr, flush=True)
    eligible = [t for t in tried if t["blurred_gain"] >= floor]
    if not eligible:
        print(f"no setting keeps {keep:.0%} of the unguarded gain; the least harmful one is "
              "reported", file=sys.stderr)
    best = min(eligible or tried,
               key=lambda t: (t["harmed"], -round(t["worst"], 2), -t["blurred_gain"]))
    return best, tried, bool(eligible)


def main() -> None:
    args = tuning_parser(__doc__.splitlines()[0]).parse_args()
    net = load_network(args.model, kind="generator", guard=False)  # its card's guard off
    tune = load_set(Path(args.tune))
    run_model(tune, net)
    plain = score(tune)
    best, tried, eligible = choose(tune, args.keep)
    print(f"tuning set: unguarded harmed {harmed(plain)}, worst {worst(plain):+.2f}, gain "
          f"{blurred_gain(plain):+.3f} dB; chosen sigma {best['sigma']:g} strength "
          f"{best['strength']:g}", file=sys.stderr)

    val = load_set(Path(args.val))
    run_model(val, net)
    report = {"unguarded": score(val),
              "guarded": score(val, apply=lambda p: guarded(p, best["sigma"], best["strength"]))}
    for name, per in report.items():
        print(name, " ".join(f"{k} {per[k]['gain']:+.2f} (worse {per[k]['worse_by_0_1']}, "
                             f"worst {per[k]['worst']:+.2f})" for k in KINDS),
              f"blurred {blurred_gain(per):+.3f}")
    save_json(f"lowpass_guard_{args.tag}.json", {
        "machine": machine(), "model": args.model, "keep": args.keep,
        "tune": {"root": args.tune, "unguarded": plain, "tried": tried,
                 "any_setting_keeps_the_gain": eligible,
                 "chosen": {"sigma": best["sigma"], "strength": best["strength"]}},
        "val": {"root": args.val, **report}, "blurred": list(BLURRED)})


if __name__ == "__main__":
    main()
