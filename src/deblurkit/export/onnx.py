"""Export a generator or the frame classifier to ONNX with dynamic batch, height and width.

The file holds the whole deblurkit contract (``[0, 1]`` RGB in, ``[0, 1]`` RGB out, padding to
the network's size multiple and the value-range conversion inside the graph) and carries its
description in the ONNX ``metadata_props`` (a :class:`~deblurkit.models.files.ModelFileInfo`,
see :func:`deblurkit.export.common.export_metadata`), which the ONNX Runtime backend of
:mod:`deblurkit.inference` reads.

Exporters:

- ``"torchscript"`` (default): PyTorch's TorchScript-based exporter
  (``torch.onnx.export(..., dynamo=False, dynamic_axes=...)``). It traces the model once on an
  example input that needs padding in both dimensions, so the recorded padding amounts are
  computed from the input's shape at run time.
- ``"dynamo"``: the ``torch.export``-based exporter (``dynamo=True, dynamic_shapes=...``). It
  needs the ``onnxscript`` package, which deblurkit does not install; without it a
  :class:`~deblurkit.errors.UserError` says so.

Every export is checked with ``onnx.checker`` and, unless ``verify=False``, run with ONNX
Runtime on a second input size and compared with eager PyTorch (max abs difference at most
:data:`~deblurkit.export.common.VERIFY_TOLERANCE`); a file failing either check is not written.

Example:
    >>> from deblurkit.models import create_model
    >>> export_onnx(create_model("s4_deblurnet"), "s4.onnx")     # doctest: +SKIP
    PosixPath('s4.onnx')
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.export.common import (INPUT_NAME, OUTPUT_NAME, VERIFY_SEED, VERIFY_TOLERANCE,
                                     export_metadata, first_error_line,
                                     measure_receptive_field_or_none, prepare_export,
                                     quiet_tracing, verify_size)
from deblurkit.models.files import read_onnx_metadata
from deblurkit.utils.atomic import atomic_path

__all__ = ["DEFAULT_OPSET", "EXPORTERS", "ExportVerificationError", "export_onnx",
           "max_abs_difference", "onnx_session", "read_onnx_metadata"]

#: Default ONNX opset (supported by the TorchScript-based exporter and ONNX Runtime >= 1.14).
DEFAULT_OPSET = 17
#: Exporters accepted by :func:`export_onnx`.
EXPORTERS = ("torchscript", "dynamo")


class ExportVerificationError(UserError):
    """The exported graph disagrees with eager PyTorch (nothing is written)."""


def _trace_legacy(wrapper: nn.Module, example: torch.Tensor, opset: int, kind: str) -> bytes:
    output_axes = {0: "batch", 2: "height", 3: "width"} if kind == "generator" else {0: "batch"}
    buffer = io.BytesIO()
    with quiet_tracing(), torch.no_grad():
        torch.onnx.export(wrapper, (example,), buffer, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                                        OUTPUT_NAME: output_axes},
                          do_constant_folding=True)
    return buffer.getvalue()


def _trace_dynamo(wrapper: nn.Module, example: torch.Tensor, opset: int) -> bytes:
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        raise UserError("the dynamo ONNX exporter needs the 'onnxscript' package, which is not "
                        "installed; use the default exporter (--exporter torchscript)") from None
    auto = torch.export.Dim.AUTO
    with quiet_tracing(), torch.no_grad():
        program = torch.onnx.export(wrapper, (example,), dynamo=True, opset_version=opset,
                                    input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                                    dynamic_shapes=({0: auto, 2: auto, 3: auto},))
    return program.model_proto.SerializeToString()


def onnx_session(model: bytes | str | os.PathLike, providers: list | None = None,
                 threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` on ``model`` (bytes or a path), CPU by default."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = int(threads)
    source = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(source, sess_options=options,
                                providers=providers or ["CPUExecutionProvider"])


def max_abs_difference(session, wrapper: nn.Module, batch: torch.Tensor) -> float:
    """Max abs difference between ONNX Runtime (``session``) and eager ``wrapper`` on ``batch``.

    Raises:
        ExportVerificationError: the output shapes differ.
    """
    with torch.no_grad():
        expected = wrapper(batch).numpy()
    got = session.run(None, {session.get_inputs()[0].name: batch.numpy()})[0]
    if got.shape != expected.shape:
        raise ExportVerificationError(f"ONNX output shape {got.shape} != PyTorch output shape "
                                      f"{expected.shape} for input {tuple(batch.shape)}")
    return float(np.abs(got - expected).max())


def export_onnx(model: nn.Module, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET,
                example_size: tuple[int, int] | None = None, overwrite: bool = False,
                verify: bool = True, tolerance: float = VERIFY_TOLERANCE,
                exporter: str = "torchscript", receptive_field: bool = True) -> Path:
    """Export ``model`` to an ONNX file with dynamic batch, height and width.

    Args:
        model: a generator or the frame classifier built by ``create_model`` / ``load_model``.
        path: the ``.onnx`` file to write (atomically).
        opset: ONNX opset version (default :data:`DEFAULT_OPSET`).
        example_size: ``(H, W)`` of the traced example; default
            :func:`~deblurkit.export.common.default_example_size`. Sides that are multiples of
            the model's pad multiple are refused (the trace would record no padding).
        overwrite: replace an existing file.
        verify: run the file with ONNX Runtime on a second size (batch 2) and compare with
            eager PyTorch; refuse to write it if the max abs difference exceeds ``tolerance``.
        tolerance: the allowed max abs difference.
        exporter: ``"torchscript"`` (default) or ``"dynamo"`` (needs ``onnxscript``).
        receptive_field: measure the generator's receptive field and store it (the tiler
            picks its overlap from it).

    Returns:
        The path written.

    Raises:
        UserError: the model cannot be exported (a discriminator or feature extractor), the
            output exists, or the export fails its checks.

    Example:
        >>> export_onnx(create_model("s4_deblurnet"), "s4.onnx")   # doctest: +SKIP
    """
    import onnx

    if exporter not in EXPORTERS:
        raise UserError(f"unknown ONNX exporter {exporter!r}; use one of {', '.join(EXPORTERS)}")
    setup = prepare_export(model, path, example_size=example_size, overwrite=overwrite,
                           seed=VERIFY_SEED)
    target, kind, model, wrapper = setup.target, setup.kind, setup.model, setup.wrapper
    example, pad_multiple, generator = setup.example, setup.pad_multiple, setup.generator
    try:
        if exporter == "dynamo":
            data = _trace_dynamo(wrapper, setup.example_batch, opset)
        else:
            data = _trace_legacy(wrapper, setup.example_batch, opset, kind)
    except UserError:
        raise
    except Exception as exc:  # the exporters raise many types; report the first line
        raise UserError(f"{target}: ONNX export of {getattr(model, 'deblurkit_name', 'model')!r} "
                        f"failed: {first_error_line(exc)}") from exc
    proto = onnx.load_from_string(data)
    field = measure_receptive_field_or_none(model, kind) if receptive_field else None
    metadata = export_metadata(model, kind=kind, fmt="onnx", example=example,
                               receptive_field=field,
                               extra={"exporter": exporter, "opset": str(opset)}).to_strings()
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "deblurkit"
    proto.doc_string = (f"deblurkit {metadata['deblurkit_name']}: input NCHW float32 RGB in "
                        f"[0, 1], any H and W; output {metadata['output_layout']} in [0, 1]")
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    if verify:
        session = onnx_session(data)
        check = torch.rand(2, 3, *verify_size(example, pad_multiple), generator=generator)
        difference = max_abs_difference(session, wrapper, check)
        if not difference <= tolerance:
            raise ExportVerificationError(
                f"{target}: the exported graph differs from PyTorch by {difference:.3g} "
                f"(> {tolerance:g}) on a {tuple(check.shape)} input; nothing written")
    with atomic_path(target, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return target
