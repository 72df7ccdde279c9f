"""Argument helpers shared by several subcommands, and the model options that ``restore``,
``video``, ``serve`` and ``eval`` declare once (:func:`add_model_arguments`)."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from deblurkit.models.files import ModelSpec

T = TypeVar("T")

#: Compute precisions of ``--dtype`` (:data:`deblurkit.inference.backends.DTYPES`).
DTYPE_CHOICES = ("fp32", "bf16", "fp16")
#: Inference engines of ``--backend`` (:data:`deblurkit.inference.resolve.BACKENDS`).
BACKEND_CHOICES = ("torch", "onnxruntime")
#: View counts of ``--tta-views`` (:data:`deblurkit.inference.tta.TTA_MODES` besides 1).
TTA_VIEW_CHOICES = (2, 4, 8)


def existing_dir(value: str) -> Path:
    """argparse type: a folder that exists."""
    path = Path(value)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value}: not a folder")
    return path


def _require(value: str, ok: bool, requirement: str) -> None:
    """Raise the argparse error ``'<value>' <requirement>`` unless ``ok``."""
    if not ok:
        raise argparse.ArgumentTypeError(f"{value!r} {requirement}")


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def positive_int(value: str) -> int:
    """argparse type: an integer > 0."""
    number = _integer(value)
    _require(value, number > 0, "must be > 0")
    return number


def non_negative_int(value: str) -> int:
    """argparse type: an integer >= 0."""
    number = _integer(value)
    _require(value, number >= 0, "must be >= 0")
    return number


def odd_int(minimum: int = 1) -> Callable[[str], int]:
    """argparse type factory: an odd integer >= ``minimum`` (window sides).

    Example:
        >>> odd_int(3)("7")
        7
    """

    def parse(value: str) -> int:
        number = _integer(value)
        _require(value, number >= minimum and number % 2 == 1,
                 f"must be an odd integer >= {minimum}")
        return number

    parse.__name__ = f"odd_int_{minimum}"
    return parse


def positive_float(value: str) -> float:
    """argparse type: a finite number > 0 (NaN refused)."""
    number = _number(value)
    _require(value, number > 0 and math.isfinite(number), "must be a finite number > 0")
    return number


def non_negative_float(value: str) -> float:
    """argparse type: a finite number >= 0 (NaN refused)."""
    number = _number(value)
    _require(value, number >= 0 and math.isfinite(number), "must be a finite number >= 0")
    return number


def unit_float(value: str) -> float:
    """argparse type: a number in ``[0, 1]`` (NaN refused)."""
    number = _number(value)
    _require(value, 0.0 <= number <= 1.0, "must be in [0, 1]")
    return number


def reworded(parse: Callable[[str], T], value: str, requirement: str) -> T:
    """``parse(value)`` with its argparse error replaced by ``'<value>' <requirement>`` (for
    types that also take words such as ``auto``, whose message must name them).

    Example:
        >>> reworded(positive_int, "4", "must be a positive integer or 'auto'")
        4
    """
    try:
        return parse(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{value!r} {requirement}") from None


def tile_arg(value: str) -> int | str | None:
    """argparse type for --tile: ``auto``, ``0``/``none`` (whole image) or a side > 0.

    Example:
        >>> tile_arg("auto"), tile_arg("0"), tile_arg("256")
        ('auto', None, 256)
    """
    text = value.strip().lower()
    if text == "auto":
        return "auto"
    if text in ("0", "none", "off"):
        return None
    return reworded(positive_int, value, "is not auto, 0 or a tile size > 0")


def overlap_arg(value: str) -> int | str:
    """argparse type for --overlap: ``auto`` (the model's receptive field) or pixels >= 0.

    Example:
        >>> overlap_arg("auto"), overlap_arg("8")
        ('auto', 8)
    """
    if value.strip().lower() == "auto":
        return "auto"
    return reworded(non_negative_int, value, "must be an integer >= 0 or 'auto'")


def json_value(value: str) -> Any:
    """argparse type: a JSON text, parsed (what it must hold is checked by its user: for
    ``--arch-kwargs``, :func:`deblurkit.models.weights.check_architecture_arguments`).

    Example:
        >>> json_value('{"width": 32}')
        {'width': 32}
    """
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not JSON ({exc.msg})") from None


def add_arch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--arch`` / ``--arch-kwargs``: the architecture of a state-dict ``--model`` (declared
    once, for the restoring commands and ``export``)."""
    parser.add_argument("--arch", default=None, metavar="NAME",
                        help="the registered network (see `deblurkit models`) a state-dict "
                             "--model is for: the file is read as tensors only (no pickled code "
                             "runs), BasicSR's params_ema (else params) taken, a module. "
                             "prefix stripped, official NAFNet names mapped (--arch nafnet_*), "
                             "keys and shapes checked before the network is built")
    parser.add_argument("--arch-kwargs", type=json_value, default=None, metavar="JSON",
                        help="constructor arguments of --arch as a JSON object, overriding "
                             "its registered defaults, e.g. '{\"width\": 64}' (see "
                             "`deblurkit models`); checked like a .safetensors file's stored "
                             "arguments")


def add_model_arguments(parser: argparse.ArgumentParser, *, model_default: str | None = "default",
                        model_help: str = "the bundled default model",
                        tile_default: str | None = "auto") -> None:
    """The model options, declared once: ``--model``, ``--arch`` / ``--arch-kwargs``,
    ``--backend``, ``--tile``, ``--overlap``, ``--device``, ``--dtype``,
    ``--no-channels-last``, ``--tta`` / ``--tta-views``, ``--no-guard``. :func:`make_restorer`
    turns them into a ``Restorer``.

    Args:
        parser: the subcommand's parser.
        model_default: the ``--model`` default (None: no model, e.g. ``eval``'s baseline).
        model_help: what the default means, for ``--help``.
        tile_default: the ``--tile`` default (``"auto"``; None: whole images).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_model_arguments(parser)
        >>> args = parser.parse_args([])
        >>> args.model, args.tile, args.overlap, args.dtype, args.tta
        ('default', 'auto', 'auto', 'fp32', 1)
        >>> args = parser.parse_args(["--model", "w.pth", "--arch", "nafnet_w32",
        ...                           "--arch-kwargs", '{"width": 64}'])
        >>> args.arch, args.arch_kwargs
        ('nafnet_w32', {'width': 64})
    """
    parser.add_argument("--model", default=model_default, metavar="NAME|FILE",
                        help="default (the bundled model), a registered model name (untrained "
                             "weights), .safetensors, .onnx or TorchScript .pt/.ts file, or "
                             "with --arch a state dict (.pth, .pt saved with torch.save, .bin, "
                             ".ckpt, .safetensors without deblurkit metadata) (default: "
                             f"{model_help})")
    add_arch_arguments(parser)
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="torch",
                        help="inference engine (onnxruntime needs an .onnx --model; default "
                             "torch)")
    parser.add_argument("--tile", type=tile_arg, default=tile_default, metavar="SIZE|auto",
                        help="restore in overlapping tiles of SIZE pixels; auto: from free "
                             f"memory; 0: whole image (default {tile_default or 0})")
    parser.add_argument("--overlap", type=overlap_arg, default="auto", metavar="PX|auto",
                        help="minimum tile overlap in pixels, or auto = the model's "
                             "receptive field, which makes tiled and whole-image outputs agree "
                             "(default auto)")
    parser.add_argument("--device", default="auto", metavar="auto|cpu|cuda[:N]",
                        help="where the model runs (default auto: CUDA when available)")
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default="fp32",
                        help="compute precision (fp16 needs CUDA; default fp32)")
    parser.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                        help="keep the default NCHW memory format")
    parser.add_argument("--tta", dest="tta", action="store_const", const=8, default=1,
                        help="quality mode: restore the 8 flips and 90-degree rotations and "
                        "average them (8 times the time; gain and cost in docs/restore.md)")
    parser.add_argument("--tta-views", dest="tta", type=int, choices=TTA_VIEW_CHOICES,
                        metavar="N",
                        help="--tta with N views (2: + horizontal flip, 4: rotations, 8: all)")
    parser.add_argument("--no-guard", dest="guard", action="store_false",
                        help="run the bundled model without the low-pass guard its card "
                             "attaches (the default's; docs/default-model.md, 'Do no harm')")


