"""Real sharp content for realistic degradation: photographs and high-frame-rate sequences.

Two libraries, built from the user's paths (nothing here is specific to one corpus):

- :class:`PhotoLibrary` -- still photographs (files or folders, searched recursively). Camera
  shake (kernels or homographies) and unblurred samples are made from their crops.
- :class:`SequenceLibrary` -- high-frame-rate sequences: video files, or folders of frames
  (natural file order), each with a **declared capture rate** (:class:`HighFpsSpec`), because
  containers lie (the X4K1000FPS clips say 25 fps and were captured at 1000 fps). Frame
  averaging over ``exposure * fps`` consecutive frames makes real motion blur.

Decoding a 2048x1080 H.264 clip or a 6000-pixel JPEG for every training sample would starve
training, so every file is decoded **once** into an uncompressed ``.npy`` file in a cache folder
(:class:`PixelCache`) and then read through a read-only memory map: a random crop touches only
the crop's pages, and DataLoader workers share the operating system's page cache. Cache entries
are keyed by the file's absolute path, size and modification time and written atomically, so a
changed file is decoded again and two processes filling the cache at once do not clash.

Files that cannot be read are reported by name (to a :class:`deblurkit.io.BatchReport`) and
skipped; a sequence shorter than the longest averaging window is refused
(:meth:`SequenceLibrary.require_frames`).

A :class:`HoldOut` keeps some scenes of a training split apart: the recipe reads every scene
but the listed ones (``use: rest``) and a tuning set is rendered from only the listed ones
(``use: listed``), so choices made on the tuning set (checkpoint, blend, guard) are made on
scenes the network never saw.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import ImageReadError, UserError
from deblurkit.synth.sources import VIDEO_SUFFIXES
from deblurkit.utils.sorting import natural_key

__all__ = ["CACHE_ENV", "HOLDOUT_USES", "HighFpsSpec", "HoldOut", "PhotoLibrary", "PixelCache",
           "SequenceLibrary", "SharpSources", "default_cache_dir", "open_sources",
           "resize_square"]

#: Environment variable naming the decoded-pixel cache folder.
CACHE_ENV = "DEBLURKIT_CACHE"
#: Version of the cache format (bumped when the stored layout changes).
CACHE_VERSION = 1


def default_cache_dir() -> Path:
    """``$DEBLURKIT_CACHE``, else ``$XDG_CACHE_HOME/deblurkit/pixels``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deblurkit" / "pixels"


