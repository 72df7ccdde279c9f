"""The video pipeline on a synthesized partially blurred clip: measured wall time against
S4's run-time model T_run, and the speedup of frame selection over deblurring every frame.

Run by hand (never by the tests):

    .venv/bin/python benchmarks/video.py                         # 60 frames, 640x360
    .venv/bin/python benchmarks/video.py --frames 60 --height 720 --width 1280 --model s4_deblurnet

The clip: :func:`deblurkit.synth.procedural.render_scene` renders moving layers under a
shaking camera in chunks of source frames, and :func:`deblurkit.synth.video.iter_partial_blur_video`
averages intervals of them into blurred output frames or keeps their middle frame sharp
(S4's protocol, at most 70% blurred). It is encoded with PyAV (H.264, CRF 18, 30 fps), then
``deblurkit video`` runs as a subprocess once per ``--select`` mode (laplacian, classifier,
all) with ``--report``. Untrained weights are used (``--model`` / ``--classifier`` registered
names): speed does not depend on weight values, but which frames an untrained classifier
selects is arbitrary, so its N_b is not meaningful -- the laplacian selector needs no weights.

Results go to ``benchmarks/results/video.json`` and to the table between the ``video-table``
markers of ``docs/performance.md``; the load average (``os.getloadavg()``) is recorded.
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

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
START, END = "<!-- video-table:start -->", "<!-- video-table:end -->"
MODES = ("laplacian", "classifier", "all")
#: Source frames rendered per render_scene call (bounds memory; each chunk is a new scene).
CHUNK = 24
FPS = 30
CRF = 18


def source_frames(rng: np.random.Generator, height: int, width: int, total: int):
    """Sharp high-frame-rate frames, rendered CHUNK at a time (uint8)."""
    from deblurkit.synth.procedural import render_scene

    made = 0
    while made < total:
        count = min(CHUNK, total - made)
        for frame in render_scene(rng, height, width, count):
            yield np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)
        made += count


def synthesize_clip(path: Path, n_frames: int, height: int, width: int, seed: int) -> dict:
    """Encode a partially blurred clip of ``n_frames`` frames; returns its labels."""
    import av

    from deblurkit.synth.video import PartialBlurConfig, iter_partial_blur_video

    rng = np.random.default_rng(seed)
    config = PartialBlurConfig()
    # enough source frames for n_frames outputs even if every interval is the longest
    n_source = n_frames * config.max_interval
    labels = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(CRF)}
        frames = iter_partial_blur_video(source_frames(rng, height, width, n_source), rng,
                                         config, n_frames=n_source)
        for item in frames:
            if len(labels) == n_frames:
                break
            rgb = np.clip(np.rint(item.blur * 255), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
            labels.append(bool(item.blurred))
        for packet in stream.encode():
            container.mux(packet)
    return {"frames": len(labels), "blurred": int(sum(labels)), "labels": labels}


def run_mode(clip: Path, out_dir: Path, mode: str, model: str, classifier: str,
             extra: list[str]) -> dict:
    report = out_dir / f"{mode}.json"
    command = [sys.executable, "-m", "deblurkit", "video", str(clip), "-o",
               str(out_dir / f"{mode}.mp4"), "--model", model, "--select", mode,
               "--report", str(report), "--overwrite", *extra]
    if mode in ("classifier", "middle15"):
        command += ["--classifier", classifier]
    load_before = list(os.getloadavg())
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    process_seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"mode": mode, "error": done.stderr.strip()[-2000:], "command": command}
    totals = json.loads(report.read_text())["totals"]
    return {"mode": mode, "totals": totals, "process_seconds": process_seconds,
            "load_before": load_before, "load_after": list(os.getloadavg()),
            "command": " ".join(command[1:])}


def table(result: dict) -> str:
    clip = result["clip"]
    lines = [f"Clip: {clip['frames']} frames at {clip['width']}x{clip['height']}, "
             f"{clip['blurred']} blurred (synthesized, H.264 CRF {CRF}); deblurring model "
             f"`{result['model']}` (untrained: speed only), classifier "
             f"`{result['classifier']}` ({weights_note(result['classifier'])}).", "",
             "| --select | N_a | N_b | t_c s | t_d s | T_run s | wall s | wall / T_run "
             "| speedup vs all (measured) | load avg |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    wall_all = next((r["totals"]["wall_seconds"] for r in result["runs"]
                     if r["mode"] == "all" and "totals" in r), None)
    for run in result["runs"]:
        if "totals" not in run:
            lines.append(f"| {run['mode']} | failed: {run['error'].splitlines()[-1][:80]} "
                         "| | | | | | | | |")
            continue
        t = run["totals"]
        wall, t_run = t["wall_seconds"], t["T_run"]
        speedup = f"{wall_all / wall:.2f}x" if wall_all else "n/a"
        lines.append(f"| {run['mode']} | {t['N_a']} | {t['N_b']} | {t['t_c'] or 0:.3f} | "
                     f"{t['t_d'] or 0:.3f} | {t_run:.1f} | {wall:.1f} | "
                     f"{wall / t_run if t_run else float('nan'):.2f} | {speedup} | "
                     f"{run['load_before'][0]:.1f} / {run['load_after'][0]:.1f} |")
    return "\n".join(lines)


def weights_note(spec: str) -> str:
    """'untrained' for a registered name, 'trained weights' for a file."""
    return "trained weights" if Path(spec).suffix else "untrained: its choice of frames is arbitrary"


def update_doc(text: str, command: str) -> None:
    replace_marked_block(DOC, START, END, f"\n`{command}`\n\n{text}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--model", default="s4_deblurnet", help="deblurring model (name/file)")
    parser.add_argument("--classifier", default="s4_frame_selector")
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=MODES + ("middle15",))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="further arguments for `deblurkit video` (e.g. --tile 0)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        clip_path = tmp_dir / "clip.mp4"
        start = time.perf_counter()
        clip = synthesize_clip(clip_path, args.frames, args.height, args.width, args.seed)
        clip.update(height=args.height, width=args.width,
                    synth_seconds=time.perf_counter() - start)
        print(f"clip: {clip['frames']} frames, {clip['blurred']} blurred "
              f"({clip['synth_seconds']:.0f}s)", flush=True)
        runs = []
        for mode in args.modes:
            run = run_mode(clip_path, tmp_dir, mode, args.model, args.classifier, args.extra)
            runs.append(run)
            if "totals" in run:
                t = run["totals"]
                print(f"{mode}: N_b {t['N_b']}/{t['N_a']}, wall {t['wall_seconds']:.1f}s, "
                      f"T_run {t['T_run']:.1f}s", flush=True)
            else:
                print(f"{mode}: FAILED {run['error'][-300:]}", flush=True)
    result = {"machine": machine(), "clip": clip, "model": args.model,
              "classifier": args.classifier, "runs": runs,
              "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    save_json("video.json", result)
    command = "python benchmarks/video.py " + " ".join(sys.argv[1:])
    update_doc(table(result), command.strip())


if __name__ == "__main__":
    main()