def add_classifier_argument(parser: argparse.ArgumentParser) -> None:
    """``--classifier``: the frame classifier of ``--select classifier`` / ``middle15`` (it
    runs on ``--device`` with ``--dtype``)."""
    parser.add_argument("--classifier", default="default", metavar="NAME|FILE",
                        help="frame classifier for classifier/middle15: default (the bundled "
                             "one), a registered classifier name (s4_frame_selector, "
                             "untrained), .safetensors, .onnx or TorchScript .pt/.ts file "
                             "(default: the bundled one)")


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The :class:`~deblurkit.models.files.ModelSpec` of ``--model`` / ``--arch`` /
    ``--arch-kwargs`` (a generator; no ``--model``: ``default``).

    Raises:
        UserError: ``--arch`` without a state-dict ``--model``, a state dict without
            ``--arch``, ``--arch-kwargs`` without ``--arch``, an unknown ``--arch``.

    Example:
        >>> model_spec(argparse.Namespace(model="s1_msed", arch=None, arch_kwargs=None)).source
        'registered'
    """
    from deblurkit.models.files import parse_model_spec

    model = "default" if args.model is None else args.model
    return parse_model_spec(model, kind="generator", arch=getattr(args, "arch", None),
                            arch_kwargs=getattr(args, "arch_kwargs", None))


def make_restorer(args: argparse.Namespace) -> Any:
    """The :class:`~deblurkit.inference.restorer.Restorer` of :func:`add_model_arguments`'
    options (the model is loaded here, once).

    Raises:
        UserError: the model, device or precision cannot be used.
    """
    from deblurkit.inference.restorer import Restorer

    model: Any = model_spec(args)
    if not getattr(args, "guard", True):
        model = unguarded_network(model, args.backend)
    return Restorer(model, tile=args.tile,
                    overlap=args.overlap, device=args.device, dtype=args.dtype,
                    channels_last=args.channels_last, backend=args.backend, tta=args.tta)


def unguarded_network(spec: ModelSpec, backend: str) -> Any:
    """The network of a bundled ``spec`` with its card's guard taken off (``--no-guard``).

    Raises:
        UserError: ``--no-guard`` with a model that has no guard to take off (only bundled
            models carry one; an exported file has it in its graph).
    """
    from deblurkit.errors import UserError
    from deblurkit.models.files import load_network
    from deblurkit.pretrained import bundled_card

    if spec.source != "bundled" or backend != "torch":
        raise UserError(f"{spec.text}: --no-guard applies to a bundled model on the torch "
                        "backend (an exported file has its guard in its graph)")
    if bundled_card(str(spec.name)).guard is None:  # refused before any weights are read
        raise UserError(f"{spec.text}: this bundled model has no guard (--no-guard changes "
                        "nothing)")
    return load_network(spec, kind="generator", guard=False)
