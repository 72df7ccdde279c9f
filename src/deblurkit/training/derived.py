"""Weight files made from trained ones: blends, grown and revived networks.

The tools that make them (``tools/interpolate_weights.py``, ``tools/grow_weights.py``,
``tools/revive_weights.py``) share three steps, kept here once:

- :func:`weights_file` turns a weight file or a checkpoint folder into the file to read;
- :func:`output_change` measures how far one network's output moves from another's on a
  seeded random picture (a grown network must not move; a revived one only by its tolerance);
- :func:`save_derived` writes ``OUT/ema.safetensors`` with the source's step and config plus one
  JSON header entry recording how the file was made, refusing to replace an existing output
  unless asked (check first with :func:`derived_target`, before any slow work).

Example:
    >>> from pathlib import Path
    >>> derived_target(Path("/nonexistent/blend")).name
    'ema.safetensors'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.models.weights import save_model
from deblurkit.training.checkpoint import checkpoint_weights

#: The weight file a derived output folder holds (what ``model.init`` and ``--model`` read).
DERIVED_FILE = "ema.safetensors"

#: Header entries of the source carried into a derived file.
CARRIED_HEADER = ("step", "config")


def weights_file(path: Path) -> Path:
    """The weight file of ``path``: itself, or a checkpoint folder's EMA (else raw) weights.

    Raises:
        UserError: ``path`` is neither a file nor a folder holding weights.
    """
    path = Path(path)
    if path.is_dir():
        return checkpoint_weights(path)
    if not path.is_file():
        raise UserError(f"{path}: not found")
    return path


def derived_target(out: Path, *, overwrite: bool = False) -> Path:
    """``out/ema.safetensors``, refused when it exists and ``overwrite`` is not set.

    Raises:
        UserError: the target exists and ``overwrite`` is false.
    """
    target = Path(out) / DERIVED_FILE
    if target.exists() and not overwrite:
        raise UserError(f"{target}: exists (use --overwrite)")
    return target


def output_change(model: nn.Module, reference: nn.Module, *, seed: int = 0) -> float:
    """Largest absolute difference between two networks' outputs on one random picture.

    The picture is ``(1, 3, S, S)`` uniform in [0, 1] from a generator seeded with ``seed``,
    ``S = 4 x pad_multiple`` of ``model`` (64 when it has none), so every level of a
    multi-scale network sees more than one pixel. Both networks are put in eval mode.

    Args:
        model: the derived network.
        reference: the network it was made from.
        seed: seed of the picture.

    Returns:
        ``max |model(x) - reference(x)|`` in [0, 1] picture units.
    """
    model.eval()
    reference.eval()
    side = 4 * int(getattr(model, "pad_multiple", 16))
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return float((model(x) - reference(x)).abs().max())


def save_derived(model: nn.Module, target: Path, header: Mapping[str, str], record_key: str,
                 record: Mapping[str, Any], *, carry: Iterable[str] = CARRIED_HEADER) -> Path:
    """Write ``model`` to ``target`` with the entries ``carry`` of the source's ``header``
    (:func:`deblurkit.models.weights.read_metadata`, read once by the caller) and ``record`` as
    JSON under ``record_key``; creates the folder; returns ``target``.

    The write is atomic (:func:`deblurkit.models.weights.save_model`); call
    :func:`derived_target` first, which is where an existing output is refused.
    """
    metadata = {k: v for k, v in header.items() if k in tuple(carry)}
    metadata[record_key] = json.dumps(dict(record))
    target.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, target, metadata=metadata, overwrite=True)
    return target
