"""Record a training run's CPU hours and validation curve in benchmarks/results/system_runs.json.

    .venv/bin/python tools/record_run.py s2 $HOME/deblurkit-runs/variants/s2 \\
        --segment 0:675:4412.3
    .venv/bin/python tools/record_run.py default $HOME/deblurkit-runs/default_fast \\
        --segment 0:830:5970 --segment 830:1173:2880 --segment 1173:1250:3240 ...

A segment ``FIRST:LAST:CPU_SECONDS`` is one stretch of the run between a start (or resume)
and its stop, with the CPU seconds it used: user + system seconds of the trainer and its data
workers (``/usr/bin/time``, or the process group's ``/proc/PID/stat`` fields 14-17). A stretch
whose steps were lost to a crash is given with ``LAST`` equal to the step the run resumed from,
so its hours count and its steps do not. The run's validation PSNR (``metrics.csv`` rows
``val,psnr``) and the input's (``val,psnr_input``) are copied with the run's last step, so
``benchmarks/system_models.py`` can draw the curves without the run folder, which is never
committed. Run folders stay outside the repository. A run that validated on another set than
``data/realval`` (the held-out tuning set ``data/realhold``, say) is recorded with that set as
``monitor``, and its curve is not drawn with the validation curves.

A run started from another run's weights (its run folder lost, say) continues that run's row:
``--base default_fast --from-step 4500`` builds the row from the record ``default_fast`` up to
its step 4500 (a segment that runs past it is split in proportion to its steps; the base's
later hours count as a stretch whose steps were lost, its later validation points are
dropped), followed by this run's segments and validation points with 4500 added to their steps
(its step-0 validation is the base's step 4500 again, and is skipped). The base record stays
as it is; the row is rebuilt from it on every call:

    .venv/bin/python tools/record_run.py default $HOME/deblurkit-runs/default_continue \
        --base default_fast --from-step 4500 --segment 0:1400:25000

Without a run folder and segments, the row is the base's weights at that step themselves (a
model that ships another run's checkpoint): the base's segments and validation points up to
the step, without the hours spent after it:

    .venv/bin/python tools/record_run.py s1 --base default_fast --from-step 4500
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "system_runs.json"


def segment(text: str) -> list[float]:
    first, last, seconds = text.split(":")
    if int(last) < int(first) or float(seconds) < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIRST:LAST:CPU_SECONDS, "
                                         "LAST >= FIRST")
    return [int(first), int(last), float(seconds)]


def truncate(base: dict, step: int) -> tuple[list[list[float]], float, dict[str, float]]:
    """``base``'s segments up to ``step``, its hours after it, its validation points up to it."""
    kept, lost = [], 0.0
    for first, last, hours in base["segments"]:
        if last <= step:
            kept.append([first, last, hours])
        elif first >= step:
            lost += hours
        else:
            share = (step - first) / (last - first)
            kept.append([first, step, round(hours * share, 4)])
            lost += hours * (1 - share)
    val = {k: v for k, v in base["val_psnr"].items() if int(k) <= step}
    return kept, lost, val


def write(name: str, record: dict, data: dict) -> None:
    data[name] = record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{name}: {record['cpu_hours']} CPU h, step {record['last_step']}, "
          f"{len(record['val_psnr'])} validations")


def record_checkpoint(name: str, base: str, step: int) -> int:
    """The row of ``base``'s weights at ``step``: what they cost, not what came after."""
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if base not in data:
        print(f"record_run: error: {base}: no such record in {RESULTS}", file=sys.stderr)
        return 1
    segments, _, val = truncate(data[base], step)
    write(name, {"cpu_hours": round(sum(h for _, _, h in segments), 3), "last_step": step,
                 "segments": segments, "val_psnr": val, "input_psnr": data[base]["input_psnr"],
                 "weights_of": f"{base} at step {step}"}, data)
    return 0


#: The validation set's root, as the recipes name it.
REALVAL = "data/realval"


def monitor_root(run: Path) -> str:
    """The data root a run validated on (its ``config.yaml``: ``data.val.args.root``); runs
    whose config is missing or names none are taken to be on :data:`REALVAL`."""
    import yaml

    config = run / "config.yaml"
    if not config.is_file():
        return REALVAL
    data = yaml.safe_load(config.read_text()) or {}
    root = (((data.get("data") or {}).get("val") or {}).get("args") or {}).get("root")
    return str(root) if root else REALVAL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the row's name (a bundled model name, or a peer's)")
    parser.add_argument("run", type=Path, nargs="?",
                        help="the run folder (metrics.csv); none: the base's weights at "
                             "--from-step")
    parser.add_argument("--segment", type=segment, action="append", default=[],
                        metavar="FIRST:LAST:CPU_SECONDS")
    parser.add_argument("--base", help="the record this run continues (with --from-step)")
    parser.add_argument("--from-step", type=int, default=0,
                        help="the base's step whose weights this run started from")
    args = parser.parse_args()
    if (args.base is None) != (args.from_step == 0):
        print("record_run: error: --base and --from-step go together", file=sys.stderr)
        return 1
    if args.run is None or not args.segment:
        if args.run is not None or args.segment or args.base is None:
            print("record_run: error: a run folder needs --segment; without both, give "
                  "--base and --from-step", file=sys.stderr)
            return 1
        return record_checkpoint(args.name, args.base, args.from_step)
    metrics = args.run / "metrics.csv"
    if not metrics.is_file():
        print(f"record_run: error: {metrics}: not found", file=sys.stderr)
        return 1
    val, base, last = {}, None, 0
    with metrics.open() as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            last = max(last, step)
            if row["split"] == "val" and row["metric"] == "psnr":
                val[str(step)] = round(float(row["value"]), 4)
            elif row["split"] == "val" and row["metric"] == "psnr_input":
                base = round(float(row["value"]), 4)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    offset = args.from_step
    segments = [[a + offset, b + offset, round(s / 3600, 4)] for a, b, s in args.segment]
    val = {str(int(k) + offset): v for k, v in val.items() if not (offset and k == "0")}
    extra = {}
    if args.base is not None:
        if args.base not in data:
            print(f"record_run: error: {args.base}: no such record in {RESULTS}", file=sys.stderr)
            return 1
        before, lost, before_val = truncate(data[args.base], offset)
        if lost:  # spent on steps that were lost with the base's folder
            before.append([offset, offset, round(lost, 4)])
        segments, val = before + segments, {**before_val, **val}
        extra["continues"] = f"{args.base} up to step {offset}"
    monitor = monitor_root(args.run)
    if monitor != REALVAL:  # e.g. data/realhold: not the curve of the validation set
        extra["monitor"] = monitor
    record = {"cpu_hours": round(sum(h for _, _, h in segments), 3), "last_step": last + offset,
              "segments": segments, "val_psnr": val, "input_psnr": base, **extra}
    write(args.name, record, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