@dataclass(frozen=True)
class HighFpsSpec:
    """A high-frame-rate source and its real capture rate.

    Args:
        path: a video file, a folder of frames, or a folder holding either (searched
            recursively: every video file and every folder that directly holds two or more
            images is one sequence).
        fps: the capture rate in frames per second (the real one, not the container's).

    Example:
        >>> HighFpsSpec("clips/", fps=1000).fps
        1000.0
    """

    path: str
    fps: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", os.fspath(self.path))
        object.__setattr__(self, "fps", float(self.fps))
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise UserError(f"{self.path}: fps must be a positive number, got {self.fps!r}")


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """HxW / HxWxC (C = 1..4) -> HxWx3 at the native dtype (grey repeated, alpha dropped)."""
    a = np.asarray(pixels)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        a = a[:, :, None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def _decode_video(path: str) -> np.ndarray:
    """Every frame of a video as TxHxWx3 uint8 (display order)."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ImageReadError(path, "no video stream")
            frames = [f.to_ndarray(format="rgb24")
                      for f in container.decode(container.streams.video[0])]
    except ImageReadError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(path, f"cannot read video: {reason}") from None
    if not frames:
        raise ImageReadError(path, "cannot read video: no decodable frames")
    return np.stack(frames)


def _decode_frames(paths: Sequence[str]) -> np.ndarray:
    """A folder's frames as TxHxWx3 (one size and dtype for all, else ImageReadError)."""
    from deblurkit.io import read_image

    frames = [_rgb(read_image(p).pixels) for p in paths]
    first = frames[0]
    for p, f in zip(paths, frames):
        if f.shape != first.shape or f.dtype != first.dtype:
            raise ImageReadError(p, f"{f.shape[1]}x{f.shape[0]} {f.dtype} differs from the "
                                 f"sequence's first frame ({first.shape[1]}x{first.shape[0]} "
                                 f"{first.dtype})")
    return np.stack(frames)


class PixelCache:
    """Decoded pixels of source files, stored once as ``.npy`` and memory-mapped.

    Args:
        folder: where entries live (created on first use); None: :func:`default_cache_dir`.

    Example:
        >>> cache = PixelCache("/tmp/pixels")               # doctest: +SKIP
        >>> photo = cache.image("photos/a.jpg")              # HxWx3 uint8 memmap
    """

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        self._open: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    def __getstate__(self) -> dict[str, Any]:  # workers re-open their own memory maps
        return {"folder": self.folder, "_open": {}}

    def _entry(self, kind: str, paths: Sequence[str]) -> Path:
        h = hashlib.sha256(f"{CACHE_VERSION}:{kind}".encode())
        for p in paths:
            st = os.stat(p)
            h.update(f"\0{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        return self.folder / f"{kind}-{h.hexdigest()[:32]}.npy"

    def _load(self, kind: str, paths: Sequence[str], decode: Any) -> np.ndarray:
        key = (kind, tuple(paths))
        if key not in self._open:
            self._open[key] = self._fill(kind, paths, decode)
        return self._open[key]

    def _fill(self, kind: str, paths: Sequence[str], decode: Any) -> np.ndarray:
        try:
            entry = self._entry(kind, paths)
        except OSError as exc:
            raise ImageReadError(paths[0], f"cannot read: {exc.strerror or exc}") from None
        if not entry.exists():
            from deblurkit.utils.atomic import atomic_path

            pixels = decode()
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(entry) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.ascontiguousarray(pixels), allow_pickle=False)
        return np.load(entry, mmap_mode="r", allow_pickle=False)

    def image(self, path: str) -> np.ndarray:
        """A photograph as HxWx3 (uint8 or uint16), read-only."""
        from deblurkit.io import read_image

        return self._load("image", [path], lambda: _rgb(read_image(path).pixels))

    def video(self, path: str) -> np.ndarray:
        """A video's frames as TxHxWx3 uint8, read-only."""
        return self._load("video", [path], lambda: _decode_video(path))

    def frames(self, paths: Sequence[str]) -> np.ndarray:
        """A folder's frames (given in order) as TxHxWx3, read-only."""
        return self._load("frames", list(paths), lambda: _decode_frames(paths))


def _reflect_fit(region: np.ndarray, height: int, width: int, axes: tuple[int, int]
                 ) -> np.ndarray:
    """Mirror-pad ``region`` (symmetric) along ``axes`` up to at least (height, width)."""
    pad = [(0, 0)] * region.ndim
    for axis, want in zip(axes, (height, width)):
        missing = want - region.shape[axis]
        if missing > 0:
            pad[axis] = (missing // 2, missing - missing // 2)
    if all(p == (0, 0) for p in pad):
        return region
    while any(sum(p) > 0 for p in pad):  # numpy's symmetric pad needs pad <= size per call
        step = [(min(a, region.shape[i]), min(b, region.shape[i])) for i, (a, b) in enumerate(pad)]
        region = np.pad(region, step, mode="symmetric")
        pad = [(a - sa, b - sb) for (a, b), (sa, sb) in zip(pad, step)]
    return region


def _window(shape: tuple[int, int], rng: np.random.Generator, size: int,
            scale_range: tuple[float, float]) -> tuple[float, int, int, int]:
    """Draw a scale and the top-left of the source window a ``size`` region is cut from.

    The scale is log-uniform in ``scale_range`` but never so small that the window (``size /
    scale`` source pixels) exceeds the image: big photographs get downscaled views, small
    ones are used at full resolution (mirror-padded where even that does not fit).
    """
    lo, hi = scale_range
    lo = max(lo, size / min(shape))
    scale = 1.0 if lo >= hi else float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    side = max(1, int(round(size / scale)))
    top = int(rng.integers(0, max(shape[0] - side, 0) + 1))
    left = int(rng.integers(0, max(shape[1] - side, 0) + 1))
    return scale, side, top, left


def resize_square(region: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(..., h, w, 3)`` float32 to ``size x size`` with an antialiased bilinear filter."""
    if region.shape[-3] == size and region.shape[-2] == size:
        return region
    import torch
    import torch.nn.functional as F

    lead = region.shape[:-3]
    t = torch.from_numpy(np.ascontiguousarray(region.reshape(-1, *region.shape[-3:])))
    t = t.permute(0, 3, 1, 2)
    out = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                        align_corners=False)
    return out.permute(0, 2, 3, 1).reshape(*lead, size, size, 3).numpy()


class PhotoLibrary:
    """Still photographs: random (optionally downscaled) square regions.

    Args:
        files: image paths (already checked by :func:`open_sources`).
        cache: where decoded pixels live.
    """

    def __init__(self, files: Sequence[str], cache: PixelCache) -> None:
        self.files = list(files)
        self.cache = cache

    def __len__(self) -> int:
        return len(self.files)

    def region(self, rng: np.random.Generator, size: int,
               scale_range: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, dict[str, Any]]:
        """The source window of a ``size x size`` region of a random photo.

        Returns:
            (side x side x 3 at the file's dtype, mirror-padded where the photo is smaller;
            resize it to ``size`` to get the region), parameters: file, scale, window).
        """
        path = self.files[int(rng.integers(len(self.files)))]
        pixels = self.cache.image(path)
        scale, side, top, left = _window(pixels.shape[:2], rng, size, scale_range)
        crop = _reflect_fit(np.asarray(pixels[top:top + side, left:left + side]), side, side,
                            (0, 1))[:side, :side]
        return crop, {"file": path, "scale": scale, "window": [top, left, side]}


#: What a :class:`HoldOut` keeps: every scene but the listed ones, or only the listed ones.
HOLDOUT_USES = ("rest", "listed")


@dataclass(frozen=True)
class HoldOut:
    """Scenes (photo files, sequence files or frame folders) of a split kept apart for tuning.

    The list file holds one path per line, relative to any folder above the files (usually the
    data root, e.g. ``photos/train/bsds500/100075.jpg``); a source matches an entry when its
    path ends with the entry. Blank lines and lines starting with ``#`` are ignored.

    Args:
        list: the list file.
        use: ``"rest"`` keeps every source that no entry matches (a training recipe);
            ``"listed"`` keeps only matched sources (the tuning set).

    Example:
        >>> h = HoldOut("configs/data/holdout.txt", use="rest")          # doctest: +SKIP
        >>> h.keeps("../shared/data/photos/train/bsds500/100075.jpg")    # doctest: +SKIP
        False
    """

    list: str
    use: str = "rest"

    def __post_init__(self) -> None:
        if self.use not in HOLDOUT_USES:
            raise UserError(f"holdout.use={self.use!r}: choose {' or '.join(HOLDOUT_USES)}")

    def entries(self) -> tuple[str, ...]:
        """The listed paths, as POSIX suffixes (UserError naming the file if unreadable)."""
        try:
            text = Path(self.list).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{self.list}: cannot read the hold-out list ({exc})") from None
        lines = (line.strip() for line in text.splitlines())
        return tuple(Path(line).as_posix().strip("/") for line in lines
                     if line and not line.startswith("#"))

    def split(self, paths: Sequence[str]) -> list[str]:
        """The ``paths`` this hold-out keeps, in order.

        Raises:
            UserError: an entry that matches none of ``paths`` while keeping ``listed``
                (a stale list), or no entry matching at all (a list for other data).
        """
        entries = self.entries()
        posix = [Path(os.path.abspath(p)).as_posix() for p in paths]
        # matches[i][j]: path i is entry j (the entry is a whole-part suffix of it)
        matches = [[q == e or q.endswith("/" + e) for e in entries] for q in posix]
        hit = [any(row) for row in matches]
        if self.use == "listed":
            missing = [e for j, e in enumerate(entries) if not any(row[j] for row in matches)]
            if missing:
                raise UserError(f"{self.list}: {missing[0]!r} matches no source "
                                f"({len(missing)} entries unmatched)")
        elif entries and not any(hit):
            raise UserError(f"{self.list}: none of its {len(entries)} entries matches a source")
        return [p for p, h in zip(paths, hit) if h == (self.use == "listed")]


@dataclass(frozen=True)
class _Sequence:
    name: str
    fps: float
    files: tuple[str, ...] | None  # frame folder; None for a video file
    frames: int


class SequenceLibrary:
    """High-frame-rate sequences with their declared rates: random windows of frames.

    Args:
        sequences: from :func:`open_sources`.
        cache: where decoded pixels live.
    """

    def __init__(self, sequences: Sequence[_Sequence], cache: PixelCache) -> None:
        self.sequences = list(sequences)
        self.cache = cache

    def __len__(self) -> int:
        return len(self.sequences)

    def _pixels(self, seq: _Sequence) -> np.ndarray:
        return self.cache.frames(seq.files) if seq.files is not None else self.cache.video(seq.name)

    def frame_count(self, seq: _Sequence, exposure_ms: float) -> int:
        """Frames of an exposure of ``exposure_ms`` at the sequence's rate (odd, >= 1)."""
        n = max(1.0, exposure_ms * seq.fps / 1000.0)
        return int(2 * math.floor((n - 1) / 2 + 0.5) + 1)

    def require_frames(self, longest_ms: float) -> None:
        """Refuse any sequence shorter than an exposure of ``longest_ms`` (UserError)."""
        for seq in self.sequences:
            need = self.frame_count(seq, longest_ms)
            if seq.frames < need:
                raise UserError(f"{seq.name}: {seq.frames} frames at {seq.fps:g} fps is shorter "
                                f"than the longest averaging window ({longest_ms:g} ms = {need} "
                                "frames); remove it or lower the exposure range")

    def window(self, rng: np.random.Generator, exposure_ms: float, size: int,
               scale_range: tuple[float, float] = (1.0, 1.0)
               ) -> tuple[np.ndarray, dict[str, Any]]:
        """``N`` consecutive frames (an exposure of ``exposure_ms``) of one random sequence.

        Returns:
            (N x side x side x 3 at the source dtype, to be resized to ``size``; parameters:
            file, fps, start, frames, exposure_ms, scale, window).
        """
        seq = self.sequences[int(rng.integers(len(self.sequences)))]
        n = min(self.frame_count(seq, exposure_ms), seq.frames - (1 - seq.frames % 2))
        start = int(rng.integers(0, seq.frames - n + 1))
        pixels = self._pixels(seq)
        scale, side, top, left = _window(pixels.shape[1:3], rng, size, scale_range)
        stack = np.asarray(pixels[start:start + n, top:top + side, left:left + side])
        stack = _reflect_fit(stack, side, side, (1, 2))[:, :side, :side]
        return stack, {"file": seq.name, "fps": seq.fps, "start": start, "frames": n,
                       "exposure_ms": 1000.0 * n / seq.fps, "scale": scale,
                       "window": [top, left, side]}

    def describe(self) -> list[dict[str, Any]]:
        return [{"path": s.name, "fps": s.fps, "frames": s.frames} for s in self.sequences]


@dataclass
class SharpSources:
    """The sharp content of a realistic degradation: photos and/or sequences (either may be
    empty)."""

    photos: PhotoLibrary
    sequences: SequenceLibrary

    def describe(self) -> dict[str, Any]:
        return {"photos": len(self.photos), "photo_files": list(self.photos.files),
                "sequences": self.sequences.describe(), "cache": str(self.photos.cache.folder)}


def _image_suffixes() -> frozenset[str]:
    from deblurkit.io import IMAGE_SUFFIXES

    return frozenset(s.lower() for s in IMAGE_SUFFIXES)


def _photo_paths(inputs: Sequence[str]) -> list[str]:
    images = _image_suffixes()
    out: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise UserError(f"{raw}: no such file or folder")
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in images
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            out += sorted((str(p) for p in found), key=natural_key)
        else:
            out.append(str(path))
    return list(dict.fromkeys(out))


def _sequence_entries(spec: HighFpsSpec) -> list[tuple[str, tuple[str, ...] | None]]:
    """(name, frame files or None for a video) of every sequence under ``spec.path``."""
    path = Path(spec.path)
    if not path.exists():
        raise UserError(f"{spec.path}: no such file or folder")
    if path.is_file():
        return [(str(path), None)]
    images = _image_suffixes()
    entries: list[tuple[str, tuple[str, ...] | None]] = []
    folders = [path] + sorted((p for p in path.rglob("*") if p.is_dir()),
                              key=lambda p: natural_key(p.as_posix()))
    for folder in folders:
        if any(part.startswith(".") for part in folder.relative_to(path).parts):
            continue
        files = sorted((p for p in folder.iterdir() if p.is_file()),
                       key=lambda p: natural_key(p.name))
        frames = [str(p) for p in files if p.suffix.lower() in images]
        if len(frames) >= 2:
            entries.append((str(folder), tuple(frames)))
        entries += [(str(p), None) for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    return entries


def open_sources(photos: Sequence[str | os.PathLike] = (),
                 highfps: Sequence[HighFpsSpec] = (),
                 cache_dir: str | os.PathLike | None = None, report: Any = None,
                 min_side: int = 1, holdout: HoldOut | None = None) -> SharpSources:
    """Find, decode (once, into the cache) and check every photo and sequence.

    Args:
        photos: photo files or folders.
        highfps: high-frame-rate sources with their capture rates.
        cache_dir: the :class:`PixelCache` folder (None: :func:`default_cache_dir`).
        report: a :class:`deblurkit.io.BatchReport` that gets every unreadable or too small
            file (which is then skipped); None: failures are skipped silently.
        min_side: photos and frames whose shorter side is below this are skipped.
        holdout: scenes to leave out, or to keep alone (:class:`HoldOut`); matched over the
            photos and the sequences together, before anything is decoded.

    Raises:
        UserError: a path that does not exist, a hold-out list that does not fit the sources,
            or nothing usable at all.
    """
    from deblurkit.utils.progress import progress

    cache = PixelCache(cache_dir)

    def fail(name: str, exc: UserError) -> None:
        if report is not None:
            report.fail(name, getattr(exc, "reason", str(exc)))

    def accept(name: str, shape: tuple[int, ...]) -> bool:
        if min(shape[-3], shape[-2]) >= min_side:
            if report is not None:
                report.ok(name)
            return True
        fail(name, UserError(f"{shape[-2]}x{shape[-3]} is smaller than {min_side} px"))
        return False

    photo_files: list[str] = []
    paths = _photo_paths([os.fspath(p) for p in photos])
    entries = [(spec, name, files) for spec in highfps for name, files in _sequence_entries(spec)]
    if holdout is not None:
        kept = set(holdout.split(paths + [name for _, name, _ in entries]))
        paths = [p for p in paths if p in kept]
        entries = [e for e in entries if e[1] in kept]
    for p in progress(paths, total=len(paths), desc="decoding photos", unit="file"):
        try:
            if accept(p, cache.image(p).shape):
                photo_files.append(p)
        except UserError as exc:
            fail(p, exc)

    sequences: list[_Sequence] = []
    for spec, name, files in progress(entries, total=len(entries), desc="decoding sequences",
                                      unit="seq"):
        try:
            pixels = cache.frames(files) if files is not None else cache.video(name)
            if accept(name, pixels.shape):
                sequences.append(_Sequence(name, spec.fps, files, int(pixels.shape[0])))
        except UserError as exc:
            fail(name, exc)
    if not photo_files and not sequences:
        raise UserError("no readable photo or high-frame-rate sequence in the sources")
    return SharpSources(PhotoLibrary(photo_files, cache), SequenceLibrary(sequences, cache))
