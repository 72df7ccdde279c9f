"""Inference speed per generator (and the frame classifier) at 1280x720: torch fp32, torch bf16 (CPU autocast) and ONNX
Runtime, with the fraction of this machine's convolution peak, measured in the same run.

Run by hand (never by the tests), on a machine as quiet as possible:

    .venv/bin/python benchmarks/inference.py                              # every generator
    .venv/bin/python benchmarks/inference.py --models s4_deblurnet s3_dn --runs 3

Per model: MACs at 1280x720 (``count_macs``, meta device), the median latency of ``--runs``
calls after one warm-up for each backend, megapixels per second, achieved GMAC/s and
``peak_fraction = achieved GMAC/s / probe GMAC/s``. The probe is a 3x3, 64->64 channel
convolution on a 256x256 image, batch 1 (a large, well-shaped convolution), timed in fp32 and
bf16 in the same process: the fp32 probe is the reference for torch fp32 and ONNX Runtime,
the bf16 probe for torch bf16. Models use their registered (paper) widths and untrained
weights (speed does not depend on the values). ``os.getloadavg()`` before and after each model
is stored: other processes sharing the CPU make the numbers slower, not faster.

Results are merged into ``benchmarks/results/inference.json`` (rows keyed by model) and the
table between the ``inference-table`` markers of ``docs/performance.md`` is regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from common import (RESULTS, count_macs, fp32_bf16_latency, machine,  # noqa: E402
                    median_latency, replace_marked_block, save_json)

from deblurkit.models import create_model, list_models  # noqa: E402

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- inference-table:start -->", "<!-- inference-table:end -->"
RESULT_FILE = "inference.json"
HD = (720, 1280)
#: The probe convolutions: (channels, spatial side) of 3x3 convolutions, batch 1.
PROBE_SHAPES = ((64, 256), (128, 256), (256, 128))
PROBE_KERNEL = 3
#: Intra-op threads of ONNX Runtime (the issue's setting).
ORT_THREADS = 2
#: Registered variants whose 720p inference is the same computation as another's (shared
#: weights, or the multi-task generator running one task): timed once, under the other name.
SAME_COMPUTE = {"s1_msed_shared": "s1_msed", "s5_multitask_resnet": "s5_deblurgan_resnet",
                "s5_multitask_fpn": "s5_fpn_inception"}


def default_models() -> list[str]:
    """Every generator and the frame classifier, less the :data:`SAME_COMPUTE` aliases."""
    names = list_models(kind="generator") + list_models(kind="classifier")
    return [n for n in names if n not in SAME_COMPUTE]


def probe(runs: int) -> dict:
    """Achievable GMAC/s of large, well-shaped convolutions in fp32 and bf16 (autocast).

    Several 3x3 convolutions (:data:`PROBE_SHAPES`: channels, side; batch 1, channels_last)
    are timed, each as the best of ``runs`` calls after two warm-ups; the machine's peak is
    the fastest of them. Best-of (not median) because a peak is what the hardware can reach.
    """
    out: dict = {"kernel": PROBE_KERNEL, "shapes": [list(s) for s in PROBE_SHAPES],
                 "fp32_gmacs": 0.0, "bf16_gmacs": 0.0, "per_shape": []}
    for channels, side in PROBE_SHAPES:
        conv = torch.nn.Conv2d(channels, channels, PROBE_KERNEL, padding=PROBE_KERNEL // 2)
        conv = conv.eval().to(memory_format=torch.channels_last)
        x = torch.rand(1, channels, side, side).to(memory_format=torch.channels_last)
        macs = channels * channels * PROBE_KERNEL ** 2 * side ** 2
        entry = {"channels": channels, "side": side, "macs": macs}
        with torch.inference_mode():
            for key, dtype in (("fp32_gmacs", None), ("bf16_gmacs", torch.bfloat16)):
                with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                    _, times = median_latency(lambda: conv(x), runs=max(runs, 5), warmup=2)
                entry[key] = macs / min(times) / 1e9
                out[key] = max(out[key], entry[key])
        out["per_shape"].append(entry)
    return out


def apply_probe(row: dict, probe_result: dict) -> None:
    """(Re)compute a row's peak fractions against ``probe_result``."""
    for key in ("torch_fp32", "torch_bf16", "onnxruntime"):
        if key in row:
            reference = probe_result["bf16_gmacs" if key == "torch_bf16" else "fp32_gmacs"]
            row[key]["peak_fraction"] = row[key]["gmacs_per_s"] / reference
    row["probe"] = probe_result


