"""Frame selection for video deblurring: which frames of a clip are blurred (S4's idea).

S4 (DeblurNet, Nahli et al. 2021) observes that real blurred videos are only *partially*
blurred: it classifies frames as blurred or sharp, deblurs only the blurred ones and keeps the
sharp ones. This module decides, frame by frame and in a streaming fashion, which frames to
deblur. Four modes:

``all``
    every frame is deblurred; nothing is scored (``score`` is ``None``).
``classifier``
    S4's first mode: the frame classifier runs on every frame; a frame is blurred when
    ``P(blurred) >= threshold`` (default :data:`DEFAULT_THRESHOLD` = 0.5).
``middle15``
    S4's second mode: frames are grouped in consecutive runs of ``run_length`` (15) frames;
    only the middle frame of each run (index ``len(run) // 2`` inside the run, i.e. the 8th of
    15; for a shorter last run, its own middle) is classified and its label and score are given
    to the whole run. At most ``run_length`` frames are held.
``laplacian``
    a baseline that needs no weights: the sharpness of a frame is the variance of the
    Laplacian of its luma; a frame is blurred when its sharpness falls far below that of the
    sharp frames around it (see :class:`LaplacianSelector` for the exact rule).
``temporal``
    blur is relative: each frame's sharpness at four scales (the finest sees sensor noise,
    the coarser ones see blur through it) compared with the frames around it and taken
    absolutely, combined by a small logistic model fitted on labelled training clips
    (:class:`TemporalSelector`, :class:`TemporalModel`).

Every selector has the same streaming interface: :meth:`Selector.push` gives it the next frame
(any payload object; the selector turns it into pixels with its ``to_rgb`` function only when it
must score it, and never keeps the pixels) and returns the frames decided so far, in order, as
``(payload, Decision)`` pairs; :meth:`Selector.flush` decides the frames still held at the end
of the clip. A selector never holds more than :attr:`Selector.max_pending` frames.

Scores always mean "higher = more blurred" and lie in ``[0, 1]``, so one ``--threshold`` rule
(``score >= threshold`` -> deblur) serves every mode.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

P = TypeVar("P")

#: Modes that score frames with the frame classifier
#: (:class:`deblurkit.inference.classifier.FrameClassifier`).
CLASSIFIER_MODES = frozenset({"classifier", "middle15"})
#: Scales (area downsampling by 1, 2, 4, 8) of the temporal selector's sharpness features.
TEMPORAL_SCALES = 4
#: Default decision threshold on the score (``score >= threshold`` -> blurred).
DEFAULT_THRESHOLD = 0.5
#: S4's run length for the ``middle15`` mode.
DEFAULT_RUN_LENGTH = 15
#: Frames in the centred window that gives the Laplacian reference sharpness.
DEFAULT_LAPLACIAN_WINDOW = 15
#: Quantile of the window's sharpness values taken as the "sharp" reference.
DEFAULT_LAPLACIAN_QUANTILE = 0.9
#: ITU-R BT.601 luma weights (R, G, B).
LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
#: Reference sharpness below which a window counts as featureless (scores 0, never selected).
MIN_REFERENCE_SHARPNESS = 1e-8


@dataclass(frozen=True)
class Decision:
    """The selection result for one frame.

    Attributes:
        score: ``P(blurred)`` or the normalised blur score in ``[0, 1]`` (higher = more
            blurred); ``None`` in ``all`` mode.
        deblur: whether the frame is to be deblurred.
        classified: whether this very frame was scored (False for frames that took the label
            of their run's middle frame, and in ``all`` mode).
        classify_seconds: time spent scoring this frame (0 when not scored).
        reason: why, in words, for the video report (e.g. ``"P(blurred) 0.912 >= threshold
            0.293; sharpness against the window's sharp frames ..."``).
    """

    score: float | None
    deblur: bool
    classified: bool
    classify_seconds: float = 0.0
    reason: str = ""


def threshold_reason(what: str, score: float, threshold: float) -> str:
    """``"<what> 0.912 >= threshold 0.500"`` (``<`` when below)."""
    return f"{what} {score:.3f} {'>=' if score >= threshold else '<'} threshold {threshold:.3f}"


def _identity(x: Any) -> np.ndarray:
    return x


class Selector(Generic[P]):
    """Base class of the streaming frame selectors.

    Args:
        to_rgb: turns a pushed payload into an ``H x W x 3`` float32 ``[0, 1]`` array; called
            only for frames that are scored. Default: the payload is the array.

    Attributes:
        name: the mode name.
        max_pending: the most frames held at any time (the memory bound).
    """

    name = "base"
    max_pending = 0

    def __init__(self, to_rgb: Callable[[P], np.ndarray] = _identity) -> None:
        self.to_rgb = to_rgb

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        """Add the next frame; return the frames decided so far (in order)."""
        raise NotImplementedError

    def flush(self) -> list[tuple[P, Decision]]:
        """End of clip: decide every frame still held."""
        return []


class AllSelector(Selector[P]):
    """Deblur every frame (no scoring)."""

    name = "all"
    max_pending = 0

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        return [(payload, Decision(score=None, deblur=True, classified=False,
                                   reason="--select all: every frame is deblurred"))]


def _probability(classifier: Callable[[np.ndarray], float], rgb: np.ndarray) -> float:
    value = float(classifier(rgb))
    if not np.isfinite(value):
        raise ValueError(f"frame classifier returned {value!r}, expected a probability")
    return min(max(value, 0.0), 1.0)


class ClassifierSelector(Selector[P]):
    """S4's first mode: classify every frame; blurred when ``P(blurred) >= threshold``.

    Args:
        classifier: ``H x W x 3`` float32 ``[0, 1]`` frame -> ``P(blurred)`` (a float).
        threshold: decision threshold (default 0.5).
        to_rgb: see :class:`Selector`.

    Example:
        >>> sel = ClassifierSelector(lambda rgb: float(rgb.mean()), threshold=0.5)
        >>> [d.deblur for _, d in sel.push(np.full((4, 4, 3), 0.7, np.float32))]
        [True]
    """

    name = "classifier"
    max_pending = 0

    def __init__(self, classifier: Callable[[np.ndarray], float],
                 threshold: float = DEFAULT_THRESHOLD,
                 to_rgb: Callable[[P], np.ndarray] = _identity) -> None:
        super().__init__(to_rgb)
        self.classifier = classifier
        self.threshold = float(threshold)

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        start = time.perf_counter()
        score = _probability(self.classifier, self.to_rgb(payload))
        seconds = time.perf_counter() - start
        return [(payload, Decision(score=score, deblur=score >= self.threshold, classified=True,
                                   classify_seconds=seconds,
                                   reason=threshold_reason("P(blurred)", score, self.threshold)))]


class MiddleOfRunSelector(Selector[P]):
    """S4's second mode: classify the middle frame of each run of ``run_length`` frames.

    The runs are consecutive and aligned to the first frame of the clip: frames
    ``[0, 15)``, ``[15, 30)``, ... The middle frame of a run of ``n`` frames is the one at
    offset ``n // 2`` (offset 7 of 15); the last run of a clip may be shorter. Every frame of a
    run gets the middle frame's score and label. Only the middle frame is classified, and its
    classification time is accounted to it alone.

    Args:
        classifier: as in :class:`ClassifierSelector`.
        threshold: decision threshold (default 0.5).
        run_length: frames per run (S4: 15).
        to_rgb: see :class:`Selector`.

    Example:
        >>> sel = MiddleOfRunSelector(lambda rgb: float(rgb.mean()), run_length=3)
        >>> frames = [np.full((2, 2, 3), v, np.float32) for v in (0.0, 0.9, 0.0, 0.1)]
        >>> out = [d for f in frames for _, d in sel.push(f)] + [d for _, d in sel.flush()]
        >>> [(d.deblur, d.classified) for d in out]
        [(True, False), (True, True), (True, False), (False, True)]
    """

    name = "middle15"

    def __init__(self, classifier: Callable[[np.ndarray], float],
                 threshold: float = DEFAULT_THRESHOLD, run_length: int = DEFAULT_RUN_LENGTH,
                 to_rgb: Callable[[P], np.ndarray] = _identity) -> None:
        super().__init__(to_rgb)
        if run_length < 1:
            raise ValueError(f"run_length must be >= 1, got {run_length}")
        self.classifier = classifier
        self.threshold = float(threshold)
        self.run_length = int(run_length)
        self.max_pending = self.run_length
        self._run: list[P] = []

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        self._run.append(payload)
        if len(self._run) < self.run_length:
            return []
        return self._decide_run()

    def flush(self) -> list[tuple[P, Decision]]:
        return self._decide_run() if self._run else []

    def _decide_run(self) -> list[tuple[P, Decision]]:
        run, self._run = self._run, []
        middle = len(run) // 2
        start = time.perf_counter()
        score = _probability(self.classifier, self.to_rgb(run[middle]))
        seconds = time.perf_counter() - start
        blurred = score >= self.threshold
        reason = threshold_reason(f"the middle frame of its run of {len(run)}: P(blurred)",
                                  score, self.threshold)
        return [(p, Decision(score=score, deblur=blurred, classified=i == middle,
                             classify_seconds=seconds if i == middle else 0.0, reason=reason))
                for i, p in enumerate(run)]


def luma(rgb: np.ndarray, weights: tuple[float, float, float] = LUMA_WEIGHTS) -> np.ndarray:
    """Luma ``Y = wr R + wg G + wb B`` of an ``H x W x 3`` image (float64, same scale).

    A single-channel ``H x W`` or ``H x W x 1`` input is returned as is (as float64).
    """
    arr = np.asarray(rgb, dtype=np.float64)
    if arr.ndim == 2:
        return arr
    if arr.ndim != 3 or arr.shape[2] not in (1, 3):
        raise ValueError(f"expected HxW, HxWx1 or HxWx3, got shape {arr.shape}")
    if arr.shape[2] == 1:
        return arr[..., 0]
    return arr @ np.asarray(weights, dtype=np.float64)


def laplacian_variance(rgb: np.ndarray, weights: tuple[float, float, float] = LUMA_WEIGHTS
                       ) -> float:
    """Variance of the 4-neighbour Laplacian of the luma: a sharpness measure (no weights).

    The Laplacian kernel is ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` with edge-replicated
    borders. Sharp texture gives a large variance; blur, which removes high frequencies,
    lowers it. The value scales with the square of the intensity scale (``[0, 1]`` floats
    here) and depends on content and resolution, hence the relative rule of
    :class:`LaplacianSelector`.

    Args:
        rgb: ``H x W x 3`` (or ``H x W`` / ``H x W x 1``) image, float in ``[0, 1]``.
        weights: luma weights (default BT.601).

    Returns:
        The variance (float >= 0).

    Example:
        >>> laplacian_variance(np.zeros((8, 8, 3), np.float32))
        0.0
    """
    y = luma(rgb, weights)
    p = np.pad(y, 1, mode="edge")
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * y
    return float(lap.var())


class LaplacianSelector(Selector[P]):
    """Variance-of-Laplacian baseline, relative to the sharp frames around each frame.

    Sharpness ``s_i`` = :func:`laplacian_variance` of frame ``i``. The reference ``r_i`` is the
    ``quantile`` (0.9) of the sharpness values in a centred window of ``window`` (15) frames
    around ``i`` (truncated at the clip ends): in a partially blurred clip the upper values of a
    window come from its sharp frames, so ``r_i`` tracks "how sharp this scene is when sharp",
    which absorbs content and resolution. The score is

        ``score_i = clip(1 - s_i / r_i, 0, 1)``  (higher = more blurred)

    and the frame is blurred when ``score_i >= threshold`` (0.5: sharpness below half the
    reference). With ``reference`` set (an absolute sharpness value, in ``[0, 1]``-float luma
    units squared) the window is not used and ``r_i = reference``. A window whose reference
    is below :data:`MIN_REFERENCE_SHARPNESS` (a flat clip) scores 0.

    The decision for frame ``i`` needs ``window // 2`` frames after it, so at most
    ``window // 2 + 1`` frames are held (sharpness values, a few floats, are kept for the
    window). The rule is relative: a clip in which *every* frame is blurred has no sharp
    reference and is scored as sharp; give ``reference`` (or use the classifier) for such
    clips.

    Args:
        threshold: decision threshold on the score (default 0.5).
        window: frames in the centred reference window (odd; default 15).
        quantile: quantile of the window's sharpness taken as reference (default 0.9).
        reference: absolute reference sharpness, replacing the window rule (default None).
        to_rgb: see :class:`Selector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> sharp = rng.random((16, 16, 3)).astype(np.float32)
        >>> flat = np.full((16, 16, 3), 0.5, np.float32)
        >>> sel = LaplacianSelector(window=3)
        >>> out = [d for f in (sharp, flat, sharp) for _, d in sel.push(f)] + \
                  [d for _, d in sel.flush()]
        >>> [d.deblur for d in out]
        [False, True, False]
    """

    name = "laplacian"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD,
                 window: int = DEFAULT_LAPLACIAN_WINDOW,
                 quantile: float = DEFAULT_LAPLACIAN_QUANTILE, reference: float | None = None,
                 to_rgb: Callable[[P], np.ndarray] = _identity) -> None:
        super().__init__(to_rgb)
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be a positive odd number, got {window}")
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {quantile}")
        if reference is not None and not reference > 0:
            raise ValueError(f"reference must be > 0, got {reference}")
        self.threshold = float(threshold)
        self.window = int(window)
        self.quantile = float(quantile)
        self.reference = reference
        self.half = 0 if reference is not None else self.window // 2
        self.max_pending = self.half + 1
        # (payload, sharpness, seconds) of frames not yet decided
        self._pending: deque[tuple[P, float, float]] = deque()
        # sharpness of up to `half` already decided frames before the pending ones
        self._history: deque[float] = deque(maxlen=max(self.half, 1))

    def score_of(self, sharpness: float, reference: float) -> float:
        """``clip(1 - sharpness / reference, 0, 1)``; 0 for a featureless reference."""
        if reference < MIN_REFERENCE_SHARPNESS:
            return 0.0
        return float(min(max(1.0 - sharpness / reference, 0.0), 1.0))

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        start = time.perf_counter()
        sharpness = laplacian_variance(self.to_rgb(payload))
        seconds = time.perf_counter() - start
        self._pending.append((payload, sharpness, seconds))
        out = []
        while len(self._pending) > self.half:
            out.append(self._decide_head(final=False))
        return out

    def flush(self) -> list[tuple[P, Decision]]:
        out = []
        while self._pending:
            out.append(self._decide_head(final=True))
        return out

    def _decide_head(self, final: bool) -> tuple[P, Decision]:
        payload, sharpness, seconds = self._pending[0]
        if self.reference is not None:
            reference = float(self.reference)
        else:
            after = [s for _, s, _ in list(self._pending)[: self.half + 1]]
            values = list(self._history)[-self.half:] if self.half else []
            values = values + after
            reference = float(np.quantile(np.asarray(values, dtype=np.float64), self.quantile))
        score = self.score_of(sharpness, reference)
        self._pending.popleft()
        if self.half:
            self._history.append(sharpness)
        basis = "the reference" if self.reference is not None else "the window's reference"
        ratio = (f"sharpness {sharpness / reference:.2f} x {basis}"
                 if reference >= MIN_REFERENCE_SHARPNESS else "featureless window")
        verdict = threshold_reason("score", score, self.threshold)
        return payload, Decision(score=score, deblur=score >= self.threshold, classified=True,
                                 classify_seconds=seconds, reason=f"{ratio}; {verdict}")


def multiscale_sharpness(rgb: np.ndarray, scales: int = TEMPORAL_SCALES) -> np.ndarray:
    """``log(mean Laplacian^2 + 1e-10)`` of the luma at ``scales`` dyadic scales.

    Scale ``k`` is the luma area-downsampled by ``2**k`` (2x2 means; an odd last row or column
    is dropped). Sensor noise dominates the finest scale; blur of a few pixels and more shows
    at the coarser ones, noise much less.

    Args:
        rgb: ``H x W x 3`` (or gray) image, float in ``[0, 1]``.
        scales: number of scales.

    Returns:
        ``(scales,)`` float64.

    Example:
        >>> multiscale_sharpness(np.zeros((16, 16, 3), np.float32)).round(1).tolist()
        [-23.0, -23.0, -23.0, -23.0]
    """
    y = luma(rgb)
    out = np.empty(scales)
    for k in range(scales):
        p = np.pad(y, 1, mode="edge")
        lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * y
        out[k] = np.log(float(np.mean(lap * lap)) + 1e-10)
        h, w = y.shape[0] // 2 * 2, y.shape[1] // 2 * 2
        if min(h, w) >= 2:
            y = 0.25 * (y[:h:2, :w:2] + y[1:h:2, :w:2] + y[:h:2, 1:w:2] + y[1:h:2, 1:w:2])
    return out


def temporal_features(sharpness: np.ndarray, index: int, half: int,
                      quantile: float = DEFAULT_LAPLACIAN_QUANTILE) -> np.ndarray:
    """Features of frame ``index`` from the multiscale sharpness of a window around it.

    ``[s_i - quantile_q(window), s_i - median(window), s_i]`` per scale, the window being
    frames ``index - half .. index + half`` clipped to the clip (a short clip uses what it has).

    Args:
        sharpness: ``(N, S)`` values of :func:`multiscale_sharpness` for a run of frames.
        index: the frame, ``0 <= index < N``.
        half: half-width of the window.
        quantile: the "sharp reference" quantile (0.9).

    Returns:
        ``(3 S,)`` float64.
    """
    window = sharpness[max(0, index - half):index + half + 1]
    own = sharpness[index]
    return np.concatenate([own - np.quantile(window, quantile, axis=0),
                           own - np.median(window, axis=0), own])


@dataclass(frozen=True)
class TemporalModel:
    """The logistic model of :class:`TemporalSelector` and how it was made.

    ``P(blurred) = sigmoid(bias + weights . (features - mean) / scale)`` over
    :func:`temporal_features`.

    Attributes:
        mean, scale: feature standardisation, from the training clips.
        weights, bias: the fitted logistic model.
        threshold: decision threshold on ``P(blurred)``, calibrated on the training clips.
        window: frames in the centred window (odd).
        quantile: reference quantile of the window.
        scales: sharpness scales.
    """

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float = DEFAULT_THRESHOLD
    window: int = DEFAULT_LAPLACIAN_WINDOW
    quantile: float = DEFAULT_LAPLACIAN_QUANTILE
    scales: int = TEMPORAL_SCALES

    def probability(self, features: np.ndarray) -> np.ndarray:
        """``P(blurred)`` of one ``(F,)`` or many ``(N, F)`` feature vectors."""
        z = (np.asarray(features, np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0)))

    def save(self, path: str | Any) -> None:
        """Write as a safetensors file (arrays as tensors, settings in the header)."""
        import json

        import torch
        from safetensors.torch import save_file

        from deblurkit.utils.atomic import atomic_path

        tensors = {k: torch.tensor(getattr(self, k), dtype=torch.float64)
                   for k in ("mean", "scale", "weights")}
        meta = {"format": "deblurkit-temporal-selector/1",
                "settings": json.dumps({"bias": self.bias, "threshold": self.threshold,
                                        "window": self.window, "quantile": self.quantile,
                                        "scales": self.scales})}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)

    @classmethod
    def load(cls, path: str | Any) -> TemporalModel:
        """Read a file written by :meth:`save` (ValueError if it is not one)."""
        import json

        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != "deblurkit-temporal-selector/1":
                raise ValueError(f"{path}: not a temporal frame-selector file")
            arrays = {k: tuple(float(v) for v in f.get_tensor(k).tolist())
                      for k in ("mean", "scale", "weights")}
        settings = json.loads(meta["settings"])
        return cls(**arrays, **settings)


class TemporalSelector(Selector[P]):
    """Blur relative to the neighbouring frames, at several scales, by a fitted logistic model.

    Each pushed frame is reduced to :func:`multiscale_sharpness` (four floats; the pixels are
    not kept). Frame ``i`` is decided once ``window // 2`` later frames are known (or the clip
    ends): its :func:`temporal_features` go through the :class:`TemporalModel`, and the frame
    is blurred when ``P(blurred) >= threshold`` (the model's calibrated threshold unless one is
    given). At most ``window // 2 + 1`` frames are held.

    The relative features decide partially blurred clips; the absolute ones (the frame's own
    sharpness) carry the decision when every frame of a window looks alike, which is how a clip
    with no blurred frame or with only blurred frames is decided: by how sharp its frames are
    in absolute terms, with the training clips' calibration.

    Args:
        model: the fitted model.
        threshold: decision threshold (None: ``model.threshold``).
        to_rgb: see :class:`Selector`.
    """

    name = "temporal"

    def __init__(self, model: TemporalModel, threshold: float | None = None,
                 to_rgb: Callable[[P], np.ndarray] = _identity) -> None:
        super().__init__(to_rgb)
        if model.window < 1 or model.window % 2 == 0:
            raise ValueError(f"window must be a positive odd number, got {model.window}")
        self.model = model
        self.threshold = float(model.threshold if threshold is None else threshold)
        self.half = model.window // 2
        self.max_pending = self.half + 1
        self._pending: deque[tuple[P, np.ndarray, float]] = deque()
        self._history: deque[np.ndarray] = deque(maxlen=max(self.half, 1))

    def push(self, payload: P) -> list[tuple[P, Decision]]:
        start = time.perf_counter()
        values = multiscale_sharpness(self.to_rgb(payload), self.model.scales)
        self._pending.append((payload, values, time.perf_counter() - start))
        out = []
        while len(self._pending) > self.half:
            out.append(self._decide_head())
        return out

    def flush(self) -> list[tuple[P, Decision]]:
        out = []
        while self._pending:
            out.append(self._decide_head())
        return out

    def _decide_head(self) -> tuple[P, Decision]:
        payload, values, seconds = self._pending[0]
        before = list(self._history)[-self.half:] if self.half else []
        after = [v for _, v, _ in list(self._pending)[: self.half + 1]]
        run = np.asarray(before + after)
        features = temporal_features(run, len(before), self.half, self.model.quantile)
        score = float(self.model.probability(features))
        self._pending.popleft()
        if self.half:
            self._history.append(values)
        relative = " ".join(f"{v:+.2f}" for v in features[:self.model.scales])
        coarsest = 2 ** (self.model.scales - 1)
        reason = (f"{threshold_reason('P(blurred)', score, self.threshold)}; log sharpness "
                  f"against the window's sharp frames at scales 1/1..1/{coarsest}: {relative}")
        return payload, Decision(score=score, deblur=score >= self.threshold, classified=True,
                                 classify_seconds=seconds, reason=reason)


def load_temporal_selector() -> TemporalModel:
    """The bundled :class:`TemporalModel` (:func:`deblurkit.pretrained.temporal_selector_path`).

    Raises:
        UserError: the file is missing from this installation.

    Example:
        >>> load_temporal_selector().window
        15
    """
    from deblurkit.pretrained import temporal_selector_path

    return TemporalModel.load(temporal_selector_path())


def clip_features(frames: list[np.ndarray], model_window: int = DEFAULT_LAPLACIAN_WINDOW,
                  quantile: float = DEFAULT_LAPLACIAN_QUANTILE,
                  scales: int = TEMPORAL_SCALES) -> np.ndarray:
    """:func:`temporal_features` of every frame of a whole clip at once (``(N, 3 S)``); the
    streaming :class:`TemporalSelector` computes exactly these, frame by frame."""
    values = np.asarray([multiscale_sharpness(f, scales) for f in frames])
    return np.asarray([temporal_features(values, i, model_window // 2, quantile)
                       for i in range(len(values))])


@dataclass(frozen=True)
class SelectorOptions:
    """What the selectors of :func:`make_selector` may need (each mode reads its own)."""

    classifier: Callable[[np.ndarray], float] | None = None
    threshold: float | None = None
    to_rgb: Callable[[Any], np.ndarray] = _identity
    run_length: int = DEFAULT_RUN_LENGTH
    laplacian_window: int = DEFAULT_LAPLACIAN_WINDOW
    laplacian_quantile: float = DEFAULT_LAPLACIAN_QUANTILE
    laplacian_reference: float | None = None
    temporal_model: TemporalModel | None = None

    @property
    def cut(self) -> float:
        """The decision threshold (:data:`DEFAULT_THRESHOLD` when none was given)."""
        return DEFAULT_THRESHOLD if self.threshold is None else float(self.threshold)

    def frame_classifier(self, mode: str) -> Callable[[np.ndarray], float]:
        if self.classifier is None:
            raise ValueError(f"selection mode {mode!r} needs a frame classifier")
        return self.classifier


#: How each mode is built (the keys are :data:`SELECT_MODES`).
_BUILDERS: dict[str, Callable[[SelectorOptions], Selector]] = {
    "all": lambda o: AllSelector(o.to_rgb),
    "classifier": lambda o: ClassifierSelector(o.frame_classifier("classifier"), o.cut,
                                               o.to_rgb),
    "middle15": lambda o: MiddleOfRunSelector(o.frame_classifier("middle15"), o.cut,
                                              o.run_length, o.to_rgb),
    "laplacian": lambda o: LaplacianSelector(o.cut, o.laplacian_window, o.laplacian_quantile,
                                             o.laplacian_reference, o.to_rgb),
    "temporal": lambda o: TemporalSelector(o.temporal_model or load_temporal_selector(),
                                           o.threshold, o.to_rgb),
}
#: Modes accepted by :func:`make_selector` (and ``deblurkit video --select``).
SELECT_MODES: tuple[str, ...] = tuple(_BUILDERS)
#: The selection of ``deblurkit video`` and of the server's video jobs when none is named: the
#: temporal selector (docs/video.md, "Measured on the real validation clips").
DEFAULT_SELECT = "temporal"


def make_selector(mode: str, **options: Any) -> Selector:
    """Build the selector for ``mode`` (one of :data:`SELECT_MODES`).

    Args:
        mode: ``"all"``, ``"classifier"``, ``"middle15"``, ``"laplacian"`` or ``"temporal"``.
        options: fields of :class:`SelectorOptions`: ``classifier`` (frame -> ``P(blurred)``;
            required by ``classifier`` and ``middle15``), ``threshold`` (``None`` -> the
            mode's default), ``to_rgb`` (payload -> ``H x W x 3`` float32 frame),
            ``run_length`` (``middle15``), ``laplacian_window`` / ``laplacian_quantile`` /
            ``laplacian_reference`` (:class:`LaplacianSelector`), ``temporal_model`` (the
            :class:`TemporalModel` of ``temporal``; None: the bundled one).

    Returns:
        A :class:`Selector`.

    Raises:
        ValueError: unknown mode, or a classifier mode without a classifier.

    Example:
        >>> make_selector("laplacian").name
        'laplacian'
    """
    if mode not in _BUILDERS:
        raise ValueError(f"unknown selection mode {mode!r}; choose from {', '.join(SELECT_MODES)}")
    return _BUILDERS[mode](SelectorOptions(**options))
