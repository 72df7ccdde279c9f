"""Video clips stored as frame folders, with optional per-frame blurred/sharp labels.

Layout (the one the ``synth`` job writes for partially blurred videos)::

    <root>/<split>/<clip>/blur/<frame>.png     the observed video (blurred and sharp frames)
    <root>/<split>/<clip>/sharp/<frame>.png    optional ground truth
    <root>/<split>/<clip>/labels.csv           optional: header ``frame,blurred``;
                                               frame = file stem, blurred = 0 or 1

``labels.json`` (an object ``{"<frame>": 0 or 1}``) is accepted instead of ``labels.csv``.
A clip folder without ``blur/`` whose own files are images is a clip of frames without sharp
frames (a real video to process). If ``<root>/<split>`` itself holds ``blur/``, it is one clip.

No torch import.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deblurkit.data.pairs import (Pair, PairList, PairingError, _stem_index, _subdirs,
                                  list_image_files, natural_key)
from deblurkit.errors import UserError

#: File names of the label files, in order of preference (both present is an error).
LABELS_CSV = "labels.csv"
LABELS_JSON = "labels.json"
#: Header of labels.csv.
LABELS_HEADER = ("frame", "blurred")
#: Which frames a dataset uses: all, those labelled blurred (1), those labelled sharp (0).
FRAME_SELECTIONS = ("all", "blurred", "sharp")
#: Which labels a clip gets: ``"s4"`` the label file as it is (S4's protocol: blurred whenever
#: the frame's interval was averaged); ``"visible"`` the same with invisible blur called sharp
#: (:func:`visible_blur_labels`, from the synth manifest's ``blur_psnr``; a clip without that
#: record keeps its file's labels).
LABEL_KINDS = ("s4", "visible")


@dataclass(frozen=True)
class ClipFrame:
    """One frame of a clip.

    Attributes:
        name: frame name (file stem), e.g. ``"00000042"``.
        blur: path of the observed (possibly blurred) frame.
        sharp: path of the sharp frame, or None.
        label: 1 blurred, 0 sharp, None unknown.
    """

    name: str
    blur: Path
    sharp: Path | None = None
    label: int | None = None


@dataclass(frozen=True)
class Clip:
    """A clip: its name, folder and frames in natural order of their names."""

    name: str
    folder: Path
    frames: tuple[ClipFrame, ...]

    @property
    def has_sharp(self) -> bool:
        """Every frame has a sharp counterpart."""
        return all(f.sharp is not None for f in self.frames)

    @property
    def has_labels(self) -> bool:
        """Every frame has a label."""
        return all(f.label is not None for f in self.frames)


class ClipList(list):
    """A list of :class:`Clip` with a ``source`` description (layout, root, split, ...)."""

    def __init__(self, clips: Iterable[Clip] = (), source: Mapping[str, Any] | None = None):
        super().__init__(clips)
        self.source: dict[str, Any] = dict(source or {})


#: A frame labelled blurred whose averaged interval stays within this PSNR (dB) of its reference
#: frame, before noise and compression (the synth manifest's ``blur_psnr``), shows no blur: an
#: interval over a nearly static scene. :func:`visible_blur_labels` calls such a frame sharp.
#: 35 dB: a difference below what 8-bit viewing shows on natural images, and below the noise
#: and compression of every synthesized clip (their sharp frames sit at 25-45 dB from their
#: references).
INVISIBLE_BLUR_DB = 35.0


def read_blur_psnr(folder: str | os.PathLike) -> list[float | None] | None:
    """The per-frame ``blur_psnr`` that ``deblurkit synth --config`` recorded for a clip.

    The clip folder is ``<root>/videos/<split>/<clip>`` and the record is the item of
    ``<root>/manifest.json`` whose ``folder`` is that path.

    Args:
        folder: the clip folder.

    Returns:
        One value per frame in frame order (None for a sharp frame), or None when there is no
        manifest or it does not record ``blur_psnr`` for this clip (older sets, real videos).
    """
    folder = Path(folder)
    if len(folder.parts) < 4:
        return None
    root = folder.parents[2]
    relative = "/".join(folder.parts[-3:])
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for item in manifest.get("items", []) if isinstance(manifest, dict) else []:
        if isinstance(item, dict) and item.get("folder") == relative:
            values = item.get("blur_psnr")
            return list(values) if isinstance(values, list) else None
    return None


def visible_blur_labels(labels: Sequence[int], blur_psnr: Sequence[float | None],
                        invisible_db: float = INVISIBLE_BLUR_DB) -> list[int]:
    """S4's labels with invisible blur called sharp.

    S4's protocol labels a frame blurred whenever its interval was averaged. A frame stays
    blurred here only if its ``blur_psnr`` (:func:`read_blur_psnr`) is below ``invisible_db``.

    Args:
        labels: S4's labels, 0 or 1 per frame.
        blur_psnr: the same frames' ``blur_psnr`` (None for a sharp frame).
        invisible_db: the visibility threshold in dB.

    Returns:
        0 or 1 per frame.

    Raises:
        ValueError: the two sequences differ in length, or a blurred frame has no value.

    Example:
        >>> visible_blur_labels([0, 1, 1], [None, 24.0, 51.2])
        [0, 1, 0]
    """
    if len(labels) != len(blur_psnr):
        raise ValueError(f"length differs: {len(labels)} labels, {len(blur_psnr)} blur_psnr values")
    out = []
    for label, value in zip(labels, blur_psnr):
        if label and value is None:
            raise ValueError("a frame labelled blurred has no blur_psnr")
        out.append(int(bool(label) and value < invisible_db))
    return out


def read_labels(path: str | os.PathLike) -> dict[str, int]:
    """Read per-frame labels: ``labels.csv`` (header ``frame,blurred``) or ``labels.json``.

    Args:
        path: the label file.

    Returns:
        ``{frame name: 0 or 1}``.

    Raises:
        UserError: unreadable file, wrong header, a value other than 0/1, a frame twice
            (message names the file and line).

    Example:
        >>> read_labels("clip/labels.csv")  # doctest: +SKIP
        {'00000000': 0, '00000001': 1}
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read labels ({exc})") from None
    labels: dict[str, int] = {}

    def put(frame: str, value: Any, where: str) -> None:
        if isinstance(value, str):
            value = value.strip()
        if value not in ("0", "1", 0, 1) or isinstance(value, bool):
            raise UserError(f"{path}{where}: blurred must be 0 or 1, got {value!r}")
        if frame in labels:
            raise UserError(f"{path}{where}: frame {frame!r} labelled twice")
        labels[frame] = int(value)

    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected an object {{\"<frame>\": 0 or 1}}")
        for frame, value in data.items():
            put(str(frame), value, "")
        return labels
    rows = list(csv.reader(text.splitlines()))
    if not rows or tuple(c.strip() for c in rows[0]) != LABELS_HEADER:
        raise UserError(f"{path}: first line must be the header {','.join(LABELS_HEADER)}")
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise UserError(f"{path}:{number}: expected 2 fields (frame,blurred), got {len(row)}")
        put(row[0].strip(), row[1], f":{number}")
    return labels


def _find_labels(folder: Path) -> Path | None:
    csv_path, json_path = folder / LABELS_CSV, folder / LABELS_JSON
    if csv_path.is_file() and json_path.is_file():
        raise UserError(f"{folder}: both {LABELS_CSV} and {LABELS_JSON}; keep one")
    if csv_path.is_file():
        return csv_path
    return json_path if json_path.is_file() else None


def load_clip(folder: str | os.PathLike, blur_dir: str = "blur", sharp_dir: str = "sharp",
              name: str | None = None, labels: str = "s4") -> Clip:
    """Read one clip folder (frames, optional sharp frames, optional labels).

    Args:
        folder: the clip folder.
        blur_dir: sub-folder of observed frames; if absent, the folder's own images are used.
        sharp_dir: sub-folder of sharp frames (optional).
        name: clip name (default: the folder name).
        labels: a key of :data:`LABEL_KINDS`: ``"s4"`` (the label file's) or ``"visible"``
            (invisible blur called sharp, when the synth manifest records ``blur_psnr``).

    Returns:
        The :class:`Clip`.

    Raises:
        UserError: no frames; labels naming missing frames or frames without labels (all
            listed). PairingError: sharp folder present but frames unmatched (all listed).
    """
    folder = Path(folder)
    frames_dir = folder / blur_dir if (folder / blur_dir).is_dir() else folder
    blur = _stem_index(frames_dir)
    if not blur:
        raise UserError(f"{frames_dir}: no frames")
    sharp: dict[str, Path] = {}
    if (folder / sharp_dir).is_dir():
        sharp = _stem_index(folder / sharp_dir)
        lone_blur = [str(p) for k, p in blur.items() if k not in sharp]
        lone_sharp = [str(p) for k, p in sharp.items() if k not in blur]
        if lone_blur or lone_sharp:
            raise PairingError(folder, lone_blur, lone_sharp)
    labels_by_frame: dict[str, int] = {}
    label_file = _find_labels(folder)
    if label_file is not None:
        labels_by_frame = read_labels(label_file)
        unlabelled = [k for k in blur if k not in labels_by_frame]
        unknown = [k for k in labels_by_frame if k not in blur]
        if unlabelled or unknown:
            parts = []
            if unlabelled:
                parts.append(f"frame(s) without a label: {', '.join(unlabelled)}")
            if unknown:
                parts.append(f"label(s) for missing frame(s): {', '.join(unknown)}")
            raise UserError(f"{label_file}: " + "; ".join(parts))
    if labels not in LABEL_KINDS:
        raise UserError(f"labels={labels!r}: use one of {', '.join(LABEL_KINDS)}")
    if labels == "visible" and label_file is not None:
        labels_by_frame = _visible(folder, labels_by_frame, sorted(blur, key=natural_key))
    frames = tuple(ClipFrame(k, blur[k], sharp.get(k), labels_by_frame.get(k))
                   for k in sorted(blur, key=natural_key))
    return Clip(name or folder.name, folder, frames)


def _visible(folder: Path, labels: dict[str, int], order: list[str]) -> dict[str, int]:
    """``labels`` with invisible blur called sharp, from the manifest's record of ``folder``
    (unchanged without one)."""
    blur_psnr = read_blur_psnr(folder)
    if blur_psnr is None:
        return labels
    if len(blur_psnr) != len(order):
        raise UserError(f"{folder}: the manifest's blur_psnr has {len(blur_psnr)} values for "
                        f"{len(order)} frames")
    try:
        visible = visible_blur_labels([labels[k] for k in order], blur_psnr)
    except ValueError as err:
        raise UserError(f"{folder}: {err}") from None
    return dict(zip(order, visible))


def video_clips(root: str | os.PathLike, split: str | None = None, blur_dir: str = "blur",
                sharp_dir: str = "sharp", clips: Sequence[str] | None = None,
                require_sharp: bool = False, require_labels: bool = False,
                only_labelled: bool = False, labels: str = "s4") -> ClipList:
    """Find the clips under ``<root>[/<split>]``.

    Args:
        root: dataset folder.
        split: optional split sub-folder (``train``, ``val``, ``test``).
        blur_dir: observed-frame folder name in each clip.
        sharp_dir: sharp-frame folder name in each clip.
        clips: only these clip names (in this order).
        require_sharp: every frame must have a sharp frame.
        require_labels: every clip must have labels.
        only_labelled: keep only clip folders that hold a label file (the ``synth`` job
            writes its image pairs and its labelled clips side by side under one split); the
            number of folders left out is recorded in ``source["unlabelled_skipped"]``.
        labels: a key of :data:`LABEL_KINDS` (see :func:`load_clip`); recorded in ``source``.

    Returns:
        Clips in natural order of their names; ``source`` holds layout ``"video"``, root,
        split, folder names, clip and frame counts, and label counts.

    Raises:
        UserError: folder missing, no clips, a requirement not met (clips listed).

    Example:
        >>> clips = video_clips("synth_out", split="train", require_labels=True)  # doctest: +SKIP
    """
    base = Path(root) / split if split else Path(root)
    if not base.is_dir():
        raise UserError(f"{base}: folder not found")
    if (base / blur_dir).is_dir():
        folders = [base]
    else:
        folders = [d for d in _subdirs(base)
                   if (d / blur_dir).is_dir() or list_image_files(d)]
    if clips is not None:
        by_name = {d.name: d for d in folders}
        unknown = [c for c in clips if c not in by_name]
        if unknown:
            raise UserError(f"{base}: clip(s) not found: {', '.join(unknown)}")
        folders = [by_name[c] for c in clips]
    skipped = 0
    if only_labelled:
        kept = [d for d in folders if _find_labels(d) is not None]
        skipped, folders = len(folders) - len(kept), kept
    if not folders:
        raise UserError(f"{base}: no {'labelled ' if only_labelled else ''}clip folders "
                        f"(expected <clip>/{blur_dir}/<frame>.png)")
    found = [load_clip(d, blur_dir, sharp_dir, labels=labels) for d in folders]
    if require_sharp:
        bad = [c.name for c in found if not c.has_sharp]
        if bad:
            raise UserError(f"{base}: clip(s) without {sharp_dir}/ frames: {', '.join(bad)}")
    if require_labels:
        bad = [c.name for c in found if not c.has_labels]
        if bad:
            raise UserError(f"{base}: clip(s) without {LABELS_CSV}: {', '.join(bad)}")
    frames = [f for c in found for f in c.frames]
    source = {"layout": "video", "root": str(root), "split": split, "blur_dir": blur_dir,
              "sharp_dir": sharp_dir, "clips": len(found), "frames": len(frames),
              "blurred_frames": sum(f.label == 1 for f in frames),
              "sharp_frames": sum(f.label == 0 for f in frames),
              "unlabelled_skipped": skipped, "labels": labels}
    return ClipList(found, source)


def clip_rgb(clip: Clip) -> list[Any]:
    """The observed frames of a clip as ``H x W x 3`` float32 arrays in ``[0, 1]``, in order
    (read by :func:`deblurkit.io.read.read_pixels`, grey repeated to RGB, alpha dropped; for
    selectors and their fitting tools).

    Example:
        >>> frames = clip_rgb(load_clip("data/realval/videos/val/clip_photo_000"))  # doctest: +SKIP
    """
    import numpy as np

    from deblurkit.io import to_float
    from deblurkit.io.read import adapt_channels, read_pixels

    return [np.asarray(to_float(adapt_channels(read_pixels(f.blur), 3, f.blur)), np.float32)
            for f in clip.frames]


def select_frames(clips: Sequence[Clip], frames: str = "all") -> list[tuple[Clip, ClipFrame]]:
    """Flatten clips into ``(clip, frame)`` items, keeping all, blurred or sharp frames.

    Args:
        clips: the clips.
        frames: ``"all"``, ``"blurred"`` (label 1) or ``"sharp"`` (label 0); the last two
            need labels on every clip.

    Returns:
        Items in clip order, then frame order.
    """
    if frames not in FRAME_SELECTIONS:
        raise UserError(f"frames={frames!r}: use one of {', '.join(FRAME_SELECTIONS)}")
    if frames != "all":
        bad = [c.name for c in clips if not c.has_labels]
        if bad:
            raise UserError(f"frames={frames!r} needs labels; clip(s) without: {', '.join(bad)}")
    wanted = {"all": None, "blurred": 1, "sharp": 0}[frames]
    return [(c, f) for c in clips for f in c.frames if wanted is None or f.label == wanted]


def clip_pairs(clips: Sequence[Clip], frames: str = "all") -> PairList:
    """(blurred, sharp) pairs of clip frames, for training a deblurring model on clips.

    Args:
        clips: clips with sharp frames.
        frames: ``"all"``, ``"blurred"`` or ``"sharp"``, see :func:`select_frames`.

    Returns:
        Pairs keyed ``<clip>/<frame>`` with ``meta = {"clip", "frame", "blurred"}``
        (blurred = 1, 0, or -1 when unknown); ``source`` copied from ``clips.source`` when it
        is a :class:`ClipList`, plus ``frames``.

    Raises:
        UserError: a selected frame has no sharp frame (clips listed).
    """
    items = select_frames(clips, frames)
    bad = sorted({c.name for c, f in items if f.sharp is None}, key=natural_key)
    if bad:
        raise UserError(f"clip(s) without sharp frames: {', '.join(bad)}")
    pairs = [Pair(f.blur, f.sharp, f"{c.name}/{f.name}",  # type: ignore[arg-type]
                  {"clip": c.name, "frame": f.name, "blurred": -1 if f.label is None else f.label})
             for c, f in items]
    source = dict(getattr(clips, "source", {}))
    source.update(frames=frames, count=len(pairs))
    return PairList(pairs, source)
