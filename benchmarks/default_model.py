"""Held-out evaluation of the bundled default model and frame selector (docs/default-model.md).

Run by hand (never by the tests), from the repository root, once ``data/default`` exists
(the ``deblurkit synth`` command in ``configs/default/deblur.yaml``):

    .venv/bin/python benchmarks/default_model.py                       # everything, ~minutes
    .venv/bin/python benchmarks/default_model.py --no-latency --wiener-tune 10

Only the TEST split is scored (the train split is read only to tune the Wiener balance).
With the default metric conventions (:class:`deblurkit.metrics.MetricConfig`: RGB, no border
crop, restorations rounded to 8 bits), per subset of the test pairs (``kernel_*`` scenes,
``average_*`` scenes, all):

- the blurred input (exactly ``deblurkit eval --gopro DATA``'s identity numbers);
- non-blind Wiener deconvolution given the TRUE kernel (kernel subset only; an oracle no
  blind method has), its balance tuned by mean PSNR on ``--wiener-tune`` train kernel pairs
  (:func:`deblurkit.metrics.baselines.tune_wiener_balance`);
- the model (``--model``) in fp32 and in bf16 autocast, whole images, no tiling.

The frame selector (``--classifier``) classifies every frame of every test clip
(``DATA/videos/test/<clip>``), blurred when ``P(blurred) >= 0.5``: accuracy, recall of the
blurred and of the sharp frames, and the accuracy of always answering the majority class.
Latency: the model on one 1280x720 input, channels_last, median of 3 calls after a warm-up,
fp32 and bf16, with ``torch.set_num_threads(--threads)``.

Writes ``benchmarks/results/default_model.json``, the table between the ``default-model-table``
markers of ``docs/default-model.md`` and ``docs/images/default-model-examples.png`` (4 test
pairs: blurred | Wiener | model | sharp, each with its PSNR).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, median_latency, replace_marked_block, save_json  # noqa: E402

from deblurkit import __version__  # noqa: E402
from deblurkit.errors import UserError  # noqa: E402
from deblurkit.metrics import MetricConfig, evaluate_gopro  # noqa: E402
from deblurkit.metrics.baselines import (DEFAULT_BALANCE_GRID, tune_wiener_balance,  # noqa: E402
                                         wiener_deconvolve)
from deblurkit.metrics.evaluate import EvalResult, problem_lines  # noqa: E402
from deblurkit.metrics.reference import psnr_ssim  # noqa: E402
from deblurkit.utils.progress import progress  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "default-model.md"
FIGURE = ROOT / "docs" / "images" / "default-model-examples.png"
START, END = "<!-- default-model-table:start -->", "<!-- default-model-table:end -->"
RESULT_FILE = "default_model.json"
#: Scene-name prefixes of the two pair kinds ``deblurkit synth`` writes.
KERNEL_PREFIX, AVERAGE_PREFIX = "kernel_", "average_"
SUBSETS = ("kernel", "average", "all")
#: Latency input (height, width), timed runs and warm-up calls.
HD = (720, 1280)
LATENCY_RUNS, LATENCY_WARMUP = 3, 1
#: Frame-selector decision threshold (``P(blurred) >= threshold``) and frames per batch.
SELECTOR_THRESHOLD = 0.5
SELECTOR_BATCH = 8
#: Test pairs shown in the figure, per kind, and the side its tiles are scaled to (at most).
EXAMPLES_PER_KIND = 2
FIGURE_TILE = 256
LABEL_HEIGHT = 14
#: White gap between tiles, in pixels.
FIGURE_GAP = 2


def subset_of(path: str) -> str | None:
    """``"kernel"`` / ``"average"`` for a result path ``<scene>/<name>``, else None."""
    scene = path.split("/", 1)[0]
    if scene.startswith(KERNEL_PREFIX):
        return "kernel"
    if scene.startswith(AVERAGE_PREFIX):
        return "average"
    return None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def subset_means(scores: dict[str, tuple[float, float]],
                 subsets: Sequence[str] = SUBSETS) -> dict[str, dict[str, Any]]:
    """Mean PSNR / SSIM and count per subset of ``{path: (psnr, ssim)}`` (None when empty)."""
    out = {}
    for subset in subsets:
        chosen = [v for p, v in scores.items() if subset == "all" or subset_of(p) == subset]
        if not chosen:
            out[subset] = {"count": 0, "psnr": None, "ssim": None}
            continue
        values = np.asarray(chosen, dtype=np.float64)
        out[subset] = {"count": len(chosen), "psnr": _finite(values[:, 0].mean()),
                       "ssim": _finite(values[:, 1].mean())}
    return out


def _wrap(desc: str, unit: str = "img") -> Callable[[Iterable[Any], int], Iterable[Any]]:
    return lambda iterable, total: progress(iterable, total=total, desc=desc, unit=unit)


def _scores(result: EvalResult) -> dict[str, tuple[float, float]]:
    if result.exit_code:
        raise UserError(f"{result.blur_dir}: " + "; ".join(problem_lines(result)[:5]
                                                            or ["no pairs"]))
    return {s.path: (s.psnr, s.ssim) for s in result.images}


def _read_float(path: Path) -> np.ndarray:
    from deblurkit.io import read_image, to_float

    pixels = read_image(path).pixels
    return to_float(pixels if pixels.ndim == 3 else pixels[:, :, None])


def kernel_pairs(data: Path, split: str) -> list[tuple[str, Path, Path, Path]]:
    """``(path, blur, sharp, kernel .npy)`` of every pair of the ``kernel_*`` scenes, sorted.

    Raises:
        UserError: a kernel-scene pair without its ``kernel/<name>.npy``.
    """
    out = []
    for scene in sorted((data / split).glob(f"{KERNEL_PREFIX}*")):
        for blur in sorted((scene / "blur").glob("*.png")):
            kernel = scene / "kernel" / f"{blur.stem}.npy"
            if not kernel.is_file():
                raise UserError(f"{kernel}: missing (the true kernel of {blur})")
            out.append((f"{scene.name}/{blur.name}", blur, scene / "sharp" / blur.name, kernel))
    return out


def spread(items: Sequence[Any], count: int) -> list[Any]:
    """``count`` items evenly spread over ``items`` (all of them when fewer), in order."""
    if count >= len(items):
        return list(items)
    if count <= 0:
        return []
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def model_identity(spec: str, bundled: str = "default") -> dict[str, Any]:
    """The specification and, for a weight file, its path and SHA-256.

    ``"default"`` names the bundled file ``bundled`` (``"default"`` for the generator,
    ``"default_selector"`` for the classifier).
    """
    from deblurkit.pretrained import BUNDLED

    path = BUNDLED[bundled].path if spec == "default" else Path(spec)
    info: dict[str, Any] = {"spec": spec}
    if path.is_file():
        info["file"] = str(path)
        info["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return info


def evaluate_wiener(data: Path, config: MetricConfig, tune: int,
                    grid: Sequence[float] = DEFAULT_BALANCE_GRID,
                    ) -> tuple[dict[str, tuple[float, float]], dict[str, Any], float | None]:
    """Tune the balance on ``tune`` train kernel pairs, then score every test kernel pair."""
    train = spread(kernel_pairs(data, "train"), tune)
    if not train:
        return {}, {"skipped": "no train kernel pairs (or --wiener-tune 0)"}, None

    def triples() -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for _, blur, sharp, kernel in progress(train, total=len(train), desc="wiener tune",
                                               unit="img"):
            yield _read_float(blur), _read_float(sharp), np.load(kernel)

    search = tune_wiener_balance(triples(), grid, config=config)
    scores = {}
    test = kernel_pairs(data, "test")
    for path, blur, sharp, kernel in progress(test, total=len(test), desc="wiener test",
                                              unit="img"):
        from deblurkit.io import read_image

        restored = wiener_deconvolve(_read_float(blur), np.load(kernel), search.balance)
        sharp_pixels = read_image(sharp).pixels
        if sharp_pixels.ndim == 2:
            sharp_pixels = sharp_pixels[:, :, None]
        scores[path] = psnr_ssim(restored, sharp_pixels, config)
    info = {"balance": search.balance, "grid": list(search.grid),
            "tune_mean_psnr": list(search.mean_psnr), "tune_pairs": search.count,
            "tune_split": "train", "pad": "nearest", "taper": True,
            "balance_at_grid_edge": search.balance in (min(search.grid), max(search.grid))}
    return scores, info, search.balance


def evaluate_selector(data: Path, classifier: Any,
                      threshold: float = SELECTOR_THRESHOLD) -> dict[str, Any]:
    """Classify every frame of every labelled test clip; accuracy and per-class recall."""
    from deblurkit.data.video import video_clips

    clips = video_clips(data / "videos", split="test", require_labels=True)
    frames = [f for clip in clips for f in clip.frames]
    labels, scores = [], []
    batches = [frames[i:i + SELECTOR_BATCH] for i in range(0, len(frames), SELECTOR_BATCH)]
    for batch in progress(batches, total=len(batches), desc="selector", unit="batch"):
        images = [_read_float(f.blur) for f in batch]
        if len({im.shape for im in images}) != 1:  # clips of different sizes: one by one
            probs = [float(classifier(_to_batch([im]))[0]) for im in images]
        else:
            probs = classifier(_to_batch(images)).cpu().tolist()
        scores += probs
        labels += [int(f.label) for f in batch]
    truth = np.asarray(labels, dtype=bool)
    predicted = np.asarray(scores, dtype=np.float64) >= threshold
    n_blurred, n_sharp = int(truth.sum()), int((~truth).sum())
    return {
        "threshold": threshold, "clips": len(clips), "count": len(labels),
        "blurred_frames": n_blurred, "sharp_frames": n_sharp,
        "accuracy": float((predicted == truth).mean()) if labels else None,
        "blurred_recall": float(predicted[truth].mean()) if n_blurred else None,
        "sharp_recall": float((~predicted[~truth]).mean()) if n_sharp else None,
        "majority_class_accuracy": max(n_blurred, n_sharp) / len(labels) if labels else None,
        "predicted_blurred": int(predicted.sum()),
    }


def _to_batch(images: Sequence[np.ndarray]) -> torch.Tensor:
    rgb = [np.repeat(im, 3, axis=2) if im.shape[2] == 1 else im[:, :, :3] for im in images]
    return torch.from_numpy(np.stack(rgb).transpose(0, 3, 1, 2).copy())


def measure_latency(model: str, device: str, runs: int = LATENCY_RUNS,
                    warmup: int = LATENCY_WARMUP) -> dict[str, Any]:
    """Median seconds of one 1280x720 forward pass, fp32 and bf16, channels_last."""
    from deblurkit.inference.resolve import load_backend

    x = torch.rand(1, 3, *HD, generator=torch.Generator().manual_seed(0))
    out: dict[str, Any] = {"resolution": f"{HD[1]}x{HD[0]}", "runs": runs, "warmup": warmup,
                           "channels_last": True, "threads": torch.get_num_threads()}
    for dtype in ("fp32", "bf16"):
        backend = load_backend(model, device=device, dtype=dtype, channels_last=True)
        median, times = median_latency(lambda: backend(x), runs=runs, warmup=warmup)
        out[f"{dtype}_seconds"] = median
        out[f"{dtype}_times"] = times
    return out


def measure_classifier_latency(classifier: str, device: str, runs: int = LATENCY_RUNS,
                               warmup: int = LATENCY_WARMUP) -> dict[str, Any]:
    """Median seconds of the frame selector on one 1280x720 frame (fp32, as ``video`` runs it)."""
    from deblurkit.inference.classifier import load_classifier

    x = torch.rand(1, 3, *HD, generator=torch.Generator().manual_seed(0))
    clf = load_classifier(classifier, device=device)
    median, times = median_latency(lambda: clf(x), runs=runs, warmup=warmup)
    return {"fp32_seconds": median, "fp32_times": times}


def choose_examples(paths: Sequence[str], per_kind: int = EXAMPLES_PER_KIND) -> list[str]:
    """A fixed choice: per kind, the first pair of each scene in turn (sorted), ``per_kind`` each."""
    chosen = []
    for kind in ("kernel", "average"):
        scenes: dict[str, list[str]] = {}
        for p in sorted(paths):
            if subset_of(p) == kind:
                scenes.setdefault(p.split("/", 1)[0], []).append(p)
        queues = [scenes[s] for s in sorted(scenes)]
        picked: list[str] = []
        depth = 0
        while len(picked) < per_kind and any(depth < len(q) for q in queues):
            picked += [q[depth] for q in queues if depth < len(q)][:per_kind - len(picked)]
            depth += 1
        chosen += picked
    return chosen


def write_figure(out: Path, rows: list[list[tuple[np.ndarray | None, str]]]) -> Path:
    """A grid of labelled tiles (None = blank tile); written atomically as PNG."""
    from PIL import Image, ImageDraw

    from deblurkit.utils.atomic import atomic_path

    def tile_size(im: np.ndarray) -> tuple[int, int]:
        scale = min(1.0, FIGURE_TILE / max(im.shape[:2]))
        return max(1, round(im.shape[1] * scale)), max(1, round(im.shape[0] * scale))

    sizes = [tile_size(im) for row in rows for im, _ in row if im is not None]
    tw, th = max(s[0] for s in sizes), max(s[1] for s in sizes)
    columns = max(len(row) for row in rows)
    step_x, step_y = tw + FIGURE_GAP, th + LABEL_HEIGHT + FIGURE_GAP
    canvas = Image.new("RGB", (columns * step_x - FIGURE_GAP, len(rows) * step_y - FIGURE_GAP),
                       "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        top = r * step_y
        for c, (image, label) in enumerate(row):
            left = c * step_x
            draw.text((left + 2, top + 1), label, fill="black")
            if image is None:
                draw.rectangle([left, top + LABEL_HEIGHT, left + tw - 1,
                                top + LABEL_HEIGHT + th - 1], fill=(200, 200, 200))
                continue
            pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
            if pixels.shape[2] == 1:
                pixels = np.repeat(pixels, 3, axis=2)
            tile = Image.fromarray(pixels).resize(tile_size(image), Image.Resampling.LANCZOS)
            canvas.paste(tile, (left, top + LABEL_HEIGHT))
    with atomic_path(out) as tmp:
        canvas.save(tmp, format="PNG")
    return out


def _example_rows(data: Path, paths: Sequence[str], restorer: Any, balance: float | None,
                  config: MetricConfig) -> list[list[tuple[np.ndarray | None, str]]]:
    from deblurkit.io import read_image

    rows = []
    for path in paths:
        scene, name = path.split("/", 1)
        folder = data / "test" / scene
        blurred = _read_float(folder / "blur" / name)
        sharp_pixels = read_image(folder / "sharp" / name).pixels
        sharp_pixels = sharp_pixels if sharp_pixels.ndim == 3 else sharp_pixels[:, :, None]

        def label(what: str, image: np.ndarray) -> str:
            return f"{what} {psnr_ssim(image, sharp_pixels, config)[0]:.2f} dB"

        row: list[tuple[np.ndarray | None, str]] = [(blurred, label("blurred", blurred))]
        kernel = folder / "kernel" / (Path(name).stem + ".npy")
        if balance is not None and kernel.is_file():
            wiener = wiener_deconvolve(blurred, np.load(kernel), balance)
            row.append((wiener, label("Wiener, true k:", wiener)))
        else:
            row.append((None, "Wiener: no kernel"))
        restored = np.asarray(restorer(blurred))
        row += [(restored, label("model", restored)),
                (sharp_pixels.astype(np.float32) / np.iinfo(sharp_pixels.dtype).max, "sharp")]
        rows.append(row)
    return rows


def evaluate_default(data: str | os.PathLike, model: str = "default",
                     classifier: str | None = "default", *, wiener_tune: int = 40,
                     grid: Sequence[float] = DEFAULT_BALANCE_GRID, threads: int | None = None,
                     latency: bool = True, device: str = "cpu", bf16: bool = True,
                     config: MetricConfig | None = None,
                     figure: str | os.PathLike | None = None) -> dict[str, Any]:
    """The held-out evaluation of a deblurring model (and frame selector) on synthesized data.

    Args:
        data: ``deblurkit synth`` output (``test/``, ``train/``, ``videos/test/``).
        model: generator specification (``"default"``, a ``.safetensors`` file, ...).
        classifier: frame-classifier specification, or None to skip the selector.
        wiener_tune: train kernel pairs (evenly spread over the sorted list) to tune the
            Wiener balance on; 0 skips the Wiener baseline.
        grid: balances tried.
        threads: ``torch.set_num_threads`` (None: leave torch's setting).
        latency: time the model at 1280x720.
        device: torch device of the model and classifier.
        bf16: also score the model under bf16 autocast.
        config: metric conventions (default :class:`MetricConfig`).
        figure: where to write the examples figure, or None.

    Returns:
        The JSON-ready result (see ``benchmarks/results/default_model.json``).

    Raises:
        UserError: missing folders, unpaired or unreadable files, a missing kernel file.
    """
    from deblurkit.inference.classifier import load_classifier
    from deblurkit.inference.resolve import load_backend
    from deblurkit.inference.restorer import Restorer

    start = time.perf_counter()
    if threads is not None:
        torch.set_num_threads(int(threads))
    root = Path(data)
    cfg = MetricConfig() if config is None else config
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    kernel_response = manifest.get("config", {}).get("kernel_response")
    result: dict[str, Any] = {
        "deblurkit_version": __version__, "data": str(data), "split": "test",
        "data_seed": manifest.get("config", {}).get("seed"), "kernel_response": kernel_response,
        "model": model_identity(model), "device": device, "config": cfg.as_dict(),
    }
    methods: dict[str, dict[str, tuple[float, float]]] = {}
    methods["blurred"] = _scores(evaluate_gopro(root, "test", config=cfg,
                                                wrap=_wrap("blurred")))
    methods["wiener"], result["wiener"], balance = evaluate_wiener(root, cfg, wiener_tune, grid)
    restorers = {}
    for dtype in ("fp32", "bf16") if bf16 else ("fp32",):
        restorer = Restorer(load_backend(model, device=device, dtype=dtype))
        restorers[dtype] = restorer
        methods[f"model_{dtype}"] = _scores(evaluate_gopro(
            root, "test", config=cfg, restore=restorer, model=f"{model} ({dtype})",
            wrap=_wrap(f"model {dtype}")))
    result["counts"] = {s: m["count"] for s, m in subset_means(methods["blurred"]).items()}
    result["pairs"] = {name: subset_means(scores, ("kernel",) if name == "wiener" else SUBSETS)
                       for name, scores in methods.items() if scores}
    result["images"] = [{"path": p, "subset": subset_of(p),
                         **{f"{name}_{k}": _finite(scores[p][i]) if p in scores else None
                            for name, scores in methods.items()
                            for i, k in enumerate(("psnr", "ssim"))}}
                        for p in sorted(methods["blurred"])]
    if classifier is not None:
        result["classifier"] = model_identity(classifier, "default_selector")
        result["selector"] = evaluate_selector(root, load_classifier(classifier, device=device))
    if figure is not None:
        examples = choose_examples(list(methods["blurred"]))
        write_figure(Path(figure), _example_rows(root, examples, restorers["fp32"], balance, cfg))
        result["figure"] = {"file": str(figure), "examples": examples}
    if latency:
        result["latency"] = measure_latency(model, device)
        if classifier is not None:
            result["latency"]["selector"] = measure_classifier_latency(classifier, device)
    result["machine"] = machine()
    result["seconds"] = time.perf_counter() - start
    return result


def _cell(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(result: dict[str, Any], command: str) -> str:
    """The Markdown block for docs/default-model.md."""
    names = {"blurred": "blurred input", "model_fp32": "model, fp32",
             "model_bf16": "model, bf16 autocast"}
    wiener = result.get("wiener", {})
    if "balance" in wiener:
        names["wiener"] = (f"Wiener, true kernel (balance {wiener['balance']:.3g}, tuned on "
                           f"{wiener['tune_pairs']} train pairs)")
    counts = result["counts"]
    lines = [f"Test split of `{result['data']}`: {counts['kernel']} kernel pairs, "
             f"{counts['average']} frame-averaged pairs, {counts['all']} in all. Mean PSNR (dB) "
             "/ SSIM, RGB, 8-bit outputs (`MetricConfig()` defaults).", "",
             "| method | kernel PSNR | SSIM | average PSNR | SSIM | all PSNR | SSIM |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key in ("blurred", "wiener", "model_fp32", "model_bf16"):
        if key not in result["pairs"] or key not in names:
            continue
        cells = [names[key]]
        for subset in SUBSETS:
            m = result["pairs"][key].get(subset, {"psnr": None, "ssim": None})
            cells += [_cell(m["psnr"], 2), _cell(m["ssim"], 4)]
        lines.append("| " + " | ".join(cells) + " |")
    selector = result.get("selector")
    if selector:
        lines += ["", f"Frame selector on {selector['count']} frames of {selector['clips']} test "
                  f"clips ({selector['blurred_frames']} blurred), blurred when P >= "
                  f"{selector['threshold']}:", "",
                  "| accuracy | blurred recall | sharp recall | majority-class accuracy |",
                  "| ---: | ---: | ---: | ---: |",
                  f"| {_cell(selector['accuracy'], 3)} | {_cell(selector['blurred_recall'], 3)} "
                  f"| {_cell(selector['sharp_recall'], 3)} "
                  f"| {_cell(selector['majority_class_accuracy'], 3)} |"]
    lat = result.get("latency")
    if lat:
        lines += ["", f"Latency at {lat['resolution']} (median of {lat['runs']} after "
                  f"{lat['warmup']} warm-up, {lat['threads']} threads, {result['machine']['cpu']}): "
                  f"{lat['fp32_seconds']:.2f} s fp32, {lat['bf16_seconds']:.2f} s bf16"
                  + (f"; the frame selector {lat['selector']['fp32_seconds']:.3f} s fp32 per "
                     "frame." if "selector" in lat else ".")]
    lines += ["", f"`{command}` ({result['seconds']:.0f} s)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/default", help="deblurkit synth output")
    parser.add_argument("--model", default="default", help="generator specification")
    parser.add_argument("--classifier", default="default",
                        help="frame classifier specification ('none' skips the selector)")
    parser.add_argument("--wiener-tune", type=int, default=40,
                        help="train kernel pairs to tune the Wiener balance on (0: no Wiener)")
    parser.add_argument("--grid", type=float, nargs="+", default=list(DEFAULT_BALANCE_GRID),
                        help="Wiener balances to try (default: 1e-4..1, 4 per decade)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--no-latency", action="store_true", help="skip the 1280x720 timing")
    parser.add_argument("--selector-only", action="store_true",
                        help="only score --classifier on the test clips and print the result "
                             "(writes nothing: for comparing selector runs)")
    args = parser.parse_args()
    command = ("python benchmarks/default_model.py " + " ".join(sys.argv[1:])).strip()
    classifier = None if args.classifier.lower() == "none" else args.classifier
    if args.selector_only:
        from deblurkit.inference.classifier import load_classifier

        torch.set_num_threads(args.threads)
        try:
            scores = evaluate_selector(Path(args.data), load_classifier(args.classifier,
                                                                        device=args.device))
        except UserError as exc:
            sys.exit(f"default_model: {exc}")
        print(json.dumps({"classifier": args.classifier, **scores}, indent=1))
        return
    try:
        result = evaluate_default(args.data, args.model, classifier,
                                  wiener_tune=args.wiener_tune, grid=args.grid,
                                  threads=args.threads, latency=not args.no_latency,
                                  device=args.device, figure=FIGURE)
    except UserError as exc:
        sys.exit(f"default_model: {exc}")
    result["command"] = command
    path = save_json(RESULT_FILE, result)
    if not DOC.exists():
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(f"# The default model\n\n{START}\n{END}\n")
    text = table(result, command)
    replace_marked_block(DOC, START, END, f"\n{text}\n")
    print(text)
    print(f"wrote {path}, {DOC}, {FIGURE}")


if __name__ == "__main__":
    main()
