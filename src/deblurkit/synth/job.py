"""The ``deblurkit synth`` job: make a paired deblurring dataset on disk.

Three kinds of data, mixed as asked (see ``docs/synthesis.md``):

- ``kernel``  -- uniform camera-shake blur ``b = quantize(k * l + n)``: a random
  Boracchi-Foi trajectory kernel ``k``, Gaussian noise ``n``, 8-bit quantization. The true
  kernel is saved beside the pair (PNG for viewing, ``.npy`` with the exact float64 values).
- ``average`` -- the GoPro protocol: ``M`` (7, 9, 11 or 13) consecutive high-fps frames
  averaged in linear light; the middle frame is the sharp target.
- ``video``   -- S4 partially blurred clips (:mod:`deblurkit.synth.video`) with per-frame
  labels in ``labels.csv``.

Layout (the GoPro layout, read by ``deblurkit.data``)::

    <out>/<split>/<scene>/blur/<name>.png
    <out>/<split>/<scene>/sharp/<name>.png
    <out>/<split>/<scene>/kernel/<name>.png, <name>.npy     (kernel kind only)
    <out>/videos/<split>/<clip>/{blur,sharp}/<frame>.png     (video kind)
    <out>/videos/<split>/<clip>/labels.csv                   (video kind: "frame,blurred")
    <out>/manifest.json                                      (every parameter used)
    <out>/preview.png                                        (blur | sharp | kernel grid)

Determinism: item ``i`` of split ``s`` and group ``g`` (0 = pairs, 1 = clips) draws all its
randomness from ``numpy.random.SeedSequence(seed, spawn_key=(s, g, i))`` (``s`` = 0 train,
1 test), so the bytes do not depend on the number of workers or on the order of work, and
adding items never changes earlier ones. The train/test file partition of file-based
sources uses ``spawn_key=(PARTITION_KEY,)``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import shutil
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import UserError

#: The kinds of data the job can make.
KINDS = ("kernel", "average", "video")
#: Kinds that make single image pairs (the rest make clips).
PAIR_KINDS = ("kernel", "average")
#: Named sources (anything else given as a source is a path).
NAMED_SOURCES = ("procedural", "skimage")
#: Camera response names accepted by :func:`make_response`.
RESPONSES = ("gamma", "srgb", "none")
#: Seed-sequence keys: split ids, item groups, and the source partition stream.
SPLITS = ("train", "test")
GROUP_PAIRS, GROUP_CLIPS = 0, 1
PARTITION_KEY = 2
#: Files that mark a folder as made by this job (so --overwrite may clear it).
MARKER_NAME = ".deblurkit-synth"
MANIFEST_NAME = "manifest.json"
PREVIEW_NAME = "preview.png"
LABELS_NAME = "labels.csv"
#: Clips live under their own root, so the image-pair splits hold image pairs only.
VIDEOS_DIR = "videos"
MANIFEST_FORMAT = "deblurkit-synth/1"
#: Rows of the preview grid.
PREVIEW_ROWS = 6
#: Bit depth of every written PNG.
OUTPUT_BITS = 8
#: Config fields that do not change the data (kept apart in the manifest's "run" entry).
RUN_FIELDS = ("out", "workers", "overwrite")


@dataclass
class SynthConfig:
    """Everything the ``synth`` job needs; recorded in full in the manifest.

    Args:
        out: output folder (must be empty or absent unless ``overwrite``).
        n_train: image pairs (kernel/average kinds) in the training split.
        n_test: image pairs in the test split.
        size: crop (height, width) of every pair and clip frame.
        seed: root seed.
        kinds: subset of :data:`KINDS`; pair items go round-robin over the pair kinds.
        sources: ``"procedural"``, ``"skimage"`` and/or paths of images, image folders or
            high-frame-rate videos; items go round-robin over the sources.
        video_clips: partially blurred clips in the training split (``video`` kind).
        test_video_clips: clips in the test split; None: ``ceil(video_clips * n_test / n_train)``.
        clip_frames: output frames per clip (S4 uses 100).
        kernel_size: side of the camera-shake kernels.
        max_trajectory_length: trajectory length in pixels (Boracchi-Foi ``max_length``).
        exposure_range: fraction of the trajectory integrated, drawn uniformly in this range.
        noise_sigma: Gaussian noise standard deviation range (``[0, 1]`` units), kernel kind.
        kernel_response: camera response for kernel blur (``"none"``: blur encoded values,
            the plain ``b = k * l + n``).
        response: camera response for frame averaging (GoPro and S4: gamma).
        gamma: exponent of the ``"gamma"`` response.
        frame_counts: frame counts ``M`` of the average kind (odd).
        min_interval, max_interval, max_blurred_fraction, skip_probability: the S4 video
            protocol (:class:`~deblurkit.synth.video.PartialBlurConfig`).
        holdout_fraction: fraction of each file-based source's files (scikit-image photos,
            the user's images and videos) kept for the test split only; None: the test
            split's share of the pairs, ``n_test / (n_train + n_test)``. At least one file
            is held out and one kept whenever a source has two or more.
        workers: worker processes (None: ``os.cpu_count()``).
        overwrite: replace an earlier ``synth`` output in ``out``.
        preview: write ``preview.png``.
    """

    out: Path
    n_train: int = 500
    n_test: int = 100
    size: tuple[int, int] = (256, 256)
    seed: int = 0
    kinds: tuple[str, ...] = KINDS
    sources: tuple[str, ...] = NAMED_SOURCES
    video_clips: int = 4
    test_video_clips: int | None = None
    clip_frames: int = 50
    kernel_size: int = 31
    max_trajectory_length: float = 40.0
    exposure_range: tuple[float, float] = (0.25, 1.0)
    noise_sigma: tuple[float, float] = (0.0, 0.01)
    kernel_response: str = "none"
    response: str = "gamma"
    gamma: float = 2.2
    frame_counts: tuple[int, ...] = (7, 9, 11, 13)
    min_interval: int = 7
    max_interval: int = 12
    max_blurred_fraction: float = 0.7
    skip_probability: float = 0.4
    holdout_fraction: float | None = None
    workers: int | None = None
    overwrite: bool = False
    preview: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.size = (int(self.size[0]), int(self.size[1]))
        self.kinds = tuple(self.kinds)
        self.sources = tuple(str(s) for s in self.sources)
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise UserError(f"--kinds: unknown kind {bad[0]!r} (choose from {', '.join(KINDS)})"
                            if bad else "--kinds: give at least one kind")
        if min(self.size) < 8:
            raise UserError(f"--size: {self.size[0]}x{self.size[1]} is too small (>= 8)")
        for name in ("kernel_response", "response"):
            if getattr(self, name) not in RESPONSES:
                raise UserError(f"--{name.replace('_', '-')}: unknown response "
                                f"{getattr(self, name)!r} (choose from {', '.join(RESPONSES)})")
        if any(m < 1 or m % 2 == 0 for m in self.frame_counts):
            raise UserError(f"frame counts must be odd and >= 1, got {self.frame_counts}")
        if not self.sources:
            raise UserError("--source: give at least one source")
        if min(self.n_train, self.n_test, self.video_clips, self.clip_frames) < 0:
            raise UserError("counts must be >= 0")
        if self.holdout_fraction is not None and not 0.0 < self.holdout_fraction < 1.0:
            raise UserError(f"--holdout: {self.holdout_fraction} is not in (0, 1)")

    def run_json(self) -> dict[str, Any]:
        """Settings of this run that do not affect the output bytes."""
        return {"out": str(self.out), "workers": self.workers, "overwrite": self.overwrite}

    @property
    def n_test_clips(self) -> int:
        if "video" not in self.kinds:
            return 0
        if self.test_video_clips is not None:
            return self.test_video_clips
        if self.video_clips == 0 or self.n_test == 0:
            return 0
        return math.ceil(self.video_clips * self.n_test / max(self.n_train, 1))

    @property
    def n_train_clips(self) -> int:
        return self.video_clips if "video" in self.kinds else 0

    def to_json(self) -> dict[str, Any]:
        """The settings that decide the data (``out``, ``workers``, ``overwrite`` are in
        :meth:`run_json`: they do not change a byte)."""
        d = dataclasses.asdict(self)
        for key in RUN_FIELDS:
            d.pop(key)
        d["size"] = list(self.size)
        d["test_video_clips"] = self.n_test_clips
        d["video_clips"] = self.n_train_clips
        return d


def make_response(name: str, gamma: float = 2.2):
    """Camera response object from its name (:data:`RESPONSES`); ``"none"`` -> identity."""
    from deblurkit.synth.response import GammaResponse, LinearResponse, SRGBResponse

    if name == "gamma":
        return GammaResponse(gamma)
    if name == "srgb":
        return SRGBResponse()
    if name == "none":
        return LinearResponse()
    raise ValueError(f"unknown response {name!r}")


def describe_response(name: str, gamma: float) -> dict[str, Any]:
    return {"name": name, "gamma": gamma} if name == "gamma" else {"name": name}


def item_seed(seed: int, split: str, group: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of one item: ``SeedSequence(seed, spawn_key=(split, group, index))``."""
    return np.random.SeedSequence(seed, spawn_key=(SPLITS.index(split), group, index))


