"""Choose the default model's architecture by measurement: quality per second at 1280x720.

Run by hand (never by the tests), on a machine as quiet as possible:

    .venv/bin/deblurkit synth -o data/default ...          # the recipe's data (see the config)
    .venv/bin/deblurkit synth -o data/default_select --train 0 --test 48 --size 256 --seed 77
    .venv/bin/python benchmarks/select_default.py --steps 600
    .venv/bin/python benchmarks/select_default.py --candidates s4_w32_b9 --steps 600  # one

Every candidate is a paper architecture (or a narrower / fewer-scale variant of one) trained
with the *same* recipe, ``configs/default/deblur.yaml``, for the same ``--steps`` (the cosine
schedule shortened to that length), then scored on a selection set that is neither the
training data nor the model card's test split (``data/default_select``: its own seed; it may
share scikit-image photographs with training, it is only used to rank). Per candidate:
parameters, MACs and the median latency of one 1280x720 frame (fp32 and bf16 autocast,
channels-last, 2 threads, 3 runs after a warm-up), training seconds, and the selection-set
PSNR/SSIM of the input and of the model. The recommended architecture is the best PSNR among
the candidates whose bf16 latency is within ``--budget`` seconds; candidates within ``--tie``
dB of that best are taken as equal (the differences are below what one short run can
resolve) and the fastest of them in bf16 is chosen.

Results go to ``benchmarks/results/select_default.json`` and the table between the
``select-table`` markers of ``docs/default-model.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import (count_macs, fp32_bf16_latency, machine,  # noqa: E402
                    replace_marked_block, save_json)

from deblurkit.models import create_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "default-model.md"
START, END = "<!-- select-table:start -->", "<!-- select-table:end -->"
RECIPE = ROOT / "configs" / "default" / "deblur.yaml"
HD = (720, 1280)
#: The candidates: registered name and constructor arguments. Every one starts from the
#: identity (global skip + zero-initialised last convolution) and has no normalisation, as
#: the small recipes needed (docs/training.md).
CANDIDATES: dict[str, tuple[str, dict]] = {
    "s4_w32_b9": ("s4_deblurnet", dict(stem_channels=16, body_channels=32, num_blocks=9,
                                       norm="none", dropout=0.0, residual_init="zero")),
    "s4_w48_b9": ("s4_deblurnet", dict(stem_channels=24, body_channels=48, num_blocks=9,
                                       norm="none", dropout=0.0, residual_init="zero")),
    "s1_1scale_w16": ("s1_msed_1scale", dict(base_width=16, num_resblocks=1,
                                              global_residual=True, residual_init="zero")),
    "s1_2scale_w12": ("s1_msed", dict(base_width=12, num_resblocks=1,
                                      global_residual=True, residual_init="zero")),
}


def train(key: str, name: str, kwargs: dict, steps: int, out_root: Path) -> tuple[Path, float]:
    run_dir = out_root / key
    overrides = [f"model.name={name}", f"model.kwargs={json.dumps(kwargs)}",
                 f"train.steps={steps}", f"schedule.kwargs.total_steps={steps}",
                 f"train.out_dir={run_dir}", f"train.ckpt_every={steps}",
                 f"train.val_every={steps}"]
    cmd = [sys.executable, "-m", "deblurkit", "train", str(RECIPE), "--no-tensorboard"]
    for o in overrides:
        cmd += ["--set", o]
    env = dict(os.environ, DEBLURKIT_PROGRESS="0")
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    weights = run_dir / "checkpoints" / f"step_{steps:08d}" / "model.safetensors"
    return weights, seconds


def score(weights: Path | None, data: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "eval.json"
        cmd = [sys.executable, "-m", "deblurkit", "eval", "--gopro", str(data), "--split",
               "test", "--json", str(out)]
        if weights is not None:
            cmd += ["--model", str(weights)]
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                       env=dict(os.environ, DEBLURKIT_PROGRESS="0"))
        result = json.loads(out.read_text())
    return {"psnr": result["mean"]["psnr"], "ssim": result["mean"]["ssim"]}


def choose(rows: list[dict], budget: float, tie: float) -> str | None:
    """The fastest (bf16) candidate within ``tie`` dB of the best PSNR under ``budget``."""
    within = [r for r in rows if r["latency"]["bf16"] <= budget]
    if not within:
        return None
    best = max(r["psnr"] for r in within)
    near = [r for r in within if r["psnr"] >= best - tie]
    return min(near, key=lambda r: r["latency"]["bf16"])["key"]


def table(rows: list[dict], budget: float, tie: float, chosen: str | None,
          input_score: dict) -> str:
    lines = [f"Selection set: input {input_score['psnr']:.2f} dB / SSIM "
             f"{input_score['ssim']:.4f}.", "",
             "| candidate | architecture | params | GMACs 720p | fp32 s | bf16 s | train s | "
             "PSNR | SSIM | dB gain per bf16 s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        gain = r["psnr"] - input_score["psnr"]
        mark = " **(chosen)**" if r["key"] == chosen else ""
        lines.append(f"| {r['key']}{mark} | `{r['name']}` {r['kwargs_short']} | "
                     f"{r['params'] / 1e6:.2f} M | {r['macs'] / 1e9:.1f} | "
                     f"{r['latency']['fp32']:.2f} | {r['latency']['bf16']:.2f} | "
                     f"{r['train_seconds']:.0f} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{gain / r['latency']['bf16']:.2f} |")
    lines.append("")
    lines.append(f"Budget: bf16 latency <= {budget:.1f} s per 1280x720 frame; chosen: the "
                 f"fastest (bf16) of the candidates within {tie:.2f} dB of the best PSNR "
                 "inside the budget.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "default_select")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "select")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--tie", type=float, default=0.05,
                        help="dB within which candidates count as equally good (default 0.05)")
    parser.add_argument("--report-only", action="store_true",
                        help="only rebuild the table from benchmarks/results/select_default.json")
    parser.add_argument("--no-doc", action="store_true")
    parser.add_argument("--latency-only", action="store_true",
                        help="re-measure latency of candidates already trained (keep their "
                             "scores): for a quieter machine than the training ran on")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    previous = {}
    result_file = ROOT / "benchmarks" / "results" / "select_default.json"
    if result_file.exists():
        previous = {r["key"]: r for r in json.loads(result_file.read_text()).get("rows", [])}
    if args.report_only:
        saved = json.loads(result_file.read_text())
        input_score, args.candidates = saved["input"], []
    else:
        input_score = score(None, args.data)  # the identity baseline of the selection set
    for key in args.candidates:
        name, kwargs = CANDIDATES[key]
        print(f"== {key}: {name} {kwargs}", flush=True)
        row = {"key": key, "name": name, "kwargs": kwargs, "steps": args.steps,
               "kwargs_short": ", ".join(f"{k}={v}" for k, v in kwargs.items()
                                         if k in ("stem_channels", "body_channels",
                                                  "num_blocks", "base_width",
                                                  "num_resblocks"))}
        if args.latency_only:
            if key not in previous:
                raise SystemExit(f"{key}: not trained yet (run without --latency-only)")
            previous[key]["latency"] = fp32_bf16_latency(create_model(name, **kwargs),
                                                         (1, 3, *HD), args.runs)
            previous[key]["load_latency"] = list(os.getloadavg())
            continue
        model = create_model(name, **kwargs)
        row["params"] = sum(p.numel() for p in model.parameters())
        row["macs"] = count_macs(lambda: create_model(name, **kwargs), (1, 3, *HD))
        row["latency"] = fp32_bf16_latency(model, (1, 3, *HD), args.runs)
        weights, row["train_seconds"] = train(key, name, kwargs, args.steps, args.out)
        row.update(score(weights, args.data))
        row["load_after"] = list(os.getloadavg())
        print(json.dumps({k: row[k] for k in ("key", "psnr", "ssim", "latency",
                                               "train_seconds")}), flush=True)
        previous[key] = row
    rows = [previous[k] for k in CANDIDATES if k in previous]
    chosen = choose(rows, args.budget, args.tie)
    command = "python benchmarks/select_default.py " + " ".join(sys.argv[1:])
    if (args.report_only or args.latency_only) and result_file.exists():
        command = json.loads(result_file.read_text())["command"] + "`, then `" + command
    data = {"machine": machine(), "input": input_score, "budget_s": args.budget,
            "tie_db": args.tie, "chosen": chosen, "rows": rows,
            "command": command}
    save_json("select_default.json", data)
    text = table(rows, args.budget, args.tie, chosen, input_score)
    print(text)
    if not args.no_doc and DOC.exists():
        replace_marked_block(DOC, START, END, f"\nMade by `{command}`.\n\n{text}")


if __name__ == "__main__":
    main()
