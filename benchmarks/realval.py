"""The real validation set per kind: what it holds, how blurred its inputs are, and (with
``--model``) how much a model changes them.

Run by hand after ``make realval`` (never by the tests):

    .venv/bin/python benchmarks/realval.py                        # the set itself
    .venv/bin/python benchmarks/realval.py --model default        # + a model, per kind
    .venv/bin/python benchmarks/realval.py --model default --tta 8  # + quality mode
    .venv/bin/python benchmarks/realval.py --model default --dtype bf16  # + bf16 autocast
    .venv/bin/python benchmarks/realval.py --model default --doc docs/default-model.md \\
        --marker realval-default                                  # + the model card's table
    .venv/bin/python benchmarks/realval.py --wiener               # + Wiener, true kernel

For every kind of image pair (``kernel``, ``shake``, ``average``, ``sharp``): the count, the
PSNR / SSIM of the input against the target (RGB, 8-bit, scikit-image SSIM with a 7x7 uniform
window: docs/metrics.md), and with ``--model`` the restored output's PSNR / SSIM, the mean gain,
the worst image's change, how many images got worse by more than 0.1 dB, and how close the
output stays to its input (PSNR of output against input: on the ``sharp`` pairs the issue asks
for at least 40 dB, i.e. a sharp picture is left alone), and the mean brightness of the target
and of the output against the input in 8-bit levels (``target_shift``, ``output_shift``: blur
made in linear light brightens the encoded picture, so a model may learn to darken). For the clips:
count, frames, blurred share. Identical pairs (a sharp input with no noise and no
compression) have infinite PSNR; they are counted apart and left out of the PSNR means.

With ``--wiener``, the ``kernel`` pairs are also restored by non-blind Wiener deconvolution
given each pair's true kernel (stored beside it by ``make realval``) and its true camera
response: the input is taken back to linear light, deconvolved there
(:func:`deblurkit.metrics.baselines.wiener_deconvolve`) and encoded again, an oracle no blind
model has. Its one setting, the balance, is tuned on pairs made the same way from the *train*
photographs (``--wiener-tune`` of them), never on the validation pairs; results in
``realval_wiener.json``.

Results: ``benchmarks/results/realval.json`` (``realval_<model>.json`` with a model, or
``realval_<tag>.json`` with ``--tag``) and, for the set itself, the table between the
``realval-table`` markers of ``docs/synthesis.md``; with a model and ``--doc``, a per-kind table
between the ``--marker`` markers of that document.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "synthesis.md"
START, END = "<!-- realval-table:start -->", "<!-- realval-table:end -->"
KINDS = ("kernel", "shake", "average", "sharp")


#: 8-bit levels per unit of an image's own scale (8-bit files: 1; 16-bit: 255 / 65535).
_LEVELS = {1: 1.0, 2: 255.0 / 65535.0}


def _shift(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean brightness of ``image`` minus that of ``reference``, in 8-bit levels."""
    difference = np.mean(image, dtype=np.float64) - np.mean(reference, dtype=np.float64)
    return float(difference) * _LEVELS[reference.dtype.itemsize]


def _scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from deblurkit.metrics import psnr, ssim

    return float(psnr(a, b)), float(ssim(a, b))


def _finite_mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


#: Wiener balances tried when tuning (log-spaced).
WIENER_GRID = tuple(float(b) for b in np.geomspace(1e-4, 10.0, 16))
#: Where the deconvolution happens: on linear light (the blur's own domain) or on the encoded
#: values; the tuning pairs choose, with the balance.
WIENER_DOMAINS = ("linear", "encoded")
#: Train photographs and the spec of the real validation set (its degradation settings).
TRAIN_PHOTOS = REPO.parent / "shared" / "data" / "photos" / "train"
REALVAL_SPEC = REPO / "configs" / "data" / "realval.yaml"


def _response(params: dict):
    from deblurkit.synth.response import GammaResponse, SRGBResponse

    return SRGBResponse() if params.get("response") == "srgb" else GammaResponse(params["gamma"])


