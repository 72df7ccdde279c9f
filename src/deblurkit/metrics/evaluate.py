"""Score a folder of restored (or blurred) images against a folder of sharp ones.

Pairing is :mod:`deblurkit.data.pairs`' (the one pairing module, shared with the training
datasets): files are matched by relative path *without* the suffix, so ``a/001.png`` pairs
with ``a/001.jpg``, and everything is in natural order (``frame2`` before ``frame10``).
Nothing is dropped silently (the failure rule of :mod:`deblurkit.data.pairs`, applied as a
batch): a file present on one side only is ``missing``; an ambiguous name (``001.png`` and
``001.jpg`` on the same side), a GoPro scene without its blurred or sharp folder, an
unreadable file, a size or channel mismatch is ``failed``; all are listed in the result, and
the result's ``exit_code`` is 1 when there is any. Means are over the scored pairs only, with
their count. The JSON written by :meth:`EvalResult.as_dict` is a contract
(``docs/metrics.md``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from deblurkit import __version__
from deblurkit.data.pairs import Matching, gopro_matching, match_folders
from deblurkit.errors import ImageReadError, UserError
from deblurkit.utils.sorting import natural_key
from deblurkit.metrics.config import MetricConfig
from deblurkit.metrics.reference import MetricInputError, psnr_ssim

#: Signature of the restoration hook: float32 ``H x W x C`` in [0, 1] -> same-shape array.
RestoreFn = Callable[[np.ndarray], np.ndarray]

#: Model name recorded when no restoration is applied (the blurred input is scored).
IDENTITY_MODEL = "identity"

#: Version of the JSON layout written by :meth:`EvalResult.as_dict` (bumped only by additions).
SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class ImageScore:
    """Scores of one pair. ``psnr`` is ``inf`` when the scored arrays are identical."""

    path: str   # relative path on the blur side (POSIX separators)
    sharp: str  # relative path on the sharp side
    psnr: float
    ssim: float
    width: int
    height: int
    seconds: float | None = None  # wall time of the restore call; None without a model

    @property
    def identical(self) -> bool:
        return math.isinf(self.psnr) and self.psnr > 0


@dataclasses.dataclass(frozen=True)
class MissingPair:
    """A file with no counterpart: ``path`` exists in ``present_in`` but not the other side."""

    path: str
    present_in: str   # "blur" or "sharp"
    missing_from: str  # the other one


@dataclasses.dataclass(frozen=True)
class FailedPair:
    """A pair that could not be scored, and why."""

    path: str
    reason: str


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclasses.dataclass
class EvalResult:
    """Everything :func:`evaluate_folders` found: scores, missing and failed pairs, conventions.

    Attributes:
        images: scored pairs, in natural order of path.
        missing: files present on one side only, in natural order of path.
        failed: pairs that could not be scored (unreadable, ambiguous, size/channel mismatch,
            a GoPro scene's folder missing), in natural order of path.
        config: the conventions used.
        model: what produced the restored images (``"identity"``: the blurred input itself).
        blur_dir, sharp_dir: the two folders.
        dataset: for a dataset layout (:func:`evaluate_gopro`), what was read: layout, root,
            split and blur folder; None for two plain folders.
    """

    images: list[ImageScore]
    missing: list[MissingPair]
    failed: list[FailedPair]
    config: MetricConfig
    model: str
    blur_dir: str
    sharp_dir: str
    dataset: dict[str, str] | None = None

    @property
    def count(self) -> int:
        """Number of scored pairs (the denominator of the means)."""
        return len(self.images)

    @property
    def identical_count(self) -> int:
        """Number of scored pairs whose scored arrays are identical (PSNR = inf)."""
        return sum(score.identical for score in self.images)

    @property
    def mean_psnr(self) -> float | None:
        """Mean of per-image PSNR (dB); ``inf`` if any pair is identical; None if no pairs."""
        if not self.images:
            return None
        return float(np.mean([score.psnr for score in self.images], dtype=np.float64))

    @property
    def mean_psnr_finite(self) -> float | None:
        """Mean PSNR over the pairs that are not identical; None if there are none."""
        finite = [score.psnr for score in self.images if not score.identical]
        return float(np.mean(finite, dtype=np.float64)) if finite else None

    @property
    def mean_ssim(self) -> float | None:
        """Mean of per-image SSIM; None if no pairs."""
        if not self.images:
            return None
        return float(np.mean([score.ssim for score in self.images], dtype=np.float64))

    @property
    def mean_seconds(self) -> float | None:
        """Mean wall time of the restore call per scored image; None without a model."""
        times = [score.seconds for score in self.images if score.seconds is not None]
        return float(np.mean(times, dtype=np.float64)) if times else None

    @property
    def exit_code(self) -> int:
        """0 when every file was paired and scored, 1 when anything is missing or failed."""
        return 1 if (self.missing or self.failed or not self.images) else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON document (the contract in ``docs/metrics.md``); inf / NaN become null."""
        mean_psnr, mean_ssim = self.mean_psnr, self.mean_ssim
        return {
            "schema_version": SCHEMA_VERSION,
            "deblurkit_version": __version__,
            "model": self.model,
            "blur_dir": self.blur_dir,
            "sharp_dir": self.sharp_dir,
            "dataset": self.dataset,
            "config": self.config.as_dict(),
            "count": self.count,
            "mean": {
                "psnr": None if mean_psnr is None else _json_number(mean_psnr),
                "ssim": None if mean_ssim is None else _json_number(mean_ssim),
                "identical": self.identical_count,
                "psnr_excluding_identical": self.mean_psnr_finite,
            },
            "seconds_per_image": self.mean_seconds,
            "images": [
                {"path": s.path, "sharp": s.sharp, "psnr": _json_number(s.psnr),
                 "ssim": _json_number(s.ssim), "identical": s.identical,
                 "width": s.width, "height": s.height, "seconds": s.seconds}
                for s in self.images
            ],
            "missing": [dataclasses.asdict(m) for m in self.missing],
            "failed": [dataclasses.asdict(f) for f in self.failed],
        }

    def to_json(self) -> str:
        """:meth:`as_dict` as indented JSON text (strict: no NaN / Infinity tokens)."""
        return json.dumps(self.as_dict(), indent=2, allow_nan=False) + "\n"


def _describe_channels(channels: int) -> str:
    return {1: "grey", 3: "RGB"}.get(channels, f"{channels} channels")


def _score_pair(blur_path: Path, sharp_path: Path, relative: str, sharp_relative: str,
                config: MetricConfig, restore: RestoreFn | None) -> ImageScore | FailedPair:
    from deblurkit.io import read_image, to_float

    try:
        blur = read_image(blur_path).pixels
    except ImageReadError as exc:
        return FailedPair(relative, f"blur: {exc.reason}")
    try:
        sharp = read_image(sharp_path).pixels
    except ImageReadError as exc:
        return FailedPair(relative, f"sharp {sharp_relative}: {exc.reason}")
    if blur.ndim == 2:
        blur = blur[..., None]
    if sharp.ndim == 2:
        sharp = sharp[..., None]
    (bh, bw, bc), (sh, sw, sc) = blur.shape, sharp.shape
    if (bh, bw) != (sh, sw):
        return FailedPair(relative, f"size differs: blur {bw}x{bh}, sharp {sw}x{sh}")
    if bc != sc:
        return FailedPair(relative, f"channels differ: blur {_describe_channels(bc)}, "
                                    f"sharp {_describe_channels(sc)}")
    seconds = None
    if restore is None:
        restored = blur
    else:
        from deblurkit.errors import ModelOutputError

        start = time.perf_counter()
        try:
            restored = np.asarray(restore(to_float(blur)))
        except ModelOutputError as exc:
            return FailedPair(relative, exc.reason)
        seconds = time.perf_counter() - start
    try:
        psnr_value, ssim_value = psnr_ssim(restored, sharp, config)
    except MetricInputError as exc:
        return FailedPair(relative, str(exc))
    return ImageScore(relative, sharp_relative, psnr_value, ssim_value, width=bw, height=bh,
                      seconds=seconds)


def evaluate_folders(blur_dir: str | os.PathLike, sharp_dir: str | os.PathLike,
                     config: MetricConfig | None = None, restore: RestoreFn | None = None,
                     model: str | None = None,
                     wrap: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
                     ) -> EvalResult:
    """Score every image of ``blur_dir`` (restored by ``restore``) against ``sharp_dir``.

    Args:
        blur_dir: folder of inputs (searched recursively).
        sharp_dir: folder of ground truth, same relative paths (the suffix may differ).
        config: conventions (default :class:`MetricConfig`).
        restore: hook ``float32 H x W x C [0, 1] -> array`` applied to each blurred image;
            None scores the blurred image itself, at its stored bit depth (identity baseline).
        model: name recorded in the result; default ``"identity"`` without ``restore``, else
            the hook's ``__name__``.
        wrap: optional ``wrap(iterable, total)`` around the pair loop (a progress bar).

    Returns:
        An :class:`EvalResult` (check ``exit_code``: 1 when anything is missing or failed).

    Raises:
        UserError: a folder does not exist.

    Example:
        >>> result = evaluate_folders("blur", "sharp")   # doctest: +SKIP
        >>> result.mean_psnr, result.count, result.missing   # doctest: +SKIP
    """
    blur_root, sharp_root = Path(blur_dir), Path(sharp_dir)
    for root in (blur_root, sharp_root):
        if not root.is_dir():
            raise UserError(f"{root}: not a folder")
    return _evaluate_matching(match_folders(blur_root, sharp_root), blur_root, config, restore,
                              model, wrap, blur_dir=str(blur_root), sharp_dir=str(sharp_root))


def evaluate_gopro(root: str | os.PathLike, split: str = "test", blur_folder: str = "blur",
                   config: MetricConfig | None = None, restore: RestoreFn | None = None,
                   model: str | None = None,
                   wrap: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
                   ) -> EvalResult:
    """Score a GoPro-layout dataset: ``root/<split>/<scene>/{<blur_folder>,sharp}/*``.

    The scenes are found and paired by :func:`deblurkit.data.pairs.gopro_matching`, the
    discovery the training datasets use (``gopro_pairs``); paths in the result are
    ``<scene>/<name>``. A scene without ``<blur_folder>`` or ``sharp`` is reported as failed
    (``<scene>/<folder>: folder not found``) and its other files as missing. This is the
    layout of GoPro (Nah et al. 2017), of the data ``deblurkit synth`` writes and of
    ``make realval``.

    Args:
        root: dataset root (holding ``train/`` and ``test/``).
        split: ``"test"`` (default) or ``"train"`` (any split folder name).
        blur_folder: ``"blur"`` or GoPro's ``"blur_gamma"``; recorded in the result.
        config, restore, model, wrap: as :func:`evaluate_folders`.

    Returns:
        An :class:`EvalResult` with ``dataset`` set (check ``exit_code``).

    Raises:
        UserError: a bad split or blur folder name, ``root/<split>`` is not a folder or has
            no scene folder.

    Example:
        >>> evaluate_gopro("GOPRO_Large", "test", "blur_gamma").mean_psnr   # doctest: +SKIP
    """
    split_dir = Path(root) / split
    matching = gopro_matching(root, split, blur_folder)
    result = _evaluate_matching(matching, split_dir, config, restore, model, wrap,
                                blur_dir=str(split_dir / f"*/{blur_folder}"),
                                sharp_dir=str(split_dir / "*/sharp"))
    result.dataset = {"layout": "gopro", "root": str(root), "split": split,
                      "blur_folder": blur_folder}
    return result


def _evaluate_matching(matching: Matching, root: Path, config: MetricConfig | None,
                       restore: RestoreFn | None, model: str | None,
                       wrap: Callable[[Iterable[Any], int], Iterable[Any]] | None,
                       blur_dir: str, sharp_dir: str) -> EvalResult:
    """Score a matching's pairs and list its problems (the batch side of the failure rule).

    Args:
        matching: from :func:`~deblurkit.data.pairs.match_folders` or ``gopro_matching``.
        root: the folder missing folders are reported relative to.
        config, restore, model, wrap: as :func:`evaluate_folders`.
        blur_dir, sharp_dir: the folders recorded in the result.
    """
    cfg = MetricConfig() if config is None else config
    other = {"blur": "sharp", "sharp": "blur"}
    missing = [MissingPair(u.relative, u.side, other[u.side]) for u in matching.unmatched]
    failed = [FailedPair(a.key, f"ambiguous in {a.side} folder: {', '.join(a.relatives)}")
              for a in matching.ambiguous]
    failed += [FailedPair(folder.relative_to(root).as_posix(), "folder not found")
               for folder in matching.missing_folders]
    pairs = matching.pairs
    iterable: Iterable[Any] = pairs if wrap is None else wrap(pairs, len(pairs))
    images: list[ImageScore] = []
    for pair in iterable:
        outcome = _score_pair(pair.blur, pair.sharp, pair.key + pair.blur.suffix,
                              pair.key + pair.sharp.suffix, cfg, restore)
        (images if isinstance(outcome, ImageScore) else failed).append(outcome)
    if model is None:
        model = IDENTITY_MODEL if restore is None else getattr(restore, "__name__", "custom")
    return EvalResult(images=images, missing=sorted(missing, key=lambda m: natural_key(m.path)),
                      failed=sorted(failed, key=lambda f: natural_key(f.path)), config=cfg,
                      model=model, blur_dir=blur_dir, sharp_dir=sharp_dir)


def _format_psnr(value: float) -> str:
    if math.isinf(value) and value > 0:
        return "identical"
    return f"{value:.3f}"


def problem_lines(result: EvalResult) -> list[str]:
    """One line per missing or failed pair, for the table footer and stderr."""
    lines = [f"missing: {m.path} (in {m.present_in}, not in {m.missing_from})"
             for m in result.missing]
    lines += [f"failed: {f.path}: {f.reason}" for f in result.failed]
    return lines


def format_table(result: EvalResult) -> str:
    """Per-image PSNR / SSIM, the mean over scored pairs, then every missing / failed pair.

    PSNR of identical images is shown as ``identical`` (it is +inf).
    """
    rows = [(s.path, _format_psnr(s.psnr), f"{s.ssim:.4f}") for s in result.images]
    mean_psnr, mean_ssim = result.mean_psnr, result.mean_ssim
    mean_label = f"mean ({result.count} image{'s' if result.count != 1 else ''})"
    mean_row = (mean_label, "-" if mean_psnr is None else _format_psnr(mean_psnr),
                "-" if mean_ssim is None else f"{mean_ssim:.4f}")
    header = ("file", "PSNR (dB)", "SSIM")
    widths = [max(len(r[i]) for r in [header, mean_row, *rows]) for i in range(3)]

    def fmt(row: tuple[str, str, str]) -> str:
        return f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}"

    rule = "-" * len(fmt(header))
    lines = [fmt(header), rule, *(fmt(r) for r in rows), rule, fmt(mean_row)]
    if result.identical_count:
        line = f"{result.identical_count} pair(s) identical (PSNR = inf)"
        if result.mean_psnr_finite is not None:
            others = result.count - result.identical_count
            line += f"; mean PSNR of the other {others}: {result.mean_psnr_finite:.3f}"
        lines.append(line)
    lines += problem_lines(result)
    return "\n".join(lines) + "\n"
