"""Latency of the bundled default model beside the previous default, in one run.

Run by hand on a quiet machine (never by the tests):

    .venv/bin/python benchmarks/default_latency.py

One 1280x720 frame, batch 1, channels-last, inference mode, 2 intra-op threads (the
``--threads`` default), median of ``--runs`` calls after one warm-up, in float32 and in CPU
bf16 autocast (emulated, hence slow, on a CPU without AVX512-BF16 / AMX units: the machine
line says which). Models:

- ``previous default``: the architecture bundled as ``default`` until 2026-12-01,
  ``s1_msed_1scale(base_width=16, num_resblocks=1, global_residual=True)`` (built here with
  untrained weights: speed does not depend on weight values);
- ``default``: the bundled file, as ``deblurkit restore`` runs it (``Restorer``: padding to the
  model's multiple, conversion to and from 8-bit), plain and with ``--tta 8``, with the low-pass
  guard its card attaches (``deblurkit.models.guard``); its network without the guard; and the
  guard alone (over three times the runs: a few milliseconds, below the noise of the network's
  timings).

Results: ``benchmarks/results/default_latency.json`` and the table between the
``default-latency`` markers of ``docs/performance.md``. The load average before and after is
recorded: above the thread count, something else shared the cores.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import fp32_bf16_latency, machine, median_latency, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "performance.md"
START, END = "<!-- default-latency:start -->", "<!-- default-latency:end -->"
#: Height, width of the timed frame.
HD = (720, 1280)
#: The previous default's architecture (docs/default-model.md, "The previous default").
PREVIOUS = ("s1_msed_1scale", {"base_width": 16, "num_resblocks": 1, "global_residual": True})


def _restorer_latency(tta: int, runs: int) -> float:
    from deblurkit.inference import Restorer

    image = np.random.default_rng(0).integers(0, 256, (*HD, 3), dtype=np.uint8)
    restorer = Restorer("default", device="cpu", tta=tta)
    seconds, _ = median_latency(lambda: restorer(image), runs=runs)
    return seconds


def _guard_latency(guard: torch.nn.Module, shape: tuple[int, ...], runs: int) -> dict[str, float]:
    """The guard alone on an input and an output of ``shape`` (the guard's cost is small
    beside the network's, so it is timed apart, over more runs, rather than read as the
    difference of two noisy network timings)."""
    x = torch.rand(*shape).to(memory_format=torch.channels_last)
    y = torch.rand(*shape).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        fp32, _ = median_latency(lambda: guard(x, y), runs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16, _ = median_latency(lambda: guard(x, y), runs)
    return {"fp32": fp32, "bf16": bf16}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed calls (median)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--tta-runs", type=int, default=3, help="timed calls with --tta 8")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from deblurkit.models import create_model
    from deblurkit.models.files import load_network
    from deblurkit.pretrained import load_bundled

    load_before = os.getloadavg()[0]
    shape = (1, 3, *HD)
    name, kwargs = PREVIOUS
    previous = fp32_bf16_latency(create_model(name, **kwargs), shape, args.runs)
    default_model = load_bundled("default")
    current = fp32_bf16_latency(default_model, shape, args.runs)
    bare = fp32_bf16_latency(load_network("default", guard=False), shape, args.runs)
    guard_alone = _guard_latency(default_model.guard, shape, 3 * args.runs)
    restore = _restorer_latency(1, args.runs)
    restore_tta = _restorer_latency(8, args.tta_runs)
    load_after = os.getloadavg()[0]

    params = {"previous": sum(p.numel() for p in create_model(name, **kwargs).parameters()),
              "default": sum(p.numel() for p in default_model.parameters())}
    data = {"machine": machine(), "resolution": f"{HD[1]}x{HD[0]}", "runs": args.runs,
            "load_average": [load_before, load_after], "previous": previous, "default": current,
            "default_unguarded": bare, "guard": repr(default_model.guard),
            "guard_alone": guard_alone,
            "restorer_seconds": restore, "restorer_tta8_seconds": restore_tta,
            "parameters": params,
            "architectures": {"previous": f"{name} {kwargs}",
                              "default": f"{default_model.deblurkit_name} "
                                         f"{default_model.deblurkit_kwargs}"}}
    save_json("default_latency.json", data)
    m = data["machine"]
    rows = ["", "`.venv/bin/python benchmarks/default_latency.py` (one run; "
            f"{m['cpu']}, {args.threads} threads, load average {load_before:.1f} before / "
            f"{load_after:.1f} after; median of {args.runs}, 1280x720, batch 1, channels-last).",
            "", "| model | parameters | network fp32 s | network bf16 s | restore fp32 s | "
            "restore --tta 8 s |", "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| previous default (`{name}`, width 16) | {params['previous'] / 1e6:.2f} M | "
            f"{previous['fp32']:.2f} | {previous['bf16']:.2f} | - | - |",
            f"| `default` (`{default_model.deblurkit_name}`, {default_model.guard}) | "
            f"{params['default'] / 1e6:.2f} M | {current['fp32']:.2f} | {current['bf16']:.2f} | "
            f"{restore:.2f} | {restore_tta:.2f} |",
            f"| its network without the guard | {params['default'] / 1e6:.2f} M | "
            f"{bare['fp32']:.2f} | {bare['bf16']:.2f} | - | - |",
            f"| the guard alone (median of {3 * args.runs}) | 0 | {guard_alone['fp32']:.3f} | "
            f"{guard_alone['bf16']:.3f} | - | - |", ""]
    replace_marked_block(DOC, START, END, "\n".join(rows))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
