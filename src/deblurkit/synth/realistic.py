"""Fixed, realistic evaluation sets from real sharp content: ``deblurkit synth --config``.

The training pipeline makes a fresh pair per sample (:mod:`deblurkit.data.online`); validation
and test sets must instead be the same files every time. This job renders them with the same
degradation model (:mod:`deblurkit.synth.degrade`) from a YAML spec
(:class:`RealisticSynthConfig`; ``configs/data/realval.yaml`` makes ``data/realval``):

- image pairs per kind -- ``kernel``, ``shake`` (photographs, each photo used in turn),
  ``average`` (high-frame-rate sequences, each used in turn) and ``sharp`` (unblurred input:
  noise and compression only, half from photos, half from sequences when both exist) -- kept
  apart in the GoPro layout, one scene folder per kind, so every figure can be reported per kind;
- partially blurred clips with per-frame labels (S4's protocol,
  :mod:`deblurkit.synth.video`) from high-frame-rate sequences (played forwards and backwards to
  get enough frames; interval lengths are exposures in milliseconds at the declared rate) and
  from camera pans over photographs; every clip then gets sensor noise and one H.264 stream.

Layout::

    <out>/<split>/<kind>/{blur,sharp}/<name>.png
    <out>/<split>/kernel/kernel/<name>.npy       the true kernel of each kernel pair (float64)
    <out>/videos/<split>/<clip>/{blur,sharp}/<frame>.png, labels.csv
    <out>/manifest.json

Determinism: item ``i`` of kind ``k`` draws from ``SeedSequence(seed, spawn_key=(k, i))`` (``k``
the kind's position in :data:`ITEM_KINDS`), images are written as PNG by Pillow, H.264 runs on
one thread, and the manifest holds no time or absolute path: the same spec gives byte-identical
files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import UserError
from deblurkit.synth.corpus import HighFpsSpec, HoldOut
from deblurkit.synth.degrade import DegradationConfig, blur_psnr

__all__ = ["ClipConfig", "ITEM_KINDS", "RealisticSynthConfig", "load_realistic_config",
           "run_realistic"]

#: Kinds of items, in seed order (never reorder: the seeds of existing sets would change).
ITEM_KINDS = ("kernel", "shake", "average", "sharp", "clip_sequence", "clip_photo")
PAIR_KINDS = ITEM_KINDS[:4]
MANIFEST_FORMAT = "deblurkit-synth-realistic/1"


@dataclass(frozen=True)
class ClipConfig:
    """Partially blurred clips (S4's protocol) for frame selection.

    Args:
        sequences: clips from high-frame-rate sequences (taken in turn).
        photos: clips from camera pans over photographs (taken in turn).
        frames: output frames per clip.
        interval_ms: interval length range in milliseconds for sequence clips (each output
            frame spans one interval; a blurred frame averages all of it).
        interval_frames: interval length range in frames for photo pans (S4: 7 to 12).
        pan_speed: pan speed range over photos, pixels per frame.
        max_blurred_fraction: S4's cap on the blurred share (0.7).
        skip_probability: probability that an interval stays sharp before the cap.
    """

    sequences: int = 0
    photos: int = 0
    frames: int = 40
    interval_ms: tuple[float, float] = (15.0, 33.0)
    interval_frames: tuple[int, int] = (7, 12)
    pan_speed: tuple[float, float] = (0.6, 2.0)
    max_blurred_fraction: float = 0.7
    skip_probability: float = 0.4


@dataclass(frozen=True)
class RealisticSynthConfig:
    """The YAML spec of ``deblurkit synth --config``.

    Args:
        photos: photo files or folders.
        highfps: high-frame-rate sources with their real capture rates.
        size: side of every pair and clip frame.
        seed: root seed.
        split: the split folder name (``val``, ``test`` ...).
        pairs: image pairs per kind (``kernel``, ``shake``, ``average``, ``sharp``).
        clips: partially blurred clips.
        degradation: the degradation model (the same type training uses).
        cache_dir: decoded-pixel cache (None: the default).
        notes: free text kept in the manifest.
        holdout: render from only the listed scenes (``use: listed``: a tuning set of scenes
            the recipes leave out) or from all but them (None: every scene found).
    """

    photos: tuple[str, ...] = ()
    highfps: tuple[HighFpsSpec, ...] = ()
    size: int = 256
    seed: int = 0
    split: str = "val"
    pairs: dict[str, int] = field(default_factory=dict)
    clips: ClipConfig = field(default_factory=ClipConfig)
    degradation: DegradationConfig = field(default_factory=DegradationConfig)
    cache_dir: str | None = None
    notes: str = ""
    holdout: HoldOut | None = None

    def __post_init__(self) -> None:
        bad = [k for k in self.pairs if k not in PAIR_KINDS]
        if bad:
            raise UserError(f"pairs: unknown kind {bad[0]!r} (choose from {', '.join(PAIR_KINDS)})")
        if any(n < 0 for n in self.pairs.values()) or self.clips.sequences < 0 \
                or self.clips.photos < 0:
            raise UserError("pairs and clips: counts must be >= 0")
        if self.size < 16:
            raise UserError(f"size: {self.size} is too small (>= 16)")
        if not self.split or "/" in self.split or self.split.startswith("."):
            raise UserError(f"split: {self.split!r} is not a plain folder name")


def load_realistic_config(path: str | Path) -> RealisticSynthConfig:
    """Read and type a spec (UserError naming the file and the key at fault)."""
    from deblurkit.training.config import load_config_data
    from deblurkit.utils.typed import from_dict

    data = load_config_data(path)
    try:
        return from_dict(RealisticSynthConfig, data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def _write(path: Path, image: np.ndarray) -> None:
    from deblurkit.io import from_float, write_image

    write_image(path, image if image.dtype == np.uint8 else from_float(image, 8), overwrite=False)


def _unit(pixels: np.ndarray) -> np.ndarray:
    """uint8 / uint16 pixels -> float32 in [0, 1]."""
    from deblurkit.io import to_float

    return np.asarray(to_float(np.asarray(pixels)), dtype=np.float32)


def _rng(seed: int, kind: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(ITEM_KINDS.index(kind),
                                                                         index)))


def _single(sources: Any, kind: str, index: int) -> Any:
    """The sources restricted to the one photo or sequence item ``index`` uses (in turn)."""
    from deblurkit.synth.corpus import PhotoLibrary, SequenceLibrary, SharpSources

    photos, seqs = sources.photos, sources.sequences
    use_photo = kind in ("kernel", "shake") or (kind == "sharp" and (
        not len(seqs) or (len(photos) and index % 2 == 0)))
    if use_photo:
        if not len(photos):
            raise UserError(f"pairs.{kind}: needs photographs (give photos: ...)")
        pick = photos.files[(index // (2 if kind == "sharp" and len(seqs) else 1)) % len(photos)]
        return SharpSources(PhotoLibrary([pick], photos.cache), SequenceLibrary([], seqs.cache))
    if not len(seqs):
        raise UserError(f"pairs.{kind}: needs high-frame-rate sequences (give highfps: ...)")
    pick = seqs.sequences[(index // (2 if kind == "sharp" and len(photos) else 1)) % len(seqs)]
    return SharpSources(PhotoLibrary([], photos.cache), SequenceLibrary([pick], seqs.cache))


def _pair(cfg: RealisticSynthConfig, sources: Any, kind: str, index: int, out: Path
          ) -> dict[str, Any]:
    import dataclasses

    from deblurkit.synth.degrade import make_sample

    one = _single(sources, kind, index)
    blur_kind = "average" if len(one.sequences) else ("shake" if kind == "shake" else "kernel")
    degradation = dataclasses.replace(cfg.degradation, kind_weights={blur_kind: 1.0},
                                      sharp_fraction=1.0 if kind == "sharp" else 0.0)
    sample = make_sample(one, degradation, cfg.size, _rng(cfg.seed, kind, index))
    name = f"{index:06d}"
    record: dict[str, Any] = {"kind": kind, "name": name}
    for role, image in (("blur", sample.blur), ("sharp", sample.sharp)):
        rel = f"{cfg.split}/{kind}/{role}/{name}.png"
        _write(out / rel, image)
        record[role] = rel
    if sample.kernel is not None:   # the true kernel, for non-blind baselines
        rel = f"{cfg.split}/{kind}/kernel/{name}.npy"
        _write_array(out / rel, sample.kernel)
        record["kernel"] = rel
    record["params"] = sample.params
    return record


def _write_array(path: Path, array: np.ndarray) -> None:
    """``array`` as a ``.npy`` file (read back with ``np.load(path)``: no pickle)."""
    from deblurkit.utils.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, overwrite=False) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(array, np.float64), allow_pickle=False)


def _pingpong(pixels: np.ndarray, crop: tuple[int, int, int], size: int) -> Iterator[np.ndarray]:
    """Frames of a sequence forwards, backwards, forwards ... (endless), cropped and resized,
    as float32 encoded values (each source frame is resized once)."""
    from deblurkit.synth.corpus import resize_square

    top, left, side = crop
    n = pixels.shape[0]
    order = list(range(n)) + list(range(n - 2, 0, -1)) if n > 1 else [0]
    resized: dict[int, np.ndarray] = {}
    while True:
        for t in order:
            if t not in resized:
                resized[t] = resize_square(_unit(pixels[t, top:top + side, left:left + side]), size)
            yield resized[t]


def _clip(cfg: RealisticSynthConfig, sources: Any, kind: str, index: int, out: Path
          ) -> dict[str, Any]:
    from deblurkit.synth.degrade import degrade_frames
    from deblurkit.synth.sources import pan_path
    from deblurkit.synth.video import PartialBlurConfig, plan_intervals, render_planned
    from deblurkit.utils.atomic import write_text_atomic

    c = cfg.clips
    rng = _rng(cfg.seed, kind, index)
    plan_rng, content_rng, resp_rng, noise_rng, codec_rng = rng.spawn(5)
    response, resp_params = cfg.degradation.response(resp_rng)
    if kind == "clip_sequence":
        seqs = sources.sequences
        seq = seqs.sequences[index % len(seqs)]
        lo = max(1, int(round(c.interval_ms[0] * seq.fps / 1000)))
        hi = max(lo, int(round(c.interval_ms[1] * seq.fps / 1000)))
        pixels = seqs._pixels(seq)
        side = min(pixels.shape[1], pixels.shape[2], int(round(cfg.size / float(
            content_rng.uniform(0.5, 1.0)))))
        top = int(content_rng.integers(0, pixels.shape[1] - side + 1))
        left = int(content_rng.integers(0, pixels.shape[2] - side + 1))
        frames: Iterator[np.ndarray] = _pingpong(pixels, (top, left, side), cfg.size)
        source = {"file": seq.name, "fps": seq.fps, "window": [top, left, side],
                  "playback": "forwards then backwards, repeated"}
    else:
        photos = sources.photos
        path = photos.files[index % len(photos)]
        image = photos.cache.image(path)
        lo, hi = c.interval_frames
        n_source = c.frames * hi
        speed = float(content_rng.uniform(*c.pan_speed))
        path_xy = pan_path(content_rng, n_source, image.shape[:2], (cfg.size, cfg.size),
                           speed_range=(speed, speed))
        frames = (_unit(image[top:top + cfg.size, left:left + cfg.size])
                  for top, left in path_xy)
        source = {"file": path, "pan_speed": speed, "pan_start": path_xy[0].tolist()}
    pcfg = PartialBlurConfig(min_interval=lo, max_interval=hi,
                             max_blurred_fraction=c.max_blurred_fraction,
                             skip_probability=c.skip_probability, response=response)
    plan = plan_intervals(c.frames * hi, plan_rng, pcfg, max_intervals=c.frames)
    rendered = list(render_planned(frames, plan, response))
    blur_lin = [response.to_linear(vf.blur) for vf in rendered]
    sharp_lin = [response.to_linear(vf.sharp) for vf in rendered]
    coded, targets, noise_params = degrade_frames(blur_lin, sharp_lin, response,
                                                  cfg.degradation, True, noise_rng, codec_rng)
    name = f"{kind}_{index:03d}"
    folder = out / "videos" / cfg.split / name
    lines = ["frame,blurred"]
    for vf, b, s in zip(rendered, coded, targets):
        stem = f"{vf.index:06d}"
        _write(folder / "blur" / f"{stem}.png", b)
        _write(folder / "sharp" / f"{stem}.png", s)
        lines.append(f"{stem},{int(vf.blurred)}")
    write_text_atomic(folder / "labels.csv", "\n".join(lines) + "\n", overwrite=False)
    return {"kind": kind, "name": name, "folder": f"videos/{cfg.split}/{name}",
            "frames": len(rendered), "blurred": sum(int(vf.blurred) for vf in rendered),
            "interval": [lo, hi], "source": source,
            "params": {**resp_params, **noise_params},
            "intervals": [[vf.interval.start, vf.interval.length, int(vf.blurred)]
                          for vf in rendered],
            "blur_psnr": [blur_psnr(vf.blur, vf.sharp) if vf.blurred else None
                          for vf in rendered]}


def run_realistic(cfg: RealisticSynthConfig, out: str | Path, overwrite: bool = False,
                  report: Any = None) -> dict[str, Any]:
    """Render the pairs and clips of ``cfg`` into ``out``; returns the manifest data.

    Raises:
        UserError: unusable sources or an output folder it may not use.
    """
    from deblurkit.synth.corpus import open_sources
    from deblurkit.synth.job import MANIFEST_NAME, _software, prepare_output
    from deblurkit.utils.atomic import write_text_atomic
    from deblurkit.utils.progress import progress
    from deblurkit.utils.typed import to_dict

    out = Path(out)
    sources = open_sources(cfg.photos, cfg.highfps, cfg.cache_dir, report, min_side=cfg.size,
                           holdout=cfg.holdout)
    if len(sources.sequences):
        sources.sequences.require_frames(cfg.degradation.average.exposure_ms_range[1])
    inputs = [Path(p) for p in cfg.photos] + [Path(h.path) for h in cfg.highfps]
    prepare_output(out, overwrite, inputs, splits=(cfg.split,))
    tasks = [(k, i) for k in PAIR_KINDS for i in range(cfg.pairs.get(k, 0))]
    tasks += [("clip_sequence", i) for i in range(cfg.clips.sequences)]
    tasks += [("clip_photo", i) for i in range(cfg.clips.photos)]
    if cfg.clips.sequences and not len(sources.sequences):
        raise UserError("clips.sequences: needs high-frame-rate sequences (highfps)")
    if cfg.clips.photos and not len(sources.photos):
        raise UserError("clips.photos: needs photographs (photos)")
    items = []
    for kind, index in progress(tasks, total=len(tasks), desc="synth", unit="item"):
        make = _pair if kind in PAIR_KINDS else _clip
        items.append(make(cfg, sources, kind, index, out))
    counts = {k: sum(1 for r in items if r["kind"] == k) for k in ITEM_KINDS}
    counts["clip_frames"] = sum(r.get("frames", 0) for r in items)
    data = {"format": MANIFEST_FORMAT, "config": to_dict(cfg), "software": _software(),
            "counts": counts,
            "sources": {"photos": list(sources.photos.files),
                        "sequences": sources.sequences.describe()},
            "skipped_inputs": [{"path": p, "reason": r} for p, r in
                               (report.failures if report is not None else [])],
            "determinism": "item seed = numpy.random.SeedSequence(seed, spawn_key=(kind, "
                           f"index)), kinds in order {list(ITEM_KINDS)}",
            "items": items}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    write_text_atomic(out / MANIFEST_NAME, text, overwrite=True)
    return data
