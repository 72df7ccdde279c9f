"""Inference backends: one call that turns a blurred batch into a restored batch.

A *backend* hides how a network runs (eager PyTorch, TorchScript, ONNX Runtime) behind the
:class:`Backend` protocol: ``backend(batch)`` maps ``B x 3 x H x W`` float32 in ``[0, 1]`` to
the same shape, clamped to ``[0, 1]``. Tiling (:mod:`deblurkit.inference.tiling`) and the
:class:`~deblurkit.inference.restorer.Restorer` only ever talk to this protocol.

Besides the call, a backend tells the tiler two things about its network:

- ``pad_multiple``: the size multiple the network needs (S1: 16). Tiles are multiples of it
  and start on multiples of it, so a tiled network sees exactly the pixel grid it would see
  on the whole image.
- ``receptive_field``: how far (in pixels, a square's side) an output pixel looks into the
  input, measured once per model by
  :func:`~deblurkit.models.receptive_field.measure_receptive_field`; None when unknown.

Exported files (:class:`TorchScriptBackend` here, ONNX in
:mod:`deblurkit.inference.onnx_backend`) describe themselves with a
:class:`~deblurkit.models.files.ModelFileInfo`.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.models.files import ModelFileInfo, load_torchscript
from deblurkit.models.receptive_field import measure_receptive_field

__all__ = ["DEVICES", "DTYPES", "Backend", "TorchBackend", "TorchScriptBackend", "check_dtype",
           "measure_receptive_field", "pad_small_input", "resolve_device"]

#: Names accepted for ``dtype`` and the torch dtype each one computes in.
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16,
                                  "fp16": torch.float16}
#: Accepted ``device`` values besides explicit torch device strings such as ``"cuda:1"``.
DEVICES = ("auto", "cpu", "cuda")


@runtime_checkable
class Backend(Protocol):
    """What the tiler and the :class:`~deblurkit.inference.restorer.Restorer` need of a network.

    Attributes:
        name: ``"torch"``, ``"torchscript"`` or ``"onnxruntime"``.
        pad_multiple: the size multiple the network needs (1 if none).
        receptive_field: side of the square of input pixels that affects one output pixel, in
            pixels; None when unknown.

    Shape:
        ``__call__``: ``(B, 3, H, W)`` float32 ``[0, 1]`` -> ``(B, 3, H, W)`` float32, clamped
        to ``[0, 1]``.
    """

    name: str
    pad_multiple: int
    receptive_field: int | None

    def __call__(self, batch: Tensor) -> Tensor: ...


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other names are checked and returned.

    Raises:
        UserError: an unknown device name, or CUDA asked for on a machine without it.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError):
            raise UserError(f"unknown device {device!r}; use one of {', '.join(DEVICES)} "
                            "or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {device!r}: CUDA is not available on this machine "
                        "(use --device cpu or auto)")
    if resolved.type not in ("cpu", "cuda"):
        raise UserError(f"device {device!r} is not supported; use one of {', '.join(DEVICES)}")
    return resolved


def check_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """The torch dtype for ``dtype`` (``fp32``/``bf16``/``fp16``) on ``device``.

    Raises:
        UserError: an unknown name, or ``fp16`` on the CPU (half-precision convolutions are
            slow and inaccurate there; use ``bf16``).
    """
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    if dtype == "fp16" and device.type != "cuda":
        raise UserError("dtype fp16 needs a CUDA device; on the CPU use bf16 or fp32")
    return DTYPES[dtype]


# receptive fields measured so far, per model object (weights change it, so not per name)
_RF_CACHE: "weakref.WeakKeyDictionary[nn.Module, int]" = weakref.WeakKeyDictionary()


class TorchBackend:
    """Run an ``nn.Module`` generator with PyTorch: eval mode, inference mode, autocast.

    Args:
        model: a generator, ``B x 3 x H x W`` ``[0, 1]`` in and out (e.g. from
            :func:`deblurkit.models.create_model`). It is put in eval mode and moved to
            ``device`` (in place: the caller's module is the one used).
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``.
        dtype: ``"fp32"``, or ``"bf16"`` / ``"fp16"`` (autocast; fp16 only on CUDA). Outputs
            are float32 whatever the compute dtype.
        channels_last: convert the model and inputs to the channels-last memory format
            (faster convolutions on most CPUs and GPUs; the numbers are the same).

    Raises:
        UserError: unknown or unavailable device, unknown dtype, fp16 on the CPU.

    Shape:
        ``(B, 3, H, W)`` -> ``(B, 3, H, W)``, float32 in ``[0, 1]``, on :attr:`device`.

    Example:
        >>> backend = TorchBackend(nn.Conv2d(3, 3, 3, padding=1), device="cpu")
        >>> backend(torch.rand(1, 3, 8, 8)).shape
        torch.Size([1, 3, 8, 8])
    """

    name = "torch"

    def __init__(self, model: nn.Module, device: str | torch.device = "auto",
                 dtype: str = "fp32", channels_last: bool = True) -> None:
        self.device = resolve_device(device)
        self.dtype = dtype
        self.compute_dtype = check_dtype(dtype, self.device)
        self.channels_last = bool(channels_last)
        model = model.eval().to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.pad_multiple = max(1, int(getattr(model, "pad_multiple", 1) or 1))

    def __repr__(self) -> str:
        return (f"TorchBackend({type(self.model).__name__}, device={str(self.device)!r}, "
                f"dtype={self.dtype!r}, channels_last={self.channels_last})")

    @property
    def receptive_field(self) -> int | None:
        """Measured once per model object with :func:`measure_receptive_field` (fp32)."""
        cached = _RF_CACHE.get(self.model)
        if cached is None:
            try:
                cached = measure_receptive_field(self.model, pad_multiple=self.pad_multiple,
                                                 device=self.device)
            except (RuntimeError, MemoryError):  # e.g. out of memory: unknown
                return None
            _RF_CACHE[self.model] = cached
        return cached

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.compute_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.compute_dtype)

    def __call__(self, batch: Tensor) -> Tensor:
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a B x 3 x H x W batch, got shape {tuple(batch.shape)}")
        with torch.inference_mode():
            x = batch.to(self.device, torch.float32)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                y = self.model(x)
            return y.float().clamp_(0.0, 1.0).contiguous()


def pad_small_input(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int] | None]:
    """Replicate-pad an input too small for an exported graph's reflection padding.

    An exported (traced) generator pads to its size multiple with reflection, which needs the
    pad to be smaller than the side. Eager PyTorch falls back to replicate padding then
    (:func:`deblurkit.models.base.pad_to_multiple`); this does the same before the graph, so
    exported files give the eager result at any size.

    Returns:
        The (possibly) padded input and the original ``(H, W)`` to crop back to, or None when
        the input is used as is.
    """
    height, width = x.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h < height and pad_w < width:
        return x, None
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"), (height, width)


class TorchScriptBackend(TorchBackend):
    """A TorchScript file (``deblurkit export --format torchscript``) run like
    :class:`TorchBackend`.

    ``pad_multiple`` and ``receptive_field`` come from the file's
    :class:`~deblurkit.models.files.ModelFileInfo` (1 and measured when absent); inputs too
    small for the graph's reflection padding are padded as eager PyTorch would
    (:func:`pad_small_input`).

    Args:
        path: the ``.pt`` / ``.ts`` file.
        device, dtype, channels_last: as for :class:`TorchBackend`.

    Attributes:
        info: the file's :class:`~deblurkit.models.files.ModelFileInfo`.
        metadata: the same as stored (strings).

    Raises:
        UserError: the file is missing or not TorchScript; unknown device or dtype.

    Example:
        >>> backend = TorchScriptBackend("s4.pt", device="cpu")   # doctest: +SKIP
        >>> backend.info.kind                                       # doctest: +SKIP
        'generator'
    """

    name = "torchscript"

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "auto",
                 dtype: str = "fp32", channels_last: bool = True) -> None:
        resolved = resolve_device(device)
        module, self.metadata = load_torchscript(path, map_location=resolved)
        self.info = ModelFileInfo.from_strings(self.metadata, source=path)
        super().__init__(module, device=resolved, dtype=dtype, channels_last=channels_last)
        self.pad_multiple = self.info.pad_multiple
        if self.info.receptive_field:
            _RF_CACHE[self.model] = self.info.receptive_field

    def __call__(self, batch: Tensor) -> Tensor:
        x, size = pad_small_input(batch, self.pad_multiple)
        y = super().__call__(x)
        return y if size is None else y[..., : size[0], : size[1]].contiguous()