@dataclass(frozen=True)
class Task:
    """One unit of work: a pair or a clip."""

    split: str
    group: int
    index: int
    kind: str
    source: str
    scene: str
    name: str


@dataclass
class _Context:
    config: SynthConfig
    sources: dict[str, dict[str, Any]]  # split -> source name -> Source
    partial_config: Any = None
    kernel_config: Any = None


_CTX: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _CTX
    _CTX = ctx


def plan_tasks(config: SynthConfig, source_names: Sequence[str]) -> list[Task]:
    """Every pair and clip of both splits, in canonical order.

    Pair ``i`` gets kind ``pair_kinds[i % K]`` and source ``sources[(i // K) % S]``; clip
    ``c`` gets source ``sources[c % S]``.
    """
    pair_kinds = [k for k in config.kinds if k in PAIR_KINDS]
    tasks: list[Task] = []
    for split, n_pairs, n_clips in (("train", config.n_train, config.n_train_clips),
                                    ("test", config.n_test, config.n_test_clips)):
        if pair_kinds:
            for i in range(n_pairs):
                kind = pair_kinds[i % len(pair_kinds)]
                src = source_names[(i // len(pair_kinds)) % len(source_names)]
                tasks.append(Task(split, GROUP_PAIRS, i, kind, src, f"{kind}_{src}", f"{i:06d}"))
        for c in range(n_clips):
            src = source_names[c % len(source_names)]
            tasks.append(Task(split, GROUP_CLIPS, c, "video", src, f"clip_{src}_{c:03d}", ""))
    return tasks


def _quantized(image: np.ndarray) -> np.ndarray:
    """Round to the output bit depth and back: the sharp image exactly as it is saved."""
    from deblurkit.io import from_float, to_float

    return np.asarray(to_float(from_float(image, OUTPUT_BITS)), dtype=np.float32)


def _write_png(path: Path, image: np.ndarray) -> None:
    from deblurkit.io import from_float, write_image

    write_image(path, from_float(image, OUTPUT_BITS), overwrite=False)


def kernel_preview(kernel: np.ndarray) -> np.ndarray:
    """Kernel scaled so its maximum is white, HxWx1 float32, for viewing only."""
    peak = float(kernel.max())
    view = kernel / peak if peak > 0 else kernel
    return view.astype(np.float32)[:, :, None]


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _seed_record(config: SynthConfig, task: Task) -> dict[str, Any]:
    return {"entropy": config.seed,
            "spawn_key": [SPLITS.index(task.split), task.group, task.index]}


def _make_kernel_pair(ctx: _Context, task: Task, rng: np.random.Generator,
                      folder: Path) -> dict[str, Any]:
    from deblurkit.synth.blur import blur_with_kernel
    from deblurkit.synth.kernels import random_trajectory, trajectory_to_kernel

    cfg = ctx.config
    content_rng, kernel_rng, noise_rng = rng.spawn(3)
    source = ctx.sources[task.split][task.source]
    sharp, source_params = source.image(content_rng, cfg.size)
    sharp = _quantized(sharp)
    trajectory = random_trajectory(kernel_rng, ctx.kernel_config)
    exposure = float(kernel_rng.uniform(*cfg.exposure_range))
    kernel = trajectory_to_kernel(trajectory, cfg.kernel_size, exposure, center=True)
    sigma = float(noise_rng.uniform(*cfg.noise_sigma))
    response = None if cfg.kernel_response == "none" else make_response(cfg.kernel_response,
                                                                         cfg.gamma)
    blur = blur_with_kernel(sharp, kernel, noise_sigma=sigma, rng=noise_rng, bits=OUTPUT_BITS,
                            response=response)
    blur_path = folder / "blur" / f"{task.name}.png"
    sharp_path = folder / "sharp" / f"{task.name}.png"
    kpng = folder / "kernel" / f"{task.name}.png"
    knpy = folder / "kernel" / f"{task.name}.npy"
    _write_png(blur_path, blur)
    _write_png(sharp_path, sharp)
    _write_png(kpng, kernel_preview(kernel))
    from deblurkit.utils.atomic import atomic_path

    with atomic_path(knpy, overwrite=False) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, kernel.astype(np.float64), allow_pickle=False)
    root = cfg.out
    return {"blur": _rel(blur_path, root), "sharp": _rel(sharp_path, root),
            "kernel": _rel(knpy, root), "kernel_png": _rel(kpng, root),
            "source_params": source_params,
            "params": {"kernel_size": cfg.kernel_size, "exposure": exposure,
                       "trajectory": dataclasses.asdict(ctx.kernel_config),
                       "kernel_centered": True, "noise_sigma": sigma,
                       "response": describe_response(cfg.kernel_response, cfg.gamma),
                       "boundary": "reflect", "bits": OUTPUT_BITS}}


def _make_average_pair(ctx: _Context, task: Task, rng: np.random.Generator,
                       folder: Path) -> dict[str, Any]:
    from deblurkit.synth.averaging import frame_average_pair

    cfg = ctx.config
    count_rng, content_rng = rng.spawn(2)
    m = int(count_rng.choice(np.asarray(cfg.frame_counts)))
    source = ctx.sources[task.split][task.source]
    frames, available, source_params = source.frames(content_rng, m, cfg.size)
    stack = np.stack([_quantized(f) for f in frames])
    if len(stack) % 2 == 0:  # a video shorter than M: keep an odd count
        stack = stack[:-1]
    blur, sharp = frame_average_pair(stack, make_response(cfg.response, cfg.gamma))
    blur_path = folder / "blur" / f"{task.name}.png"
    sharp_path = folder / "sharp" / f"{task.name}.png"
    _write_png(blur_path, blur)
    _write_png(sharp_path, sharp)
    return {"blur": _rel(blur_path, cfg.out), "sharp": _rel(sharp_path, cfg.out),
            "source_params": source_params,
            "params": {"frames": int(len(stack)), "frames_requested": m,
                       "sharp_frame": int(len(stack) // 2),
                       "response": describe_response(cfg.response, cfg.gamma),
                       "noise_sigma": 0.0, "bits": OUTPUT_BITS}}


def _make_clip(ctx: _Context, task: Task, rng: np.random.Generator,
               folder: Path) -> dict[str, Any]:
    from deblurkit.synth.video import plan_intervals, render_planned
    from deblurkit.utils.atomic import write_text_atomic

    cfg = ctx.config
    pcfg = ctx.partial_config
    plan_rng, content_rng, replan_rng = rng.spawn(3)
    wanted = cfg.clip_frames * cfg.max_interval
    plan = plan_intervals(wanted, plan_rng, pcfg, max_intervals=cfg.clip_frames)
    needed = sum(iv.length for iv in plan)
    source = ctx.sources[task.split][task.source]
    frames, available, source_params = source.frames(content_rng, needed, cfg.size)
    if available < needed:  # a short user video: re-plan on what it has (same plan stream)
        plan = plan_intervals(available, replan_rng, pcfg, max_intervals=cfg.clip_frames)
    quantized = (_quantized(f) for f in frames)
    lines = ["frame,blurred"]
    records = []
    for vf in render_planned(quantized, plan, pcfg.response):
        stem = f"{vf.index:06d}"
        _write_png(folder / "blur" / f"{stem}.png", vf.blur)
        _write_png(folder / "sharp" / f"{stem}.png", vf.sharp)
        lines.append(f"{stem},{int(vf.blurred)}")
        iv = vf.interval
        records.append({"frame": stem, "blurred": int(iv.blurred), "start": iv.start,
                        "length": iv.length, "reference": iv.reference})
    write_text_atomic(folder / LABELS_NAME, "\n".join(lines) + "\n", overwrite=False)
    n_blurred = sum(r["blurred"] for r in records)
    return {"folder": _rel(folder, cfg.out), "labels": _rel(folder / LABELS_NAME, cfg.out),
            "source_params": source_params,
            "params": {"frames": len(records), "blurred": n_blurred,
                       "blurred_fraction": n_blurred / max(len(records), 1),
                       "source_frames": sum(r["length"] for r in records),
                       "protocol": {"min_interval": pcfg.min_interval,
                                    "max_interval": pcfg.max_interval,
                                    "max_blurred_fraction": pcfg.max_blurred_fraction,
                                    "skip_probability": pcfg.skip_probability,
                                    "response": describe_response(cfg.response, cfg.gamma),
                                    "reference": "start + length // 2"},
                       "bits": OUTPUT_BITS},
            "intervals": records}


def run_task(task: Task) -> dict[str, Any]:
    """Make one item in the worker (writes its files); returns its manifest record."""
    ctx = _CTX
    assert ctx is not None, "worker not initialised"
    rng = np.random.default_rng(item_seed(ctx.config.seed, task.split, task.group, task.index))
    split_root = ctx.config.out / VIDEOS_DIR if task.kind == "video" else ctx.config.out
    folder = split_root / task.split / task.scene
    maker = {"kernel": _make_kernel_pair, "average": _make_average_pair,
             "video": _make_clip}[task.kind]
    record = {"split": task.split, "kind": task.kind, "source": task.source,
              "scene": task.scene, "index": task.index,
              "seed": _seed_record(ctx.config, task)}
    if task.name:
        record["name"] = task.name
    try:
        record.update(maker(ctx, task, rng, folder))
    except UserError as exc:
        # re-raised as a plain UserError: subclasses with other __init__ arguments
        # (ImageReadError) do not survive the pickling back from a worker process
        raise UserError(str(exc), exc.exit_code) from None
    return record


def _software() -> dict[str, str]:
    import importlib.metadata as md

    import deblurkit

    versions = {"deblurkit": deblurkit.__version__, "python": platform.python_version()}
    for dist in ("numpy", "scipy", "scikit-image", "av", "pillow"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def prepare_output(out: Path, overwrite: bool, inputs: Sequence[Path],
                   splits: Sequence[str] = SPLITS) -> None:
    """Create ``out`` or clear an earlier synth output there (only with ``overwrite``).

    Args:
        out: the output folder.
        overwrite: may an earlier synth output there be replaced.
        inputs: the source paths (``out`` may neither be nor hold nor sit inside one).
        splits: split folders an earlier output may hold (removed on overwrite).

    Raises:
        UserError: ``out`` is a file, holds something not made by ``synth``, is not empty
            without ``overwrite``, or is/contains one of the inputs.
    """
    out = Path(out)
    resolved = out.resolve()
    for src in inputs:
        s = src.resolve()
        if s == resolved or resolved in s.parents:
            raise UserError(f"{out}: output folder contains the input {src}; choose another -o")
        if s in resolved.parents:
            raise UserError(f"{out}: output folder is inside the input folder {src} (a later "
                            f"run would read its own outputs); choose another -o")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        ours = (out / MARKER_NAME).exists() or (out / MANIFEST_NAME).exists()
        if not overwrite:
            raise UserError(f"{out}: folder is not empty (pass --overwrite to replace an "
                            f"earlier synth output)")
        if not ours:
            raise UserError(f"{out}: not a deblurkit synth output folder; refusing to "
                            f"overwrite it (choose an empty -o)")
        for name in (*SPLITS, *splits, VIDEOS_DIR, MANIFEST_NAME, PREVIEW_NAME):
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER_NAME).write_text("made by deblurkit synth\n")


def build_sources(config: SynthConfig, report: Any = None
                  ) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], list[Path],
                             list[tuple[str, str]]]:
    """Build the sources, partitioned into train/test.

    Returns:
        (split -> name -> source, manifest descriptions, the user's input paths,
        (path, reason) of the user's files that were skipped).

    Raises:
        UserError: a source that does not exist or nothing usable at all.
    """
    from deblurkit.synth.sources import (SKIMAGE_IMAGES, ImageFilesSource, ProceduralSource,
                                         SkimageSource, load_skimage_image, scan_inputs)

    built: dict[str, Any] = {}
    failures: list[tuple[str, str]] = []
    paths = [s for s in config.sources if s not in NAMED_SOURCES]
    if "procedural" in config.sources:
        built["procedural"] = ProceduralSource()
    if "skimage" in config.sources:
        names = [n for n in SKIMAGE_IMAGES
                 if load_skimage_image(n).shape[0] >= config.size[0]
                 and load_skimage_image(n).shape[1] >= config.size[1]]
        if not names:
            raise UserError(f"--source skimage: no bundled image is as large as --size "
                            f"{config.size[0]}x{config.size[1]}")
        built["skimage"] = SkimageSource(names)
    if paths:
        from deblurkit.synth.sources import VideoFilesSource

        scan = scan_inputs(paths, config.size, report)
        failures = scan.failures
        if scan.images:
            built["images"] = ImageFilesSource(scan.images)
        if scan.videos:
            built["videos"] = VideoFilesSource(scan.videos)
        if not scan.images and not scan.videos:
            first = scan.failures[0] if scan.failures else (paths[0], "no images or videos")
            raise UserError(f"{first[0]}: {first[1]} (no usable input left)")
    total = config.n_train + config.n_test
    test_fraction = config.holdout_fraction
    if config.n_test == 0 and config.n_test_clips == 0:
        test_fraction = 0.0  # no test split: every file goes to training
    elif test_fraction is None:
        test_fraction = config.n_test / total if total else 0.2
    per_split: dict[str, dict[str, Any]] = {"train": {}, "test": {}}
    descriptions = []
    partition_rng = np.random.default_rng(
        np.random.SeedSequence(config.seed, spawn_key=(PARTITION_KEY,)))
    for name, source in built.items():
        train, test, info = source.partition(partition_rng, test_fraction)
        per_split["train"][name] = train
        per_split["test"][name] = test
        descriptions.append({**source.describe(), "partition": info})
    return per_split, descriptions, [Path(p) for p in paths], failures


