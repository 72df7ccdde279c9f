"""Does the on-the-fly data pipeline keep up with training? Samples per second of one data
worker against the training steps per second of the default model.

Run by hand (never by the tests), on a quiet machine, with ``../shared/data`` beside the repo:

    .venv/bin/python benchmarks/data_pipeline.py                 # 256x256, batch 8
    .venv/bin/python benchmarks/data_pipeline.py --samples 60 --steps 10

Data: :class:`deblurkit.data.online.OnTheFlyPairs` over the training split of ``../shared/data``
(photographs and 1000 fps clips) with the default :class:`~deblurkit.synth.degrade.DegradationConfig`,
in one process with one thread (what one DataLoader worker has), after the pixel cache is
filled; every kind separately (forced through ``kind_weights`` / ``sharp_fraction``) and the
default mix. Training: the models of ``configs/default/deblur.yaml`` (the bundled default) and
``configs/realistic/deblur.yaml`` (the long run), L1 loss, Adam, batch 8 of 256x256 crops, on
all cores, float32 and (where the CPU has bf16 instructions) bf16 autocast.

A worker keeps up when ``samples/s >= batch * steps/s``; the table says how many workers that
takes. Results go to ``benchmarks/results/data_pipeline.json`` and to the table between the
``pipeline-table`` markers of ``docs/synthesis.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DOC = REPO / "docs" / "synthesis.md"
START, END = "<!-- pipeline-table:start -->", "<!-- pipeline-table:end -->"


def pipeline_rate(sources, degradation, size: int, samples: int) -> float:
    """Samples per second of :func:`make_sample` on one thread (after one warm-up sample)."""
    from deblurkit.data.online import OnTheFlyPairs

    ds = OnTheFlyPairs(sources, degradation, size, 2 * samples, seed=0)
    for i in range(samples, 2 * samples):  # warm-up: pages of the cache in memory, codecs
        ds[i]
    start = time.perf_counter()
    for i in range(samples):
        ds[i]
    return samples / (time.perf_counter() - start)


def training_rate(recipe: Path, size: int, batch: int, steps: int, amp: bool) -> float:
    """Optimizer steps per second of a recipe's model on random batches."""
    from deblurkit.models import create_model
    from deblurkit.training.config import load_config

    cfg = load_config(recipe)
    model = create_model(cfg.model.name, **cfg.model.kwargs).train()
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    blur = torch.rand(batch, 3, size, size).to(memory_format=torch.channels_last)
    sharp = torch.rand(batch, 3, size, size).to(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.l1_loss(model(blur).float(), sharp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--samples", type=int, default=40, help="samples per kind")
    parser.add_argument("--steps", type=int, default=6, help="timed training steps")
    parser.add_argument("--recipe", nargs="+", default=[
        "configs/default/deblur.yaml", "configs/realistic/deblur.yaml"],
        help="recipes whose model is timed (default: the bundled default's and the long "
        "run's)")
    args = parser.parse_args()

    from deblurkit.synth.corpus import HighFpsSpec, open_sources
    from deblurkit.synth.degrade import BLUR_KINDS, DegradationConfig

    if not SHARED.is_dir():
        sys.exit(f"{SHARED}: the shared data folder is missing")
    sources = open_sources([SHARED / "photos" / "train"],
                           [HighFpsSpec(str(SHARED / "highfps" / "train"), 1000)])
    base = DegradationConfig()
    variants = {"mix (default)": base}
    for kind in BLUR_KINDS:   # objects too, though the default mix leaves it out
        variants[kind] = dataclasses.replace(base, kind_weights={kind: 1.0}, sharp_fraction=0.0)
    variants["sharp"] = dataclasses.replace(base, sharp_fraction=1.0)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one DataLoader worker has one thread
    rates = {}
    for name, cfg in variants.items():
        rates[name] = pipeline_rate(sources, cfg, args.size, args.samples)
        print(f"{name:14s} {rates[name]:6.1f} samples/s per worker", flush=True)
    torch.set_num_threads(threads)
    bf16 = "bf16" in " ".join(machine()["cpu"].split(","))
    train = {}
    for recipe in args.recipe:
        from deblurkit.training.config import load_config

        model = load_config(REPO / recipe).model.name
        for amp in (False, True) if bf16 else (False,):
            key = f"{model} ({recipe}), {'bf16' if amp else 'fp32'}"
            train[key] = training_rate(REPO / recipe, args.size, args.batch, args.steps, amp)
    need = {k: args.batch * v for k, v in train.items()}
    for k, v in train.items():
        print(f"training {k}: {v:.3f} steps/s = {need[k]:.2f} samples/s", flush=True)
    print("(the timed process ran alone: a worker beside training shares the cores)")

    data = {"machine": machine(), "load_average": os.getloadavg(), "size": args.size,
            "batch": args.batch, "samples_per_kind": args.samples,
            "pipeline_samples_per_s": rates, "train_steps_per_s": train,
            "train_samples_per_s": need}
    save_json("data_pipeline.json", data)
    mix = rates["mix (default)"]
    rows = ["", "| data pipeline (one worker, one thread) | samples/s | ms/sample |",
            "| --- | ---: | ---: |"]
    rows += [f"| {name} | {r:.1f} | {1000 / r:.0f} |" for name, r in rates.items()]
    rows += ["", f"| training (model, recipe, precision), batch {args.batch} of "
             f"{args.size}x{args.size}, {threads} threads | steps/s | samples/s needed | "
             "workers to keep up |",
             "| --- | ---: | ---: | ---: |"]
    rows += [f"| {k} | {v:.3f} | {need[k]:.2f} | {math.ceil(need[k] / mix)} |"
             for k, v in train.items()]
    rows += ["", f"Measured on {machine()['cpu']} ({machine()['cores']} cores), load average "
             f"{os.getloadavg()[0]:.2f}, by `.venv/bin/python benchmarks/data_pipeline.py`.", ""]
    replace_marked_block(DOC, START, END, "\n".join(rows))


if __name__ == "__main__":
    main()
