"""Export a generator or the frame classifier to TorchScript (``torch.jit.trace``).

The traced module has the same contract as the ONNX export (``[0, 1]`` RGB in, clamped
``[0, 1]`` RGB or ``(B,)`` probabilities out, any batch, height and width; padding inside) and
runs without deblurkit: ``torch.jit.load(path)(x)``. Its description (a
:class:`~deblurkit.models.files.ModelFileInfo`, the same keys as the ONNX ``metadata_props``)
is stored as the extra file :data:`~deblurkit.models.files.TORCHSCRIPT_METADATA_FILE` inside
the archive; :func:`~deblurkit.models.files.load_torchscript` reads it back.

Tracing records shape arithmetic (``x.shape`` -> padding amounts, crops) as graph operations,
so the module works at any size; Python branches on shapes are recorded as taken on the
example, which is chosen to need padding in both dimensions. Every export is verified on a
second size against eager PyTorch unless ``verify=False``.

Example:
    >>> from deblurkit.models import create_model
    >>> export_torchscript(create_model("s4_deblurnet"), "s4.pt")   # doctest: +SKIP
    PosixPath('s4.pt')
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.export.common import (VERIFY_SEED, VERIFY_TOLERANCE, export_metadata,
                                     first_error_line, measure_receptive_field_or_none,
                                     prepare_export, quiet_tracing, verify_size)
from deblurkit.models.files import TORCHSCRIPT_METADATA_FILE
from deblurkit.utils.atomic import atomic_path


def export_torchscript(model: nn.Module, path: str | os.PathLike, *,
                       example_size: tuple[int, int] | None = None, overwrite: bool = False,
                       verify: bool = True, tolerance: float = VERIFY_TOLERANCE,
                       receptive_field: bool = True) -> Path:
    """Trace ``model`` and save it as a TorchScript archive.

    Args:
        model: a generator or the frame classifier built by ``create_model`` / ``load_model``.
        path: the file to write (``.pt`` by convention), atomically.
        example_size: ``(H, W)`` of the traced example (default: see
            :func:`~deblurkit.export.common.default_example_size`).
        overwrite: replace an existing file.
        verify: compare the traced module with eager PyTorch on a second size (batch 2).
        tolerance: allowed max abs difference.
        receptive_field: measure the generator's receptive field and store it.

    Returns:
        The path written.

    Raises:
        UserError: the model cannot be exported, the output exists, or verification fails.
    """
    setup = prepare_export(model, path, example_size=example_size, overwrite=overwrite,
                           seed=VERIFY_SEED)
    target, kind, model, wrapper = setup.target, setup.kind, setup.model, setup.wrapper
    example, pad_multiple, generator = setup.example, setup.pad_multiple, setup.generator
    name = getattr(model, "deblurkit_name", "model")
    try:
        with quiet_tracing(), torch.no_grad():
            traced = torch.jit.trace(wrapper, setup.example_batch, check_trace=False)
    except Exception as exc:  # tracing raises RuntimeError and friends
        raise UserError(f"{target}: TorchScript export of {name!r} failed: "
                        f"{first_error_line(exc)}") from exc
    if verify:
        check = torch.rand(2, 3, *verify_size(example, pad_multiple), generator=generator)
        with torch.no_grad():
            expected, got = wrapper(check), traced(check)
        if got.shape != expected.shape:
            raise UserError(f"{target}: traced output shape {tuple(got.shape)} != "
                            f"{tuple(expected.shape)} for input {tuple(check.shape)}")
        difference = float((got - expected).abs().max())
        if not difference <= tolerance:
            raise UserError(f"{target}: the traced module differs from PyTorch by "
                            f"{difference:.3g} (> {tolerance:g}); nothing written")
    field = measure_receptive_field_or_none(model, kind) if receptive_field else None
    metadata = export_metadata(model, kind=kind, fmt="torchscript", example=example,
                               receptive_field=field, extra={"torch_version": torch.__version__})
    stored = {TORCHSCRIPT_METADATA_FILE: json.dumps(metadata.to_strings())}
    with atomic_path(target, overwrite=overwrite) as tmp, quiet_tracing():
        torch.jit.save(traced, str(tmp), _extra_files=stored)
    return target
