"""The frame classifier: P(blurred) of a video frame (S4's frame selector).

One way in for a frame: :func:`frame_probability` takes an ``H x W x 3`` RGB array,
``uint8`` / ``uint16`` at its native range or float in ``[0, 1]``, and returns the probability
that it is blurred. :class:`FrameClassifier` holds the loaded model (any specification
:func:`deblurkit.models.files.parse_model_spec` reads, checked to be a classifier), with its
device and compute dtype; ``deblurkit video``, ``deblurkit serve``, ``deblurkit demo`` and the
frame selectors of :mod:`deblurkit.inference.selection` all use it.

Example:
    >>> classifier = FrameClassifier("default", device="cpu")            # doctest: +SKIP
    >>> classifier.probability(np.zeros((64, 64, 3), np.uint8))          # doctest: +SKIP
    0.12
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import Tensor

from deblurkit.inference.backends import Backend

__all__ = ["FrameClassifier", "frame_batch", "frame_probability", "load_classifier"]


def frame_batch(rgb: np.ndarray) -> Tensor:
    """An ``H x W x 3`` RGB frame as a ``(1, 3, H, W)`` float32 ``[0, 1]`` batch.

    Args:
        rgb: ``uint8`` / ``uint16`` (divided by 255 / 65535) or float (clipped to ``[0, 1]``).

    Raises:
        ValueError: not ``H x W x 3``.

    Example:
        >>> frame_batch(np.full((2, 4, 3), 255, np.uint8)).shape
        torch.Size([1, 3, 2, 4])
    """
    from deblurkit.io import to_float

    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 frame, got shape {array.shape}")
    values = np.clip(to_float(array), 0.0, 1.0)
    return torch.from_numpy(np.ascontiguousarray(values.transpose(2, 0, 1)))[None]


def frame_probability(classifier: Backend | Any, rgb: np.ndarray) -> float:
    """P(blurred) of one frame.

    Args:
        classifier: ``(B, 3, H, W)`` float32 ``[0, 1]`` -> ``(B,)`` probabilities (a
            classifier backend).
        rgb: the frame (see :func:`frame_batch`).

    Returns:
        The probability, a Python float.

    Example:
        >>> frame_probability(lambda x: x.mean(dim=(1, 2, 3)), np.full((4, 4, 3), 0.25))
        0.25
    """
    with torch.inference_mode():
        output = classifier(frame_batch(rgb))
    return float(torch.as_tensor(output).reshape(-1)[0])


class FrameClassifier:
    """A loaded frame classifier: P(blurred) per frame (:func:`frame_probability`).

    Args:
        model: ``"default"`` (the bundled frame selector), a registered classifier name
            (untrained, with a warning), a ``.safetensors`` file or an exported classifier.
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"cuda:N"``.
        dtype: compute precision, ``"fp32"`` / ``"bf16"`` / ``"fp16"`` (autocast; fp16 only
            on CUDA).
        backend: ``"torch"`` or ``"onnxruntime"`` (an ``.onnx`` file).
        channels_last: channels-last memory format (off by default: the scores stay those of
            plain NCHW).

    Attributes:
        backend: the :class:`~deblurkit.inference.backends.Backend` that runs it.

    Raises:
        UserError: unknown name, not a classifier, unreadable file, unknown device or dtype.

    Example:
        >>> classifier = FrameClassifier("s4_frame_selector", device="cpu",
        ...                              dtype="bf16")                     # doctest: +SKIP
        >>> 0.0 <= classifier.probability(frame) <= 1.0                    # doctest: +SKIP
        True
    """

    def __init__(self, model: str | os.PathLike = "default", *, device: str = "auto",
                 dtype: str = "fp32", backend: str = "torch",
                 channels_last: bool = False) -> None:
        from deblurkit.inference.resolve import load_backend

        self.backend = load_backend(model, kind="classifier", backend=backend, device=device,
                                    dtype=dtype, channels_last=channels_last)

    def __repr__(self) -> str:
        return f"FrameClassifier({self.backend!r})"

    @property
    def model(self) -> Any:
        """The network (torch backends; None for ONNX Runtime)."""
        return getattr(self.backend, "model", None)

    @property
    def device(self) -> torch.device:
        """Where the network runs."""
        return getattr(self.backend, "device", torch.device("cpu"))

    @property
    def dtype(self) -> str:
        """The compute precision (``"fp32"`` for ONNX Runtime)."""
        return getattr(self.backend, "dtype", "fp32")

    def probability(self, rgb: np.ndarray) -> float:
        """P(blurred) of one ``H x W x 3`` RGB frame (uint8, uint16 or float ``[0, 1]``)."""
        return frame_probability(self.backend, rgb)

    def __call__(self, batch: Tensor) -> Tensor:
        """``(B, 3, H, W)`` float32 ``[0, 1]`` -> ``(B,)`` float32 probabilities."""
        with torch.inference_mode():
            return self.backend(batch).float().reshape(-1)


def load_classifier(model: str | os.PathLike | None = "default", *, device: str = "auto",
                    dtype: str = "fp32", backend: str = "torch") -> FrameClassifier:
    """The :class:`FrameClassifier` of a specification (None: the bundled one).

    Args:
        model: None or ``"default"`` (the bundled frame selector), a registered classifier
            name (e.g. ``s4_frame_selector``, untrained, with a warning), a ``.safetensors``
            file from ``save_model`` or an exported classifier (``.onnx``, ``.pt``).
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"``.
        dtype: ``"fp32"`` / ``"bf16"`` / ``"fp16"``.
        backend: ``"torch"`` or ``"onnxruntime"``.

    Returns:
        The classifier: ``probability(frame)`` per ``H x W x 3`` frame, or a call on
        ``(B, 3, H, W)`` batches -> ``(B,)``.

    Raises:
        UserError: unknown name, not a classifier, unreadable file.

    Example:
        >>> load_classifier(None, device="cpu").model.deblurkit_name   # doctest: +SKIP
        's4_frame_selector'
    """
    return FrameClassifier("default" if model is None else model, device=device, dtype=dtype,
                           backend=backend)
