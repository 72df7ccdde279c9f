"""On-the-fly training pairs: a fresh realistic degradation of real sharp content per sample.

No pair is stored: item ``index`` of epoch ``epoch`` is made by
:func:`deblurkit.synth.degrade.make_sample` from ``numpy.random.default_rng([seed, epoch,
index])`` and nothing else, so it is a pure function of ``(seed, epoch, index)``: a resumed run
sees exactly the samples the uninterrupted run would have seen, and the number of DataLoader
workers changes nothing. A new epoch gives every index a new content crop and a new
degradation, so a run never sees the same pair twice.

Example config section (``layout: online``; see ``configs/default/deblur.yaml``)::

    data:
      train:
        layout: online
        args:
          photos: [../shared/data/photos/train]
          highfps: [{path: ../shared/data/highfps/train, fps: 1000}]
          length: 4000            # samples per epoch
          degradation: {sharp_fraction: 0.1, noise: {probability: 0.9}}
          holdout: {list: configs/data/holdout.txt, use: rest}   # scenes kept for tuning
        crop_size: 256

``items: frames`` makes the same samples labelled frames for the frame classifier (``task:
classifier``): the observed picture and 1 (blurred) or 0 (sharp), where a blurred sample
whose blur stays invisible (its ``blur_psnr`` at or above
:data:`deblurkit.data.video.INVISIBLE_BLUR_DB`) is sharp.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch.utils.data import Dataset

from deblurkit.data.datasets import _EpochMixin, _check_seed, item_rng, to_chw_tensor
from deblurkit.errors import UserError

__all__ = ["OnTheFlyPairs", "ONLINE_KEYS", "ITEM_KINDS", "visible_label"]

#: Keys of an ``online`` dataset section (besides ``layout``).
ONLINE_KEYS = ("photos", "highfps", "length", "degradation", "cache_dir", "crop_size", "seed",
               "items", "holdout")
#: What an item is: a (blurred, sharp) pair, or a labelled frame (see the module docstring).
ITEM_KINDS = ("pairs", "frames")


def _highfps_specs(value: Any) -> list[Any]:
    from deblurkit.synth.corpus import HighFpsSpec

    if not isinstance(value, (list, tuple)):
        raise UserError(f"highfps: expected a list of {{path, fps}}, got {value!r}")
    specs = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) != {"path", "fps"}:
            raise UserError(f"highfps[{i}]: expected {{path: ..., fps: ...}} (the real capture "
                            f"rate: containers lie), got {item!r}")
        specs.append(HighFpsSpec(str(item["path"]), item["fps"]))
    return specs


def visible_label(sample: Any) -> int:
    """1 when a :class:`~deblurkit.synth.degrade.Sample` is visibly blurred, else 0: a
    ``sharp`` sample, or a blurred one whose ``blur_psnr`` is at or above
    :data:`deblurkit.data.video.INVISIBLE_BLUR_DB` (an interval over a nearly static scene).
    """
    from deblurkit.data.video import visible_blur_labels

    value = sample.params.get("blur_psnr")  # None: unblurred, or blurred to no change at all
    blurred = int(sample.kind != "sharp" and value is not None)
    return visible_blur_labels([blurred], [value])[0]


class OnTheFlyPairs(_EpochMixin, Dataset):
    """(blurred, sharp) pairs made on the fly from photographs and high-frame-rate sequences.

    Args:
        sources: a :class:`~deblurkit.synth.corpus.SharpSources`.
        degradation: the :class:`~deblurkit.synth.degrade.DegradationConfig`.
        size: side of every crop.
        length: samples per epoch.
        seed: item ``i`` of epoch ``e`` uses ``default_rng([seed, e, i])``.
        items: ``"pairs"`` or ``"frames"`` (:data:`ITEM_KINDS`).

    Items:
        pairs: ``{"blur": 3 x size x size float32 [0,1], "sharp": same, "name":
        "<kind>_<index>", "index": int, "blur_path": "", "sharp_path": "", "meta": {"kind":
        ...}}``; frames: ``{"image": the blurred picture, "label": float32 scalar (1.0
        visibly blurred, 0.0 sharp), "path": "", "name", "index", "meta": {"kind": ...}}``.

    Shape:
        ``blur``, ``sharp``: ``(3, size, size)``.

    Example:
        >>> from deblurkit.synth.corpus import open_sources
        >>> from deblurkit.synth.degrade import DegradationConfig
        >>> ds = OnTheFlyPairs(open_sources(["photos/"]), DegradationConfig(), 256, 1000, 0)  # doctest: +SKIP
        >>> ds.set_epoch(2); ds[5]["blur"].shape                                            # doctest: +SKIP
        torch.Size([3, 256, 256])
    """

    def __init__(self, sources: Any, degradation: Any, size: int, length: int,
                 seed: int = 0, items: str = "pairs") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 16:
            raise UserError(f"crop_size={size!r}: the on-the-fly dataset needs an integer >= 16")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise UserError(f"length={length!r}: samples per epoch must be an integer >= 1")
        if items not in ITEM_KINDS:
            raise UserError(f"items={items!r}: use one of {', '.join(ITEM_KINDS)}")
        self.items = items
        if len(sources.sequences):
            sources.sequences.require_frames(degradation.average.exposure_ms_range[1])
        degradation.kinds_for(len(sources.photos) > 0, len(sources.sequences) > 0)
        self.sources, self.degradation = sources, degradation
        self.size, self.length, self.seed = size, length, _check_seed(seed)
        self._init_epoch()

    @classmethod
    def from_config(cls, config: Mapping[str, Any], report: Any = None) -> OnTheFlyPairs:
        """Build from a flat mapping (a YAML section): see the module docstring.

        Args:
            config: ``photos`` (paths), ``highfps`` (list of ``{path, fps}``), ``length``,
                ``degradation`` (a mapping typed as ``DegradationConfig``), ``cache_dir``,
                ``crop_size``, ``seed``, ``items``, ``holdout`` (a mapping typed as
                :class:`~deblurkit.synth.corpus.HoldOut`: scenes the recipe leaves out).
            report: a :class:`deblurkit.io.BatchReport` for unreadable source files
                (None: they are printed to stderr, one line each, and skipped).
        """
        from deblurkit.synth.corpus import HoldOut, open_sources
        from deblurkit.synth.degrade import DegradationConfig
        from deblurkit.utils.typed import from_dict

        unknown = [k for k in config if k not in ONLINE_KEYS and k != "layout"]
        if unknown:
            raise UserError(f"online dataset: unknown key {unknown[0]!r} (known: "
                            f"{', '.join(ONLINE_KEYS)})")
        photos = config.get("photos") or []
        if isinstance(photos, (str, os.PathLike)):
            photos = [photos]
        specs = _highfps_specs(config.get("highfps") or [])
        degradation = from_dict(DegradationConfig, config.get("degradation") or {},
                                "degradation")
        holdout = config.get("holdout")
        if holdout is not None:
            holdout = from_dict(HoldOut, holdout, "holdout")
        own_report = report
        if own_report is None:
            from deblurkit.io import BatchReport

            own_report = BatchReport()
        sources = open_sources(list(photos), specs, config.get("cache_dir"), own_report,
                               min_side=16, holdout=holdout)
        if report is None:
            import sys

            for path, reason in own_report.failures:
                print(f"skipped {path}: {reason}", file=sys.stderr)
        return cls(sources, degradation, config.get("crop_size", 256),
                   int(config.get("length", 1000)), config.get("seed", 0),
                   config.get("items", "pairs"))

    def __len__(self) -> int:
        return self.length

    def sample(self, index: int) -> Any:
        """The :class:`~deblurkit.synth.degrade.Sample` of ``index`` in the current epoch."""
        from deblurkit.synth.degrade import make_sample

        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        return make_sample(self.sources, self.degradation, self.size,
                           item_rng(self.seed, self.epoch, index))

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.sample(index)
        if self.items == "frames":
            return {"image": to_chw_tensor(s.blur),
                    "label": torch.tensor(float(visible_label(s)), dtype=torch.float32),
                    "path": "", "name": f"{s.kind}_{index:06d}", "index": index,
                    "meta": {"kind": s.kind}}
        return {"blur": to_chw_tensor(s.blur), "sharp": to_chw_tensor(s.sharp),
                "name": f"{s.kind}_{index:06d}", "index": index, "blur_path": "",
                "sharp_path": "", "meta": {"kind": s.kind}}

    def describe(self) -> dict[str, Any]:
        """Sources, degradation settings, size, length and seed (for run records)."""
        from deblurkit.utils.typed import to_dict

        return {"layout": "online", "sources": self.sources.describe(),
                "degradation": to_dict(self.degradation), "size": self.size,
                "length": self.length, "seed": self.seed, "items": self.items}