def measure(name: str, runs: int, skip_onnx: bool, probe_result: dict) -> dict:
    from deblurkit.export import export_onnx
    from deblurkit.inference.onnx_backend import OnnxBackend

    row: dict = {"name": name, "load_before": list(os.getloadavg()),
                 "threads": torch.get_num_threads()}
    macs = count_macs(lambda: create_model(name), (1, 3, *HD))
    row["macs"] = macs
    megapixels = HD[0] * HD[1] / 1e6
    timed = fp32_bf16_latency(create_model(name), (1, 3, *HD), runs)
    results = {"torch_fp32": timed["fp32"], "torch_bf16": timed["bf16"]}
    if skip_onnx:
        row["onnx_note"] = "skipped (--skip-onnx)"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = export_onnx(create_model(name), Path(tmp) / f"{name}.onnx", verify=False,
                               receptive_field=False)
            backend = OnnxBackend(path, threads=ORT_THREADS)
            xc = torch.rand(1, 3, *HD)
            results["onnxruntime"], _ = median_latency(lambda: backend(xc), runs)
    for key, seconds in results.items():
        row[key] = {"seconds": seconds, "megapixels_per_s": megapixels / seconds,
                    "gmacs_per_s": macs / seconds / 1e9}
    apply_probe(row, probe_result)
    row["load_after"] = list(os.getloadavg())
    return row


def table(rows: list[dict], probe_result: dict) -> str:
    shapes = ", ".join(f"{c}->{c} at {w}x{w}" for c, w in PROBE_SHAPES)
    lines = [f"Probe (fastest of 3x3 convolutions {shapes}, batch 1, best of the runs), latest run: "
             f"{probe_result['fp32_gmacs']:.1f} GMAC/s fp32, "
             f"{probe_result['bf16_gmacs']:.1f} GMAC/s bf16. Each row's peak is against the probe "
             "of the run that timed it (`probe` in the result file); rows timed in different runs "
             "compare only roughly.", "",
             "| model | GMAC (720p) | torch fp32 s | MP/s | peak | torch bf16 s | MP/s | peak "
             "| ORT (2 thr) s | MP/s | peak | load avg | measured |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for row in rows:
        cells = [row["name"], f"{row['macs'] / 1e9:.0f}"]
        for key in ("torch_fp32", "torch_bf16", "onnxruntime"):
            result = row.get(key)
            if result is None:
                cells += ["n/a", "", ""]
            else:
                cells += [f"{result['seconds']:.2f}", f"{result['megapixels_per_s']:.3f}",
                          f"{100 * result['peak_fraction']:.0f}%"]
        cells.append(f"{row['load_before'][0]:.1f} / {row['load_after'][0]:.1f}")
        cells.append(row.get("measured_at", "")[:10])
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {r['name']}: ONNX {r['onnx_note']}" for r in rows if r.get("onnx_note")]
    return "\n".join(lines + ([""] + notes if notes else []))


def update_doc(text: str, commands: list[dict]) -> None:
    runs = "\n".join(f"- `{c['command']}` ({c['date']})" for c in commands)
    replace_marked_block(DOC, START, END, f"\nRuns that made the rows (a later run replaces the rows it "
                                          f"times):\n\n{runs}\n\n{text}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="models to measure (default: every generator and the classifier, "
                             "less the SAME_COMPUTE aliases)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per backend (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--skip-onnx", action="store_true", help="torch only")
    parser.add_argument("--reprobe", action="store_true",
                        help="measure only the probe and recompute every stored row's peak "
                             "fraction against it (no model is timed)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.models or default_models()
    path = RESULTS / RESULT_FILE
    previous = json.loads(path.read_text()) if path.exists() else {}
    rows = {row["name"]: row for row in previous.get("models", [])}
    probe_result = probe(args.runs)
    print(f"probe: {probe_result['fp32_gmacs']:.1f} GMAC/s fp32, "
          f"{probe_result['bf16_gmacs']:.1f} GMAC/s bf16", flush=True)
    if args.reprobe:
        for row in rows.values():
            apply_probe(row, probe_result)
        save_json(RESULT_FILE, {**previous, "probe_latest": probe_result,
                                "models": [rows[n] for n in sorted(rows)]})
        names = []
    for name in names:
        start = time.perf_counter()
        row = measure(name, args.runs, args.skip_onnx, probe_result)
        row["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        rows[name] = row
        summary = ", ".join(f"{k} {row[k]['seconds']:.2f}s ({100 * row[k]['peak_fraction']:.0f}%)"
                            for k in ("torch_fp32", "torch_bf16", "onnxruntime") if k in row)
        print(f"{name}: {summary} [{time.perf_counter() - start:.0f}s, load "
              f"{row['load_before'][0]:.1f}->{row['load_after'][0]:.1f}]", flush=True)
        ordered = [rows[n] for n in sorted(rows)]
        save_json(RESULT_FILE, {"machine": machine(), "probe_latest": probe_result,
                                "resolution": f"{HD[1]}x{HD[0]}", "models": ordered})
    command = ("python benchmarks/inference.py " + " ".join(sys.argv[1:])).strip()
    commands = previous.get("commands") or ([{"command": previous["command"], "date": "earlier"}]
                                            if "command" in previous else [])
    commands = [*commands, {"command": command, "date": time.strftime("%Y-%m-%d")}]
    save_json(RESULT_FILE, {**json.loads(path.read_text()), "commands": commands})
    update_doc(table([rows[n] for n in sorted(rows)], probe_result), commands)


if __name__ == "__main__":
    main()
