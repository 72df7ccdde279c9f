"""Weight files: save and load deblurkit models, and read third-party state dicts safely.

safetensors is the project's format. A model saved with :func:`save_model` stores, beside its
tensors, the registered name and the constructor arguments it was built with, so
:func:`load_model` rebuilds it from the file alone. Third-party weights (``.pth`` / ``.pt`` /
``.bin`` / ``.ckpt``) are only ever opened with ``torch.load(..., weights_only=True)``, which
refuses pickled code.

Loading never silently ignores a key: :func:`load_state_dict_checked` compares the keys and
shapes of a state dict with a model and raises a :class:`~deblurkit.errors.UserError` naming every
missing, unexpected and shape-mismatched key. Keys the caller explicitly chooses to skip
(``ignore``, e.g. a classifier head) are reported in a log line.

File layout (``format_version`` 1): a safetensors file whose string metadata holds

- ``deblurkit_name``: the registered model name (``create_model(name)``),
- ``deblurkit_kwargs``: the constructor keyword arguments as JSON,
- ``format_version``: ``"1"``,
- any user metadata (string values; other JSON values are stored JSON-encoded).

Example:
    >>> from deblurkit.models import create_model                      # doctest: +SKIP
    >>> net = create_model("s1_msed", base_width=16)                    # doctest: +SKIP
    >>> save_model(net, "msed.safetensors", metadata={"epoch": 3})     # doctest: +SKIP
    >>> again = load_model("msed.safetensors")                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.utils.atomic import atomic_path

logger = logging.getLogger(__name__)

#: Version of the metadata layout written by :func:`save_model`.
FORMAT_VERSION = 1
#: Metadata keys written by :func:`save_model` (user metadata may not use them).
RESERVED_METADATA_KEYS = ("deblurkit_name", "deblurkit_kwargs", "format_version", "storage_dtype")
#: Suffixes read with safetensors.
SAFETENSORS_SUFFIXES = (".safetensors",)
#: Suffixes read with ``torch.load(..., weights_only=True)``.
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
#: Keys of checkpoint dictionaries that wrap the state dict, tried in this order
#: (``params_ema`` before ``params``: BasicSR checkpoints keep the EMA weights there;
#: ``net_g``: the generator of GAN checkpoints).
WRAPPER_KEYS = ("state_dict", "model", "net_g", "params_ema", "params")
#: Key prefixes added by wrappers (``nn.DataParallel`` / DDP, ``torch.compile``), stripped when
#: every key carries them.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
#: How many keys an error message lists per category before "... and N more".
MAX_KEYS_LISTED = 8
#: How many keys the refusal of a file whose tensors do not match its architecture lists
#: per category (:func:`check_shapes`), in sorted order, before "... and N more".
FIRST_KEYS_LISTED = 4
#: Marker of the line of a ``torch.load(weights_only=True)`` refusal that names what was
#: refused (the lines before it only explain how to load the file unsafely).
WEIGHTS_ONLY_REASON = "WeightsUnpickler error:"
#: Name of the static method a model class may define to rename the keys of state dicts
#: written by its original (third-party) code: ``hook(state) -> state``, returning ``state``
#: unchanged when its keys are not in that layout (e.g. ``NAFNet.from_foreign_state_dict``).
#: :func:`load_state_dict_model` calls it before comparing keys and shapes.
FOREIGN_KEYS_HOOK = "from_foreign_state_dict"


def _list_keys(keys: list[str], limit: int = MAX_KEYS_LISTED) -> str:
    shown = ", ".join(keys[:limit])
    if len(keys) > limit:
        shown += f", ... and {len(keys) - limit} more"
    return shown


def _tensors_for_saving(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """CPU, contiguous tensors; entries sharing storage (tied weights) are cloned apart,
    because safetensors refuses aliased tensors. Loading fills each alias from its own copy."""
    out: dict[str, Tensor] = {}
    storages: set[int] = set()
    for key, value in state_dict.items():
        tensor = value.detach().to("cpu").contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if tensor.numel() > 0 and pointer in storages:
            tensor = tensor.clone()
        storages.add(tensor.untyped_storage().data_ptr())
        out[key] = tensor
    return out


def save_model(model: nn.Module, path: str | os.PathLike, *,
               metadata: Mapping[str, Any] | None = None, overwrite: bool = True,
               storage_dtype: torch.dtype | None = None) -> Path:
    """Save ``model`` (built by :func:`~deblurkit.models.create_model`) as safetensors.

    Args:
        model: a module carrying ``deblurkit_name`` / ``deblurkit_kwargs`` (set by
            ``create_model``).
        path: destination file (``.safetensors`` recommended); written atomically.
        metadata: extra key/value pairs stored in the header; string values are stored as
            they are, anything else JSON-encoded. Keys in :data:`RESERVED_METADATA_KEYS` are
            refused.
        overwrite: if False and ``path`` exists, raise
            :class:`~deblurkit.errors.OutputExistsError`.
        storage_dtype: store floating-point tensors in this type (``torch.float16`` halves
            the file); :func:`load_model` casts them back to the model's own type. ``None``
            keeps each tensor's type. The header records the choice (``storage_dtype``).

    Returns:
        The path written.

    Raises:
        UserError: the model was not created with ``create_model``, its constructor arguments
            are not JSON-serializable, or ``metadata`` uses a reserved key.

    Example:
        >>> save_model(create_model("s1_msed"), "net.safetensors")   # doctest: +SKIP
    """
    from safetensors.torch import save_file

    name = getattr(model, "deblurkit_name", None)
    if not name:
        raise UserError(f"{os.fspath(path)}: cannot save a {type(model).__name__} that was not "
                        "built with deblurkit.models.create_model (it has no deblurkit_name)")
    kwargs = dict(getattr(model, "deblurkit_kwargs", {}) or {})
    # Arguments that load initial weights from elsewhere (``pretrained_backbone=...``) are not
    # needed to rebuild a saved model: the saved tensors supersede them.
    kwargs.update({k: None for k in kwargs if k.startswith("pretrained")})
    try:
        kwargs_json = json.dumps(kwargs, sort_keys=True)
    except TypeError as exc:
        raise UserError(f"{os.fspath(path)}: constructor arguments of {name!r} are not "
                        f"JSON-serializable ({exc})") from None
    header = {"deblurkit_name": str(name), "deblurkit_kwargs": kwargs_json,
              "format_version": str(FORMAT_VERSION)}
    for key, value in (metadata or {}).items():
        if key in RESERVED_METADATA_KEYS:
            raise UserError(f"{os.fspath(path)}: metadata key {key!r} is reserved by deblurkit")
        header[str(key)] = value if isinstance(value, str) else json.dumps(value)
    tensors = _tensors_for_saving(model.state_dict())
    if storage_dtype is not None:
        if not storage_dtype.is_floating_point:
            raise UserError(f"{os.fspath(path)}: storage_dtype must be a floating-point type, "
                            f"not {storage_dtype}")
        tensors = {k: v.to(storage_dtype) if v.is_floating_point() else v
                   for k, v in tensors.items()}
        header["storage_dtype"] = str(storage_dtype).removeprefix("torch.")
    with atomic_path(path, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file (empty dict if it has none).

    Raises:
        UserError: the file is missing or is not a readable safetensors file.
    """
    from safetensors import safe_open

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{file}: weight file not found")
    try:
        with safe_open(str(file), framework="pt", device="cpu") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types
        raise UserError(f"{file}: not a readable safetensors file ({exc})") from None


