"""Checkpoints: atomic folders of safetensors weights plus the state needed to resume exactly.

Layout of one checkpoint (``<run>/checkpoints/step_00001000/``)::

    model.safetensors         the generator / classifier (``deblurkit.models.load_model`` reads it)
    ema.safetensors           the weight average (when ``train.ema`` > 0)
    disc.safetensors          the discriminator (adversarial), or disc_<task>.safetensors
    state.pt                  optimizers, schedulers, loss scaler, step, data positions, RNG
                              states, SHA-256 of every file above; tensors and plain containers
                              only, read with ``torch.load(weights_only=True)``
    config.yaml               the fully resolved config that made it

The folder is written under a temporary name and renamed into place, then the ``latest``
pointer file is replaced atomically; a crash at any moment leaves the previous checkpoint
intact and ``latest`` pointing at a complete folder. Loading verifies the checksums, so a
truncated or altered file is reported by name instead of being trained on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from deblurkit.errors import UserError
from deblurkit.utils.atomic import write_text_atomic

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LATEST_NAME = "latest"
STATE_NAME = "state.pt"
CONFIG_NAME = "config.yaml"
STEP_PREFIX = "step_"
#: Format tag stored in state.pt.
FORMAT = "deblurkit-checkpoint/1"


class CheckpointError(UserError):
    """A checkpoint file that is missing, truncated or altered (the message names it)."""


def step_dir_name(step: int) -> str:
    """``step_00001000`` for step 1000."""
    return f"{STEP_PREFIX}{step:08d}"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def rng_state() -> dict[str, Any]:
    """Python, numpy-global and torch (CPU and CUDA) generator states as tensors/primitives."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` recorded."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, step: int, models: Mapping[str, nn.Module],
                    state: Mapping[str, Any], config_text: str, keep: int = 0) -> Path:
    """Write checkpoint ``step`` atomically and point ``latest`` at it.

    Args:
        run_dir: the run folder.
        step: completed optimizer steps.
        models: ``{file stem: module}``; each is saved with
            :func:`deblurkit.models.weights.save_model` as ``<stem>.safetensors``.
        state: everything else (tensors and plain containers).
        config_text: the resolved config (YAML).
        keep: keep only the ``keep`` most recent checkpoints (0 = all).

    Returns:
        The checkpoint folder.
    """
    from deblurkit.models.weights import save_model

    root = Path(run_dir) / CHECKPOINT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = root / f".tmp-{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        files = {}
        for stem, module in models.items():
            path = tmp / f"{stem}.safetensors"
            save_model(module, path, metadata={"step": step})
            files[path.name] = sha256_file(path)
        (tmp / CONFIG_NAME).write_text(config_text, encoding="utf-8")
        files[CONFIG_NAME] = sha256_file(tmp / CONFIG_NAME)
        payload = {"format": FORMAT, "step": step, "files": files, **state}
        torch.save(payload, tmp / STATE_NAME)
        if final.exists():  # re-saving the same step (e.g. interrupted right after a save)
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_text_atomic(root / LATEST_NAME, final.name + "\n")
    if keep > 0:
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint folders of a run, oldest first (temporary folders excluded)."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(STEP_PREFIX)
             and p.name[len(STEP_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(STEP_PREFIX):]))


def checkpoint_weights(folder: Path, weights: str = "auto") -> Path:
    """The weight file of a checkpoint folder: ``ema.safetensors`` or ``model.safetensors``
    (``weights``: ``"ema"``, ``"model"``, or ``"auto"``, the average when the run kept one).

    Raises:
        UserError: that file is not in the folder.
    """
    folder = Path(folder)
    if weights == "auto":
        weights = "ema" if (folder / "ema.safetensors").is_file() else "model"
    path = folder / f"{weights}.safetensors"
    if not path.is_file():
        raise UserError(f"{path}: not found")
    return path


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read and verify one checkpoint folder.

    Returns:
        ``state.pt``'s content plus ``"weights": {stem: state dict}`` and ``"config"`` (text)
        and ``"path"``.

    Raises:
        CheckpointError: a file is missing, unreadable, or its checksum does not match.
    """
    from safetensors.torch import load_file

    folder = Path(path)
    state_file = folder / STATE_NAME
    if not state_file.is_file():
        raise CheckpointError(f"{state_file}: missing (incomplete checkpoint)")
    try:
        state = torch.load(state_file, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{state_file}: corrupt or truncated checkpoint state ({first})"
                              ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{state_file}: not a deblurkit checkpoint ({FORMAT})")
    weights = {}
    for name, digest in state["files"].items():
        file = folder / name
        if not file.is_file():
            raise CheckpointError(f"{file}: missing from the checkpoint")
        if sha256_file(file) != digest:
            raise CheckpointError(f"{file}: corrupt or truncated (checksum mismatch)")
        if name.endswith(".safetensors"):
            try:
                weights[name[: -len(".safetensors")]] = load_file(str(file), device="cpu")
            except Exception as exc:
                raise CheckpointError(f"{file}: unreadable safetensors ({exc})") from None
    state["weights"] = weights
    state["config"] = (folder / CONFIG_NAME).read_text(encoding="utf-8")
    state["path"] = str(folder)
    return state


def find_resume_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The newest checkpoint of ``run_dir`` that loads and verifies.

    Folders appear only complete (atomic rename), so the newest is tried first; a bad
    checkpoint is skipped with a warning naming the file and the next older one is tried.
    The bad folder is left in place for inspection.

    Raises:
        UserError: no checkpoint, or none is readable (every failure is listed).
    """
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise UserError(f"{Path(run_dir) / CHECKPOINT_DIR}: no checkpoint to resume from")
    failures = []
    for folder in reversed(candidates):
        try:
            return load_checkpoint(folder)
        except CheckpointError as exc:
            logger.warning("skipping checkpoint: %s", exc)
            failures.append(str(exc))
    raise UserError(f"{Path(run_dir) / CHECKPOINT_DIR}: no readable checkpoint "
                    f"({'; '.join(failures)})")


__all__ = ["CheckpointError", "find_resume_checkpoint", "list_checkpoints", "load_checkpoint",
           "rng_state", "save_checkpoint", "set_rng_state", "step_dir_name"]
