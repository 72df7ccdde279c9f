"""Turn a model specification (name or file) into a ready-to-run backend or classifier.

A specification is one of:

- ``"default"``: the bundled default model (:mod:`deblurkit.pretrained`, trained by this
  toolkit on synthesized data; model card ``docs/default-model.md``), loaded with no network;
- a registered model name (``deblurkit models``): built with *untrained* (random) weights,
  with a one-line warning on stderr: useful for tests and timing, not for restoration;
- a ``.safetensors`` file written by :func:`deblurkit.models.weights.save_model`;
- an ``.onnx`` file (``deblurkit export --format onnx``): run with ONNX Runtime
  (:class:`deblurkit.inference.onnx_backend.OnnxBackend`), whatever ``backend`` says;
- a ``.pt`` / ``.ts`` TorchScript file (``deblurkit export --format torchscript``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.inference.backends import Backend, TorchBackend, TorchScriptBackend, resolve_device

#: The specification meaning "the bundled default model".
DEFAULT_MODEL = "default"
#: Backends accepted by ``backend=``.
BACKENDS = ("torch", "onnxruntime")
#: File suffixes and what they hold.
SAFETENSORS_SUFFIXES = (".safetensors",)
ONNX_SUFFIXES = (".onnx",)
TORCHSCRIPT_SUFFIXES = (".pt", ".ts")

#: The bundled classifier ``--classifier default`` loads.
DEFAULT_CLASSIFIER = "default_selector"


def warn_untrained(name: str) -> None:
    """Print the one-line warning for a model built with random weights."""
    print(f"deblurkit: warning: model {name!r} has untrained weights (random initialisation); "
          "its output is not a restoration", file=sys.stderr)


def _model_file(spec: str | os.PathLike) -> Path | None:
    """The file a specification names, or None when it is a registered name."""
    path = Path(spec)
    suffix = path.suffix.lower()
    known = SAFETENSORS_SUFFIXES + ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES
    if path.is_file() or suffix in known or os.sep in os.fspath(spec):
        if not path.is_file():
            raise UserError(f"{spec}: model file not found")
        if suffix not in known:
            raise UserError(f"{spec}: unknown model file type {suffix!r}; use "
                            f"{', '.join(known)} or a registered name (see `deblurkit models`)")
        return path
    return None


def _build_registered(name: str, kind: str) -> nn.Module:
    from deblurkit.models import create_model, get_entry

    entry = get_entry(name)  # UserError listing close names when unknown
    if entry.kind != kind:
        raise UserError(f"model {name!r} is a {entry.kind}, not a {kind}")
    model = create_model(name)
    warn_untrained(name)
    return model


def load_backend(model: str | os.PathLike, *, backend: str = "torch", device: str = "auto",
                 dtype: str = "fp32", channels_last: bool = True) -> Backend:
    """Backend for a model specification (see the module docstring).

    Args:
        model: ``"default"``, a registered generator name, or a model file.
        backend: ``"torch"`` or ``"onnxruntime"`` (the latter needs an ``.onnx`` file: make
            one with ``deblurkit export MODEL --format onnx -o FILE``).
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"`` (for ONNX Runtime: picks the CUDA
            execution provider on ``cuda``).
        dtype: ``"fp32"`` / ``"bf16"`` / ``"fp16"`` (torch backends).
        channels_last: channels-last memory format (torch backends).

    Returns:
        A :class:`~deblurkit.inference.backends.Backend`.

    Raises:
        UserError: unknown name, missing or unreadable file, a model that is not a
            generator, an unknown backend.

    Example:
        >>> backend = load_backend("s1_msed", device="cpu")   # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    spec = os.fspath(model)
    if spec == DEFAULT_MODEL:
        from deblurkit.pretrained import bundled_card

        spec = os.fspath(bundled_card(DEFAULT_MODEL).path)
    path = _model_file(spec)
    suffix = path.suffix.lower() if path is not None else ""
    if suffix in ONNX_SUFFIXES:
        from deblurkit.inference.onnx_backend import OnnxBackend

        # "auto" takes the CUDA provider when ONNX Runtime has it, else the CPU
        return OnnxBackend(path, providers=str(device))
    if backend == "onnxruntime":
        raise UserError(f"{spec}: --backend onnxruntime needs an .onnx file; make one with "
                        f"`deblurkit export {spec} --format onnx -o FILE.onnx`")
    if suffix in TORCHSCRIPT_SUFFIXES:
        return TorchScriptBackend(path, device=device, dtype=dtype, channels_last=channels_last)
    if path is not None:
        from deblurkit.models.weights import load_model

        return TorchBackend(load_model(path), device=device, dtype=dtype,
                            channels_last=channels_last)
    return TorchBackend(_build_registered(spec, "generator"), device=device, dtype=dtype,
                        channels_last=channels_last)


class TorchClassifier:
    """A frame classifier module wrapped for inference: ``(B, 3, H, W) -> (B,)`` P(blurred).

    Attributes:
        model: the module (eval mode, on ``device``).
        device: where inputs are moved.
    """

    def __init__(self, model: nn.Module, device: str = "auto") -> None:
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)

    def __call__(self, batch: Tensor) -> Tensor:
        with torch.inference_mode():
            probability = self.model(batch.to(self.device, torch.float32))
        return probability.float().reshape(-1)


def load_classifier(model: str | os.PathLike | None, *, device: str = "auto",
                    **_: Any) -> TorchClassifier:
    """Frame classifier for a specification: P(blurred) per frame.

    Args:
        model: None or ``"default"`` (the bundled frame selector), a registered
            classifier name (e.g. ``s4_frame_selector``, untrained, with a warning), or a
            ``.safetensors`` file from ``save_model``.
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"``.

    Returns:
        A callable ``(B, 3, H, W)`` float32 ``[0, 1]`` -> ``(B,)`` probabilities, with a
        ``device`` attribute.

    Raises:
        UserError: unknown name, not a classifier, unreadable file, or a file type other
            than ``.safetensors``.
    """
    spec = DEFAULT_MODEL if model is None else os.fspath(model)
    if spec == DEFAULT_MODEL:
        from deblurkit.pretrained import bundled_card

        spec = os.fspath(bundled_card(DEFAULT_CLASSIFIER).path)
    path = _model_file(spec)
    if path is None:
        return TorchClassifier(_build_registered(spec, "classifier"), device=device)
    if path.suffix.lower() not in SAFETENSORS_SUFFIXES:
        raise UserError(f"{spec}: a classifier must be a .safetensors file from save_model")
    from deblurkit.models import get_entry
    from deblurkit.models.weights import load_model

    module = load_model(path)
    name = getattr(module, "deblurkit_name", "")
    if name and get_entry(name).kind != "classifier":
        raise UserError(f"{spec}: holds {name!r}, which is not a classifier")
    return TorchClassifier(module, device=device)