#: JSON value types a stored constructor argument may have.
_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return False


@dataclass(frozen=True)
class ArchitectureOrigin:
    """Who describes the architecture of a weight file, as its check's messages name it.

    Attributes:
        arguments: the constructor arguments' name (``deblurkit_kwargs``, ``--arch-kwargs``).
        container: where they come from (``deblurkit_kwargs metadata``, ``--arch-kwargs``).
        builder: who "does not build" the model (``its stored arguments``, ``--arch-kwargs``).
        architecture: the architecture the tensors must match (``its stored architecture``,
            ``--arch``).

    Example:
        >>> GIVEN_ARCHITECTURE.architecture
        '--arch'
    """

    arguments: str
    container: str
    builder: str
    architecture: str


#: A ``.safetensors`` model file's own header names its architecture (:func:`load_model`).
STORED_ARCHITECTURE = ArchitectureOrigin("deblurkit_kwargs", "deblurkit_kwargs metadata",
                                         "its stored arguments", "its stored architecture")
#: ``--arch NAME --arch-kwargs JSON`` name the architecture of a state dict
#: (:func:`load_state_dict_model`).
GIVEN_ARCHITECTURE = ArchitectureOrigin("--arch-kwargs", "--arch-kwargs", "--arch-kwargs",
                                        "--arch")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", tuple: "a list"}.get(type(value), type(value).__name__)


