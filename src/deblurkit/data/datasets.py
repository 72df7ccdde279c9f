"""torch datasets over image pairs and video clips, with reproducible paired augmentation.

Reproducibility rule: the augmentation of item ``index`` in epoch ``epoch`` uses
``numpy.random.default_rng([seed, epoch, index])`` and nothing else, so a batch is the same
bytes whatever the number of DataLoader workers, their order, or the sampler's order. Call
``set_epoch(epoch)`` before each epoch to get new crops; the epoch lives in shared memory, so
it reaches workers started earlier (``persistent_workers=True``) too.

Images are read with :func:`deblurkit.io.read_image` at their native dtype, augmented (crop
first, so only the crop is converted), then converted to ``float32`` in ``[0, 1]`` by
:func:`deblurkit.io.to_float` and to ``C x H x W`` tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deblurkit.data.pairs import Pair, PairList, _call_checked, discover_pairs
from deblurkit.data.transforms import CropTooLargeError, PairedTransform
from deblurkit.data.video import Clip, clip_pairs, select_frames, video_clips
from deblurkit.errors import UserError
from deblurkit.io.read import adapt_channels, read_pixels

#: Channel counts a dataset can deliver; None keeps each file's own.
CHANNEL_CHOICES = (1, 3, None)
#: Settings of ``from_config`` that build the :class:`PairedTransform`.
TRANSFORM_KEYS = ("crop_size", "hflip", "vflip", "rot90", "random_crop")
#: Label value of a frame whose label is unknown.
UNKNOWN_LABEL = -1

PairTransform = Callable[[np.ndarray, np.ndarray, np.random.Generator],
                         tuple[np.ndarray, np.ndarray]]


def item_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one item: ``numpy.random.default_rng([seed, epoch, index])``.

    Args:
        seed: the dataset seed (>= 0).
        epoch: the epoch (>= 0).
        index: the item index (>= 0).

    Example:
        >>> int(item_rng(0, 0, 3).integers(100)) == int(item_rng(0, 0, 3).integers(100))
        True
    """
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def to_chw_tensor(image: np.ndarray) -> torch.Tensor:
    """``H x W x C`` array -> ``C x H x W`` float32 tensor in ``[0, 1]`` (via io.to_float)."""
    from deblurkit.io import to_float

    arr = np.asarray(to_float(image), dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed={seed!r}: must be an integer >= 0")
    return int(seed)


def _check_channels(channels: int | None) -> int | None:
    if channels not in CHANNEL_CHOICES:
        raise UserError(f"channels={channels!r}: use 1, 3 or None")
    return channels


def _apply_pair(transform: PairTransform | None, blur: np.ndarray, sharp: np.ndarray,
                rng_args: tuple[int, int, int], names: str) -> tuple[np.ndarray, np.ndarray]:
    if transform is None:
        return blur, sharp
    try:
        return transform(blur, sharp, item_rng(*rng_args))
    except CropTooLargeError as exc:
        raise UserError(f"{names}: {exc}") from None


def _apply_single(transform: PairTransform | None, image: np.ndarray,
                  rng_args: tuple[int, int, int], name: str) -> np.ndarray:
    if transform is None:
        return image
    try:
        if isinstance(transform, PairedTransform):
            return transform.sample(image.shape[:2], item_rng(*rng_args)).apply(image)
        return transform(image, image, item_rng(*rng_args))[0]
    except CropTooLargeError as exc:
        raise UserError(f"{name}: {exc}") from None


def _describe_transform(transform: Any) -> Any:
    if transform is None:
        return None
    describe = getattr(transform, "describe", None)
    return describe() if callable(describe) else repr(transform)


def _split_config(config: Mapping[str, Any], own: Sequence[str]
                  ) -> tuple[dict[str, Any], dict[str, Any], PairedTransform | None]:
    """Split a flat config into (own settings, layout settings, transform)."""
    if not isinstance(config, Mapping):
        raise UserError(f"dataset config must be a mapping, got {type(config).__name__}")
    rest = dict(config)
    mine = {k: rest.pop(k) for k in own if k in rest}
    tkeys = {k: rest.pop(k) for k in TRANSFORM_KEYS if k in rest}
    transform = None
    if tkeys:
        try:
            transform = PairedTransform(**tkeys)
        except (TypeError, ValueError) as exc:
            raise UserError(f"dataset config: {exc}") from None
    return mine, rest, transform


class _EpochMixin:
    """An epoch counter in shared memory, visible to DataLoader workers already started."""

    def _init_epoch(self) -> None:
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        """The current epoch (0 until :meth:`set_epoch`)."""
        return int(self._epoch.item())

    def set_epoch(self, epoch: int) -> None:
        """Use the augmentation of ``epoch`` (>= 0) from now on, in every worker."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise UserError(f"epoch={epoch!r}: must be an integer >= 0")
        self._epoch.fill_(int(epoch))


class PairedImageDataset(_EpochMixin, Dataset):
    """(blurred, sharp) image pairs as float tensors, with the same augmentation on both.

    Args:
        pairs: from a discovery function (:func:`gopro_pairs`, ...) or any list of
            :class:`Pair`.
        transform: ``transform(blur, sharp, rng) -> (blur, sharp)`` on ``H x W x C`` arrays,
            typically a :class:`PairedTransform`; None for none.
        seed: augmentation seed (>= 0); item ``i`` of epoch ``e`` uses
            ``default_rng([seed, e, i])``.
        channels: 3 (default: grey files repeated to RGB), 1, or None (keep each file's).
        source: description of the data for :meth:`describe` (default ``pairs.source``).

    Items:
        ``{"blur": C x H x W float32 [0,1], "sharp": same, "blur_path": str,
        "sharp_path": str, "name": pair key, "index": int, "meta": {str: str}}``.

    Raises (at item time):
        UserError: the two files differ in size (both named), the crop does not fit, a file
            cannot be read (``ImageReadError``).

    Example:
        >>> ds = PairedImageDataset(gopro_pairs("GOPRO_Large", "train"),
        ...                         PairedTransform(256, hflip=True), seed=0)  # doctest: +SKIP
        >>> ds.set_epoch(3); batch = ds[0]["blur"].shape  # doctest: +SKIP
    """

    def __init__(self, pairs: Sequence[Pair], transform: PairTransform | None = None,
                 seed: int = 0, channels: int | None = 3,
                 source: Mapping[str, Any] | None = None) -> None:
        self.pairs = list(pairs)
        self.transform = transform
        self.seed = _check_seed(seed)
        self.channels = _check_channels(channels)
        self.source = dict(source if source is not None else getattr(pairs, "source", {}))
        self._init_epoch()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PairedImageDataset:
        """Build from a flat dict (a YAML section).

        Keys: ``layout`` (a key of :data:`LAYOUTS`) and that layout's arguments (``root``,
        ``split``, ``blur_dir`` ...); transform settings ``crop_size``, ``hflip``, ``vflip``,
        ``rot90``, ``random_crop``; ``seed``; ``channels``. Unknown keys are a UserError.

        Example:
            >>> PairedImageDataset.from_config({"layout": "gopro", "root": "GOPRO_Large",
            ...     "split": "train", "blur_dir": "blur_gamma", "crop_size": 256,
            ...     "hflip": True, "seed": 1})  # doctest: +SKIP
        """
        mine, rest, transform = _split_config(config, ("seed", "channels"))
        if "layout" not in rest:
            raise UserError("dataset config: missing 'layout'")
        layout = rest.pop("layout")
        pairs = discover_pairs(layout, **rest)
        return cls(pairs, transform=transform, **mine)

    def __len__(self) -> int:
        return len(self.pairs)

    def load_arrays(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The augmented pair of item ``index`` as float32 ``H x W x C`` arrays in [0, 1]."""
        from deblurkit.io import to_float

        blur, sharp = self._load_native(index)
        return (np.asarray(to_float(blur), dtype=np.float32),
                np.asarray(to_float(sharp), dtype=np.float32))

    def _load_native(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        pair = self.pairs[index]
        blur = adapt_channels(read_pixels(pair.blur), self.channels, pair.blur)
        sharp = adapt_channels(read_pixels(pair.sharp), self.channels, pair.sharp)
        if blur.shape[:2] != sharp.shape[:2]:
            raise UserError(f"{pair.blur} ({blur.shape[0]}x{blur.shape[1]}) and {pair.sharp} "
                            f"({sharp.shape[0]}x{sharp.shape[1]}): a pair must have one size")
        if blur.shape[2] != sharp.shape[2]:
            raise UserError(f"{pair.blur} ({blur.shape[2]} channels) and {pair.sharp} "
                            f"({sharp.shape[2]} channels): a pair must have one channel count")
        return _apply_pair(self.transform, blur, sharp, (self.seed, self.epoch, index),
                           f"{pair.blur} / {pair.sharp}")

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.pairs):
            raise IndexError(f"index {index} out of range for {len(self.pairs)} pairs")
        pair = self.pairs[index]
        blur, sharp = self._load_native(index)
        return {"blur": to_chw_tensor(blur), "sharp": to_chw_tensor(sharp),
                "blur_path": str(pair.blur), "sharp_path": str(pair.sharp),
                "name": pair.key, "index": index,
                "meta": {k: str(v) for k, v in pair.meta.items()}}

    def describe(self) -> dict[str, Any]:
        """What to record with every result: layout, root, split, blur folder, count, seed,
        channels and transform settings."""
        out = dict(self.source)
        out.update(count=len(self), seed=self.seed, channels=self.channels,
                   transform=_describe_transform(self.transform))
        return out


class FrameLabelDataset(_EpochMixin, Dataset):
    """Frames of labelled clips, for the S4 blurred/sharp frame classifier or for deblurring.

    Args:
        clips: from :func:`video_clips`.
        mode: ``"label"``: items are one frame and its label (every selected frame needs a
            label); ``"paired"``: items are (blurred, sharp) pairs as in
            :class:`PairedImageDataset` plus the label.
        frames: ``"all"``, ``"blurred"`` or ``"sharp"`` frames (the last two need labels).
        transform: as in :class:`PairedImageDataset`; in label mode the geometry is drawn
            the same way and applied to the one frame.
        seed: augmentation seed (>= 0).
        channels: 3, 1 or None.

    Items:
        label mode: ``{"image": C x H x W float32, "label": float32 scalar (1.0 blurred,
        0.0 sharp), "path": str, "name": "<clip>/<frame>", "index": int,
        "meta": {"clip", "frame"}}``.
        paired mode: the :class:`PairedImageDataset` item plus ``"label"`` (float32; -1.0
        when the clip has no labels).

    Example:
        >>> ds = FrameLabelDataset(video_clips("synth", "train"), mode="label")  # doctest: +SKIP
    """

    MODES = ("label", "paired")

    def __init__(self, clips: Sequence[Clip], mode: str = "label", frames: str = "all",
                 transform: PairTransform | None = None, seed: int = 0,
                 channels: int | None = 3) -> None:
        if mode not in self.MODES:
            raise UserError(f"mode={mode!r}: use 'label' or 'paired'")
        self.mode, self.frames = mode, frames
        self.transform = transform
        self.seed = _check_seed(seed)
        self.channels = _check_channels(channels)
        self.source = dict(getattr(clips, "source", {}))
        self.items = select_frames(clips, frames)
        self._paired: PairedImageDataset | None = None
        if mode == "label":
            bad = sorted({c.name for c, f in self.items if f.label is None})
            if bad:
                raise UserError(f"mode='label' needs labels; clip(s) without labels.csv: "
                                f"{', '.join(bad)}")
        else:
            self._paired = PairedImageDataset(clip_pairs(clips, frames), transform, seed,
                                              channels, self.source)
        self._init_epoch()
        if self._paired is not None:
            self._paired._epoch = self._epoch  # one shared counter

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FrameLabelDataset:
        """Build from a flat dict: :func:`video_clips` arguments (``root``, ``split``,
        ``blur_dir``, ``sharp_dir``, ``clips``), ``mode``, ``frames``, ``seed``, ``channels``
        and the transform settings; ``layout`` may be given and must be ``"video"``."""
        mine, rest, transform = _split_config(config, ("mode", "frames", "seed", "channels"))
        layout = rest.pop("layout", "video")
        if layout != "video":
            raise UserError(f"layout={layout!r}: FrameLabelDataset reads the 'video' layout")
        clips = _call_checked(video_clips, rest, "layout 'video'")
        return cls(clips, transform=transform, **mine)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.items):
            raise IndexError(f"index {index} out of range for {len(self.items)} frames")
        clip, frame = self.items[index]
        label = UNKNOWN_LABEL if frame.label is None else frame.label
        if self._paired is not None:
            item = self._paired[index]
            item["label"] = torch.tensor(float(label), dtype=torch.float32)
            return item
        image = adapt_channels(read_pixels(frame.blur), self.channels, frame.blur)
        image = _apply_single(self.transform, image, (self.seed, self.epoch, index),
                              str(frame.blur))
        return {"image": to_chw_tensor(image),
                "label": torch.tensor(float(label), dtype=torch.float32),
                "path": str(frame.blur), "name": f"{clip.name}/{frame.name}", "index": index,
                "meta": {"clip": clip.name, "frame": frame.name}}

    def describe(self) -> dict[str, Any]:
        """Source, mode, frame selection, counts (with blurred / sharp), seed, transform."""
        out = dict(self.source)
        out.update(mode=self.mode, frames=self.frames, count=len(self),
                   blurred=sum(f.label == 1 for _, f in self.items),
                   sharp=sum(f.label == 0 for _, f in self.items),
                   seed=self.seed, channels=self.channels,
                   transform=_describe_transform(self.transform))
        return out