def wiener_true_kernel(blur: np.ndarray, kernel: np.ndarray, params: dict,
                       balance: float, domain: str = "linear") -> np.ndarray:
    """uint8 restoration of a kernel pair's input by Wiener deconvolution with its kernel,
    in linear light (decoded with the pair's true response, encoded again) or as encoded."""
    from deblurkit.io import from_float
    from deblurkit.metrics.baselines import wiener_deconvolve

    unit = blur.astype(np.float32) / 255.0
    if domain == "encoded":
        return from_float(wiener_deconvolve(unit, kernel, balance), 8)
    response = _response(params)
    linear = response.to_linear(unit)
    return from_float(response.from_linear(wiener_deconvolve(linear, kernel, balance)), 8)


def _wiener(args: argparse.Namespace) -> None:
    import dataclasses

    from deblurkit.io import from_float, read_image
    from deblurkit.metrics import psnr, ssim
    from deblurkit.synth.corpus import open_sources
    from deblurkit.synth.degrade import make_sample
    from deblurkit.synth.realistic import load_realistic_config

    spec = load_realistic_config(REALVAL_SPEC)
    degradation = dataclasses.replace(spec.degradation, kind_weights={"kernel": 1.0},
                                      sharp_fraction=0.0)
    sources = open_sources([str(TRAIN_PHOTOS)])
    tune = [make_sample(sources, degradation, spec.size, np.random.default_rng([7, i]))
            for i in range(args.wiener_tune)]
    tune = [(from_float(s.blur, 8), from_float(s.sharp, 8), s.kernel, s.params) for s in tune]
    means = {domain: [float(np.mean([psnr(wiener_true_kernel(b, k, p, bal, domain), t)
                                      for b, t, k, p in tune])) for bal in WIENER_GRID]
             for domain in WIENER_DOMAINS}
    domain, index = max(((d, i) for d in WIENER_DOMAINS for i in range(len(WIENER_GRID))),
                        key=lambda di: means[di[0]][di[1]])
    balance = WIENER_GRID[index]
    print(f"{domain}, balance {balance:.3g} (mean PSNR {means[domain][index]:.2f} dB on "
          f"{len(tune)} train pairs)", flush=True)
    root = Path(args.root)
    manifest = json.loads((root / "manifest.json").read_text())
    rows = []
    for item in (i for i in manifest["items"] if i["kind"] == "kernel"):
        if "kernel" not in item:
            raise SystemExit(f"{root}: no stored kernels; rebuild it with make realval")
        blur = read_image(root / item["blur"]).pixels
        sharp = read_image(root / item["sharp"]).pixels
        out = wiener_true_kernel(blur, np.load(root / item["kernel"]), item["params"], balance,
                                 domain)
        rows.append({"name": item["name"], "input_psnr": float(psnr(blur, sharp)),
                     "psnr": float(psnr(out, sharp)), "ssim": float(ssim(out, sharp)),
                     "input_ssim": float(ssim(blur, sharp))})
    gains = [r["psnr"] - r["input_psnr"] for r in rows]
    summary = {"count": len(rows), "domain": domain, "balance": balance,
               "tune_pairs": len(tune),
               "tune_grid": list(WIENER_GRID), "tune_mean_psnr": means,
               "input_psnr": float(np.mean([r["input_psnr"] for r in rows])),
               "psnr": float(np.mean([r["psnr"] for r in rows])),
               "input_ssim": float(np.mean([r["input_ssim"] for r in rows])),
               "ssim": float(np.mean([r["ssim"] for r in rows])),
               "gain": float(np.mean(gains)), "worst": float(min(gains)),
               "worse_by_0_1": int(sum(g < -0.1 for g in gains))}
    print("kernel", json.dumps(summary), flush=True)
    save_json("realval_wiener.json", {"machine": machine(), "root": str(root),
                                      "kernel": {"summary": summary, "images": rows}})


def _results_name(args: argparse.Namespace) -> str:
    """``realval.json``, ``realval_<model>[_tta<N>][_bf16].json`` or ``realval_<tag>.json``."""
    if args.tag:
        return f"realval_{args.tag}.json"
    if args.model is None:
        return "realval.json"
    suffix = (f"_tta{args.tta}" if args.tta > 1 else "") + (
        f"_{args.dtype}" if args.dtype != "fp32" else "")
    return f"realval_{Path(args.model).stem}{suffix}.json"


