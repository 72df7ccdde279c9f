"""Paired datasets over on-disk layouts, and paired augmentation.

Layout discovery (no torch needed): :func:`folder_pairs`, :func:`gopro_pairs`,
:func:`reds_pairs`, :func:`dvd_pairs`, :func:`koehler_pairs`, :func:`dhazy_pairs`,
:func:`raindrop_pairs`, :func:`pattern_pairs`, :func:`video_clips`; each returns a list with a
``source`` description and raises ``UserError`` naming the folder and every unmatched file.
:func:`match_folders` and :func:`gopro_matching` give the underlying :class:`Matching` (the
pairs and every problem), which folder evaluation (``deblurkit.metrics``) uses too.

Augmentation: :class:`PairedTransform` (same crop / flips / rotation on both images), drawn
from ``numpy.random.default_rng([seed, epoch, index])`` by the datasets.

torch datasets (imported on first use, so ``import deblurkit.data`` stays light):
:class:`PairedImageDataset`, :class:`FrameLabelDataset`, :class:`VideoClipDataset`.

See docs/datasets.md for the layouts as trees and the assumptions made.
"""

from __future__ import annotations

from typing import Any

from deblurkit.data.pairs import (DVD_TEST_CLIPS, LAYOUTS, Matching, Pair, PairingError,
                                  PairList, compile_pattern, dhazy_pairs, discover_pairs,
                                  dvd_pairs, folder_pairs, gopro_matching, gopro_pairs,
                                  koehler_pairs, list_image_files, match_folders, natural_key,
                                  pattern_pairs, raindrop_pairs, reds_pairs)
from deblurkit.data.transforms import (CropTooLargeError, Geometry, PairedTransform,
                                       apply_geometry, crop, flip_rotate, sample_geometry)
from deblurkit.data.video import (LABEL_KINDS, Clip, ClipFrame, ClipList, clip_pairs, clip_rgb,
                                  load_clip, read_labels, select_frames, video_clips)

_TORCH_NAMES = ("PairedImageDataset", "FrameLabelDataset", "VideoClipDataset", "item_rng",
                "clip_windows")


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from deblurkit.data import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'deblurkit.data' has no attribute {name!r}")


__all__ = [
    "DVD_TEST_CLIPS", "LAYOUTS", "Matching", "Pair", "PairList", "PairingError",
    "compile_pattern", "discover_pairs", "folder_pairs", "gopro_matching", "gopro_pairs",
    "match_folders", "reds_pairs", "dvd_pairs",
    "koehler_pairs", "dhazy_pairs", "raindrop_pairs", "pattern_pairs", "list_image_files",
    "natural_key", "CropTooLargeError", "Geometry", "PairedTransform", "apply_geometry", "crop",
    "flip_rotate", "sample_geometry", "Clip", "ClipFrame", "ClipList", "clip_pairs",
    "clip_rgb", "LABEL_KINDS", "load_clip", "read_labels", "select_frames", "video_clips",
    *_TORCH_NAMES,
]
