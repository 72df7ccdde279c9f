"""Turn a model specification (name or file) into a ready-to-run backend.

What a specification may be (``default``, a registered name, ``.safetensors``, ``.onnx``,
``.pt`` / ``.ts``) is :func:`deblurkit.models.files.parse_model_spec`'s one table; here each
source gets its backend:

- bundled, registered and ``.safetensors`` models, and state dicts given with their
  architecture (``--arch``), run with PyTorch
  (:class:`~deblurkit.inference.backends.TorchBackend`);
- ``.onnx`` files run with ONNX Runtime
  (:class:`~deblurkit.inference.onnx_backend.OnnxBackend`), whatever ``backend`` says;
- TorchScript files run with :class:`~deblurkit.inference.backends.TorchScriptBackend`.

Every source is checked to hold the kind asked for (a generator for restoring, the
classifier for frame selection: :class:`deblurkit.inference.classifier.FrameClassifier`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from deblurkit.errors import UserError
from deblurkit.inference.backends import Backend, TorchBackend, TorchScriptBackend
from deblurkit.models.files import (DEFAULT_MODEL, ModelSpec, check_kind, load_network,
                                    parse_model_spec)

__all__ = ["BACKENDS", "BACKEND_LOADERS", "DEFAULT_MODEL", "BackendOptions", "load_backend"]

#: Backends accepted by ``backend=``.
BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class BackendOptions:
    """How a model runs.

    Attributes:
        kind: the registry kind asked for (``"generator"`` or ``"classifier"``).
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"cuda:N"`` (ONNX Runtime: picks the
            CUDA execution provider on ``cuda``).
        dtype: ``"fp32"`` / ``"bf16"`` / ``"fp16"`` (torch backends).
        channels_last: channels-last memory format (torch backends).
    """

    kind: str = "generator"
    device: str = "auto"
    dtype: str = "fp32"
    channels_last: bool = True


def _torch_backend(spec: ModelSpec, options: BackendOptions) -> Backend:
    return TorchBackend(load_network(spec, kind=options.kind), device=options.device,
                        dtype=options.dtype, channels_last=options.channels_last)


def _torchscript_backend(spec: ModelSpec, options: BackendOptions) -> Backend:
    backend = TorchScriptBackend(spec.path, device=options.device, dtype=options.dtype,
                                 channels_last=options.channels_last)
    check_kind(spec, backend.info.name or spec.text, backend.info.kind, options.kind)
    return backend


def _onnx_backend(spec: ModelSpec, options: BackendOptions) -> Backend:
    from deblurkit.inference.onnx_backend import OnnxBackend

    # "auto" takes the CUDA provider when ONNX Runtime has it, else the CPU
    backend = OnnxBackend(spec.path, providers=str(options.device))
    check_kind(spec, backend.info.name or spec.text, backend.info.kind, options.kind)
    return backend


#: Source of a specification (:data:`deblurkit.models.files.SOURCES`) -> its backend.
BACKEND_LOADERS: dict[str, Callable[[ModelSpec, BackendOptions], Backend]] = {
    "bundled": _torch_backend, "registered": _torch_backend, "safetensors": _torch_backend,
    "state_dict": _torch_backend, "torchscript": _torchscript_backend, "onnx": _onnx_backend}


def load_backend(model: str | os.PathLike | ModelSpec, *, kind: str = "generator",
                 backend: str = "torch", device: str = "auto", dtype: str = "fp32",
                 channels_last: bool = True) -> Backend:
    """Backend for a model specification (see the module docstring).

    Args:
        model: ``"default"``, a bundled or registered name, a model file, or a parsed
            :class:`~deblurkit.models.files.ModelSpec` (a state dict with its ``arch``:
            ``parse_model_spec("w.pth", arch="nafnet_w32")``).
        kind: ``"generator"`` (restoring; ``default`` is the default model) or
            ``"classifier"`` (frame selection; ``default`` is the bundled frame selector).
        backend: ``"torch"`` or ``"onnxruntime"`` (the latter needs an ``.onnx`` file: make
            one with ``deblurkit export MODEL --format onnx -o FILE``).
        device: ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"cuda:N"``.
        dtype: ``"fp32"`` / ``"bf16"`` / ``"fp16"`` (torch backends).
        channels_last: channels-last memory format (torch backends).

    Returns:
        A :class:`~deblurkit.inference.backends.Backend`.

    Raises:
        UserError: unknown name, missing or unreadable file, a model of another kind, an
            unknown backend.

    Example:
        >>> backend = load_backend("s1_msed", device="cpu")   # doctest: +SKIP
    """
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    spec = model if isinstance(model, ModelSpec) else parse_model_spec(model, kind=kind)
    if backend == "onnxruntime" and spec.source != "onnx":
        raise UserError(f"{spec.text}: --backend onnxruntime needs an .onnx file; make one "
                        f"with `deblurkit export {spec.text} --format onnx -o FILE.onnx`")
    options = BackendOptions(kind=kind, device=device, dtype=dtype, channels_last=channels_last)
    return BACKEND_LOADERS[spec.source](spec, options)
