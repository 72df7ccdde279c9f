"""The trained models of the five systems and the peer, side by side on the real validation set.

Run by hand after the models are trained and each is scored by ``benchmarks/realval.py``
(never by the tests):

    .venv/bin/python benchmarks/realval.py --model s2 --tag system_s2        # each model
    .venv/bin/python benchmarks/realval.py --model RUN/checkpoints/step_N/ema.safetensors \\
        --tag system_nafnet_w16                                             # a peer's run
    .venv/bin/python benchmarks/system_variants.py                          # latency
    .venv/bin/python benchmarks/system_models.py \\
        --weights nafnet_w16=RUN/checkpoints/step_N/ema.safetensors

For every row of :data:`ROWS` it reads ``benchmarks/results/realval_<tag>.json`` (per kind:
mean gain over the input, pairs worse by more than 0.1 dB, on the ``sharp`` pairs the PSNR of
the output against its input), the float32 latency of its network at 1280x720 from
``benchmarks/results/system_variants.json`` (each network timed alternately with
``s1_msed_fast``; the ratio is the number that carries over between machines) and its
training CPU hours from ``benchmarks/results/system_runs.json`` (``/usr/bin/time`` of each run:
user + system seconds of the trainer and its data worker). Rows whose results are missing are
listed as not measured. It writes the table between the ``system-table`` markers of
``docs/system-models.md`` and a picture grid, ``docs/images/system-models-grid.png``: the same
128x128 crop of one real validation pair of each blurred kind (rows), input, every model's
output and the target (columns).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import load_json, replace_marked_block  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
DOC = REPO / "docs" / "system-models.md"
GRID = REPO / "docs" / "images" / "system-models-grid.png"
CURVES = REPO / "docs" / "images" / "system-models-curves.png"
START, END = "<!-- system-table:start -->", "<!-- system-table:end -->"
#: (system, model as users name it once bundled, network, realval results tag); the grid shows
#: a row that is not bundled only when ``--weights`` names its file.
ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("S1", "s1", "s1_msed_fast", "default_step4500_fp16"),   # s1: the long run's step 4500
    ("S2", "s2", "s2_msrn_cpu", "system_s2"),
    ("S3", "s3", "s3_msdn_cpu", "system_s3"),
    ("S4", "s4", "s4_deblurnet_cpu", "system_s4"),
    ("S5", "s5", "s5_fpn_cpu", "system_s5"),
    ("peer", "nafnet_w16", "nafnet_w16", "system_nafnet_w16"),
    ("peer", "nafnet_w32", "nafnet_w32", "system_nafnet_w32"),
    ("candidate", "nafnet_fast", "nafnet_fast", "system_nafnet_fast"),
)
BLURRED_KINDS = ("kernel", "shake", "average")
#: The pair of each kind shown in the grid (its name in the realval manifest) and the crop.
GRID_PAIRS = {"kernel": 0, "shake": 0, "average": 0}
CROP = 128


def table_rows() -> list[str]:
    """The markdown table: one line per row of :data:`ROWS` (measured or not)."""
    from deblurkit.pretrained import BUNDLED

    latency = {m["name"]: m for m in (load_json("system_variants.json") or {}).get("models", [])}
    runs = load_json("system_runs.json") or {}
    lines = ["| system | `--model` | network | CPU h | kernel | shake | average | sharp: vs input "
             "mean / lowest | worse by > 0.1 dB (k/s/a/sharp) | fp32 720p | x `s1_msed_fast` |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for system, model, network, tag in ROWS:
        hours = runs.get(model, {}).get("cpu_hours")
        lat = latency.get(network)
        shipped = f"`{model}`" if model in BUNDLED else "not shipped"
        cells = [system, shipped, f"`{network}`",
                 f"{hours:.2f}" if hours else "-"]
        result = load_json(f"realval_{tag}.json")
        if result is None:
            cells += ["not measured", "", "", "", ""]
        else:
            kinds = result["kinds"]
            sharp = kinds["sharp"]["summary"]
            cells += [f"{kinds[k]['summary']['gain']:+.2f}" for k in BLURRED_KINDS]
            vs_input = (sharp["psnr_vs_input_mean"], sharp["psnr_vs_input_min"])
            cells += [" / ".join("identical" if v is None or v == float("inf") else f"{v:.1f}"
                                 for v in vs_input),
                      "/".join(str(kinds[k]["summary"]["worse_by_0_1"])
                               for k in (*BLURRED_KINDS, "sharp"))]
        cells += [f"{lat['fp32_s']:.2f} s", f"{lat['ratio']:.2f}"] if lat else ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def grid(specs: dict[str, str], root: Path, out: Path) -> list[str]:
    """Draw the picture grid; returns the models drawn (column order)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deblurkit.inference import Restorer
    from deblurkit.io import read_image

    manifest = json.loads((root / "manifest.json").read_text())
    pairs = {}
    for kind, index in GRID_PAIRS.items():
        item = [i for i in manifest["items"] if i["kind"] == kind][index]
        pairs[kind] = (read_image(root / item["blur"]).pixels,
                       read_image(root / item["sharp"]).pixels)
    columns = [("input", None)] + list(specs.items()) + [("target", None)]
    outputs = {}
    for label, spec in specs.items():
        restorer = Restorer(spec, device="cpu")
        outputs[label] = {k: restorer(blur) for k, (blur, _) in pairs.items()}
    fig, axes = plt.subplots(len(pairs), len(columns),
                             figsize=(1.6 * len(columns), 1.75 * len(pairs)), squeeze=False)
    for r, (kind, (blur, sharp)) in enumerate(pairs.items()):
        h, w = blur.shape[:2]
        top, left = (h - CROP) // 2, (w - CROP) // 2
        for c, (label, _) in enumerate(columns):
            image = {"input": blur, "target": sharp}.get(label)
            if image is None:
                image = outputs[label][kind]
            axes[r][c].imshow(image[top:top + CROP, left:left + CROP], interpolation="nearest")
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
            if r == 0:
                axes[r][c].set_title(label, fontsize=8)
            if c == 0:
                axes[r][c].set_ylabel(kind, fontsize=8)
    fig.suptitle("same 128x128 crops of real validation pairs (data/realval)", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return list(specs)


def curves(out: Path) -> bool:
    """Validation PSNR against training CPU hours: the default's long run beside every run of
    ``system_runs.json`` that has a curve. A run's points are ``val_psnr`` (step -> PSNR on the
    192 real validation pairs) placed at the CPU hours its ``segments`` give to that step
    (``[first step, last step, CPU hours]``, linear inside a segment; segments whose steps were
    lost to a crash count their hours but not their steps); a row that ships another run's
    checkpoint (``weights_of``) is that run's curve and is not drawn again. Returns False
    without data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {name: run for name, run in (load_json("system_runs.json") or {}).items()
            if isinstance(run, dict) and run.get("val_psnr") and run.get("segments")
            and not run.get("weights_of")  # a row of another run's checkpoint: drawn there
            and not run.get("monitor")}  # validated on another set (data/realhold): not here
    if not runs:
        return False
    fig, ax = plt.subplots(figsize=(9, 4.5))
    colours = plt.cm.tab20.colors  # more runs than the default cycle's 10 colours
    for index, (name, run) in enumerate(runs.items()):
        points = []
        for step, value in sorted((int(k), v) for k, v in run["val_psnr"].items()):
            hours = 0.0
            for first, last, cpu in run["segments"]:
                if step >= last:
                    hours += cpu
                elif step > first:
                    hours += cpu * (step - first) / (last - first)
            points.append((hours, value))
        xs, ys = zip(*points)
        ax.plot(xs, ys, "o-", label=name, markersize=3, color=colours[index % len(colours)])
    base = next(iter(runs.values())).get("input_psnr")
    if base:
        ax.axhline(base, color="gray", linestyle=":", label=f"input ({base:.2f} dB)")
    ax.set(xlabel="training CPU hours", ylabel="PSNR on the real validation set (dB)",
           title="validation during training (EMA weights), all 192 real pairs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO / "data" / "realval"))
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=FILE",
                        help="weights of a row that is not bundled, for the grid (a peer's or a "
                             "not yet shipped run's: nafnet_w16=RUN/checkpoints/step_N/"
                             "ema.safetensors)")
    parser.add_argument("--no-grid", action="store_true", help="only the table")
    args = parser.parse_args()
    from deblurkit.pretrained import BUNDLED

    specs = {"default": "default"}
    files = {BUNDLED["default"].file}
    for _, model, _, _ in ROWS:  # a bundled file once (rows may share a file)
        if model in BUNDLED and BUNDLED[model].file not in files:
            specs[model] = model
            files.add(BUNDLED[model].file)
    for item in args.weights:
        name, _, path = item.partition("=")
        specs[name] = path
    lines = table_rows()
    print("\n".join(lines))
    drawn = [] if args.no_grid else grid(specs, Path(args.root), GRID)
    command = " ".join(["benchmarks/system_models.py"]
                       + [f"--weights {w}".replace(str(Path.home()), "$HOME")
                          for w in args.weights])
    note = ["", "Gains: mean PSNR change against the input per kind, in dB, on the 192 real "
            "validation pairs (`make realval`; docs/synthesis.md); the `sharp` pairs are "
            "unblurred, so only their change from the input is shown. Made by "
            f"`.venv/bin/python {command}` from the results files named in its docstring "
            "(`--weights`: the grid's unbundled models).", ""]
    if drawn:
        note += [f"![The same crops restored by {', '.join(drawn)}](images/system-models-grid.png)",
                 ""]
    elif args.no_grid and GRID.exists():  # the table alone: keep the grid drawn before
        note += [line for line in DOC.read_text().splitlines()
                 if line.startswith("![The same crops restored by")][:1] + [""]
    if curves(CURVES):
        note += ["![Validation PSNR against training CPU hours](images/system-models-curves.png)",
                 ""]
    replace_marked_block(DOC, START, END, "\n".join([""] + lines + note))


if __name__ == "__main__":
    main()