def _write_model_table(doc: Path, args: argparse.Namespace, per_kind: dict,
                       machine_info: dict) -> None:
    """The model's per-kind table, between ``args.marker`` markers of ``doc``."""
    command = f"`.venv/bin/python benchmarks/realval.py --model {args.model}"
    command += f" --tta {args.tta}" if args.tta > 1 else ""
    command += f" --dtype {args.dtype}" if args.dtype != "fp32" else ""
    command += f" --tag {args.tag}`" if args.tag else "`"
    rows = ["", f"Made by {command} on `data/realval` (`make realval`). PSNR / SSIM against "
            "the target (RGB, 8-bit); gain: mean of per-image PSNR changes; *vs input*: PSNR "
            "of the output against its own input (mean / lowest), how much the model changed "
            "the picture.", "",
            "| kind | pairs | input | output | gain | worst image | worse by > 0.1 dB | "
            "vs input: mean / lowest |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for kind in KINDS:
        s = per_kind[kind]["summary"]
        rows.append(f"| `{kind}` | {s['count']} | {s['input_psnr']:.2f} / {s['input_ssim']:.3f} "
                    f"| {s['psnr']:.2f} / {s['ssim']:.3f} | {s['gain']:+.2f} dB | "
                    f"{s['worst']:+.2f} dB | {s['worse_by_0_1']} | "
                    f"{s['psnr_vs_input_mean']:.1f} / {s['psnr_vs_input_min']:.1f} dB |")
    rows += ["", f"Measured on {machine_info.get('cpu', 'a CPU')}; latency is measured apart "
             "(docs/performance.md).", ""]
    replace_marked_block(doc, f"<!-- {args.marker}:start -->", f"<!-- {args.marker}:end -->",
                         "\n".join(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "realval"))
    parser.add_argument("--model", default=None, help="a --model value (default, a file ...)")
    parser.add_argument("--tta", type=int, default=1, choices=(1, 2, 4, 8),
                        help="test-time augmentation views (the restore command's --tta)")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"),
                        help="compute precision (the restore command's --dtype)")
    parser.add_argument("--tag", default=None, help="results file realval_<tag>.json")
    parser.add_argument("--doc", default=None, help="with --model: write the per-kind table "
                        "into this document, between the --marker markers")
    parser.add_argument("--marker", default="realval-model",
                        help="marker name: <!-- NAME:start --> ... <!-- NAME:end -->")
    parser.add_argument("--wiener", action="store_true",
                        help="score Wiener deconvolution with the true kernel on the kernel pairs")
    parser.add_argument("--wiener-tune", type=int, default=24,
                        help="train-photo kernel pairs to tune the Wiener balance on")
    parser.add_argument("--report-only", action="store_true",
                        help="with --doc: write the table from the saved results file")
    args = parser.parse_args()
    if args.doc and not args.model:
        parser.error("--doc needs --model")
    if args.report_only and not args.doc:
        parser.error("--report-only needs --doc")

    from deblurkit.io import read_image
    from deblurkit.metrics import psnr

    if args.wiener:
        _wiener(args)
        return
    if args.report_only:
        saved = json.loads((REPO / "benchmarks" / "results" / _results_name(args)).read_text())
        per = {k: v for k, v in saved["kinds"].items()}
        _write_model_table(Path(args.doc), args, per, saved["machine"])
        return
    root = Path(args.root)
    manifest = json.loads((root / "manifest.json").read_text())
    restorer = None
    if args.model:
        from deblurkit.inference import Restorer

        restorer = Restorer(args.model, tta=args.tta, dtype=args.dtype)
    split = manifest["config"]["split"]
    per_kind = {}
    for kind in KINDS:
        rows = []
        for item in (i for i in manifest["items"] if i["kind"] == kind):
            blur = read_image(root / item["blur"]).pixels
            sharp = read_image(root / item["sharp"]).pixels
            row = {"name": item["name"]}
            row["input_psnr"], row["input_ssim"] = _scores(blur, sharp)
            # mean brightness of the target against the input, in 8-bit levels: blur made in
            # linear light brightens the encoded picture (the encoding curve is concave)
            row["target_shift"] = _shift(sharp, blur)
            if restorer is not None:
                start = time.perf_counter()
                out = restorer(blur)
                row["seconds"] = time.perf_counter() - start
                row["psnr"], row["ssim"] = _scores(out, sharp)
                row["psnr_vs_input"] = float(psnr(out, blur))
                row["output_shift"] = _shift(out, blur)
            rows.append(row)
        finite = [r for r in rows if math.isfinite(r["input_psnr"])]
        summary = {"count": len(rows), "identical_pairs": len(rows) - len(finite),
                   "input_psnr": float(np.mean([r["input_psnr"] for r in finite])) if finite else None,
                   "input_ssim": float(np.mean([r["input_ssim"] for r in rows])) if rows else None,
                   "target_shift": (float(np.mean([r["target_shift"] for r in rows]))
                                    if rows else None)}
        if restorer is not None and rows:
            gains = [r["psnr"] - r["input_psnr"] for r in finite]
            summary.update(psnr=float(np.mean([r["psnr"] for r in finite])) if finite else None,
                           ssim=float(np.mean([r["ssim"] for r in rows])),
                           gain=float(np.mean(gains)) if gains else None,
                           worst=float(min(gains)) if gains else None,
                           worse_by_0_1=int(sum(g < -0.1 for g in gains)),
                           seconds_per_image=float(np.mean([r["seconds"] for r in rows])),
                           psnr_vs_input_mean=_finite_mean([r["psnr_vs_input"] for r in rows]),
                           psnr_vs_input_min=float(min(r["psnr_vs_input"] for r in rows)),
                           output_shift=float(np.mean([r["output_shift"] for r in rows])),
                           min_psnr_on_identical=min((r["psnr"] for r in rows
                                                      if not math.isfinite(r["input_psnr"])),
                                                     default=None))
        per_kind[kind] = {"summary": summary, "images": rows}
        print(kind, json.dumps(summary), flush=True)
    clips = [i for i in manifest["items"] if i["kind"].startswith("clip_")]
    clip_summary = {"count": len(clips), "frames": sum(c["frames"] for c in clips),
                    "blurred": sum(c["blurred"] for c in clips),
                    "from_sequences": sum(c["kind"] == "clip_sequence" for c in clips),
                    "from_photos": sum(c["kind"] == "clip_photo" for c in clips)}
    data = {"machine": machine(), "root": str(root), "split": split, "model": args.model,
            "tta": args.tta, "dtype": args.dtype,
            "kinds": per_kind, "clips": clip_summary}
    save_json(_results_name(args), data)
    if args.doc:
        _write_model_table(Path(args.doc), args, per_kind, data["machine"])
    if args.model is None:
        size = manifest["config"]["size"]
        rows = ["", f"| kind (`data/realval/{split}/<kind>/`) | pairs | content | input PSNR | "
                "input SSIM |", "| --- | ---: | --- | ---: | ---: |"]
        content = {"kernel": "val photos, uniform camera shake (kernel)",
                   "shake": "val photos, non-uniform camera shake (homographies)",
                   "average": "val 1000 fps clips, 8-33 ms of real motion averaged",
                   "sharp": "val photos and clip frames, not blurred (noise, compression)"}
        for kind in KINDS:
            s = per_kind[kind]["summary"]
            note = f" ({s['identical_pairs']} identical left out)" if s["identical_pairs"] else ""
            psnr_text = f"{s['input_psnr']:.2f} dB{note}" if s["input_psnr"] else "-"
            rows.append(f"| `{kind}` | {s['count']} | {content[kind]} | {psnr_text} | "
                        f"{s['input_ssim']:.3f} |")
        c = clip_summary
        rows += ["", f"Plus {c['count']} partially blurred clips in `data/realval/videos/{split}/` "
                 f"({c['from_sequences']} from the 1000 fps clips, played forwards and backwards, "
                 f"intervals of 15-33 ms; {c['from_photos']} from camera pans over val photos, "
                 f"intervals of 7-12 frames): {c['frames']} frames, {c['blurred']} blurred "
                 f"({100 * c['blurred'] / max(c['frames'], 1):.0f}%), labels in `labels.csv` "
                 "(S4's protocol: a frame is blurred when its interval was averaged).",
                 f"All crops are {size}x{size}. Numbers from "
                 "`.venv/bin/python benchmarks/realval.py` (PSNR/SSIM of the input against the "
                 "target, RGB, 8-bit).", ""]
        replace_marked_block(DOC, START, END, "\n".join(rows))


if __name__ == "__main__":
    main()
