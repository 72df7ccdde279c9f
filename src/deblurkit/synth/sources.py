"""Where sharp content comes from for the ``synth`` job.

A *source* gives, for a numpy Generator, either one sharp still image (for camera-shake
kernel blur) or a sequence of sharp high-frame-rate frames (for frame averaging and
partially blurred videos). Four kinds:

- :class:`ProceduralSource` -- dead-leaves images and rendered moving scenes
  (:mod:`deblurkit.synth.procedural`); unlimited, no files.
- :class:`SkimageSource` -- the colour photographs bundled with scikit-image (offline).
- :class:`ImageFilesSource` -- the user's own images (files or folders): random crops.
- :class:`VideoFilesSource` -- the user's high-frame-rate videos, read with PyAV, streamed.

Still-image sources make a frame *sequence* by moving the crop window over the image along a
random smooth path (a virtual camera pan with shake): integer pixel shifts, so no resampling
softens the sharp frames. Every frame is HxWx3 float32 in [0, 1] (encoded values).

File-based sources can be :meth:`~Source.partition`-ed so that the test split never sees a
file the training split uses.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit.errors import ImageReadError, UserError

#: File suffixes read as videos (everything else given by the user is read as an image).
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mts", ".m2ts",
                            ".mpg", ".mpeg", ".wmv", ".flv", ".nut", ".y4m"})

#: Colour photographs shipped inside scikit-image (no download needed).
#: ``cat`` is the same picture as ``chelsea`` and ``stereo_motorcycle``'s right view the same
#: scene as its left one: both are left out, so a train/test partition cannot split a scene.
SKIMAGE_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry",
                  "hubble_deep_field", "colorwheel", "retina", "motorcycle_left")

#: Virtual camera pan over a still image: speed range in pixels per high-fps frame and the
#: per-frame random-walk step of the velocity (camera shake).
PAN_SPEED_RANGE = (0.5, 2.0)
PAN_JITTER = 0.15
#: Largest float32 frame stack render_scene may make (it renders the whole sequence at once).
PROCEDURAL_MAX_BYTES = 2 * 1024**3
#: Procedural sequences longer than this are a camera pan over dead leaves, not render_scene.
PROCEDURAL_SCENE_MAX_FRAMES = 32
#: Side of the dead-leaves canvas of a procedural pan, in frame sizes.
PROCEDURAL_CANVAS_SCALE = 2.0


def _to_rgb_float(arr: np.ndarray) -> np.ndarray:
    """Any HxW / HxWxC (C = 1..4) uint8/uint16/bool/float image -> HxWx3 float32 [0, 1]."""
    from deblurkit.io import to_float

    a = np.asarray(arr)
    if a.dtype == bool:
        a = a.astype(np.float32)
    if a.dtype.kind == "f":
        f = np.clip(a.astype(np.float32), 0.0, 1.0)
    else:
        f = np.asarray(to_float(a), dtype=np.float32)
    if f.ndim == 2:
        f = f[:, :, None]
    if f.shape[2] == 1:
        f = np.repeat(f, 3, axis=2)
    elif f.shape[2] == 4:
        f = f[:, :, :3]
    return np.ascontiguousarray(f)


def random_crop_position(rng: np.random.Generator, shape: tuple[int, int],
                         size: tuple[int, int]) -> tuple[int, int]:
    """Uniform top-left corner of a ``size`` crop inside an image of ``shape`` (H, W)."""
    h, w = size
    return int(rng.integers(0, shape[0] - h + 1)), int(rng.integers(0, shape[1] - w + 1))


def pan_path(rng: np.random.Generator, n_frames: int, shape: tuple[int, int],
             size: tuple[int, int], speed_range: tuple[float, float] = PAN_SPEED_RANGE,
             jitter: float = PAN_JITTER) -> np.ndarray:
    """Integer crop corners of a virtual camera panning over a still image.

    The velocity starts in a uniform random direction with a speed drawn from
    ``speed_range`` (pixels per frame) and then does a Gaussian random walk of step
    ``jitter``; the window bounces off the image borders.

    Args:
        rng: randomness.
        n_frames: number of positions.
        shape: image (H, W).
        size: crop (h, w).
        speed_range: initial speed range, pixels per frame.
        jitter: standard deviation of the per-frame velocity change, pixels per frame.

    Returns:
        (n_frames, 2) int array of (top, left).
    """
    limit = np.array([shape[0] - size[0], shape[1] - size[1]], dtype=np.float64)
    pos = np.array(random_crop_position(rng, shape, size), dtype=np.float64)
    angle = rng.uniform(0.0, 2.0 * math.pi)
    velocity = rng.uniform(*speed_range) * np.array([math.sin(angle), math.cos(angle)])
    out = np.empty((n_frames, 2), dtype=np.int64)
    for t in range(n_frames):
        out[t] = np.rint(pos)
        velocity = velocity + rng.normal(0.0, jitter, size=2)
        pos = pos + velocity
        for axis in range(2):
            if limit[axis] <= 0:
                pos[axis], velocity[axis] = 0.0, 0.0
            elif pos[axis] < 0:
                pos[axis], velocity[axis] = -pos[axis], -velocity[axis]
            elif pos[axis] > limit[axis]:
                pos[axis], velocity[axis] = 2 * limit[axis] - pos[axis], -velocity[axis]
            pos[axis] = min(max(pos[axis], 0.0), limit[axis])
    return out


class Source:
    """Base class: a named supply of sharp images and high-fps frame sequences.

    Subclasses implement :meth:`image` and :meth:`frames`. Each returns its pixels and a
    JSON-able dict of the parameters it drew (file, crop position, start frame ...).
    """

    name = "source"

    def image(self, rng: np.random.Generator, size: tuple[int, int]
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """One sharp image, HxWx3 float32 [0, 1], of ``size`` (H, W)."""
        raise NotImplementedError

    def frames(self, rng: np.random.Generator, n_frames: int, size: tuple[int, int]
               ) -> tuple[Iterator[np.ndarray], int, dict[str, Any]]:
        """A stream of consecutive sharp high-fps frames of ``size``.

        Returns:
            (iterator of HxWx3 float32 frames, number of frames it will yield (may be less
            than asked when a video is shorter), parameters).
        """
        raise NotImplementedError

    def partition(self, rng: np.random.Generator, test_fraction: float
                  ) -> tuple[Source, Source, dict[str, Any]]:
        """Split into (train, test) sources that share no file; default: no files, same source."""
        return self, self, {"shared": False, "reason": "procedural content, independent seeds"}

    def describe(self) -> dict[str, Any]:
        """JSON-able description for the manifest."""
        return {"name": self.name}


class ProceduralSource(Source):
    """Dead-leaves images and procedurally rendered moving scenes (no files).

    Sequences of up to ``scene_max_frames`` frames (the frame-averaging kind: 7..13) come
    from :func:`~deblurkit.synth.procedural.render_scene` (moving layers under a shaking
    camera). Longer sequences (partially blurred clips: hundreds of frames) are a virtual
    camera pan (:func:`pan_path`) over a dead-leaves canvas of ``canvas_scale`` times the
    frame size, because ``render_scene`` holds the whole sequence in memory and resamples
    every frame but the middle one, which would soften the clip's reference frames; the
    pan uses integer shifts, so every reference frame is exactly sharp, and it streams.

    Args:
        scene_max_frames: longest sequence rendered with ``render_scene``.
        canvas_scale: side of the dead-leaves canvas of a pan, in frame sizes.
    """

    name = "procedural"

    def __init__(self, scene_max_frames: int = PROCEDURAL_SCENE_MAX_FRAMES,
                 canvas_scale: float = PROCEDURAL_CANVAS_SCALE) -> None:
        self.scene_max_frames = scene_max_frames
        self.canvas_scale = canvas_scale

    def image(self, rng, size):
        from deblurkit.synth.procedural import dead_leaves

        return _to_rgb_float(dead_leaves(rng, size[0], size[1])), {"generator": "dead_leaves"}

    def frames(self, rng, n_frames, size):
        from deblurkit.synth.procedural import dead_leaves, render_scene

        if n_frames > self.scene_max_frames:
            shape = (int(round(size[0] * self.canvas_scale)),
                     int(round(size[1] * self.canvas_scale)))
            canvas = _to_rgb_float(dead_leaves(rng, shape[0], shape[1]))
            path = pan_path(rng, n_frames, shape, size)

            def gen() -> Iterator[np.ndarray]:
                for top, left in path:
                    yield canvas[top:top + size[0], left:left + size[1]].copy()

            return gen(), n_frames, {"generator": "dead_leaves_pan", "canvas": list(shape),
                                     "pan_start": path[0].tolist(),
                                     "pan_speed_range": list(PAN_SPEED_RANGE),
                                     "pan_jitter": PAN_JITTER}
        # render_scene makes the whole sequence at once: refuse what would not fit in memory
        need = n_frames * size[0] * size[1] * 3 * 4
        if need > PROCEDURAL_MAX_BYTES:
            raise UserError(f"--source procedural: {n_frames} frames of {size[1]}x{size[0]} "
                            f"need {need / 1024**3:.1f} GiB; use a smaller --size")
        stack = render_scene(rng, size[0], size[1], n_frames)
        return (_to_rgb_float(f) for f in stack), len(stack), {"generator": "render_scene"}

    def describe(self):
        return {"name": self.name, "scene_max_frames": self.scene_max_frames,
                "canvas_scale": self.canvas_scale}


class _StillImagesSource(Source):
    """Shared logic of sources made of still pictures (crops and pans)."""

    def __init__(self, entries: Sequence[Any]) -> None:
        self.entries = list(entries)

    def _load(self, entry: Any) -> np.ndarray:
        raise NotImplementedError

    def _entry_name(self, entry: Any) -> str:
        return str(entry)

    def _pick(self, rng, size):
        entry = self.entries[int(rng.integers(len(self.entries)))]
        img = self._load(entry)
        if img.shape[0] < size[0] or img.shape[1] < size[1]:
            raise UserError(f"{self._entry_name(entry)}: {img.shape[1]}x{img.shape[0]} is "
                            f"smaller than the crop {size[1]}x{size[0]}")
        return entry, img

    def image(self, rng, size):
        entry, img = self._pick(rng, size)
        top, left = random_crop_position(rng, img.shape[:2], size)
        crop = img[top:top + size[0], left:left + size[1]]
        return _to_rgb_float(crop), {"file": self._entry_name(entry), "crop": [top, left]}

    def frames(self, rng, n_frames, size):
        entry, img = self._pick(rng, size)
        path = pan_path(rng, n_frames, img.shape[:2], size)

        def gen() -> Iterator[np.ndarray]:
            for top, left in path:
                yield _to_rgb_float(img[top:top + size[0], left:left + size[1]])

        params = {"file": self._entry_name(entry), "pan_start": path[0].tolist(),
                  "pan_end": path[-1].tolist(), "pan_speed_range": list(PAN_SPEED_RANGE),
                  "pan_jitter": PAN_JITTER}
        return gen(), n_frames, params

    def _subset(self, entries: Sequence[Any]) -> _StillImagesSource:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.entries = list(entries)
        return clone

    def partition(self, rng, test_fraction):
        return _partition_entries(self, rng, test_fraction)

    def describe(self):
        return {"name": self.name, "files": [self._entry_name(e) for e in self.entries]}


def _partition_entries(source, rng, test_fraction):
    n = len(source.entries)
    if test_fraction <= 0:
        return source, source, {"shared": False,
                                "reason": "no test split: every file is used for training"}
    if n < 2:
        return source, source, {"shared": n >= 1,
                                "reason": "fewer than 2 files: train and test share content"}
    n_test = min(n - 1, max(1, int(round(test_fraction * n))))
    order = rng.permutation(n)
    test_idx = sorted(order[:n_test].tolist())
    train_idx = sorted(order[n_test:].tolist())
    train = source._subset([source.entries[i] for i in train_idx])
    test = source._subset([source.entries[i] for i in test_idx])
    return train, test, {"shared": False,
                         "train_files": [source._entry_name(e) for e in train.entries],
                         "test_files": [source._entry_name(e) for e in test.entries]}


@functools.lru_cache(maxsize=16)
def load_skimage_image(name: str) -> np.ndarray:
    """One of :data:`SKIMAGE_IMAGES` as HxWx3 uint8."""
    import skimage.data

    if name.startswith("motorcycle_"):
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return getattr(skimage.data, name)()


class SkimageSource(_StillImagesSource):
    """The colour photographs bundled with scikit-image (:data:`SKIMAGE_IMAGES`)."""

    name = "skimage"

    def __init__(self, names: Sequence[str] = SKIMAGE_IMAGES) -> None:
        super().__init__(names)

    def _load(self, entry):
        return load_skimage_image(entry)

    def _entry_name(self, entry):
        return f"skimage.data.{entry}"


@functools.lru_cache(maxsize=4)
def _load_user_image(path: str) -> np.ndarray:
    from deblurkit.io import read_image

    return read_image(path).pixels


class ImageFilesSource(_StillImagesSource):
    """The user's images (already checked by :func:`scan_inputs`)."""

    name = "images"

    def _load(self, entry):
        return _load_user_image(str(entry))


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` learnt about a video file.

    Attributes:
        path: the file.
        pts: presentation timestamps of every frame, in order (used to seek exactly).
        height, width: frame size.
        fps: average frame rate (informative).
    """

    path: str
    pts: tuple[int, ...]
    height: int
    width: int
    fps: float

    @property
    def n_frames(self) -> int:
        return len(self.pts)


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open a video with PyAV and index its frames (demux only, no decoding).

    Raises:
        ImageReadError: the file is missing, corrupt, has no video stream or no frames.
    """
    import av

    path = os.fspath(path)
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise ImageReadError(path, "no video stream")
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
            height, width = stream.codec_context.height, stream.codec_context.width
            fps = float(stream.average_rate) if stream.average_rate else 0.0
            first = None
            if pts:  # decode one frame: a file whose packets cannot be decoded fails here
                container.seek(0, stream=stream)
                first = next(iter(container.decode(stream)), None)
    except ImageReadError:
        raise
    except (av.FFmpegError, OSError, ValueError, StopIteration) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageReadError(path, f"cannot read video: {reason}") from None
    if not pts or first is None:
        raise ImageReadError(path, "cannot read video: no decodable frames")
    return VideoInfo(path=path, pts=tuple(sorted(pts)), height=height, width=width, fps=fps)


def read_video_frames(info: VideoInfo, start: int, count: int,
                      crop: tuple[int, int, int, int] | None = None) -> Iterator[np.ndarray]:
    """Stream ``count`` consecutive frames from index ``start``, as HxWx3 float32 [0, 1].

    Seeks to the keyframe before ``start`` and decodes forward, so reading late frames of a
    long video does not decode it from the beginning.

    Args:
        info: from :func:`probe_video`.
        start: first frame index.
        count: number of frames.
        crop: optional (top, left, height, width).
    """
    import av

    target = info.pts[start]
    with av.open(info.path) as container:
        stream = container.streams.video[0]
        if start > 0:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        produced = 0
        for frame in container.decode(stream):
            if frame.pts is None or frame.pts < target:
                continue
            if produced == 0 and frame.pts > target:  # seek overshot: decode from the start
                break
            rgb = frame.to_ndarray(format="rgb24")
            if crop is not None:
                top, left, h, w = crop
                rgb = rgb[top:top + h, left:left + w]
            yield _to_rgb_float(rgb)
            produced += 1
            if produced == count:
                return
    if produced == 0 and start > 0:
        for i, frame in enumerate(_decode_all(info)):
            if i >= start + count:
                return
            if i >= start:
                rgb = frame
                if crop is not None:
                    top, left, h, w = crop
                    rgb = rgb[top:top + h, left:left + w]
                yield _to_rgb_float(rgb)


def _decode_all(info: VideoInfo) -> Iterator[np.ndarray]:
    import av

    with av.open(info.path) as container:
        for frame in container.decode(container.streams.video[0]):
            yield frame.to_ndarray(format="rgb24")


class VideoFilesSource(Source):
    """The user's high-frame-rate videos: crops of consecutive frames, streamed with PyAV."""

    name = "videos"

    def __init__(self, videos: Sequence[VideoInfo]) -> None:
        self.entries = list(videos)

    def _entry_name(self, entry: VideoInfo) -> str:
        return entry.path

    def _subset(self, entries):
        return VideoFilesSource(entries)

    def _pick(self, rng, size, n_frames):
        usable = [v for v in self.entries if v.height >= size[0] and v.width >= size[1]]
        if not usable:
            raise UserError(f"{self.entries[0].path}: frames smaller than the crop "
                            f"{size[1]}x{size[0]}")
        long_enough = [v for v in usable if v.n_frames >= n_frames] or usable
        video = long_enough[int(rng.integers(len(long_enough)))]
        count = min(n_frames, video.n_frames)
        start = int(rng.integers(0, video.n_frames - count + 1))
        top, left = random_crop_position(rng, (video.height, video.width), size)
        return video, start, count, (top, left, size[0], size[1])

    def image(self, rng, size):
        video, start, _, crop = self._pick(rng, size, 1)
        frame = next(read_video_frames(video, start, 1, crop))
        return frame, {"file": video.path, "frame": start, "crop": list(crop[:2])}

    def frames(self, rng, n_frames, size):
        video, start, count, crop = self._pick(rng, size, n_frames)
        params = {"file": video.path, "start_frame": start, "crop": list(crop[:2]),
                  "source_fps": video.fps}
        return read_video_frames(video, start, count, crop), count, params

    def partition(self, rng, test_fraction):
        return _partition_entries(self, rng, test_fraction)

    def describe(self):
        return {"name": self.name,
                "files": [{"path": v.path, "frames": v.n_frames, "height": v.height,
                           "width": v.width, "fps": v.fps} for v in self.entries]}


@dataclass
class ScanResult:
    """User inputs sorted into readable images and videos, plus the files that failed."""

    images: list[str]
    videos: list[VideoInfo]
    failures: list[tuple[str, str]]


def scan_inputs(inputs: Sequence[str | os.PathLike], min_size: tuple[int, int],
                report: Any = None) -> ScanResult:
    """Find and check the user's image and video files (folders are searched recursively).

    Every file is opened once; unreadable files, or images smaller than ``min_size``, are
    recorded (and reported to ``report``, a :class:`deblurkit.io.BatchReport`, if given) and
    skipped.

    Raises:
        UserError: an input path that does not exist.
    """
    from deblurkit.io import list_images, read_image
    from deblurkit.utils.progress import progress

    image_paths: list[str] = []
    video_paths: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise UserError(f"{raw}: no such file or folder")
        if path.is_dir():
            video_paths += sorted(str(p) for p in path.rglob("*")
                                  if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
            # Code-point order of the path, not the toolkit's natural order: the synth job's
            # bytes depend on this order, and a fixed data set must not change.
            image_paths += sorted(str(p) for p in list_images([path], recursive=True))
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            video_paths.append(str(path))
        else:
            image_paths.append(str(path))
    image_paths = list(dict.fromkeys(image_paths))
    video_paths = list(dict.fromkeys(video_paths))

    result = ScanResult(images=[], videos=[], failures=[])

    def image_size(p: str) -> tuple[str, int, int]:
        pixels = read_image(p).pixels
        return p, pixels.shape[0], pixels.shape[1]

    def video_size(p: str) -> tuple[Any, int, int]:
        info = probe_video(p)
        return info, info.height, info.width

    checks = ((image_paths, image_size, result.images, "images", " is"),
              (video_paths, video_size, result.videos, "videos", " frames are"))
    for paths, probe, accepted, what, noun in checks:
        for p in progress(paths, total=len(paths), desc=f"checking {what}", unit="file"):
            try:
                item, height, width = probe(p)
            except UserError as exc:
                reason = getattr(exc, "reason", str(exc))
            else:
                if height >= min_size[0] and width >= min_size[1]:
                    accepted.append(item)
                    if report is not None:
                        report.ok(p)
                    continue
                reason = (f"{width}x{height}{noun} smaller than the crop "
                          f"{min_size[1]}x{min_size[0]}")
            result.failures.append((p, reason))
            if report is not None:
                report.fail(p, reason)
    return result
