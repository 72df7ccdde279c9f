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
committed. Run folders stay outside the repository.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the row's name (a bundled model name, or a peer's)")
    parser.add_argument("run", type=Path, help="the run folder (metrics.csv)")
    parser.add_argument("--segment", type=segment, action="append", required=True,
                        metavar="FIRST:LAST:CPU_SECONDS")
    args = parser.parse_args()
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
    seconds = sum(s for _, _, s in args.segment)
    record = {"cpu_hours": round(seconds / 3600, 3), "last_step": last,
              "segments": [[a, b, round(s / 3600, 4)] for a, b, s in args.segment],
              "val_psnr": val, "input_psnr": base}
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[args.name] = record
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{args.name}: {record['cpu_hours']} CPU h, step {last}, {len(val)} validations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
