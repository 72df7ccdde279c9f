"""Cost of the CPU-sized variants of the five systems and of the NAFNet peer, side by side.

Run by hand on a quiet machine (never by the tests):

    .venv/bin/python benchmarks/system_variants.py

For each model: parameters, multiply-accumulates at 1280x720 (``count_macs``: flop counter on
the meta device, MACs = FLOPs / 2) and float32 latency of one 1280x720 frame (batch 1,
channels-last, inference mode, ``--threads`` intra-op threads, median of ``--runs`` calls after
one warm-up), with ``residual_init="zero"`` where the recipes use it (speed does not depend on
the weights). The reference ``s1_msed_fast`` (the default recipe's network) is timed right
before each model and the ratio ``model / reference`` is reported too: on a shared machine the
absolute times are inflated, the ratio much less. Budget (issue 11): 1.5 s per frame in
float32 on the 2-core development machine; the CPU variants were sized for 1.4 s.

Results: ``benchmarks/results/system_variants.json`` and a table on stdout. The load average
before and after is recorded: above the thread count, something else shared the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import count_macs, load_json, machine, save_json  # noqa: E402

from deblurkit.models import create_model  # noqa: E402

#: Height, width of the timed frame.
HD = (720, 1280)
#: Float32 budget per 1280x720 frame (issue 11) and the target the variants were sized for.
BUDGET_S, TARGET_S = 1.5, 1.4
REFERENCE = ("s1_msed_fast", {"residual_init": "zero"})
#: (system, registered name, constructor arguments) in table order.
MODELS: tuple[tuple[str, str, dict], ...] = (
    ("S1", "s1_msed_fast", {"residual_init": "zero"}),
    ("S2", "s2_msrn_cpu", {"residual_init": "zero"}),
    ("S3", "s3_msdn_cpu", {"residual_init": "zero"}),
    ("S4", "s4_deblurnet_cpu", {"residual_init": "zero"}),
    ("S5", "s5_fpn_cpu", {"residual_init": "zero"}),
    ("peer", "nafnet_w16", {"residual_init": "zero"}),
    ("peer", "nafnet_w32", {"residual_init": "zero"}),
    ("candidate", "nafnet_fast", {"residual_init": "zero"}),
)


def _timed_model(name: str, kwargs: dict) -> torch.nn.Module:
    return create_model(name, **kwargs).eval().to(memory_format=torch.channels_last)


def _one_call(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    model(x)
    return time.perf_counter() - start


def paired_latency(model: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor,
                   runs: int) -> dict:
    """Median seconds of ``model`` and of ``reference``, called alternately (one warm-up each),
    and the median of the per-pair ratios (each model call against the mean of the reference
    calls before and after it)."""
    with torch.inference_mode():
        _one_call(reference, x)
        _one_call(model, x)
        refs = [_one_call(reference, x)]
        times = []
        for _ in range(runs):
            times.append(_one_call(model, x))
            refs.append(_one_call(reference, x))
    ratios = [t / ((refs[i] + refs[i + 1]) / 2) for i, t in enumerate(times)]
    return {"fp32_s": statistics.median(times), "reference_fp32_s": statistics.median(refs),
            "ratio": statistics.median(ratios), "fp32_runs_s": times, "reference_runs_s": refs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed calls per model (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--models", nargs="+",
                        help="only these registered names: their rows replace theirs in the "
                             "output file, the other rows are kept")
    parser.add_argument("--output", default="system_variants.json",
                        help="file name under benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    shape = (1, 3, *HD)
    x = torch.rand(*shape).to(memory_format=torch.channels_last)
    reference = _timed_model(*REFERENCE)
    rows = []
    for system, name, kwargs in MODELS:
        if args.models and name not in args.models:
            continue
        macs = count_macs(lambda: create_model(name, **kwargs), shape)  # outside inference mode
        model = _timed_model(name, kwargs)
        params = sum(p.numel() for p in model.parameters())
        row = {"system": system, "name": name, "kwargs": kwargs, "params": params,
               "macs_1280x720": macs, **paired_latency(model, reference, x, args.runs)}
        rows.append(row)
        print(f"{system:4s} {name:18s} {params / 1e6:6.2f} M {macs / 1e9:7.1f} GMACs "
              f"{row['fp32_s']:6.2f} s fp32 (reference {row['reference_fp32_s']:.2f} s, "
              f"ratio {row['ratio']:.2f})", flush=True)
        del model
    load_after = os.getloadavg()[0]
    for row in rows:
        row["load_average"] = [load_before, load_after]
    if args.models:
        kept = (load_json(args.output) or {}).get("models", [])
        timed = {row["name"] for row in rows}
        order = [name for _, name, _ in MODELS]
        rows = sorted([r for r in kept if r["name"] not in timed] + rows,
                      key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
    data = {"machine": machine(), "resolution": f"{HD[1]}x{HD[0]}", "runs": args.runs,
            "threads": args.threads, "load_average": [load_before, load_after],
            "reference": {"name": REFERENCE[0], "kwargs": REFERENCE[1]},
            "budget_fp32_s": BUDGET_S, "target_fp32_s": TARGET_S, "models": rows}
    path = save_json(args.output, data)
    print(f"load average {load_before:.2f} -> {load_after:.2f}; wrote {path}")
    print()
    print("| system | model | params | GMACs 1280x720 | fp32 s 1280x720 | x s1_msed_fast |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['system']} | `{row['name']}` | {row['params'] / 1e6:.2f} M | "
              f"{row['macs_1280x720'] / 1e9:.1f} | {row['fp32_s']:.2f} | {row['ratio']:.2f} |")


if __name__ == "__main__":
    main()
