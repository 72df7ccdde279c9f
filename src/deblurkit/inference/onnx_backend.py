"""Run an exported ``.onnx`` file with ONNX Runtime behind the Backend protocol.

The file's ``metadata_props`` (a :class:`~deblurkit.models.files.ModelFileInfo`, written by
``deblurkit export``) give the size multiple, the smallest side the graph's reflection padding
supports and the receptive field; a foreign ONNX file without them is run as is
(``pad_multiple = 1``, receptive field unknown) as long as it takes one ``(B, 3, H, W)`` float
input.

Example:
    >>> backend = OnnxBackend("s4.onnx", threads=2)                   # doctest: +SKIP
    >>> backend(torch.rand(1, 3, 37, 53)).shape                       # doctest: +SKIP
    torch.Size([1, 3, 37, 53])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from deblurkit.errors import UserError
from deblurkit.inference.backends import pad_small_input
from deblurkit.models.files import ModelFileInfo

logger = logging.getLogger(__name__)

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"
#: Shorthands accepted for ``providers``.
PROVIDER_ALIASES = ("auto", "cpu", "cuda")


def resolve_providers(providers: str | Sequence | None) -> list:
    """ONNX Runtime providers for ``providers``.

    Args:
        providers: None or ``"cpu"`` -> CPU; ``"cuda"`` / ``"cuda:N"`` -> CUDA (device N) with
            CPU fallback; ``"auto"`` -> CUDA when ONNX Runtime has it, else CPU; or an explicit
            list of provider names / ``(name, options)`` pairs. A CUDA provider that this
            ONNX Runtime build lacks is dropped with a warning (CPU is used).

    Returns:
        The provider list for ``InferenceSession``.

    Example:
        >>> resolve_providers(None)
        ['CPUExecutionProvider']
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if providers is None:
        return [CPU_PROVIDER]
    if isinstance(providers, str):
        choice = providers.lower()
        if choice == "cpu":
            return [CPU_PROVIDER]
        if choice == "auto":
            return [CUDA_PROVIDER, CPU_PROVIDER] if CUDA_PROVIDER in available else [CPU_PROVIDER]
        if choice == "cuda" or choice.startswith("cuda:"):
            index = int(choice.split(":", 1)[1]) if ":" in choice else 0
            providers = [(CUDA_PROVIDER, {"device_id": index}), CPU_PROVIDER]
        else:
            raise UserError(f"unknown ONNX Runtime provider {providers!r}; use one of "
                            f"{', '.join(PROVIDER_ALIASES)} or provider names")
    chosen = []
    for entry in providers:
        name = entry[0] if isinstance(entry, tuple) else entry
        if name not in available:
            logger.warning("ONNX Runtime provider %s is not available here (have: %s); "
                           "skipping it", name, ", ".join(sorted(available)))
            continue
        chosen.append(entry)
    if not chosen:
        chosen = [CPU_PROVIDER]
    return chosen


class OnnxBackend:
    """An exported ONNX model run with ONNX Runtime (the Backend protocol).

    Args:
        path: the ``.onnx`` file.
        providers: see :func:`resolve_providers` (default: CPU).
        threads: intra-op threads of ONNX Runtime (default: its own choice, all cores).

    Attributes:
        name: ``"onnxruntime"``.
        pad_multiple: from the file's metadata (1 if absent).
        receptive_field: from the file's metadata (None if absent).
        min_size: from the metadata: every side of at least this size runs through the
            graph's own (reflection) padding. Inputs needing a pad not smaller than their side
            are padded here by edge replication to the size multiple first, which is exactly
            what eager PyTorch does for them.
        kind: ``"generator"`` or ``"classifier"`` (a classifier returns ``(B,)``).
        info: the file's :class:`~deblurkit.models.files.ModelFileInfo`.
        metadata: all ``metadata_props`` (strings).
        providers: the providers the session uses.

    Shape:
        ``(B, 3, H, W)`` float32 ``[0, 1]`` -> ``(B, 3, H, W)`` clamped to ``[0, 1]``, on the
        input's device (classifier: ``(B,)``).

    Raises:
        UserError: the file is missing, not ONNX, or does not take one 4-D input.
    """

    name = "onnxruntime"

    def __init__(self, path: str | os.PathLike, providers: str | Sequence | None = None,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: ONNX file not found")
        if threads is not None and int(threads) < 1:
            raise UserError(f"threads must be >= 1, got {threads}")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=options,
                                                providers=resolve_providers(providers))
        except Exception as exc:  # onnxruntime raises its own Fail / InvalidGraph types
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{self.path}: not a loadable ONNX model ({reason})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise UserError(f"{self.path}: expected one (B, 3, H, W) input, the model has "
                            f"{[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.info = ModelFileInfo.from_strings(self.metadata, source=self.path)
        self.pad_multiple = self.info.pad_multiple
        self.min_size = self.info.min_size
        self.receptive_field = self.info.receptive_field or None
        self.kind = self.info.kind
        self.providers = self.session.get_providers()

    def __repr__(self) -> str:
        return (f"OnnxBackend({str(self.path)!r}, model={self.info.name or None!r}, "
                f"providers={self.providers})")

    def __call__(self, batch: Tensor) -> Tensor:
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a B x 3 x H x W batch, got shape {tuple(batch.shape)}")
        x, size = pad_small_input(batch.detach().to("cpu", torch.float32), self.pad_multiple)
        array = np.ascontiguousarray(x.numpy())
        output = self.session.run(None, {self.input_name: array})[0]
        result = torch.from_numpy(output)
        if size is not None and result.ndim == 4:
            result = result[..., : size[0], : size[1]]
        if self.kind == "generator":
            result = result.clamp_(0.0, 1.0)
        return result.contiguous().to(batch.device)
