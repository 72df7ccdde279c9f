"""Peak memory of ``deblurkit restore`` against the picture's size: bounded at any size.

Run by hand (never by the tests; minutes for the largest size):

    .venv/bin/python benchmarks/restore_memory.py                       # 2000 .. 16000 px
    .venv/bin/python benchmarks/restore_memory.py --sizes 2000 4000     # quicker

For each side ``N`` a ``N x N`` RGB PNG (8-bit, the demo photograph repeated, so it compresses
like a photograph) is written once to a temporary folder, then ``deblurkit restore IN --model
M -o OUT --tile auto`` runs in a child process whose peak resident set size is read by its
parent (``getrusage(RUSAGE_CHILDREN).ru_maxrss``). ``M`` is a small untrained network
(``s1_msed_fast`` at widths 8-32, saved as a ``.safetensors`` file): memory, not quality, is
measured, and the model's own working set is bounded by the tile whatever the network. The
table shows the peak beside the picture's own bytes (``3 N^2``, once decoded): the restore
holds the decoded input, the output in the same bit depth and one strip of tiles in float32,
so the peak grows like a small multiple of the picture's bytes, never like its float copies.

Results: ``benchmarks/results/restore_memory.json`` and the table between the
``restore-memory`` markers of ``docs/restore.md``.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, replace_marked_block, save_json  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "restore.md"
START, END = "<!-- restore-memory:start -->", "<!-- restore-memory:end -->"
#: The small network whose memory is measured (its arguments).
MODEL = ("s1_msed_fast", {"base_width": 8, "max_width": 32})

WRAPPER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if done.returncode != 0:
    sys.stderr.write(done.stderr)
    sys.exit(done.returncode)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""


def _picture(side: int, path: Path) -> None:
    from PIL import Image

    from deblurkit.io import read_image

    photo = read_image(REPO / "src" / "deblurkit" / "demo_assets" / "photo_sharp.png").pixels
    reps = (-(-side // photo.shape[0]), -(-side // photo.shape[1]), 1)
    Image.fromarray(np.tile(photo, reps)[:side, :side]).save(path, compress_level=1)


def measure(side: int, folder: Path, model: Path) -> dict:
    """Peak RSS and seconds of one ``deblurkit restore`` of an ``side x side`` picture."""
    picture = folder / f"picture_{side}.png"
    if not picture.is_file():
        _picture(side, picture)
    command = [sys.executable, "-m", "deblurkit", "restore", str(picture), "--model", str(model),
               "-o", str(folder / "out"), "--overwrite", "--tile", "auto"]
    env = {**os.environ, "DEBLURKIT_PROGRESS": "0", "CUDA_VISIBLE_DEVICES": ""}
    load = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True,
                          text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(side=side, picture_bytes=3 * side * side, load_average=load)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000, 16000])
    args = parser.parse_args()

    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="deblurkit-memory-") as tmp:
        folder = Path(tmp)
        name, kwargs = MODEL
        model = save_model(create_model(name, **kwargs), folder / "small.safetensors")
        for side in args.sizes:
            started = time.perf_counter()
            row = measure(side, folder, model)
            rows.append(row)
            print(f"{side} x {side}: peak {row['peak_rss_bytes'] / 2**20:.0f} MiB "
                  f"({row['peak_rss_bytes'] / row['picture_bytes']:.2f} x the picture), "
                  f"{row['seconds']:.0f} s ({time.perf_counter() - started:.0f} s with the "
                  "picture's writing)", flush=True)
    save_json("restore_memory.json", {"machine": machine(), "model": f"{name} {kwargs}",
                                      "rows": rows})
    lines = ["", f"`.venv/bin/python benchmarks/restore_memory.py --sizes "
             f"{' '.join(str(r['side']) for r in rows)}` ({machine()['cpu']}; a small "
             f"untrained `{name}` {kwargs}, `--tile auto`).", "",
             "| picture | decoded bytes | peak RSS | peak / picture bytes | seconds |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['side']} x {r['side']} | {r['picture_bytes'] / 2**20:.0f} MiB | "
                     f"{r['peak_rss_bytes'] / 2**20:.0f} MiB | "
                     f"{r['peak_rss_bytes'] / r['picture_bytes']:.2f} | {r['seconds']:.0f} |")
    lines.append("")
    replace_marked_block(DOC, START, END, "\n".join(lines))


if __name__ == "__main__":
    main()
