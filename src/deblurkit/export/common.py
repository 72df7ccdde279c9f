"""What the ONNX and TorchScript exporters share: which models export, the wrapper that is
traced, the example input, and the metadata stored beside the graph.

An exported file holds one network with the deblurkit tensor contract built in:

- input ``input``: ``(B, 3, H, W)`` float32 RGB in ``[0, 1]``, every dimension dynamic;
- output ``output``: generators ``(B, 3, H, W)`` float32 in ``[0, 1]`` (clamped inside the
  graph); the frame classifier ``(B,)`` float32, the probability that each frame is blurred.

The padding to the network's size multiple and the conversion to the network's own value range
happen inside the graph, so a consumer only feeds ``[0, 1]`` images of any size.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError

logger = logging.getLogger(__name__)

#: Registry kinds that can be exported (image-to-image generators and the frame classifier).
EXPORTABLE_KINDS = ("generator", "classifier")
#: Name of the graph's input and output.
INPUT_NAME = "input"
OUTPUT_NAME = "output"
#: Smallest side of the default example input (rounded up to ``k * pad_multiple + 1``).
EXAMPLE_MIN_SIDE = 64
#: Extra width of the default example over its height (a non-square example catches
#: exporters that mix up H and W).
EXAMPLE_EXTRA_WIDTH = 32
#: Maximum absolute difference allowed between the exported file and eager PyTorch when the
#: exporter verifies its output (the issue's parity bound).
VERIFY_TOLERANCE = 1e-4
#: Version of the metadata layout written into exported files.
METADATA_VERSION = 1
#: Seed of the example input traced and of the inputs used to verify an export.
VERIFY_SEED = 0

#: Models the ONNX exporter cannot handle with dynamic H and W, and why. The test
#: ``tests/test_export.py`` asserts that each one really fails (and every other one passes),
#: so this list and docs/export.md stay true.
ONNX_NOT_EXPORTABLE: dict[str, str] = {}
#: Models the TorchScript exporter (``torch.jit.trace``) cannot handle, and why.
TORCHSCRIPT_NOT_EXPORTABLE: dict[str, str] = {}


def not_exportable(fmt: str) -> dict[str, str]:
    """The ``{model name: reason}`` table of ``fmt`` (``"onnx"`` or ``"torchscript"``)."""
    return {"onnx": ONNX_NOT_EXPORTABLE, "torchscript": TORCHSCRIPT_NOT_EXPORTABLE}[fmt]


class ExportWrapper(nn.Module):
    """The module that is traced: a generator with its output clamped to ``[0, 1]``, or the
    frame classifier unchanged (it already returns probabilities).

    Args:
        model: a generator (``(B, 3, H, W) -> (B, 3, H, W)``) or the classifier
            (``(B, 3, H, W) -> (B,)``).
        clamp: clamp the output to ``[0, 1]`` (generators; the Backend contract).

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)`` or ``(B,)``.

    Example:
        >>> from deblurkit.models import create_model
        >>> net = ExportWrapper(create_model("s4_deblurnet", num_blocks=1), clamp=True).eval()
        >>> float(net(torch.rand(1, 3, 9, 11)).max()) <= 1.0
        True
    """

    def __init__(self, model: nn.Module, clamp: bool) -> None:
        super().__init__()
        self.model = model
        self.clamp = clamp

    def forward(self, x: Tensor) -> Tensor:
        y = self.model(x)
        return y.clamp(0.0, 1.0) if self.clamp else y


def model_kind(model: nn.Module) -> str:
    """The registry kind of a model built by ``create_model`` (``"generator"`` if unnamed but
    it has a ``pad_multiple``)."""
    from deblurkit.models import get_entry

    name = getattr(model, "deblurkit_name", None)
    if name:
        return get_entry(name).kind
    return "generator"


def check_exportable(model: nn.Module, fmt: str) -> str:
    """Raise a :class:`UserError` if ``model`` cannot be exported to ``fmt``; return its kind."""
    name = getattr(model, "deblurkit_name", None) or type(model).__name__
    kind = model_kind(model)
    if kind not in EXPORTABLE_KINDS:
        raise UserError(f"model {name!r} is a {kind}; only generators and the frame classifier "
                        "can be exported")
    reason = not_exportable(fmt).get(name)
    if reason:
        other = "torchscript" if fmt == "onnx" else "onnx"
        raise UserError(f"model {name!r} cannot be exported to {fmt} with dynamic height and "
                        f"width: {reason}. Use --format {other}, or see docs/export.md")
    return kind


def pad_multiple_of(model: nn.Module) -> int:
    """The model's size multiple (1 if it has none)."""
    return max(1, int(getattr(model, "pad_multiple", 1) or 1))