def clip_windows(lengths: Sequence[int], window: int | None, stride: int | None = None
                 ) -> list[tuple[int, int, int]]:
    """Windows ``(clip index, start, stop)`` of ``window`` consecutive frames.

    Starts step by ``stride`` (default ``window``); when the last window stops before the end
    of the clip, one more window ending at the last frame is added, so every frame is covered
    and every window is full length (a clip shorter than ``window`` gives one window of the
    whole clip). ``window=None``: one window per whole clip.

    Example:
        >>> clip_windows([5], 2)
        [(0, 0, 2), (0, 2, 4), (0, 3, 5)]
    """
    if window is not None and window <= 0:
        raise UserError(f"window={window}: must be > 0")
    step = stride if stride is not None else window
    if step is not None and step <= 0:
        raise UserError(f"stride={stride}: must be > 0")
    out = []
    for c, n in enumerate(lengths):
        if window is None or n <= window:
            out.append((c, 0, n))
            continue
        starts = list(range(0, n - window + 1, step))
        if starts[-1] + window < n:
            starts.append(n - window)
        out += [(c, s, s + window) for s in starts]
    return out


class VideoClipDataset(_EpochMixin, Dataset):
    """Windows of consecutive clip frames as ``T x C x H x W`` tensors, one geometry per window.

    Args:
        clips: from :func:`video_clips`.
        window: frames per item; None for whole clips (mind memory at 720p).
        stride: start step between windows (default ``window``), see :func:`clip_windows`.
        transform: a :class:`PairedTransform` or None; one geometry is drawn per item from
            ``default_rng([seed, epoch, index])`` and applied to every frame (blurred and sharp).
        seed: augmentation seed (>= 0).
        channels: 3, 1 or None.
        with_sharp: include sharp frames; None (default) = when every clip has them.

    Items:
        ``{"blur": T x C x H x W float32, "sharp": same (with_sharp), "labels": T int64
        (1 blurred, 0 sharp, -1 unknown), "clip": str, "frames": list[str], "start": int,
        "index": int}``.
    """

    def __init__(self, clips: Sequence[Clip], window: int | None = None,
                 stride: int | None = None, transform: PairedTransform | None = None,
                 seed: int = 0, channels: int | None = 3, with_sharp: bool | None = None
                 ) -> None:
        self.clips = list(clips)
        if transform is not None and not isinstance(transform, PairedTransform):
            raise UserError("VideoClipDataset needs a PairedTransform (one geometry per window)")
        self.transform = transform
        self.seed = _check_seed(seed)
        self.channels = _check_channels(channels)
        self.window, self.stride = window, stride
        all_sharp = all(c.has_sharp for c in self.clips)
        if with_sharp is None:
            with_sharp = all_sharp
        elif with_sharp and not all_sharp:
            bad = [c.name for c in self.clips if not c.has_sharp]
            raise UserError(f"with_sharp=True but clip(s) lack sharp frames: {', '.join(bad)}")
        self.with_sharp = with_sharp
        self.source = dict(getattr(clips, "source", {}))
        self.windows = clip_windows([len(c.frames) for c in self.clips], window, stride)
        self._init_epoch()

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.windows):
            raise IndexError(f"index {index} out of range for {len(self.windows)} windows")
        c, start, stop = self.windows[index]
        clip = self.clips[c]
        frames = clip.frames[start:stop]
        blur = [adapt_channels(read_pixels(f.blur), self.channels, f.blur) for f in frames]
        sharp = [adapt_channels(read_pixels(f.sharp), self.channels, f.sharp)  # type: ignore
                 for f in frames] if self.with_sharp else []
        size = blur[0].shape
        paths = [f.blur for f in frames] + [f.sharp for f in frames][:len(sharp)]
        for path, img in zip(paths, blur + sharp):
            if img.shape != size:
                raise UserError(f"{frames[0].blur} ({size[0]}x{size[1]}x{size[2]}) and {path} "
                                f"({'x'.join(map(str, img.shape))}): frames of a window must "
                                "have one shape")
        if self.transform is not None:
            try:
                geometry = self.transform.sample(size[:2], item_rng(self.seed, self.epoch, index))
            except CropTooLargeError as exc:
                raise UserError(f"{clip.folder}: {exc}") from None
            blur = [geometry.apply(b) for b in blur]
            sharp = [geometry.apply(s) for s in sharp]
        item: dict[str, Any] = {
            "blur": torch.stack([to_chw_tensor(b) for b in blur]),
            "labels": torch.tensor([UNKNOWN_LABEL if f.label is None else f.label
                                    for f in frames], dtype=torch.int64),
            "clip": clip.name, "frames": [f.name for f in frames], "start": start,
            "index": index}
        if self.with_sharp:
            item["sharp"] = torch.stack([to_chw_tensor(s) for s in sharp])
        return item

    def describe(self) -> dict[str, Any]:
        """Source, window, stride, count of windows, seed, transform."""
        out = dict(self.source)
        out.update(window=self.window, stride=self.stride, count=len(self),
                   with_sharp=self.with_sharp, seed=self.seed, channels=self.channels,
                   transform=_describe_transform(self.transform))
        return out


__all__ = ["PairedImageDataset", "FrameLabelDataset", "VideoClipDataset", "item_rng",
           "clip_windows", "read_pixels", "adapt_channels", "to_chw_tensor", "PairList"]