def _value_problem(value: Any, reference: Any) -> str:
    """Why a stored argument cannot stand where its default ``reference`` does ("" if it can):
    the same JSON type (an integer may stand for a number), a count or size at least 1 where
    the default is, at least 0 where the default is 0, lists element by element (or one value
    standing for every element, which the builder may refuse)."""
    if reference is None or value is None:
        return ""
    if isinstance(reference, bool) or isinstance(value, bool):
        ok = isinstance(reference, bool) and isinstance(value, bool)
        return "" if ok else f"must be {_type_name(reference)}, got {_type_name(value)}"
    if isinstance(reference, int):
        if not isinstance(value, int):
            return f"must be an integer, got {_type_name(value)}"
        floor = 1 if reference > 0 else 0 if reference == 0 else None
        if floor is not None and value < floor:
            return f"must be at least {floor}, got {value}"
        return ""
    if isinstance(reference, float):
        ok = isinstance(value, (int, float))
        return "" if ok else f"must be a number, got {_type_name(value)}"
    if isinstance(reference, str):
        return "" if isinstance(value, str) else f"must be a string, got {_type_name(value)}"
    if isinstance(reference, (list, tuple)):
        if not isinstance(value, list):
            if reference and not isinstance(value, str):
                # one value for every level (``per_level`` arguments take either)
                problem = _value_problem(value, reference[0])
                return f"must be a list, or one value for every level: {problem}" if problem else ""
            return f"must be a list, got {_type_name(value)}"
        if reference:
            for item in value:
                problem = _value_problem(item, reference[0])
                if problem:
                    return f"items {problem.replace('must be', 'must each be', 1)}"
    return ""


