"""Model specifications and model files: the one place that says what ``--model`` may be.

Every command and API that takes a model (``restore``, ``video``, ``serve``, ``eval``,
``export``, :class:`~deblurkit.inference.restorer.Restorer`, the frame classifier) reads its
specification with :func:`parse_model_spec`, from one suffix table
(:data:`MODEL_FILE_SUFFIXES`):

- ``default``, ``default_selector`` (source ``bundled``): the weights shipped in
  :mod:`deblurkit.pretrained`; ``default`` is ``default_selector`` where a classifier is asked
  for;
- a registered name (``registered``, see ``deblurkit models``): the network with untrained
  (random) weights, with one warning on stderr (:func:`warn_untrained`);
- ``FILE.safetensors`` (``safetensors``): weights saved by
  :func:`~deblurkit.models.weights.save_model`;
- ``FILE.onnx`` (``onnx``) and ``FILE.pt`` / ``FILE.ts`` (``torchscript``): files written by
  ``deblurkit export``;
- with ``arch=NAME`` (``--arch NAME [--arch-kwargs JSON]``), a third-party state dict
  (``state_dict``): ``FILE.pth`` / ``.bin`` / ``.ckpt``, a ``FILE.pt`` saved with
  ``torch.save`` (not a TorchScript archive: :func:`torch_archive_kind`), or a
  ``FILE.safetensors`` without deblurkit metadata, for the registered network ``NAME`` built
  with the constructor arguments ``arch_kwargs``
  (:func:`~deblurkit.models.weights.load_state_dict_model`: ``torch.load(weights_only=True)``,
  BasicSR's ``params_ema`` / ``params``, keys and shapes checked on the ``meta`` device first).

A state dict without ``arch``, or ``arch`` with anything but a state dict, is refused with one
line naming the file and the fix: a state dict names no architecture, every other file and
name already does.

:func:`load_network` builds the ``nn.Module`` of the bundled, registered, ``.safetensors``
and state-dict sources (the exporters start from it); the backends of
:mod:`deblurkit.inference` run all six. The exported files carry a
:class:`ModelFileInfo`, which the exporters (:mod:`deblurkit.export`) write and the backends
read. This module imports neither package, so both depend on it and never on each other.

Example:
    >>> parse_model_spec("s4_deblurnet").source
    'registered'
    >>> parse_model_spec("default", kind="classifier").name
    'default_selector'
    >>> parse_model_spec("w.pth", arch="nafnet_w32").source     # doctest: +SKIP
    'state_dict'
"""

from __future__ import annotations

import json
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.models.weights import TORCH_SUFFIXES

#: Where a model comes from (:attr:`ModelSpec.source`).
SOURCES = ("bundled", "registered", "safetensors", "onnx", "torchscript", "state_dict")
#: Model file suffix -> source: the one table every command reads.
MODEL_FILE_SUFFIXES: dict[str, str] = {".safetensors": "safetensors", ".onnx": "onnx",
                                       ".pt": "torchscript", ".ts": "torchscript"}
#: Suffixes of third-party state dicts (no architecture: a model specification only with
#: ``arch``). A ``.pt`` is one too when it is no TorchScript archive (:func:`torch_archive_kind`),
#: a ``.safetensors`` when its header names no deblurkit model.
STATE_DICT_SUFFIXES = tuple(s for s in TORCH_SUFFIXES if s not in MODEL_FILE_SUFFIXES)
#: Entries (below the archive's top folder) only a TorchScript zip archive has: its code and
#: its constants (a ``torch.save`` zip holds ``data.pkl`` and ``data/`` only).
TORCHSCRIPT_ENTRIES = ("code/", "constants.pkl")
#: The pickle every zip archive written by ``torch.save`` holds.
TORCH_SAVE_ENTRY = "data.pkl"
#: What ``--arch`` needs ``--model`` to be, for messages.
STATE_DICT_HELP = "a state dict file (.pth, .pt saved with torch.save, .bin, .ckpt)"
#: The fix for a state dict given without its architecture, for messages.
ARCH_HELP = ("add --arch NAME (the registered network it is for, see `deblurkit models`) and, "
             "where its constructor arguments differ from NAME's defaults, --arch-kwargs JSON")