def _make_preview(config: SynthConfig, records: list[dict[str, Any]]) -> None:
    from deblurkit.io import read_image, to_float, write_image

    h, w = config.size
    rows = []
    # the train split, or the test split when no train data was asked for
    split = "train" if any(r["split"] == "train" for r in records) else "test"
    chosen = [r for r in records if r["split"] == split and "blur" in r]
    by_kind = {k: [r for r in chosen if r["kind"] == k] for k in PAIR_KINDS}
    picks = []
    while len(picks) < PREVIEW_ROWS and any(by_kind.values()):
        for k in PAIR_KINDS:
            if by_kind[k] and len(picks) < PREVIEW_ROWS:
                picks.append(by_kind[k].pop(0))
    clips = [r for r in records if r["split"] == split and r["kind"] == "video"]
    if clips:  # one blurred frame of the first clip, if any
        clip = clips[0]
        blurred = [iv for iv in clip["intervals"] if iv["blurred"]]
        if blurred:
            stem = blurred[0]["frame"]
            picks.append({"blur": f"{clip['folder']}/blur/{stem}.png",
                          "sharp": f"{clip['folder']}/sharp/{stem}.png"})
    if not picks:
        return

    def tile(rel: str | None, kernel: bool = False) -> np.ndarray:
        if rel is None:
            return np.full((h, w, 3), 0.5, np.float32)
        if kernel:
            k = np.load(config.out / rel)
            k = k / k.max()
            ys = (np.arange(h) * k.shape[0] // h)
            xs = (np.arange(w) * k.shape[1] // w)
            return np.repeat(k[np.ix_(ys, xs)][:, :, None], 3, axis=2).astype(np.float32)
        px = to_float(read_image(config.out / rel).pixels)
        return np.repeat(px, 3, axis=2) if px.shape[2] == 1 else px

    gap = np.ones((h, 2, 3), np.float32)
    for r in picks:
        rows.append(np.concatenate([tile(r["blur"]), gap, tile(r["sharp"]), gap,
                                    tile(r.get("kernel"), kernel=True)], axis=1))
        rows.append(np.ones((2, rows[-1].shape[1], 3), np.float32))
    grid = np.concatenate(rows[:-1], axis=0)
    write_image(config.out / PREVIEW_NAME, grid, overwrite=True)


@dataclass
class Manifest:
    """What :func:`run_synth` made (also written to ``<out>/manifest.json``).

    Attributes:
        path: the manifest file.
        data: its JSON content.
        failures: (path, reason) of user inputs that were skipped.
    """

    path: Path
    data: dict[str, Any]
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def pairs(self) -> list[dict[str, Any]]:
        return [r for r in self.data["items"] if r["kind"] in PAIR_KINDS]

    @property
    def clips(self) -> list[dict[str, Any]]:
        return [r for r in self.data["items"] if r["kind"] == "video"]


def run_synth(config: SynthConfig, report: Any = None) -> Manifest:
    """Make the dataset described by ``config``.

    Args:
        config: the job.
        report: optional :class:`deblurkit.io.BatchReport` collecting unreadable user inputs.

    Returns:
        The :class:`Manifest` (also written atomically to ``<out>/manifest.json``).

    Raises:
        UserError: bad arguments, unusable inputs, or an output folder it may not use.

    Example:
        >>> m = run_synth(SynthConfig("/tmp/ds", n_train=10, n_test=2))  # doctest: +SKIP
    """
    from deblurkit.synth.kernels import TrajectoryConfig
    from deblurkit.synth.video import PartialBlurConfig
    from deblurkit.utils.atomic import write_text_atomic
    from deblurkit.utils.progress import progress

    sources, descriptions, inputs, failures = build_sources(config, report)
    prepare_output(config.out, config.overwrite, inputs)
    ctx = _Context(
        config=config, sources=sources,
        partial_config=PartialBlurConfig(
            min_interval=config.min_interval, max_interval=config.max_interval,
            max_blurred_fraction=config.max_blurred_fraction,
            skip_probability=config.skip_probability,
            response=make_response(config.response, config.gamma)),
        kernel_config=TrajectoryConfig(canvas=max(config.kernel_size, 2),
                                       max_length=config.max_trajectory_length))
    names = list(sources["train"])
    tasks = plan_tasks(config, names)
    # clips are the longest tasks: start them first so that workers finish together
    order = sorted(range(len(tasks)), key=lambda i: tasks[i].group != GROUP_CLIPS)
    workers = max(1, config.workers or os.cpu_count() or 1)
    records: dict[int, dict[str, Any]] = {}
    if workers == 1 or len(tasks) <= 1:
        _init_worker(ctx)
        for i in progress(order, total=len(order), desc="synth", unit="item"):
            records[i] = run_task(tasks[i])
    else:
        import multiprocessing as mp

        # spawn, not fork: safe even when the caller has started threads (torch, BLAS)
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(ctx,)) as pool:
            futures = {pool.submit(run_task, tasks[i]): i for i in order}
            for fut in progress(as_completed(futures), total=len(futures), desc="synth",
                                unit="item"):
                records[futures[fut]] = fut.result()
    items = [records[i] for i in range(len(tasks))]
    data = {
        "format": MANIFEST_FORMAT,
        "config": config.to_json(),
        "run": config.run_json(),
        "software": _software(),
        "sources": descriptions,
        "determinism": "item seed = numpy.random.SeedSequence(config.seed, spawn_key="
                       "(split, group, index)); split 0 train / 1 test; group 0 pairs / "
                       "1 clips; source partition spawn_key=(2,)",
        "counts": {split: {"pairs": sum(1 for r in items if r["split"] == split
                                        and r["kind"] in PAIR_KINDS),
                           "clips": sum(1 for r in items if r["split"] == split
                                        and r["kind"] == "video"),
                           "clip_frames": sum(r["params"]["frames"] for r in items
                                              if r["split"] == split
                                              and r["kind"] == "video")}
                   for split in SPLITS},
        "layout": {"pair": "<split>/<scene>/{blur,sharp}/<name>.png",
                   "kernel": "<split>/<scene>/kernel/<name>.{png,npy}",
                   "clip": f"{VIDEOS_DIR}/<split>/<clip>/{{blur,sharp}}/<frame>.png",
                   "clip_labels": f"{VIDEOS_DIR}/<split>/<clip>/{LABELS_NAME} (frame,blurred)"},
        "skipped_inputs": [{"path": p, "reason": r} for p, r in failures],
        "items": items,
    }
    if config.preview:
        _make_preview(config, items)
    path = config.out / MANIFEST_NAME
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_text_atomic(path, text, overwrite=True)
    return Manifest(path=path, data=json.loads(text), failures=failures)