def _schema_problem(name: str, kwargs: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first stored argument of the registered model ``name`` whose type or range does
    not fit its default (the variant's bound value, else the builder's signature default),
    with the reason; None when all fit. Arguments without a default are left to the builder."""
    import inspect

    from deblurkit.models.registry import get_entry

    entry = get_entry(name)
    try:
        parameters = inspect.signature(entry.builder).parameters
    except (TypeError, ValueError):
        return None
    for key, value in kwargs.items():
        if key in entry.defaults:
            reference = entry.defaults[key]
        elif key in parameters and parameters[key].default is not inspect.Parameter.empty:
            reference = parameters[key].default
        else:
            continue
        problem = _value_problem(value, reference)
        if problem:
            return key, problem
    return None


class _TooManyTensors(Exception):
    """Raised inside the ``meta`` build once it registers more tensors than allowed."""


@contextlib.contextmanager
def _tensor_budget(limit: int | None) -> Iterator[None]:
    """Abort a network build (in this thread) that registers more than ``limit`` parameters
    and buffers: stored arguments asking for a million blocks fail at once instead of
    spending minutes building them on ``meta``."""
    if limit is None:
        yield
        return
    from torch.nn.modules import module as module_hooks

    thread, count = threading.get_ident(), [0]

    def hook(module: nn.Module, name: str, value: Any) -> None:
        if threading.get_ident() == thread:
            count[0] += 1
            if count[0] > limit:
                raise _TooManyTensors

    handles = [module_hooks.register_module_parameter_registration_hook(hook),
               module_hooks.register_module_buffer_registration_hook(hook)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


#: A stored architecture may register at most this many times the tensors its file holds
#: (plus :data:`TENSOR_BUDGET_SLACK`) while it is built on ``meta`` (re-registrations and
#: non-persistent buffers are counted too, hence the margin).
TENSOR_BUDGET_FACTOR = 4
TENSOR_BUDGET_SLACK = 64


def check_architecture_arguments(file: Path, name: str, kwargs: Any,
                                 origin: ArchitectureOrigin = STORED_ARCHITECTURE, *,
                                 stored_tensors: int | None = None
                                 ) -> dict[str, tuple[int, ...]]:
    """Check constructor arguments for a weight file and build the network on the ``meta``
    device (shapes only, no memory).

    Args:
        file: the weight file (named in messages).
        name: the registered model name.
        kwargs: its constructor arguments: a mapping of plain JSON values (anything else is
            refused before the model sees it).
        origin: who gave ``name`` / ``kwargs`` (for the messages).
        stored_tensors: the number of tensors the file holds, when known before the build: a
            build that registers far more (:data:`TENSOR_BUDGET_FACTOR`) is stopped at once.

    Returns:
        ``{state dict key: shape}`` of the network these arguments build.

    Raises:
        UserError: naming the file and the problem (not a JSON object, a value that is not
            plain JSON, arguments the model refuses).

    Example:
        >>> shapes = check_architecture_arguments(Path("w.pth"), "s1_msed", {"base_width": 4})
        >>> len(shapes) > 0
        True
    """
    from deblurkit.models.registry import create_model

    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise UserError(f"{file}: {origin.container} must be a JSON object, got "
                        f"{type(kwargs).__name__}")
    bad = [k for k, v in kwargs.items() if not _plain(v)]
    if bad:
        raise UserError(f"{file}: {origin.arguments}[{bad[0]!r}] is not a plain JSON value")
    mismatch = _schema_problem(name, kwargs)
    if mismatch:
        raise UserError(f"{file}: {origin.arguments}[{mismatch[0]!r}] {mismatch[1]}")
    limit = (None if stored_tensors is None
             else TENSOR_BUDGET_FACTOR * stored_tensors + TENSOR_BUDGET_SLACK)
    try:
        with torch.device("meta"), warnings.catch_warnings(), _tensor_budget(limit):
            warnings.simplefilter("ignore")  # e.g. "zero-element tensors": refused below
            skeleton = create_model(name, **kwargs)
    except _TooManyTensors:
        raise UserError(f"{file}: {origin.builder} describe a network of more than {limit} "
                        f"tensors, the file holds {stored_tensors}") from None
    except (UserError, TypeError, ValueError, KeyError, IndexError, RuntimeError,
            ArithmeticError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{file}: {origin.builder} do not build {name!r}: {reason}") from None
    return {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}


def check_shapes(file: Path, name: str, expected: Mapping[str, tuple[int, ...]],
                 stored: Mapping[str, tuple[int, ...]],
                 origin: ArchitectureOrigin = STORED_ARCHITECTURE) -> None:
    """Compare the tensor shapes of a weight file with those of its architecture.

    Args:
        file: the weight file (named in messages).
        name: the registered model name.
        expected: ``{key: shape}`` the architecture has (:func:`check_architecture_arguments`).
        stored: ``{key: shape}`` the file holds.
        origin: who gave the architecture (for the messages).

    Raises:
        UserError: one line naming the file and the first :data:`FIRST_KEYS_LISTED` missing,
            unexpected or differently shaped tensors (sorted by key).

    Example:
        >>> check_shapes(Path("w.pth"), "net", {"w": (2,)}, {"w": (2,)})
    """
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        parts = [f"{len(missing)} missing: {_list_keys(missing, FIRST_KEYS_LISTED)}"
                 if missing else "",
                 f"{len(extra)} unexpected: {_list_keys(extra, FIRST_KEYS_LISTED)}"
                 if extra else ""]
        raise UserError(f"{file}: does not match {origin.architecture} {name!r} (tensors "
                        + "; ".join(p for p in parts if p) + ")")
    mismatched = [key for key in sorted(expected)
                  if tuple(expected[key]) != tuple(stored[key])]
    if mismatched:
        key = mismatched[0]
        more = (f" (and {len(mismatched) - 1} more: "
                f"{_list_keys(mismatched[1:], FIRST_KEYS_LISTED - 1)})"
                if len(mismatched) > 1 else "")
        raise UserError(f"{file}: shape mismatch of tensor {key!r}: {list(stored[key])} "
                        f"in the file, {list(expected[key])} by {origin.architecture} "
                        f"{name!r}{more}")


def check_untrusted_architecture(file: Path, name: str, kwargs: Any) -> None:
    """Check a weight file's stored architecture before anything is allocated.

    A weight file is untrusted input: its metadata could ask for a network of any size. The
    stored arguments must be a mapping of plain JSON values; the network is then built on the
    ``meta`` device (shapes only, no memory) and every tensor shape the arguments imply is
    compared with the shapes stored in the file (read from its header, not its data). Only a
    file whose tensors match its own description passes, so building the real network costs
    what the file itself holds. (:func:`check_architecture_arguments` + :func:`check_shapes`;
    a state dict with ``--arch`` goes through the same two, :func:`load_state_dict_model`.)

    Raises:
        UserError: naming the file and the first problem (wrong argument types, arguments the
            model refuses, missing / extra / differently shaped tensors).
    """
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            stored = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for bad headers
        raise UserError(f"{file}: not a readable safetensors file ({type(exc).__name__})") from None
    expected = check_architecture_arguments(file, name, kwargs, stored_tensors=len(stored))
    check_shapes(file, name, expected, stored)


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild and load a model saved by :func:`save_model`.

    The model is rebuilt with ``create_model(deblurkit_name, **deblurkit_kwargs)`` and its
    weights are loaded strictly (:func:`load_state_dict_checked`). The file's metadata is
    attached as ``model.deblurkit_metadata``. The model is returned in eval mode.

    Args:
        path: a ``.safetensors`` file written by :func:`save_model`.
        map_location: device to move the model to.

    Returns:
        The model, in eval mode.

    Raises:
        UserError: missing file, a file without deblurkit metadata (use
            :func:`read_state_dict` for third-party weights), a newer format version, or
            mismatching keys.

    Example:
        >>> net = load_model("net.safetensors")   # doctest: +SKIP
    """
    from deblurkit.models.registry import create_model

    file = Path(path)
    metadata = read_metadata(file)
    name = metadata.get("deblurkit_name")
    if not name:
        raise UserError(f"{file}: not a deblurkit model file (no deblurkit_name in its "
                        "metadata); for a third-party state dict give its architecture: "
                        "--model FILE --arch NAME (load_state_dict_model in Python)")
    version = int(metadata.get("format_version", "1"))
    if version > FORMAT_VERSION:
        raise UserError(f"{file}: written by a newer deblurkit (format {version}, this one "
                        f"reads up to {FORMAT_VERSION})")
    try:
        kwargs = json.loads(metadata.get("deblurkit_kwargs", "{}"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{file}: corrupt deblurkit_kwargs metadata ({exc})") from None
    check_untrusted_architecture(file, name, kwargs)
    model = create_model(name, **kwargs)
    load_state_dict_checked(model, read_state_dict(file), strict=True, source=str(file))
    model.deblurkit_metadata = metadata
    return model.to(map_location).eval()


def load_state_dict_model(path: str | os.PathLike, name: str,
                          kwargs: Mapping[str, Any] | None = None,
                          map_location: str | torch.device = "cpu") -> nn.Module:
    """Build the registered model ``name`` and fill it from a third-party state dict.

    The file is untrusted: ``kwargs`` pass the checks of a ``.safetensors`` file's stored
    arguments (:func:`check_architecture_arguments`: plain JSON values, the network built on
    the ``meta`` device) before the file is read; the file is read with
    :func:`read_state_dict` (``torch.load(weights_only=True)``, BasicSR ``params_ema`` /
    ``params`` and other wrappers, a ``module.`` prefix stripped); a model class's
    :data:`FOREIGN_KEYS_HOOK` renames the keys of its original code (official NAFNet
    checkpoints); then every key and shape is compared (:func:`check_shapes`) before the real
    network is allocated and loaded strictly.

    Args:
        path: a ``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt`` (or ``.safetensors``) state dict.
        name: the registered model name it is for (``--arch``).
        kwargs: constructor arguments overriding the variant's defaults (``--arch-kwargs``).
        map_location: device to move the model to.

    Returns:
        The model, in eval mode, carrying ``deblurkit_name`` / ``deblurkit_kwargs`` (so
        :func:`save_model` turns it into a ``.safetensors`` model file).

    Raises:
        UserError: one line naming the file: an unknown name, arguments of the wrong type or
            that the model refuses, an unreadable file, a file holding more than tensors, and
            the first missing, unexpected or differently shaped keys.

    Example:
        >>> net = load_state_dict_model("NAFNet-GoPro-width32.pth", "nafnet_w32")  # doctest: +SKIP
    """
    from deblurkit.models.registry import create_model, get_entry

    file = Path(path)
    # anything but a mapping is passed on as it is, for the check to refuse with the file named
    arguments: Any = {} if kwargs is None else (
        dict(kwargs) if isinstance(kwargs, Mapping) else kwargs)
    try:
        builder = get_entry(name).builder
    except UserError as exc:
        raise UserError(f"{file}: --arch: {exc}") from None
    expected = check_architecture_arguments(file, name, arguments, GIVEN_ARCHITECTURE)
    state = read_state_dict(file)
    hook = getattr(builder, FOREIGN_KEYS_HOOK, None)
    if hook is not None:
        adapted = hook(state)
        if list(adapted) != list(state):
            logger.info("%s: keys renamed to deblurkit's by %s.%s", file,
                        getattr(builder, "__qualname__", name), FOREIGN_KEYS_HOOK)
        state = adapted
    check_shapes(file, name, expected, {k: tuple(v.shape) for k, v in state.items()},
                 GIVEN_ARCHITECTURE)
    model = create_model(name, **arguments)
    load_state_dict_checked(model, state, strict=True, source=str(file))
    return model.to(map_location).eval()


def _unwrap(obj: Any, file: Path) -> dict[str, Tensor]:
    while isinstance(obj, Mapping) and not all(isinstance(v, Tensor) for v in obj.values()):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
        else:
            bad = [str(k) for k, v in obj.items() if not isinstance(v, Tensor)]
            raise UserError(f"{file}: not a state dict (entries that are not tensors: "
                            f"{_list_keys(bad)}; wrappers understood: {list(WRAPPER_KEYS)})")
    if not isinstance(obj, Mapping):
        raise UserError(f"{file}: holds a {type(obj).__name__}, not a state dict")
    state = {str(k): v for k, v in obj.items()}
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _torch_load_reason(exc: Exception) -> str:
    """One line saying why ``torch.load(weights_only=True)`` refused a file: the unpickler's
    own reason when there is one (``Unsupported global: GLOBAL x.Y ...``), else the first line
    of the message, without terminal colour codes."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    for i, line in enumerate(lines):
        if WEIGHTS_ONLY_REASON in line:
            reason = line.split(WEIGHTS_ONLY_REASON, 1)[1].strip()
            if not reason and i + 1 < len(lines):  # the reason on its own line
                reason = lines[i + 1]
            reason = reason.split(". Please use")[0].rstrip(".") or "refused"
            return f"{reason}: the file holds more than tensors and plain containers"
    if lines and lines[0].startswith("Weights only load failed"):
        # torch's first line advises weights_only=False, which would run the pickle: never
        return "the unpickler refused it: the file holds more than tensors and plain containers"
    return lines[0] if lines else type(exc).__name__


def read_state_dict(path: str | os.PathLike, *, hint: str | None = None) -> dict[str, Tensor]:
    """Read a state dict from ``.safetensors`` or ``.pth`` / ``.pt`` / ``.bin`` / ``.ckpt``.

    Torch pickles are opened only with ``torch.load(..., weights_only=True)`` (tensors
    and plain containers: a pickle cannot run code). Checkpoint wrappers are unwrapped
    (:data:`WRAPPER_KEYS`: ``{"state_dict": ...}``, ``{"model": ...}``, ``{"net_g": ...}``,
    BasicSR's ``params_ema``, preferred, or ``params``) and a ``module.`` (DataParallel) or
    ``_orig_mod.`` (torch.compile) prefix carried by every key is stripped.

    Args:
        path: the weight file.
        hint: appended to the "not found" message, e.g. where to put the file and where to get
            it.

    Returns:
        ``{key: tensor}`` on the CPU.

    Raises:
        UserError: the file is missing (with ``hint``), has an unknown suffix, cannot be loaded
            safely, or does not hold a state dict.

    Example:
        >>> sd = read_state_dict("vgg19.pth", hint="download it from ...")   # doctest: +SKIP
    """
    file = Path(path)
    if not file.is_file():
        message = f"{file}: weight file not found"
        raise UserError(f"{message}; {hint}" if hint else message)
    suffix = file.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors.torch import load_file
        try:
            obj: Any = load_file(str(file), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise UserError(f"{file}: not a readable safetensors file ({exc})") from None
    elif suffix in TORCH_SUFFIXES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "pickle protocol 4": one line below
                obj = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError, ...
            raise UserError(f"{file}: cannot be read with torch.load(weights_only=True) "
                            f"({_torch_load_reason(exc)})") from None
    else:
        raise UserError(f"{file}: unknown weight file type {suffix!r} (expected one of "
                        f"{list(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)})")
    return _unwrap(obj, file)


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) or key.startswith(p.rstrip(".") + ".")
               for p in patterns)


def load_state_dict_checked(model: nn.Module, state_dict: Mapping[str, Tensor], *,
                            strict: bool = True, ignore: Iterable[str] = (),
                            source: str | None = None) -> None:
    """Load ``state_dict`` into ``model`` after comparing keys and shapes.

    Args:
        model: the module to fill (in place).
        state_dict: ``{key: tensor}``, e.g. from :func:`read_state_dict`.
        strict: if True (default), any missing or unexpected key is an error. If False they
            are logged as a warning (never silently skipped) and the rest is loaded.
        ignore: key patterns to skip on both sides: ``fnmatch`` globs (``"fc.*"``) or module
            prefixes (``"classifier"`` skips ``classifier.weight`` ...). Skipped model keys
            keep their current values; skipped file keys are dropped; both are logged at INFO.
        source: name of the file the state dict came from, for messages.

    Raises:
        UserError: a shape mismatch (always), or missing / unexpected keys when ``strict``;
            the message lists the keys of each category.

    Example:
        >>> state = read_state_dict(path)                                  # doctest: +SKIP
        >>> load_state_dict_checked(vgg, state, ignore=("classifier",))   # doctest: +SKIP
    """
    patterns = tuple(ignore)
    where = source or type(model).__name__
    expected = model.state_dict()
    ignored = sorted(k for k in set(expected) | set(state_dict) if _matches(k, patterns))
    expected_keys = [k for k in expected if k not in ignored]
    given_keys = [k for k in state_dict if k not in ignored]
    missing = [k for k in expected_keys if k not in state_dict]
    unexpected = [k for k in given_keys if k not in expected]
    mismatched = [f"{k} (file {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)})"
                  for k in given_keys if k in expected
                  and tuple(state_dict[k].shape) != tuple(expected[k].shape)]
    if ignored:
        logger.info("%s: ignoring %d key(s) as asked: %s", where, len(ignored), _list_keys(ignored))
    problems = []
    if mismatched:
        problems.append(f"{len(mismatched)} shape mismatch(es): {_list_keys(mismatched)}")
    if missing and strict:
        problems.append(f"{len(missing)} missing key(s): {_list_keys(missing)}")
    if unexpected and strict:
        problems.append(f"{len(unexpected)} unexpected key(s): {_list_keys(unexpected)}")
    if problems:
        raise UserError(f"{where}: weights do not fit {type(model).__name__}: "
                        + "; ".join(problems))
    if missing:
        logger.warning("%s: %d key(s) missing, left as initialised: %s", where, len(missing),
                       _list_keys(missing))
    if unexpected:
        logger.warning("%s: %d unexpected key(s) not loaded: %s", where, len(unexpected),
                       _list_keys(unexpected))
    to_load = {k: state_dict[k] for k in given_keys if k in expected}
    model.load_state_dict(to_load, strict=False)


#: Environment variable naming deblurkit's data folder (pretrained weights go in ``weights/``).
HOME_ENV = "DEBLURKIT_HOME"
#: ``DEBLURKIT_HOME`` when the variable is not set.
DEFAULT_HOME = "~/.cache/deblurkit"
#: Batch-norm buffer absent from files saved by PyTorch < 0.4 (tolerated when missing).
BN_COUNTER = "num_batches_tracked"


# --------------------------------------------------------------------------------------------
# Published (ImageNet) weight files: VGG, InceptionResNetV2
# --------------------------------------------------------------------------------------------
def default_weights_dir() -> Path:
    """The folder pretrained weights are looked up in: ``$DEBLURKIT_HOME/weights``.

    ``DEBLURKIT_HOME`` defaults to ``~/.cache/deblurkit``.

    Example:
        >>> default_weights_dir().name
        'weights'
    """
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser() / "weights"


def pretrained_weights_path(file_name: str) -> Path:
    """Default location of a published weight file: ``default_weights_dir() / file_name``."""
    return default_weights_dir() / file_name


def load_published_weights(model: nn.Module, path: str | os.PathLike | None, *, network: str,
                           file_name: str, skip: Iterable[str] = ()) -> list[str]:
    """Load a published state dict into ``model``, skipping (and reporting) chosen keys.

    Args:
        model: the module to fill; its ``state_dict`` keys are the published names.
        path: the weight file (``.pth`` read with ``weights_only=True``, or ``.safetensors``);
            ``None`` looks for ``file_name`` in :func:`default_weights_dir`.
        network: human-readable network name for messages, e.g. ``"VGG19"``.
        file_name: the published file name (used for the default path and in the message).
        skip: file keys that the model deliberately lacks (a classifier head, deeper layers).
            Only those present in the file are skipped; they are logged and returned. Batch-norm
            ``num_batches_tracked`` buffers missing from the file (PyTorch < 0.4 files) keep
            their current value; every other missing key is an error.

    Returns:
        The sorted file keys that were skipped.

    Raises:
        UserError: the file is missing (the message says where to put it), unreadable, or
            its keys/shapes do not match (every missing, unexpected and mismatched key named).
    """
    file = Path(path).expanduser() if path is not None else pretrained_weights_path(file_name)
    hint = (f"put the {network} ImageNet weights ({file_name}, published state-dict layout) "
            f"at {pretrained_weights_path(file_name)} (folder ${HOME_ENV}/weights, "
            f"${HOME_ENV} defaults to {DEFAULT_HOME}) or pass the file's path")
    state = read_state_dict(file, hint=hint)
    skipped = sorted(k for k in set(skip) if k in state)
    # Files written before PyTorch 0.4 have no batch-norm step counters; keep the model's.
    counters = [k for k in model.state_dict()
                if k.endswith(f".{BN_COUNTER}") and k not in state]
    load_state_dict_checked(model, state, strict=True, ignore=skipped + counters,
                            source=str(file))
    if skipped:
        logger.info("%s: %d key(s) of the published %s not used by this extractor", file,
                    len(skipped), network)
    return skipped
