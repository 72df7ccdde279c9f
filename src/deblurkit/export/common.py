"""What the ONNX and TorchScript exporters share: which models export, the wrapper that is
traced, the example input, and the metadata stored beside the graph (a
:class:`~deblurkit.models.files.ModelFileInfo`, which the backends read back).

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
from deblurkit.models.files import ModelFileInfo

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
#: Seed of the example input traced and of the inputs used to verify an export.
VERIFY_SEED = 0

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


def check_exportable(model: nn.Module) -> str:
    """The model's registry kind, when it is one that exports (:data:`EXPORTABLE_KINDS`).

    Every registered generator and the classifier export to both formats
    (``tests/test_export.py`` checks each one).

    Raises:
        UserError: a discriminator or feature extractor.

    Example:
        >>> from deblurkit.models import create_model
        >>> check_exportable(create_model("s4_deblurnet", num_blocks=1))
        'generator'
    """
    name = getattr(model, "deblurkit_name", None) or type(model).__name__
    kind = model_kind(model)
    if kind not in EXPORTABLE_KINDS:
        raise UserError(f"model {name!r} is a {kind}; only generators and the frame classifier "
                        "can be exported")
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


def prepare_export(model: nn.Module, path: str | os.PathLike, *,
                   example_size: tuple[int, int] | None = None, overwrite: bool = False,
                   seed: int = VERIFY_SEED) -> ExportSetup:
    """Check that ``model`` can be exported to ``path`` and build what is traced.

    Args:
        model: a generator or the frame classifier built by ``create_model`` / ``load_model``.
        path: the file to write.
        example_size: ``(H, W)`` of the traced example (default :func:`default_example_size`).
        overwrite: allow replacing an existing file.
        seed: seed of the example input (the same generator then draws the verification
            input).

    Returns:
        An :class:`ExportSetup`.

    Raises:
        OutputExistsError: ``path`` exists and ``overwrite`` is false.
        UserError: the model cannot be exported, or ``example_size`` is invalid.

    Example:
        >>> from deblurkit.models import create_model
        >>> setup = prepare_export(create_model("s4_deblurnet", num_blocks=1),
        ...                        "s4.pt")                          # doctest: +SKIP
        >>> setup.example_batch.shape                                 # doctest: +SKIP
        torch.Size([1, 3, 65, 97])
    """
    from deblurkit.errors import OutputExistsError

    target = Path(path)
    if not overwrite and target.exists():
        raise OutputExistsError(target)
    kind = check_exportable(model)
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
                    extra: dict[str, Any] | None = None) -> ModelFileInfo:
    """The :class:`~deblurkit.models.files.ModelFileInfo` stored in an exported file.

    Args:
        model: the exported network (its ``deblurkit_name`` / ``deblurkit_kwargs``).
        kind: its registry kind.
        fmt: ``"onnx"`` or ``"torchscript"``.
        example: ``(H, W)`` of the traced example.
        receptive_field: the measured receptive field (None: not stored).
        extra: further keys (values that are not strings are stored as JSON).

    Returns:
        The description; ``.to_strings()`` is what the file holds.

    Example:
        >>> from deblurkit.models import create_model
        >>> info = export_metadata(create_model("s4_deblurnet", num_blocks=1),
        ...                        kind="generator", fmt="onnx", example=(65, 97),
        ...                        receptive_field=None)
        >>> info.to_strings()["example_size"]
        '65x97'
    """
    from deblurkit import __version__

    pad_multiple = pad_multiple_of(model)
    return ModelFileInfo(
        name=str(getattr(model, "deblurkit_name", "") or type(model).__name__),
        kwargs=dict(getattr(model, "deblurkit_kwargs", {}) or {}), kind=kind, format=fmt,
        pad_multiple=pad_multiple,
        # the graph pads with reflection, which needs a pad smaller than the side; smaller
        # inputs must be padded by the caller (the backends do, exactly as eager PyTorch)
        min_size=pad_multiple, example_size=example, receptive_field=receptive_field,
        deblurkit_version=str(__version__),
        extra={str(k): v if isinstance(v, str) else json.dumps(v)
               for k, v in (extra or {}).items()})


def measure_receptive_field_or_none(model: nn.Module, kind: str) -> int | None:
    """The generator's receptive field measured by
    :func:`deblurkit.models.receptive_field.measure_receptive_field` (None for the classifier
    or when the measurement fails), stored in the file for the tiler."""
    from deblurkit.models.receptive_field import measure_receptive_field

    if kind != "generator":
        return None
    known = getattr(model, "receptive_field", None)
    if isinstance(known, int):
        return known
    try:
        return int(measure_receptive_field(model, pad_multiple=pad_multiple_of(model)))
    except (RuntimeError, MemoryError, ValueError) as exc:
        logger.warning("receptive field not measured (%s); not stored", exc)
        return None


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
