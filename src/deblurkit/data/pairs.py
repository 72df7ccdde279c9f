"""Find (blurred, sharp) image pairs: the one pairing module of the toolkit.

Training datasets (:mod:`deblurkit.data.datasets`) and folder evaluation
(:mod:`deblurkit.metrics.evaluate`) both pair files here, with the same listing, the same keys,
the same order and the same failure rule.

Every discovery function returns a :class:`PairList` (a ``list`` of :class:`Pair`, sorted by
key in natural order) whose ``source`` dict says where the pairs came from (layout, root,
split, blur folder, ...); :meth:`PairedImageDataset.describe` copies it into every result.
:func:`match_folders` and :func:`gopro_matching` return the underlying :class:`Matching`: the
pairs and everything that could not be paired.

**Listing and order.** Image files (``deblurkit.io.IMAGE_SUFFIXES``, hidden files and folders
skipped, :func:`deblurkit.io.folder_images`) in natural order (``frame2`` before ``frame10``,
:func:`deblurkit.utils.sorting.natural_key`); a file's key is its relative path without the
suffix (GoPro and DVD: ``<scene or clip>/<relative path>``); pairs are in natural order of key.

**The failure rule.** No file is ever dropped silently, and every problem is listed at once:

- *unmatched*: a file whose key has no file on the other side;
- *ambiguous*: two or more files on one side with one key (``001.png`` and ``001.jpg``): the
  pair is not guessed, and the key is neither paired nor reported as unmatched;
- *missing folder*: a scene or clip folder without its blurred or sharp folder (the files of
  the other one are then unmatched).

A dataset cannot train on part of its data, so :meth:`Matching.check` refuses an incomplete
matching with :class:`PairingError` (a :class:`~deblurkit.errors.UserError` whose one-line
message names the folder and every problem). Evaluation is a batch: it scores the complete
pairs, lists every problem (unmatched files as ``missing``, ambiguous keys and missing folders
as ``failed``) and exits with status 1. Image files that match neither side of a name pattern
are not candidates; their count is recorded in ``source["ignored_files"]``.

This module imports only the standard library at import time (``deblurkit.io`` and numpy
lazily, never torch).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deblurkit.errors import UserError
from deblurkit.utils.sorting import natural_key

#: Splits of the GoPro dataset (Nah et al. 2017).
GOPRO_SPLITS = ("train", "test")
#: The two blurred versions GoPro ships: ``blur`` (frames averaged as stored) and ``blur_gamma``
#: (averaged after undoing an assumed gamma 2.2 curve).
GOPRO_BLUR_DIRS = ("blur", "blur_gamma")
#: Splits of REDS (NTIRE 2019). ``test`` has no public sharp frames.
REDS_SPLITS = ("train", "val", "test")
#: The 10 test clips of the DVD dataset (Su et al. 2017), as listed by the authors.
DVD_TEST_CLIPS = ("720p_240fps_2", "IMG_0003", "IMG_0021", "IMG_0030", "IMG_0031",
                  "IMG_0032", "IMG_0033", "IMG_0037", "IMG_0039", "IMG_0049")
#: Koehler et al. 2012 default names: ``Blurry{image}_{kernel}.png`` and the sharp frames
#: recorded along the camera trajectory ``GroundTruth{image}_{kernel}_{frame}.png``.
KOEHLER_BLUR_PATTERN = "Blurry{image}_{kernel}.png"
KOEHLER_SHARP_PATTERN = "GroundTruth{image}_{kernel}_{frame}.png"
#: D-HAZY (NYU part) default folders and names.
DHAZY_HAZY_DIR = "NYU_Hazy"
DHAZY_GT_DIR = "NYU_GT"
DHAZY_HAZY_PATTERN = "{id}_Hazy.bmp"
DHAZY_GT_PATTERN = "{id}_Image_.bmp"
#: D-HAZY NYU split used by Martyniuk 2019 (S5): 1000 train pairs, the rest (449) test.
DHAZY_TRAIN_COUNT = 1000
#: Raindrop (Qian et al. 2018) default folders and names.
RAINDROP_BLUR_DIR = "data"
RAINDROP_SHARP_DIR = "gt"
RAINDROP_BLUR_PATTERN = "{id}_rain.*"
RAINDROP_SHARP_PATTERN = "{id}_clean.*"


@dataclass(frozen=True)
class Pair:
    """One blurred image and its sharp ground truth.

    Args:
        blur: path of the degraded image (blurred, hazy, rainy).
        sharp: path of the clean ground truth.
        key: a stable identifier unique within the dataset, e.g. ``"GOPR0384_11_00/000001"``;
            used to name outputs and to sort.
        meta: extra fields (``scene``, ``clip``, ``frame``, ``blurred`` ...), values str or int.

    Example:
        >>> Pair(Path("b/1.png"), Path("s/1.png"), "1").key
        '1'
    """

    blur: Path
    sharp: Path
    key: str
    meta: Mapping[str, str | int] = field(default_factory=dict, hash=False)


class PairList(list):
    """A list of :class:`Pair` that remembers where it came from.

    Args:
        pairs: the pairs.
        source: description of the layout (``layout``, ``root``, ``split``, ...), recorded by
            :meth:`PairedImageDataset.describe`.
    """

    def __init__(self, pairs: Iterable[Pair] = (), source: Mapping[str, Any] | None = None):
        super().__init__(pairs)
        self.source: dict[str, Any] = dict(source or {})


class PairingError(UserError):
    """An incomplete pairing: every problem of the failure rule is listed (module docstring).

    Attributes:
        folder: the folder where pairing failed.
        unmatched_blur: blurred files with no sharp counterpart.
        unmatched_sharp: sharp files with no blurred counterpart.
        ambiguous: one ``"a.png and a.jpg"`` entry per key held by several files on one side.
        missing_folders: required folders that do not exist.
    """

    def __init__(self, folder: str | os.PathLike, unmatched_blur: Sequence[str],
                 unmatched_sharp: Sequence[str], ambiguous: Sequence[str] = (),
                 missing_folders: Sequence[str] = ()) -> None:
        self.folder = os.fspath(folder)
        self.unmatched_blur = list(unmatched_blur)
        self.unmatched_sharp = list(unmatched_sharp)
        self.ambiguous = list(ambiguous)
        self.missing_folders = list(missing_folders)
        parts = []
        if self.missing_folders:
            parts.append(f"missing folder(s): {', '.join(self.missing_folders)}")
        if self.ambiguous:
            parts.append(f"{len(self.ambiguous)} name(s) held by several files that differ "
                         f"only by suffix (cannot tell which one to pair): "
                         f"{', '.join(self.ambiguous)}")
        if self.unmatched_blur:
            parts.append(f"{len(self.unmatched_blur)} blurred file(s) without a sharp "
                         f"counterpart: {', '.join(self.unmatched_blur)}")
        if self.unmatched_sharp:
            parts.append(f"{len(self.unmatched_sharp)} sharp file(s) without a blurred "
                         f"counterpart: {', '.join(self.unmatched_sharp)}")
        super().__init__(f"{self.folder}: " + "; ".join(parts))


# --------------------------------------------------------------------------- matching

@dataclass(frozen=True)
class Unpaired:
    """A file without counterpart on the other side.

    Attributes:
        path: the file.
        key: its key (relative path without suffix, prefixed like the pairs' keys).
        side: ``"blur"`` or ``"sharp"``: where the file is.
    """

    path: Path
    key: str
    side: str

    @property
    def relative(self) -> str:
        """The key with the file's suffix: its path relative to its side's root."""
        return self.key + self.path.suffix


@dataclass(frozen=True)
class Ambiguous:
    """Several files on one side with one key (names that differ only by suffix).

    Attributes:
        key: the shared key.
        side: ``"blur"`` or ``"sharp"``.
        files: the files, in natural order.
    """

    key: str
    side: str
    files: tuple[Path, ...]

    @property
    def relatives(self) -> list[str]:
        """Each file's path relative to its side's root (the key with its suffix)."""
        return [self.key + path.suffix for path in self.files]


@dataclass(frozen=True)
class Matching:
    """Everything a pairing found: the pairs and every problem of the failure rule.

    Attributes:
        pairs: matched pairs, in natural order of key.
        unmatched: files without counterpart, in natural order of key (both sides).
        ambiguous: keys held by several files on one side, in natural order.
        missing_folders: required folders that do not exist, in natural order.

    Example:
        >>> m = match_folders("blur", "sharp")          # doctest: +SKIP
        >>> m.complete, [p.key for p in m.pairs]         # doctest: +SKIP
        (True, ['a/001', 'a/002'])
    """

    pairs: tuple[Pair, ...] = ()
    unmatched: tuple[Unpaired, ...] = ()
    ambiguous: tuple[Ambiguous, ...] = ()
    missing_folders: tuple[Path, ...] = ()

    @property
    def complete(self) -> bool:
        """No problem: every file is in exactly one pair."""
        return not (self.unmatched or self.ambiguous or self.missing_folders)

    def check(self, where: str | os.PathLike) -> list[Pair]:
        """The pairs of a complete matching (the datasets' side of the failure rule).

        Args:
            where: the folder named in the messages.

        Returns:
            The pairs, as a list.

        Raises:
            PairingError: any problem (all listed in one line).
            UserError: no pair at all.
        """
        if not self.complete:
            raise PairingError(
                where, [str(u.path) for u in self.unmatched if u.side == "blur"],
                [str(u.path) for u in self.unmatched if u.side == "sharp"],
                [" and ".join(str(p) for p in a.files) for a in self.ambiguous],
                [str(folder) for folder in self.missing_folders])
        if not self.pairs:
            raise UserError(f"{where}: no images found")
        return list(self.pairs)


def list_image_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (hidden files skipped), sorted in natural order of their path.

    Args:
        folder: the folder to scan; it must exist.
        recursive: also scan sub-folders.

    Returns:
        Paths of files whose suffix (case-insensitive) is an image suffix
        (:func:`deblurkit.io.folder_images`).

    Raises:
        UserError: the folder does not exist.
    """
    from deblurkit.io import folder_images

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{root}: folder not found")
    return folder_images(root, recursive)


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: natural_key(p.name))


def _index(folder: Path, side: str, recursive: bool, prefix: str
           ) -> tuple[dict[str, Path], list[Ambiguous]]:
    """Key -> file of one side (a missing folder is empty), and the ambiguous keys."""
    groups: dict[str, list[Path]] = {}
    files = list_image_files(folder, recursive) if folder.is_dir() else []
    for path in files:
        groups.setdefault(prefix + path.relative_to(folder).with_suffix("").as_posix(),
                          []).append(path)
    index = {key: group[0] for key, group in groups.items() if len(group) == 1}
    ambiguous = [Ambiguous(key, side, tuple(group)) for key, group in groups.items()
                 if len(group) > 1]
    return index, ambiguous


def _stem_index(folder: Path) -> dict[str, Path]:
    """Key -> image file of one folder (not recursive); names that differ only by suffix are
    an error listing all of them (video clips, whose sharp folder is optional)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found")
    index, ambiguous = _index(folder, "blur", False, "")
    if ambiguous:
        clashes = ", ".join(" and ".join(p.name for p in a.files) for a in ambiguous)
        raise UserError(f"{folder}: {clashes} have the same name apart from the suffix; "
                        "cannot tell which one to pair")
    return index


def _match(blur_folder: Path, sharp_folder: Path, recursive: bool, group: str | None = None,
           name: str = "") -> Matching:
    """Match one blurred folder with one sharp folder (keys prefixed ``<name>/`` in a group)."""
    prefix = f"{name}/" if group else ""
    blur, blur_ambiguous = _index(blur_folder, "blur", recursive, prefix)
    sharp, sharp_ambiguous = _index(sharp_folder, "sharp", recursive, prefix)
    ambiguous = blur_ambiguous + sharp_ambiguous
    unclear = {a.key for a in ambiguous}
    pairs = [Pair(b, sharp[k], k, {group: name, "frame": k[len(prefix):]} if group else {})
             for k, b in blur.items() if k in sharp]
    unmatched = [Unpaired(p, k, "blur") for k, p in blur.items()
                 if k not in sharp and k not in unclear]
    unmatched += [Unpaired(p, k, "sharp") for k, p in sharp.items()
                  if k not in blur and k not in unclear]
    missing = [f for f in (blur_folder, sharp_folder) if not f.is_dir()]
    return _merge([Matching(tuple(pairs), tuple(unmatched), tuple(ambiguous), tuple(missing))])


def _merge(parts: Iterable[Matching]) -> Matching:
    """One matching from several (scenes, clips), everything in natural order."""
    parts = list(parts)

    def gather(attribute: str, key: Callable[[Any], str]) -> tuple[Any, ...]:
        return tuple(sorted((x for m in parts for x in getattr(m, attribute)),
                            key=lambda x: natural_key(key(x))))

    return Matching(gather("pairs", lambda p: p.key),
                    gather("unmatched", lambda u: u.relative),
                    gather("ambiguous", lambda a: a.key),
                    gather("missing_folders", lambda f: f.as_posix()))


def match_folders(blur_dir: str | os.PathLike, sharp_dir: str | os.PathLike, *,
                  recursive: bool = True) -> Matching:
    """Match two parallel folders by relative path without suffix.

    Args:
        blur_dir: folder of degraded images (it must exist).
        sharp_dir: folder of ground-truth images (it must exist).
        recursive: descend into sub-folders.

    Returns:
        The :class:`Matching` (keys: relative paths without suffix).

    Raises:
        UserError: a folder does not exist.

    Example:
        >>> match_folders("data/blur", "data/sharp").complete   # doctest: +SKIP
        True
    """
    blur_root, sharp_root = Path(blur_dir), Path(sharp_dir)
    for root in (blur_root, sharp_root):
        if not root.is_dir():
            raise UserError(f"{root}: folder not found")
    return _match(blur_root, sharp_root, recursive)


def match_groups(groups: Sequence[Path], blur_name: str, sharp_name: str,
                 group: str) -> Matching:
    """Match ``<g>/<blur_name>/**`` with ``<g>/<sharp_name>/**`` in every group folder ``g``
    (GoPro scenes, DVD clips), keyed ``<g name>/<relative path>`` with ``meta = {group:
    <g name>, "frame": <relative path>}``; a group without either folder is reported in
    ``missing_folders``.
    """
    return _merge(_match(folder / blur_name, folder / sharp_name, True, group, folder.name)
                  for folder in groups)


def _sorted(pairs: list[Pair], source: Mapping[str, Any]) -> PairList:
    pairs.sort(key=lambda p: natural_key(p.key))
    out = PairList(pairs, source)
    out.source["count"] = len(out)
    return out


# --------------------------------------------------------------------------- name patterns

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn a file-name pattern into a regular expression.

    ``{name}`` captures a non-empty part of the name (shortest match), ``*`` matches any text,
    everything else matches literally (case-sensitive). The whole file name must match.

    Args:
        pattern: e.g. ``"GroundTruth{image}_{kernel}_{frame}.png"``.

    Returns:
        A compiled regex with one named group per placeholder.

    Example:
        >>> compile_pattern("{id}_rain.*").fullmatch("12_rain.png")["id"]
        '12'
    """
    out, pos, seen = [], 0, set()
    for m in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]).replace(r"\*", ".*"))
        name = m.group(1)
        if name in seen:
            raise UserError(f"pattern {pattern!r}: placeholder {{{name}}} used twice")
        seen.add(name)
        out.append(f"(?P<{name}>.+?)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]).replace(r"\*", ".*"))
    return re.compile("".join(out))


def _pick_reference(candidates: list[tuple[str, Path]], reference: str | int,
                    blur_path: Path) -> Path:
    """Choose one sharp file among several (sorted by the extra placeholder)."""
    candidates = sorted(candidates, key=lambda c: natural_key(c[0]))
    if reference == "first":
        return candidates[0][1]
    if reference == "last":
        return candidates[-1][1]
    if reference == "middle":
        return candidates[(len(candidates) - 1) // 2][1]
    if isinstance(reference, int) and not isinstance(reference, bool):
        for value, path in candidates:
            if value.isdigit() and int(value) == reference:
                return path
        raise UserError(f"{blur_path}: no sharp frame number {reference} among "
                        f"{len(candidates)} candidates")
    raise UserError(f"reference={reference!r}: use 'first', 'middle', 'last' or a frame number")


def pattern_pairs(blur_dir: str | os.PathLike, sharp_dir: str | os.PathLike,
                  blur_pattern: str, sharp_pattern: str, *, recursive: bool = True,
                  reference: str | int = "middle", layout: str = "pattern",
                  root: str | os.PathLike | None = None) -> PairList:
    """Pair files whose names match two patterns sharing placeholders.

    The placeholders common to both patterns form the key (``{id}`` in ``{id}_rain.*`` and
    ``{id}_clean.*``). The sharp pattern may hold one extra placeholder (Koehler's ``{frame}``):
    then several sharp files belong to one blurred file and ``reference`` picks one of them,
    ordered by that placeholder in natural order.

    Args:
        blur_dir: folder holding the degraded images (may equal ``sharp_dir``).
        sharp_dir: folder holding the ground truth.
        blur_pattern: file-name pattern of degraded images, see :func:`compile_pattern`.
        sharp_pattern: file-name pattern of ground-truth images.
        recursive: search sub-folders too (the key then includes no folder part; a key found
            twice is an error).
        reference: with an extra sharp placeholder: ``"first"``, ``"middle"`` (default: index
            ``(n - 1) // 2``), ``"last"``, or the frame number as int.
        layout: layout name recorded in ``source``.
        root: root recorded in ``source`` (default ``blur_dir``).

    Returns:
        The pairs, keys joined from placeholder values with ``_`` in pattern order; ``meta``
        holds every placeholder value and, with an extra placeholder, ``sharp_candidates``.

    Raises:
        UserError: a folder is missing, patterns inconsistent, a key duplicated.
        PairingError: files without a counterpart (all listed).

    Example:
        >>> pattern_pairs("rain/data", "rain/gt", "{id}_rain.*", "{id}_clean.*")  # doctest: +SKIP
    """
    blur_root, sharp_root = Path(blur_dir), Path(sharp_dir)
    blur_re, sharp_re = compile_pattern(blur_pattern), compile_pattern(sharp_pattern)
    blur_names = list(blur_re.groupindex)
    sharp_names = list(sharp_re.groupindex)
    if not blur_names:
        raise UserError(f"pattern {blur_pattern!r}: needs at least one {{placeholder}}")
    missing = [n for n in blur_names if n not in sharp_names]
    extra = [n for n in sharp_names if n not in blur_names]
    if missing or len(extra) > 1:
        raise UserError(f"patterns {blur_pattern!r} / {sharp_pattern!r}: the sharp pattern must "
                        "hold every blur placeholder and at most one more")
    ignored = 0
    blur_files: dict[tuple[str, ...], Path] = {}
    for path in list_image_files(blur_root, recursive):
        m = blur_re.fullmatch(path.name)
        if m is None:
            ignored += 1
            continue
        key = tuple(m[n] for n in blur_names)
        if key in blur_files:
            raise UserError(f"{blur_root}: {blur_files[key]} and {path} have the same key {key}")
        blur_files[key] = path
    sharp_files: dict[tuple[str, ...], list[tuple[str, Path]]] = {}
    same_folder = blur_root.resolve() == sharp_root.resolve()
    for path in list_image_files(sharp_root, recursive):
        m = sharp_re.fullmatch(path.name)
        if m is None:
            if not same_folder:
                ignored += 1
            continue
        key = tuple(m[n] for n in blur_names)
        extra_value = m[extra[0]] if extra else ""
        group = sharp_files.setdefault(key, [])
        if not extra and group:
            raise UserError(f"{sharp_root}: {group[0][1]} and {path} have the same key {key}")
        group.append((extra_value, path))
    if same_folder:  # files matching neither pattern were counted once, on the blur side
        ignored -= sum(len(g) for g in sharp_files.values())
    lone_blur = [str(p) for k, p in blur_files.items() if k not in sharp_files]
    lone_sharp = [str(g[0][1]) if len(g) == 1 else f"{g[0][1]} (+{len(g) - 1} frames)"
                  for k, g in sharp_files.items() if k not in blur_files]
    if lone_blur or lone_sharp:
        raise PairingError(blur_root if same_folder else f"{blur_root} / {sharp_root}",
                           lone_blur, lone_sharp)
    pairs = []
    for key, blur_path in blur_files.items():
        group = sharp_files[key]
        meta: dict[str, str | int] = dict(zip(blur_names, key))
        if extra:
            sharp_path = _pick_reference(group, reference, blur_path)
            meta[extra[0]] = sharp_re.fullmatch(sharp_path.name)[extra[0]]
            meta["sharp_candidates"] = len(group)
        else:
            sharp_path = group[0][1]
        pairs.append(Pair(blur_path, sharp_path, "_".join(key), meta))
    source: dict[str, Any] = {
        "layout": layout, "root": str(root if root is not None else blur_root),
        "blur_dir": str(blur_root), "sharp_dir": str(sharp_root),
        "blur_pattern": blur_pattern, "sharp_pattern": sharp_pattern,
        "ignored_files": max(ignored, 0)}
    if extra:
        source["reference"] = reference
    if not pairs:
        raise UserError(f"{blur_root}: no file matches {blur_pattern!r}")
    return _sorted(pairs, source)


# --------------------------------------------------------------------------- layouts

def folder_pairs(blur_dir: str | os.PathLike, sharp_dir: str | os.PathLike, *,
                 recursive: bool = True) -> PairList:
    """Pairs from two parallel folders, matched by relative path without suffix.

    ``blur/a/001.png`` pairs with ``sharp/a/001.png`` (or ``sharp/a/001.jpg``).

    Args:
        blur_dir: folder of degraded images.
        sharp_dir: folder of ground-truth images with the same relative paths.
        recursive: descend into sub-folders (default True).

    Returns:
        Pairs keyed by relative path without suffix.

    Raises:
        UserError: a folder is missing or has no image.
        PairingError: files without counterpart, names that differ only by suffix (all
            listed).

    Example:
        >>> pairs = folder_pairs("data/blur", "data/sharp")  # doctest: +SKIP
    """
    blur_root, sharp_root = Path(blur_dir), Path(sharp_dir)
    pairs = match_folders(blur_root, sharp_root, recursive=recursive).check(
        f"{blur_root} / {sharp_root}")
    return _sorted(pairs, {"layout": "folder", "root": str(blur_root),
                           "blur_dir": str(blur_root), "sharp_dir": str(sharp_root)})


def gopro_matching(root: str | os.PathLike, split: str = "train", blur_dir: str = "blur",
                   sharp_dir: str = "sharp") -> Matching:
    """Match a GoPro-layout split (Nah et al. 2017): every scene's blurred and sharp frames.

    The discovery shared by :func:`gopro_pairs` (training) and
    :func:`deblurkit.metrics.evaluate_gopro` (evaluation). Layout:
    ``<root>/<split>/<scene>/{blur,blur_gamma,sharp}/<frame>.png``; every non-hidden folder of
    the split is a scene, frames are searched recursively, keys are
    ``<scene>/<frame>`` and a scene without ``blur_dir`` or ``sharp_dir`` is a missing folder.

    Args:
        root: the ``GOPRO_Large`` folder (holding ``train`` and ``test``), or any folder in
            the same layout (``deblurkit synth`` writes ``train`` / ``test``, ``make realval``
            writes ``val``).
        split: the split folder: ``"train"`` or ``"test"`` for GoPro itself.
        blur_dir: ``"blur"`` or ``"blur_gamma"``; which blurred version is used.
        sharp_dir: the ground-truth folder name (default ``"sharp"``).

    Returns:
        The :class:`Matching` (apply the failure rule with :meth:`Matching.check`).

    Raises:
        UserError: a bad ``split`` or ``blur_dir``, the split folder missing or without scenes.

    Example:
        >>> gopro_matching("GOPRO_Large", "test").complete   # doctest: +SKIP
        True
    """
    if not split or split != Path(split).name or split.startswith("."):
        raise UserError(f"split={split!r}: give a split folder name (GoPro has "
                        f"{', '.join(GOPRO_SPLITS)})")
    if blur_dir not in GOPRO_BLUR_DIRS:
        raise UserError(f"blur_dir={blur_dir!r}: GoPro has {', '.join(GOPRO_BLUR_DIRS)}")
    base = Path(root) / split
    if not base.is_dir():
        raise UserError(f"{base}: GoPro split folder not found (expected "
                        f"<root>/{split}/<scene>/{{{blur_dir},{sharp_dir}}}/*.png)")
    scenes = _subdirs(base)
    if not scenes:
        raise UserError(f"{base}: no scene folders")
    return match_groups(scenes, blur_dir, sharp_dir, group="scene")


def gopro_pairs(root: str | os.PathLike, split: str = "train", blur_dir: str = "blur",
                sharp_dir: str = "sharp") -> PairList:
    """Pairs of the GoPro dataset (Nah et al. 2017), from :func:`gopro_matching`.

    Args:
        root: the ``GOPRO_Large`` folder, or any folder in the same layout.
        split: the split folder: ``"train"`` or ``"test"`` for GoPro itself.
        blur_dir: ``"blur"`` or ``"blur_gamma"``; which blurred version is used. It is
            recorded in ``source["blur_dir"]`` because the two give different numbers.
        sharp_dir: the ground-truth folder name (default ``"sharp"``).

    Returns:
        Pairs keyed ``<scene>/<frame>`` with ``meta = {"scene", "frame"}``.

    Raises:
        UserError: the split folder is missing or has no scene.
        PairingError: a scene's folder missing, frames without counterpart, names that differ
            only by suffix, over all scenes (all listed).

    Example:
        >>> pairs = gopro_pairs("GOPRO_Large", "train", blur_dir="blur_gamma")  # doctest: +SKIP
    """
    base = Path(root) / split
    pairs = gopro_matching(root, split, blur_dir, sharp_dir).check(base)
    return _sorted(pairs, {"layout": "gopro", "root": str(root), "split": split,
                           "blur_dir": blur_dir, "sharp_dir": sharp_dir,
                           "scenes": len(_subdirs(base))})


def _reds_folder(root: Path, split: str, kind: str) -> Path:
    for candidate in (root / f"{split}_{kind}", root / split / f"{split}_{kind}"):
        if candidate.is_dir():
            return candidate
    return root / f"{split}_{kind}"


def reds_pairs(root: str | os.PathLike, split: str = "train", blur: str = "blur") -> PairList:
    """Pairs of REDS (Nah et al. 2019, NTIRE deblurring track).

    Layout: ``<root>/<split>_blur/<clip>/<frame>.png`` with ``<root>/<split>_sharp/...``; the
    nesting of the official zips (``<root>/<split>/<split>_blur``) is accepted too.

    Args:
        root: folder holding the ``<split>_blur`` / ``<split>_sharp`` folders.
        split: ``"train"``, ``"val"`` (``"test"`` has no public sharp frames).
        blur: ``"blur"`` or ``"blur_comp"`` (the JPEG-compressed track), i.e. the folder
            ``<split>_<blur>``; recorded in ``source["blur_dir"]``.

    Returns:
        Pairs keyed ``<clip>/<frame>`` with ``meta = {"clip", "frame"}``.

    Raises:
        UserError: folder missing; PairingError: frames without counterpart.
    """
    if split not in REDS_SPLITS:
        raise UserError(f"split={split!r}: REDS has {', '.join(REDS_SPLITS)}")
    base = Path(root)
    blur_root = _reds_folder(base, split, blur)
    sharp_root = _reds_folder(base, split, "sharp")
    if not blur_root.is_dir():
        raise UserError(f"{blur_root}: REDS folder not found (expected "
                        f"<root>/{split}_{blur}/<clip>/<frame>.png)")
    if not sharp_root.is_dir():
        hint = "; the REDS test ground truth is not public, use split='val'" \
            if split == "test" else ""
        raise UserError(f"{sharp_root}: REDS sharp folder not found{hint}")
    matched = match_folders(blur_root, sharp_root).check(f"{blur_root} / {sharp_root}")
    pairs = []
    for pair in matched:
        clip, _, frame = pair.key.rpartition("/")
        pairs.append(Pair(pair.blur, pair.sharp, pair.key, {"clip": clip, "frame": frame}))
    return _sorted(pairs, {"layout": "reds", "root": str(root), "split": split,
                           "blur_dir": blur_root.name, "sharp_dir": sharp_root.name})


def dvd_pairs(root: str | os.PathLike, split: str = "all", clips: Sequence[str] | None = None,
              input_dir: str = "input", gt_dir: str = "GT") -> PairList:
    """Pairs of the DVD dataset (Su et al. 2017, "Deep Video Deblurring for Hand-held Cameras").

    Layout: ``<root>/<clip>/{input,GT}/<frame>.jpg``, ``root`` being the
    ``quantitative_datasets`` folder (or its parent ``DeepVideoDeblurring_Dataset``).

    Args:
        root: the dataset folder.
        split: ``"all"``, ``"test"`` (the authors' 10 clips :data:`DVD_TEST_CLIPS`) or
            ``"train"`` (the other clips).
        clips: explicit clip names; overrides ``split``.
        input_dir: blurred-frame folder name in each clip.
        gt_dir: sharp-frame folder name in each clip.

    Returns:
        Pairs keyed ``<clip>/<frame>`` with ``meta = {"clip", "frame"}``.

    Raises:
        UserError: folder or requested clip missing; PairingError: frames without counterpart.
    """
    base = Path(root)
    if (base / "quantitative_datasets").is_dir():
        base = base / "quantitative_datasets"
    if not base.is_dir():
        raise UserError(f"{base}: DVD folder not found")
    available = [d for d in _subdirs(base) if (d / input_dir).is_dir() or (d / gt_dir).is_dir()]
    if not available:
        raise UserError(f"{base}: no DVD clip folders (expected <clip>/{input_dir} and "
                        f"<clip>/{gt_dir})")
    names = {d.name: d for d in available}
    if clips is not None:
        unknown = [c for c in clips if c not in names]
        if unknown:
            raise UserError(f"{base}: clip(s) not found: {', '.join(unknown)}")
        chosen = [names[c] for c in clips]
        split = "custom"
    elif split == "all":
        chosen = available
    elif split == "test":
        absent = [c for c in DVD_TEST_CLIPS if c not in names]
        if absent:
            raise UserError(f"{base}: DVD test clip(s) not found: {', '.join(absent)}")
        chosen = [names[c] for c in DVD_TEST_CLIPS]
    elif split == "train":
        chosen = [d for d in available if d.name not in DVD_TEST_CLIPS]
    else:
        raise UserError(f"split={split!r}: use 'all', 'train' or 'test'")
    pairs = match_groups(chosen, input_dir, gt_dir, group="clip").check(base)
    return _sorted(pairs, {"layout": "dvd", "root": str(root), "split": split,
                           "blur_dir": input_dir, "sharp_dir": gt_dir,
                           "clips": [c.name for c in chosen]})


def koehler_pairs(root: str | os.PathLike, blur_pattern: str = KOEHLER_BLUR_PATTERN,
                  sharp_pattern: str = KOEHLER_SHARP_PATTERN,
                  reference: str | int = "middle") -> PairList:
    """Pairs of the Koehler et al. 2012 benchmark (4 images x 12 recorded camera shakes).

    Each blurred shot ``Blurry{image}_{kernel}.png`` comes with the sharp frames recorded along
    the camera trajectory, ``GroundTruth{image}_{kernel}_{frame}.png``, searched anywhere under
    ``root``. The names are this project's reading of the benchmark's files; change them with
    the patterns. ``reference`` picks the ground-truth frame (the benchmark itself scores
    against the best-aligned frame; use ``meta["sharp_candidates"]`` to know how many exist).

    Args:
        root: folder holding the blurred and ground-truth images (any sub-folders).
        blur_pattern: pattern of blurred names, see :func:`compile_pattern`.
        sharp_pattern: pattern of ground-truth names; its extra placeholder is the frame.
        reference: ``"first"``, ``"middle"`` (default), ``"last"`` or a frame number.

    Returns:
        48 pairs for the full benchmark, keyed ``<image>_<kernel>``.
    """
    root_path = Path(root)
    return pattern_pairs(root_path, root_path, blur_pattern, sharp_pattern, recursive=True,
                         reference=reference, layout="koehler", root=root_path)


def _split_by_seed(pairs: PairList, split: str | None, train_count: int, seed: int) -> PairList:
    if split is None or split == "all":
        return pairs
    if split not in ("train", "test"):
        raise UserError(f"split={split!r}: use 'train', 'test' or None")
    if not 0 < train_count < len(pairs):
        raise UserError(f"train_count={train_count}: must be between 1 and {len(pairs) - 1} "
                        f"for {len(pairs)} pairs")
    import numpy as np

    order = np.random.default_rng(seed).permutation(len(pairs))
    chosen = sorted(order[:train_count] if split == "train" else order[train_count:])
    out = PairList([pairs[i] for i in chosen], pairs.source)
    out.source.update(split=split, train_count=train_count, split_seed=seed, count=len(out))
    return out


def dhazy_pairs(root: str | os.PathLike, hazy_dir: str = DHAZY_HAZY_DIR,
                gt_dir: str = DHAZY_GT_DIR, hazy_pattern: str = DHAZY_HAZY_PATTERN,
                gt_pattern: str = DHAZY_GT_PATTERN, split: str | None = None,
                train_count: int = DHAZY_TRAIN_COUNT, split_seed: int = 0) -> PairList:
    """Pairs of D-HAZY, NYU part (Ancuti et al. 2016): ``NYU_Hazy/*_Hazy.bmp`` with
    ``NYU_GT/*_Image_.bmp`` (folder and file names configurable).

    D-HAZY has no official split; S5 (Martyniuk 2019) used a random 1000/449 split. With
    ``split="train"``/``"test"`` the pairs (sorted by key) are permuted by
    ``numpy.random.default_rng(split_seed)`` and the first ``train_count`` are train.

    Args:
        root: folder holding ``hazy_dir`` and ``gt_dir``.
        hazy_dir: hazy-image folder name.
        gt_dir: ground-truth folder name.
        hazy_pattern: hazy file-name pattern.
        gt_pattern: ground-truth file-name pattern.
        split: None (all pairs), ``"train"`` or ``"test"``.
        train_count: number of train pairs (default 1000).
        split_seed: seed of the split permutation.

    Returns:
        Pairs keyed by the ``{id}`` part, in natural order.
    """
    base = Path(root)
    pairs = pattern_pairs(base / hazy_dir, base / gt_dir, hazy_pattern, gt_pattern,
                          recursive=False, layout="dhazy", root=base)
    return _split_by_seed(pairs, split, train_count, split_seed)


def raindrop_pairs(root: str | os.PathLike, split: str | None = None,
                   blur_dir: str = RAINDROP_BLUR_DIR, sharp_dir: str = RAINDROP_SHARP_DIR,
                   blur_pattern: str = RAINDROP_BLUR_PATTERN,
                   sharp_pattern: str = RAINDROP_SHARP_PATTERN) -> PairList:
    """Pairs of the Raindrop dataset (Qian et al. 2018): ``data/{n}_rain.*`` with
    ``gt/{n}_clean.*``.

    Args:
        root: folder holding ``data`` and ``gt``, or holding the split folders.
        split: None, or a split folder name under ``root`` (``train``, ``test_a``, ``test_b``).
        blur_dir: rainy-image folder name.
        sharp_dir: clean-image folder name.
        blur_pattern: rainy file-name pattern.
        sharp_pattern: clean file-name pattern.

    Returns:
        Pairs keyed by the ``{id}`` part.
    """
    base = Path(root) / split if split else Path(root)
    pairs = pattern_pairs(base / blur_dir, base / sharp_dir, blur_pattern, sharp_pattern,
                          recursive=False, layout="raindrop", root=Path(root))
    if split:
        pairs.source["split"] = split
    return pairs


#: Layout name -> discovery function (used by ``from_config``).
LAYOUTS: dict[str, Callable[..., PairList]] = {
    "folder": folder_pairs,
    "pattern": pattern_pairs,
    "gopro": gopro_pairs,
    "reds": reds_pairs,
    "dvd": dvd_pairs,
    "koehler": koehler_pairs,
    "dhazy": dhazy_pairs,
    "raindrop": raindrop_pairs,
}


def discover_pairs(layout: str, **kwargs: Any) -> PairList:
    """Call the discovery function of ``layout`` with ``kwargs``.

    Args:
        layout: a key of :data:`LAYOUTS`.
        **kwargs: its arguments.

    Raises:
        UserError: unknown layout or argument.

    Example:
        >>> discover_pairs("gopro", root="GOPRO_Large", split="test")  # doctest: +SKIP
    """
    if layout not in LAYOUTS:
        raise UserError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")
    return _call_checked(LAYOUTS[layout], kwargs, f"layout {layout!r}")


def _call_checked(func: Callable[..., Any], kwargs: Mapping[str, Any], what: str) -> Any:
    import inspect

    params = inspect.signature(func).parameters
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise UserError(f"{what}: unknown setting(s) {', '.join(unknown)}; "
                        f"accepted: {', '.join(params)}")
    missing = [n for n, p in params.items()
               if p.default is inspect.Parameter.empty and n not in kwargs
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if missing:
        raise UserError(f"{what}: missing setting(s) {', '.join(missing)}")
    return func(**kwargs)