def default_example_size(pad_multiple: int) -> tuple[int, int]:
    """An example ``(H, W)`` that needs padding in both dimensions.

    Tracing records only the branch the example takes: an example that is already a multiple
    of ``pad_multiple`` would record *no* padding, and the file would fail on other sizes. So
    each side is ``k * pad_multiple + 1`` (at least :data:`EXAMPLE_MIN_SIDE`), and the width
    is larger than the height.

    Example:
        >>> default_example_size(16)
        (65, 97)
    """
    multiple = max(1, pad_multiple)

    def side(minimum: int) -> int:
        return math.ceil(minimum / multiple) * multiple + 1

    return side(EXAMPLE_MIN_SIDE), side(EXAMPLE_MIN_SIDE + EXAMPLE_EXTRA_WIDTH)


def check_example_size(size: tuple[int, int] | None, pad_multiple: int) -> tuple[int, int]:
    """Validate a user-given example size (or return the default one).

    Raises:
        UserError: a side is not larger than the pad multiple, or is a multiple of it (the
            traced graph would then hold no padding and fail on other sizes).
    """
    if size is None:
        return default_example_size(pad_multiple)
    height, width = (int(v) for v in size)
    for label, value in (("height", height), ("width", width)):
        if value <= pad_multiple:
            raise UserError(f"example {label} {value} must be larger than the model's pad "
                            f"multiple {pad_multiple}")
        if pad_multiple > 1 and value % pad_multiple == 0:
            raise UserError(f"example {label} {value} is a multiple of the model's pad multiple "
                            f"{pad_multiple}: the traced graph would not pad other sizes; use "
                            f"e.g. {value + 1}")
    return height, width


def verify_size(example: tuple[int, int], pad_multiple: int) -> tuple[int, int]:
    """A second ``(H, W)``, different from the example in both sides and needing padding,
    on which an exported file is checked against eager PyTorch."""
    height, width = example
    multiple = max(1, pad_multiple)
    new_h = height + multiple + 2 if multiple > 2 else height + 3
    new_w = max(multiple + 1, width - multiple - 3)
    if new_w == width:
        new_w = width + 5
    return new_h, new_w


@dataclass
class ExportSetup:
    """What both exporters start from (see :func:`prepare_export`).

    Attributes:
        target: the file to write.
        kind: the model's registry kind (``"generator"`` or ``"classifier"``).
        model: the model, in eval mode, float32, on the CPU.
        wrapper: the :class:`ExportWrapper` that is traced (eval mode).
        pad_multiple: the model's size multiple.
        example: ``(H, W)`` of the traced example.
        example_batch: the ``(1, 3, H, W)`` example input, drawn from ``generator``.
        generator: the seeded generator, to draw the verification input from next.
    """

    target: Path
    kind: str
    model: nn.Module
    wrapper: ExportWrapper
    pad_multiple: int
    example: tuple[int, int]
    example_batch: Tensor
    generator: torch.Generator


def prepare_export(model: nn.Module, path: str | os.PathLike, fmt: str, *,
                   example_size: tuple[int, int] | None = None, overwrite: bool = False,
                   seed: int = VERIFY_SEED) -> ExportSetup:
    """Check that ``model`` can be exported to ``fmt`` at ``path`` and build what is traced.

    Args:
        model: a generator or the frame classifier built by ``create_model`` / ``load_model``.
        path: the file to write.
        fmt: ``"onnx"`` or ``"torchscript"``.
        example_size: ``(H, W)`` of the traced example (default :func:`default_example_size`).
        overwrite: allow replacing an existing file.
        seed: seed of the example input (the same generator then draws the verification
            input).

    Returns:
        An :class:`ExportSetup`.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        UserError: the model cannot be exported to ``fmt``, or ``example_size`` is invalid.

    Example:
        >>> from deblurkit.models import create_model
        >>> setup = prepare_export(create_model("s4_deblurnet", num_blocks=1), "s4.pt",
        ...                        "torchscript")                    # doctest: +SKIP
        >>> setup.example_batch.shape                                 # doctest: +SKIP
        torch.Size([1, 3, 65, 97])
    """
    from deblurkit.errors import OutputExistsError

    target = Path(path)
    if not overwrite and target.exists():
        raise OutputExistsError(target)
    kind = check_exportable(model, fmt)
    model = model.eval().float().cpu()
    wrapper = ExportWrapper(model, clamp=kind == "generator").eval()
    pad_multiple = pad_multiple_of(model)
    example = check_example_size(example_size, pad_multiple)
    generator = torch.Generator().manual_seed(seed)
    example_batch = torch.rand(1, 3, *example, generator=generator)
    return ExportSetup(target, kind, model, wrapper, pad_multiple, example, example_batch,
                       generator)