#: The bundled weights ``default`` names, per registry kind asked for.
DEFAULT_BUNDLED: dict[str, str] = {"generator": "default", "classifier": "default_selector"}
#: The specification meaning "the bundled default".
DEFAULT_MODEL = "default"
#: Version of the metadata layout written into exported files.
METADATA_VERSION = 1
#: Keys :meth:`ModelFileInfo.to_strings` writes (the others of a file go to its ``extra``).
STORED_KEYS = frozenset({
    "deblurkit_name", "deblurkit_kwargs", "deblurkit_kind", "deblurkit_version",
    "metadata_version", "format", "input_layout", "input_range", "output_layout",
    "output_range", "output_clamped", "pad_multiple", "min_size", "example_size",
    "receptive_field"})
#: Name of the JSON metadata inside a TorchScript archive (``_extra_files``).
TORCHSCRIPT_METADATA_FILE = "deblurkit.json"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model specification (nothing is loaded).

    Attributes:
        text: the specification as given.
        source: one of :data:`SOURCES`.
        name: the bundled or registered name (for a state dict, its ``arch``; None for other
            files).
        path: the file (for bundled weights, the packaged file); None for registered names.
        arch: the registered network a state dict is for (``--arch``; None otherwise).
        arch_kwargs: its constructor arguments (``--arch-kwargs``), as given: checked like a
            ``.safetensors`` file's stored arguments when the network is built
            (:func:`~deblurkit.models.weights.check_architecture_arguments`); None: the
            registered defaults.
    """

    text: str
    source: str
    name: str | None = None
    path: Path | None = None
    arch: str | None = None
    arch_kwargs: Mapping[str, Any] | None = None


def torch_archive_kind(path: str | os.PathLike) -> str:
    """What a ``torch`` zip archive holds, read from its list of entries (nothing unpickled).

    Args:
        path: the file.

    Returns:
        ``"torchscript"`` (it has :data:`TORCHSCRIPT_ENTRIES`), ``"state_dict"`` (a
        ``torch.save`` zip: :data:`TORCH_SAVE_ENTRY` without code) or ``""`` (no zip archive:
        a legacy ``torch.save`` pickle, or no torch file at all).

    Example:
        >>> torch.save({"w": torch.zeros(1)}, "w.pt")       # doctest: +SKIP
        >>> torch_archive_kind("w.pt")                      # doctest: +SKIP
        'state_dict'
    """
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return ""
    entries = {name.split("/", 1)[1] for name in names if "/" in name}
    if any(entry.startswith(TORCHSCRIPT_ENTRIES) for entry in entries):
        return "torchscript"
    return "state_dict" if TORCH_SAVE_ENTRY in entries else ""


def _state_dict_spec(text: str, arch: str, arch_kwargs: Mapping[str, Any] | None) -> ModelSpec:
    """The ``state_dict`` specification of ``--model text --arch arch`` (see
    :func:`parse_model_spec`)."""
    from deblurkit.models.registry import get_entry
    from deblurkit.models.weights import read_metadata

    path = Path(text)
    suffix = path.suffix.lower()
    if not path.is_file():
        if suffix in MODEL_FILE_SUFFIXES or suffix in STATE_DICT_SUFFIXES or os.sep in text:
            raise UserError(f"{text}: model file not found")
        raise UserError(f"{text}: --arch {arch} needs --model to be {STATE_DICT_HELP}, not the "
                        f"model name {text!r} (drop --arch to run {text!r})")
    holds_own = ""
    if (suffix == ".pt" and torch_archive_kind(path) == "torchscript") or suffix == ".ts":
        holds_own = "a TorchScript archive"
    elif suffix == ".onnx":
        holds_own = "an ONNX file"
    elif suffix == ".safetensors" and read_metadata(path).get("deblurkit_name"):
        holds_own = "a deblurkit .safetensors model file"
    elif suffix not in STATE_DICT_SUFFIXES + (".pt", ".safetensors"):
        raise UserError(f"{text}: unknown state dict file type {suffix!r}; --arch takes "
                        f"{STATE_DICT_HELP} or a .safetensors state dict")
    if holds_own:
        raise UserError(f"{text}: {holds_own} names its own architecture; drop --arch (it is "
                        f"for {STATE_DICT_HELP})")
    try:
        get_entry(arch)
    except UserError as exc:
        raise UserError(f"{text}: --arch: {exc}") from None
    return ModelSpec(text, "state_dict", name=arch, path=path, arch=arch, arch_kwargs=arch_kwargs)


def parse_model_spec(spec: str | os.PathLike, *, kind: str | None = None,
                     arch: str | None = None,
                     arch_kwargs: Mapping[str, Any] | None = None) -> ModelSpec:
    """What a ``--model`` / ``--classifier`` value names (see the module docstring).

    Args:
        spec: a bundled name, a registered name or a model file (with ``arch``: a state dict
            file).
        kind: the registry kind asked for (``"generator"`` or ``"classifier"``): picks the
            bundled weights that ``default`` means (None: the generator's).
        arch: the registered network a state dict ``spec`` is for (``--arch``).
        arch_kwargs: its constructor arguments (``--arch-kwargs``; only with ``arch``).

    Returns:
        A :class:`ModelSpec`.

    Raises:
        UserError: a path that does not exist, a file of an unknown type, a state dict
            without ``arch``, ``arch`` with anything but a state dict, ``arch_kwargs``
            without ``arch``, an unknown ``arch``.

    Example:
        >>> parse_model_spec("net.onnx")       # doctest: +SKIP
        ModelSpec(text='net.onnx', source='onnx', name=None, path=PosixPath('net.onnx'), ...)
        >>> parse_model_spec("NAFNet-GoPro-width32.pth", arch="nafnet_w32").name  # doctest: +SKIP
        'nafnet_w32'
    """
    from deblurkit.pretrained import BUNDLED

    text = os.fspath(spec)
    if arch is not None:
        return _state_dict_spec(text, arch, arch_kwargs)
    if arch_kwargs is not None:
        raise UserError(f"{text}: --arch-kwargs needs --arch NAME (the registered network a "
                        "state dict --model is for)")
    if text == DEFAULT_MODEL:
        text = DEFAULT_BUNDLED[kind or "generator"]
    if text in BUNDLED:
        return ModelSpec(os.fspath(spec), "bundled", name=text, path=BUNDLED[text].path)
    path = Path(text)
    suffix = path.suffix.lower()
    if (path.is_file() or suffix in MODEL_FILE_SUFFIXES or suffix in STATE_DICT_SUFFIXES
            or os.sep in text):
        if not path.is_file():
            raise UserError(f"{text}: model file not found")
        if suffix in STATE_DICT_SUFFIXES:
            raise UserError(f"{text}: a {suffix} file is a state dict without its "
                            f"architecture; {ARCH_HELP}")
        if suffix not in MODEL_FILE_SUFFIXES:
            raise UserError(f"{text}: unknown model file type {suffix!r}; use "
                            f"{', '.join(MODEL_FILE_SUFFIXES)}, a registered name (see "
                            f"`deblurkit models`) or {STATE_DICT_HELP} with --arch NAME")
        if suffix == ".pt" and torch_archive_kind(path) == "state_dict":
            raise UserError(f"{text}: a state dict saved with torch.save, not a TorchScript "
                            f"archive: it names no architecture; {ARCH_HELP}")
        return ModelSpec(text, MODEL_FILE_SUFFIXES[suffix], path=path)
    return ModelSpec(text, "registered", name=text)


def warn_untrained(name: str) -> None:
    """The one warning for a network built with random weights (one line on stderr)."""
    print(f"deblurkit: warning: UNTRAINED model {name!r}: a registered name builds the network "
          "with untrained weights (random initialisation); its output is not a restoration",
          file=sys.stderr)


def check_kind(spec: ModelSpec, name: str, kind: str | None, wanted: str | None) -> None:
    """Refuse a model of another registry kind than the one asked for.

    Args:
        spec: the specification (named in the message).
        name: the model's registered name.
        kind: the model's registry kind (None: unknown, accepted).
        wanted: the kind asked for (None: any).

    Raises:
        UserError: ``kind`` is not ``wanted``.

    Example:
        >>> check_kind(ModelSpec("x", "registered", "x"), "x", "generator", None)
    """
    if wanted is not None and kind is not None and kind != wanted:
        raise UserError(f"{spec.text}: model {name!r} is a {kind}, not a {wanted}")


def stored_name(spec: ModelSpec) -> str | None:
    """The registered name of a bundled, registered or ``.safetensors`` model (read from the
    file's header, not its weights) or of a state dict's ``arch``; None when the file names
    none."""
    if spec.source in ("registered", "state_dict"):
        return spec.name
    from deblurkit.models.weights import read_metadata

    assert spec.path is not None
    if spec.source == "bundled" and not spec.path.is_file():
        return None  # its loader says the installation lacks it
    return read_metadata(spec.path).get("deblurkit_name") or None


def _load_bundled(spec: ModelSpec) -> nn.Module:
    from deblurkit.pretrained import load_bundled

    assert spec.name is not None
    return load_bundled(spec.name)


def _build_untrained(spec: ModelSpec) -> nn.Module:
    from deblurkit.models.registry import create_model

    assert spec.name is not None
    model = create_model(spec.name)
    warn_untrained(spec.name)
    return model


def _load_saved(spec: ModelSpec) -> nn.Module:
    from deblurkit.models.weights import load_model

    assert spec.path is not None
    return load_model(spec.path)


def _load_state_dict(spec: ModelSpec) -> nn.Module:
    from deblurkit.models.weights import load_state_dict_model

    assert spec.path is not None and spec.arch is not None
    return load_state_dict_model(spec.path, spec.arch, spec.arch_kwargs)


#: Source -> how its ``nn.Module`` is built (exported files hold none).
NETWORK_LOADERS: dict[str, Callable[[ModelSpec], nn.Module]] = {
    "bundled": _load_bundled, "registered": _build_untrained, "safetensors": _load_saved,
    "state_dict": _load_state_dict}


def load_network(spec: str | os.PathLike | ModelSpec, *, kind: str | None = None,
                 guard: bool = True) -> nn.Module:
    """The ``nn.Module`` a specification names, in eval mode on the CPU.

    Args:
        spec: a bundled name, a registered name (untrained weights, with
            :func:`warn_untrained`) or a ``.safetensors`` file (or a parsed
            :class:`ModelSpec`, e.g. a state dict with its ``arch``).
        kind: the registry kind asked for (``"generator"``, ``"classifier"``; None: any),
            checked before any weights are read.
        guard: keep the output guard a bundled model's card attaches
            (:mod:`deblurkit.models.guard`); False: the bare network.

    Returns:
        The network.

    Raises:
        UserError: an unknown name, an unreadable file, an exported (ONNX / TorchScript) file,
            or a model of another kind.

    Example:
        >>> net = load_network("default")                   # doctest: +SKIP
        >>> net = load_network("s4_frame_selector", kind="classifier")   # doctest: +SKIP
    """
    from deblurkit.models.registry import get_entry

    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec, kind=kind)
    loader = NETWORK_LOADERS.get(parsed.source)
    if loader is None:
        raise UserError(f"{parsed.text}: an exported {parsed.source} file holds no PyTorch "
                        "network to build; give the bundled name, registered name, "
                        ".safetensors file or state dict with --arch it was exported from")
    name = stored_name(parsed)
    if name is not None:
        check_kind(parsed, name, get_entry(name).kind, kind)  # unknown names: UserError
    network = loader(parsed).eval()
    if not guard and getattr(network, "guard", None) is not None:
        from deblurkit.models.guard import attach_guard

        attach_guard(network, None)
    return network


# ------------------------------------------------------------------ exported files
def _integer(data: Mapping[str, str], key: str, default: int | None,
             source: str) -> int | None:
    raw = data.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{source}: metadata {key}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class ModelFileInfo:
    """What an exported model file says about its network.

    The exporters write it as string metadata (ONNX ``metadata_props``, the TorchScript
    archive's ``deblurkit.json``) with :meth:`to_strings`; the backends read it back with
    :meth:`from_strings`. A foreign file without it reads as the defaults (a generator with
    no size multiple and an unknown receptive field).

    Attributes:
        name: the registered name (``deblurkit_name``).
        kwargs: its constructor arguments (``deblurkit_kwargs``).
        kind: ``"generator"`` (``(B, 3, H, W)`` out, clamped) or ``"classifier"`` (``(B,)``).
        format: ``"onnx"`` or ``"torchscript"``.
        pad_multiple: the size multiple the graph pads to.
        min_size: the smallest side the graph's own (reflection) padding handles.
        example_size: ``(H, W)`` of the traced example.
        receptive_field: side of the square of input pixels one output pixel sees (None:
            unknown).
        deblurkit_version: the deblurkit that wrote the file.
        metadata_version: the layout version (:data:`METADATA_VERSION`).
        extra: further keys (``exporter``, ``opset``, ``torch_version``...), as strings.

    Example:
        >>> info = ModelFileInfo(name="s4_deblurnet", pad_multiple=4, format="onnx")
        >>> ModelFileInfo.from_strings(info.to_strings()).pad_multiple
        4
    """

    name: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind: str = "generator"
    format: str = ""
    pad_multiple: int = 1
    min_size: int = 1
    example_size: tuple[int, int] | None = None
    receptive_field: int | None = None
    deblurkit_version: str = ""
    metadata_version: int = METADATA_VERSION
    extra: dict[str, str] = field(default_factory=dict)

    def to_strings(self) -> dict[str, str]:
        """The string metadata stored in the file (the contract's layout keys included)."""
        generator = self.kind == "generator"
        data = {
            "deblurkit_name": self.name,
            "deblurkit_kwargs": json.dumps(self.kwargs, sort_keys=True),
            "deblurkit_kind": self.kind,
            "deblurkit_version": self.deblurkit_version,
            "metadata_version": str(self.metadata_version),
            "format": self.format,
            "input_layout": "NCHW, float32, RGB",
            "input_range": "[0, 1]",
            "output_layout": "NCHW, float32, RGB" if generator else "N, float32, P(blurred)",
            "output_range": "[0, 1]",
            "output_clamped": "true" if generator else "false",
            "pad_multiple": str(self.pad_multiple),
            "min_size": str(self.min_size),
        }
        if self.example_size is not None:
            data["example_size"] = f"{self.example_size[0]}x{self.example_size[1]}"
        if self.receptive_field is not None:
            data["receptive_field"] = str(int(self.receptive_field))
        data.update(self.extra)
        return data

    @classmethod
    def from_strings(cls, data: Mapping[str, str], source: str | os.PathLike = "model file"
                     ) -> ModelFileInfo:
        """Read the metadata of a file (missing keys take the defaults).

        Raises:
            UserError: a number or the arguments' JSON that does not parse (naming
                ``source``).
        """
        where = os.fspath(source)
        try:
            kwargs = json.loads(data.get("deblurkit_kwargs") or "{}")
        except json.JSONDecodeError:
            raise UserError(f"{where}: metadata deblurkit_kwargs is not JSON") from None
        height, _, width = str(data.get("example_size", "")).partition("x")
        example = (int(height), int(width)) if height.isdigit() and width.isdigit() else None
        return cls(name=data.get("deblurkit_name", ""), kwargs=kwargs,
                   kind=data.get("deblurkit_kind") or "generator",
                   format=data.get("format", ""),
                   pad_multiple=max(1, _integer(data, "pad_multiple", 1, where) or 1),
                   min_size=_integer(data, "min_size", 1, where) or 1,
                   example_size=example,
                   receptive_field=_integer(data, "receptive_field", None, where),
                   deblurkit_version=data.get("deblurkit_version", ""),
                   metadata_version=_integer(data, "metadata_version", METADATA_VERSION,
                                             where) or METADATA_VERSION,
                   extra={k: v for k, v in data.items() if k not in STORED_KEYS})


def load_torchscript(path: str | os.PathLike, map_location: str | torch.device = "cpu"
                     ) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
    """Load a TorchScript file and its deblurkit metadata (``{}`` if it has none).

    Raises:
        UserError: the file is missing or not a TorchScript archive.

    Example:
        >>> module, meta = load_torchscript("s4.pt")     # doctest: +SKIP
        >>> ModelFileInfo.from_strings(meta).pad_multiple  # doctest: +SKIP
        4
    """
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{file}: TorchScript file not found")
    extra = {TORCHSCRIPT_METADATA_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            module = torch.jit.load(str(file), map_location=map_location, _extra_files=extra)
    except Exception as exc:  # RuntimeError / ValueError on bad archives
        raise UserError(f"{file}: not a readable TorchScript file ({exc})") from None
    raw = extra[TORCHSCRIPT_METADATA_FILE]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        metadata = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        metadata = {}
    return module, metadata


def read_torchscript_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata stored by ``deblurkit export --format torchscript`` (empty for other
    TorchScript files).

    Raises:
        UserError: the file is missing or not a TorchScript archive.

    Example:
        >>> read_torchscript_metadata("s4.pt")["format"]   # doctest: +SKIP
        'torchscript'
    """
    _, metadata = load_torchscript(path)
    return metadata


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (without starting an inference session).

    Raises:
        UserError: the file is missing or not a readable ONNX model.

    Example:
        >>> read_onnx_metadata("s4.onnx")["deblurkit_name"]   # doctest: +SKIP
        's4_deblurnet'
    """
    import onnx

    file = Path(path)
    if not file.is_file():
        raise UserError(f"{file}: ONNX file not found")
    try:
        proto = onnx.load(str(file), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise UserError(f"{file}: not a readable ONNX file ({exc})") from None
    return {entry.key: entry.value for entry in proto.metadata_props}