def first_error_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when the message is empty
    (exporters raise long multi-line errors; a UserError carries one line).

    Example:
        >>> first_error_line(RuntimeError("bad shape\\nTraceback detail"))
        'bad shape'
        >>> first_error_line(ValueError())
        'ValueError'
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def export_metadata(model: nn.Module, *, kind: str, fmt: str,
                    example: tuple[int, int], receptive_field: int | None,
                    extra: dict[str, Any] | None = None) -> dict[str, str]:
    """String metadata stored in an exported file.

    Keys: ``deblurkit_name``, ``deblurkit_kwargs`` (JSON), ``deblurkit_kind``,
    ``deblurkit_version``, ``metadata_version``, ``format``, ``input_layout``, ``input_range``,
    ``output_range``, ``output_clamped``, ``pad_multiple``, ``min_size``, ``example_size``
    and ``receptive_field`` (only when known).
    """
    from deblurkit import __version__

    pad_multiple = pad_multiple_of(model)
    generator = kind == "generator"
    data = {
        "deblurkit_name": str(getattr(model, "deblurkit_name", "") or type(model).__name__),
        "deblurkit_kwargs": json.dumps(getattr(model, "deblurkit_kwargs", {}) or {},
                                       sort_keys=True),
        "deblurkit_kind": kind,
        "deblurkit_version": str(__version__),
        "metadata_version": str(METADATA_VERSION),
        "format": fmt,
        "input_layout": "NCHW, float32, RGB",
        "input_range": "[0, 1]",
        "output_layout": "NCHW, float32, RGB" if generator else "N, float32, P(blurred)",
        "output_range": "[0, 1]",
        "output_clamped": "true" if generator else "false",
        "pad_multiple": str(pad_multiple),
        # the graph pads with reflection, which needs a pad smaller than the side; smaller
        # inputs must be padded by the caller (OnnxBackend does, exactly as eager PyTorch)
        "min_size": str(pad_multiple),
        "example_size": f"{example[0]}x{example[1]}",
    }
    if receptive_field is not None:
        data["receptive_field"] = str(int(receptive_field))
    for key, value in (extra or {}).items():
        data[str(key)] = value if isinstance(value, str) else json.dumps(value)
    return data


def measure_receptive_field_or_none(model: nn.Module, kind: str) -> int | None:
    """The generator's receptive field measured by
    :func:`deblurkit.inference.backends.measure_receptive_field` (None for the classifier or
    when the measurement fails), stored in the file for the tiler."""
    if kind != "generator":
        return None
    known = getattr(model, "receptive_field", None)
    if isinstance(known, int):
        return known
    try:
        from deblurkit.inference.backends import measure_receptive_field
    except ImportError:
        return None
    try:
        return int(measure_receptive_field(model, pad_multiple=pad_multiple_of(model)))
    except (RuntimeError, MemoryError, ValueError) as exc:
        logger.warning("receptive field not measured (%s); not stored", exc)
        return None


def load_model_spec(spec: str | os.PathLike) -> nn.Module:
    """The model to export: ``"default"`` / ``"default_selector"`` (the bundled weights,
    :mod:`deblurkit.pretrained`), a registered name (untrained weights, with a warning) or a
    ``.safetensors`` file written by :func:`deblurkit.models.weights.save_model`.

    Raises:
        UserError: an unknown name, an unreadable file, or an already exported file.

    Example:
        >>> net = load_model_spec("s4_deblurnet")    # doctest: +SKIP
    """
    from deblurkit.models import create_model

    from deblurkit.pretrained import BUNDLED, load_bundled

    text = os.fspath(spec)
    if text in BUNDLED:
        return load_bundled(text)
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix in (".onnx", ".pt", ".ts", ".pth", ".jit"):
        raise UserError(f"{text}: give a model name or a .safetensors file saved by deblurkit "
                        "(this file is not a deblurkit weight file)")
    if suffix == ".safetensors" or path.is_file():
        from deblurkit.models.weights import load_model

        if not path.is_file():
            raise UserError(f"{text}: weight file not found")
        return load_model(path).eval()
    model = create_model(text)
    warnings.warn(f"{text}: exporting UNTRAINED weights (a registered name was given, not a "
                  "weight file); the exported model will not restore images", UserWarning,
                  stacklevel=2)
    return model.eval()


@contextlib.contextmanager
def quiet_tracing() -> Iterator[None]:
    """Silence the warnings tracing is expected to raise: TracerWarnings about Python booleans
    taken from shapes (the example is chosen so that the recorded branches are the general
    ones, and every export is verified on a second size) and the legacy ONNX exporter's
    deprecation notice."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        # e.g. "instance_norm is set to train=True": InstanceNorm always normalises with the
        # input's own statistics, which is what the exported graph does
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        yield
