"""Typed training configs: YAML -> frozen dataclasses, ``--set`` overrides, strict keys.

A recipe is one YAML file whose sections map onto the dataclasses below. Loading is strict:
an unknown key is a :class:`~deblurkit.errors.UserError` naming its full path
(``train.stpes``), and so is a value of the wrong type. Fields typed ``dict`` (model
keyword arguments, dataset layout arguments, loss arguments) are passed on as they are and
checked by what receives them (the model registry, the layout functions, the loss registry),
which name the unknown argument in turn.

Overrides use dotted paths and YAML scalar rules (``--set train.steps=200``,
``--set optim.betas=[0.9,0.99]``, ``--set data.train.args.root=/data/GOPRO``); they are applied
to the plain mapping before it is typed, so an override can never bypass validation. Configs
are never mutated: :func:`replace_path` returns a new object.

Example:
    >>> cfg = load_config("configs/small/s1_han.yaml", ["train.steps=10"])  # doctest: +SKIP
    >>> cfg.train.steps                                                      # doctest: +SKIP
    10
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deblurkit.errors import UserError
from deblurkit.utils.typed import from_dict, to_dict

#: The kinds of training the engine runs (``Config.task``).
TASKS: tuple[str, ...] = ("supervised", "adversarial", "multitask", "classifier")
#: Mixed precision modes (``TrainConfig.amp``): off, bfloat16 (CPU or CUDA), float16 (CUDA).
AMP_MODES: tuple[str, ...] = ("off", "bf16", "fp16")
#: What a loss term compares (``LossConfig.input``).
LOSS_INPUTS: tuple[str, ...] = ("final", "scales")
#: Scheduler stepping interval (``ScheduleConfig.interval``).
INTERVALS: tuple[str, ...] = ("step", "epoch")


@dataclass(frozen=True)
class ModelConfig:
    """A registered model and its constructor arguments.

    Args:
        name: a name from ``deblurkit models`` (``create_model(name, **kwargs)``).
        kwargs: keyword arguments overriding the variant's defaults.
        init: optional weight file loaded before training (fine-tuning); None: random init.
    """

    name: str
    kwargs: dict = field(default_factory=dict)
    init: str | None = None


@dataclass(frozen=True)
class DataConfig:
    """One dataset and its loader.

    Args:
        layout: a key of ``deblurkit.data.LAYOUTS`` (``gopro``, ``folder``, ``reds`` ...) for
            image pairs, or ``video`` for labelled clips (the frame classifier).
        args: the layout function's arguments (``root``, ``split``, ``blur_dir`` ...; for
            ``video`` those of ``video_clips``).
        crop_size: random crop side (training) or centre region (validation); None: full size.
        random_crop: random (True) or centred (False) crops.
        hflip, vflip, rot90: paired random flips / 90-degree rotations.
        batch_size: images per step *per process* (the global batch is this times the number
            of processes times ``train.grad_accum``).
        workers: DataLoader worker processes (0: load in the training process).
        limit: use only the first ``limit`` items (quick runs, validation subsets).
        seed: augmentation seed; None: ``train.seed``.
    """

    layout: str = "gopro"
    args: dict = field(default_factory=dict)
    crop_size: int | None = 256
    random_crop: bool = True
    hflip: bool = False
    vflip: bool = False
    rot90: bool = False
    batch_size: int = 1
    workers: int = 0
    limit: int | None = None
    seed: int | None = None


@dataclass(frozen=True)
class DataSection:
    """Training data and optional validation data."""

    train: DataConfig
    val: DataConfig | None = None


@dataclass(frozen=True)
class LossConfig:
    """One weighted term of the generator (or classifier) loss.

    Args:
        name: a name of ``deblurkit.losses.build_loss`` (``mse``, ``l1``, ``huber``,
            ``perceptual``, ``multiscale_pixel``, ``contextual``, ``frame_bce`` ...).
        weight: the term's factor (the paper's lambda), passed to the loss as ``weight``.
        input: ``final``: ``loss(restored, sharp)``; ``scales``: ``loss(outputs, targets)``
            over the model's coarse -> fine outputs and a pyramid of the sharp image.
        pyramid: the target pyramid of ``scales`` terms, a key of
            ``deblurkit.training.pyramids.PYRAMIDS``: ``gaussian`` (S2) or ``area`` (S1).
        kwargs: other arguments of the loss.
    """

    name: str
    weight: float = 1.0
    input: str = "final"
    pyramid: str = "gaussian"
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer of the generator (or classifier).

    Args:
        name: a key of ``deblurkit.training.optimizers.OPTIMIZERS`` (``adam``, ``adamw``,
            ``sgd``).
        lr: learning rate.
        betas: Adam betas.
        eps: Adam epsilon.
        weight_decay: L2 (adam, sgd) or decoupled (adamw) weight decay.
        momentum: SGD momentum.
    """

    name: str = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.9


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule (built by ``deblurkit.training.schedules.build_scheduler``).

    Args:
        name: a key of ``deblurkit.training.schedules.SCHEDULES`` (``constant``, ``step``,
            ``multi_step``, ``constant_then_linear``, ``cyclic_exp_range``, ``cosine``,
            ``warmup``).
        interval: ``step`` (after every optimizer step) or ``epoch`` (after every pass over
            the training data; the papers' epoch-based schedules).
        kwargs: the schedule's arguments (in units of ``interval``).
    """

    name: str = "constant"
    interval: str = "step"
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GANConfig:
    """Adversarial training settings.

    Args:
        discriminator: the critic model (``s2_discriminator``, ``patchgan_wgan`` ...).
        gan_type: ``GANLoss`` type (``vanilla``, ``nsgan``, ``lsgan``, ``wgan``, ``hinge``);
            WGAN-GP is ``wgan`` with ``gp_weight`` > 0.
        adv_weight: weight of the generator's adversarial term (S2: 1e-4).
        d_loss_weight: factor on the discriminator loss (S5: 0.01).
        gp_weight: gradient-penalty weight (WGAN-GP: 10; 0 = off).
        d_steps_per_g: discriminator updates per generator update (S4: 8).
        g_steps_per_d: generator updates per discriminator update (S3's text: 5).
        lr_d: discriminator learning rate; None: the generator's.
        betas_d: discriminator Adam betas; None: the generator's.
        start_step: generator steps before the adversarial term is switched on (warm-up).
    """

    discriminator: ModelConfig
    gan_type: str = "vanilla"
    adv_weight: float = 1e-3
    d_loss_weight: float = 1.0
    gp_weight: float = 0.0
    d_steps_per_g: int = 1
    g_steps_per_d: int = 1
    lr_d: float | None = None
    betas_d: tuple[float, float] | None = None
    start_step: int = 0


@dataclass(frozen=True)
class TaskConfig:
    """One task of multi-task training (S5): its data and the weight of its loss."""

    train: DataConfig
    val: DataConfig | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """The loop.

    Args:
        steps: generator (optimizer) steps to run; with ``epochs`` set, computed from it.
        epochs: passes over the training data (the papers' unit); None: use ``steps``.
        out_dir: run folder (checkpoints, logs, config.yaml).
        seed: root seed (weights init, data order, augmentation, dropout).
        device: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda``, ``cuda:1`` ...
        val_every, ckpt_every, log_every: intervals in steps (0 = never; a checkpoint and a
            validation are always made at the end; every validation logs an image grid).
        keep_checkpoints: most recent checkpoints kept (older ones deleted; 0 = keep all).
        amp: ``off``, ``bf16`` (CPU or CUDA) or ``fp16`` (CUDA, with loss scaling).
        channels_last: NHWC memory format for the models and batches.
        compile: ``torch.compile`` the generator (off by default).
        ema: decay of an exponential moving average of the generator's weights (0 = off);
            validation then uses the average.
        ema_warmup: ramp the average's decay up over the first steps: at step ``t`` it is
            ``min(ema, (1 + t) / (10 + t))`` (the ``num_updates`` rule of TensorFlow's
            ``ExponentialMovingAverage``), so a short run's average does not keep a large
            share of the starting weights (0.999 alone still holds 0.999^1000 = 37% of them
            after 1000 steps).
        grad_accum: micro-batches per optimizer step (supervised and classifier tasks).
        grad_clip: clip the gradient norm to this value (0 = off).
        val_images: validation images drawn into the TensorBoard grid (0 = none).
        deterministic: ``torch.use_deterministic_algorithms(True)``.
    """

    steps: int = 1000
    epochs: int | None = None
    out_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 10
    keep_checkpoints: int = 3
    amp: str = "off"
    channels_last: bool = False
    compile: bool = False
    ema: float = 0.0
    ema_warmup: bool = False
    grad_accum: int = 1
    grad_clip: float = 0.0
    val_images: int = 4
    deterministic: bool = False


@dataclass(frozen=True)
class Config:
    """A whole training recipe.

    Args:
        task: ``supervised``, ``adversarial``, ``multitask`` or ``classifier``.
        model: the generator (or classifier).
        data: training / validation data (unused by ``multitask``, which uses ``tasks``).
        losses: the weighted loss terms.
        optim: the generator's optimizer.
        schedule: its learning-rate schedule (the discriminator's follows the same schedule).
        gan: adversarial settings (``adversarial``; optional for ``multitask``).
        tasks: ``{task name: TaskConfig}`` (``multitask``).
        train: the loop.
        name: a short name for logs.
        notes: free text (paper, what was assumed).
    """

    task: str
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataSection | None = None
    losses: tuple[LossConfig, ...] = ()
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    gan: GANConfig | None = None
    tasks: dict[str, TaskConfig] | None = None
    name: str = ""
    notes: str = ""


def dump_config(config: Config) -> str:
    """The resolved config as YAML text (what ``config.yaml`` and every checkpoint hold)."""
    return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)


# ------------------------------------------------------------------------------------------
# overrides
# ------------------------------------------------------------------------------------------
def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-parsed value.

    Example:
        >>> parse_override("train.steps=20")
        (['train', 'steps'], 20)
        >>> parse_override("optim.betas=[0.5, 0.999]")
        (['optim', 'betas'], [0.5, 0.999])
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise UserError(f"--set {text!r}: expected key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {text!r}: value is not valid YAML ({exc.__class__.__name__})"
                        ) from None
    if isinstance(value, str):  # YAML 1.1 leaves "1e-4" a string; read it as the number
        try:
            value = float(value) if value.strip().lower() not in ("nan", "inf", "-inf") else value
        except ValueError:
            pass
    return key.split("."), value


def apply_override(data: Mapping[str, Any], keys: Sequence[str], value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``keys`` (a path) set to ``value``; intermediate mappings are
    created, list items are addressed by index (``losses.0.weight``)."""
    def set_in(node: Any, index: int) -> Any:
        key = keys[index]
        last = index == len(keys) - 1
        if isinstance(node, list):
            try:
                position = int(key)
                node[position]
            except (ValueError, IndexError):
                raise UserError(f"--set {'.'.join(keys)}: {key!r} is not an index of a "
                                f"list of {len(node)}") from None
            copy = list(node)
            copy[position] = value if last else set_in(copy[position], index + 1)
            return copy
        if node is None:
            node = {}
        if not isinstance(node, Mapping):
            raise UserError(f"--set {'.'.join(keys)}: {'.'.join(keys[:index])} is not a mapping")
        copy = dict(node)
        copy[key] = value if last else set_in(copy.get(key), index + 1)
        return copy

    return set_in(dict(data), 0)


def load_config_data(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML recipe as a plain mapping (UserError naming the file if unreadable)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{file}: config file not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{file}: not a readable YAML file ({exc.__class__.__name__})") from None
    if not isinstance(data, Mapping):
        raise UserError(f"{file}: a config must be a mapping at the top level")
    return dict(data)


def build_config(data: Mapping[str, Any], overrides: Sequence[str] = (),
                 source: str = "config") -> Config:
    """Type and validate ``data`` after applying ``overrides`` (``key.path=value`` strings)."""
    for text in overrides:
        keys, value = parse_override(text)
        data = apply_override(data, keys, value)
    try:
        config = from_dict(Config, data)
        config = _resolve_online(config)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    validate_config(config, source)
    return config


def _resolve_online(config: Config) -> Config:
    """Expand the ``degradation`` of every ``online`` dataset to all its typed fields.

    The run's ``config.yaml``, its checkpoints and the weight files made from them then hold
    every setting of the degradation model, not only those the recipe changed (a later change
    of a default cannot make the record ambiguous). A new config is returned.
    """
    if config.data is None or config.data.train.layout != "online":
        return config
    from deblurkit.synth.degrade import DegradationConfig

    args = dict(config.data.train.args)
    degradation = from_dict(DegradationConfig, args.get("degradation") or {},
                            "data.train.args.degradation")
    args["degradation"] = to_dict(degradation)
    return replace_path(config, "data.train.args", args)


def load_config(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Config:
    """Load, override, type and validate a YAML recipe.

    Args:
        path: the YAML file.
        overrides: ``key.path=value`` strings (the CLI's ``--set``).

    Returns:
        The frozen :class:`Config`.

    Raises:
        UserError: unreadable file, unknown key (named by its path), wrong type, or an
            inconsistent setting.
    """
    return build_config(load_config_data(path), overrides, os.fspath(path))


def _check_choice(value: str, choices: Sequence[str], key: str, source: str) -> None:
    if value not in choices:
        raise UserError(f"{source}: {key}={value!r}; choose one of {', '.join(choices)}")


def _check_data(data: DataConfig, key: str, source: str) -> None:
    if data.batch_size < 1:
        raise UserError(f"{source}: {key}.batch_size must be >= 1")
    if data.workers < 0:
        raise UserError(f"{source}: {key}.workers must be >= 0")
    if data.limit is not None and data.limit < 1:
        raise UserError(f"{source}: {key}.limit must be >= 1 or null")


def _registered_names(config: Config) -> list[tuple[str, Any, str]]:
    """``(value, registry, key)`` of every config field that names a registered object."""
    from deblurkit.losses import LOSSES
    from deblurkit.models.registry import MODELS
    from deblurkit.training.optimizers import OPTIMIZERS
    from deblurkit.training.pyramids import PYRAMIDS
    from deblurkit.training.schedules import SCHEDULES

    names = [(config.model.name, MODELS, "model.name"),
             (config.optim.name, OPTIMIZERS, "optim.name"),
             (config.schedule.name, SCHEDULES, "schedule.name")]
    if config.gan is not None:
        names.append((config.gan.discriminator.name, MODELS, "gan.discriminator.name"))
    for i, loss in enumerate(config.losses):
        names += [(loss.name, LOSSES, f"losses.{i}.name"),
                  (loss.pyramid, PYRAMIDS, f"losses.{i}.pyramid")]
    return names


def validate_config(config: Config, source: str = "config") -> None:
    """Cross-field checks that types cannot express; UserError naming the key.

    Every name of a registered object (model, discriminator, optimizer, schedule, loss,
    pyramid) is checked against its registry's keys, and the message lists them.

    Raises:
        UserError: ``"<source>: <key>=<value>; choose one of ..."`` or another inconsistency.

    Example:
        >>> validate_config(replace_path(cfg, "optim.name", "adagrad"))   # doctest: +SKIP
        UserError: config: optim.name='adagrad'; choose one of adam, adamw, sgd
    """
    _check_choice(config.task, TASKS, "task", source)
    train = config.train
    _check_choice(train.amp, AMP_MODES, "train.amp", source)
    _check_choice(config.schedule.interval, INTERVALS, "schedule.interval", source)
    for value, registry, key in _registered_names(config):
        _check_choice(value, registry.keys(), key, source)
    if train.steps < 1 and train.epochs is None:
        raise UserError(f"{source}: train.steps must be >= 1")
    if train.epochs is not None and train.epochs < 1:
        raise UserError(f"{source}: train.epochs must be >= 1 or null")
    for key in ("val_every", "ckpt_every", "log_every", "keep_checkpoints", "val_images"):
        if getattr(train, key) < 0:
            raise UserError(f"{source}: train.{key} must be >= 0")
    if train.grad_accum < 1:
        raise UserError(f"{source}: train.grad_accum must be >= 1")
    if not 0.0 <= train.ema < 1.0:
        raise UserError(f"{source}: train.ema must be in [0, 1)")
    if train.grad_accum > 1 and config.task in ("adversarial", "multitask"):
        raise UserError(f"{source}: train.grad_accum > 1 is supported for supervised and "
                        "classifier training only")
    for i, loss in enumerate(config.losses):
        _check_choice(loss.input, LOSS_INPUTS, f"losses.{i}.input", source)
    if not config.losses:
        raise UserError(f"{source}: losses: give at least one loss term")
    if config.task == "multitask":
        if not config.tasks:
            raise UserError(f"{source}: task 'multitask' needs a 'tasks' section")
        for name, task in config.tasks.items():
            _check_data(task.train, f"tasks.{name}.train", source)
    else:
        if config.data is None:
            raise UserError(f"{source}: task {config.task!r} needs a 'data' section")
        if config.tasks:
            raise UserError(f"{source}: 'tasks' is only used by task 'multitask'")
        _check_data(config.data.train, "data.train", source)
    if config.task == "adversarial" and config.gan is None:
        raise UserError(f"{source}: task 'adversarial' needs a 'gan' section")
    if config.task in ("supervised", "classifier") and config.gan is not None:
        raise UserError(f"{source}: 'gan' is set but task is {config.task!r} "
                        "(use task: adversarial)")
    if config.gan is not None:
        gan = config.gan
        if gan.d_steps_per_g < 1 or gan.g_steps_per_d < 1:
            raise UserError(f"{source}: gan.d_steps_per_g and gan.g_steps_per_d must be >= 1")
        if gan.d_steps_per_g > 1 and gan.g_steps_per_d > 1:
            raise UserError(f"{source}: set at most one of gan.d_steps_per_g and "
                            "gan.g_steps_per_d above 1")
    if config.task == "classifier" and config.data and not _labelled_frames(config.data.train):
        raise UserError(f"{source}: the classifier reads labelled frames: data.train.layout "
                        "must be 'video' (labelled clips) or 'online' with args.items: frames")
    if (config.task != "classifier" and config.data and config.data.train.layout == "online"
            and config.data.train.args.get("items", "pairs") != "pairs"):
        raise UserError(f"{source}: data.train.args.items: frames is for task: classifier")


def _labelled_frames(data: DataConfig) -> bool:
    """Whether a dataset section gives labelled frames (what the classifier trains on)."""
    return data.layout == "video" or (data.layout == "online"
                                      and data.args.get("items") == "frames")


def replace_path(config: Config, dotted: str, value: Any) -> Config:
    """A new config with one dotted field replaced (the original is unchanged).

    Example:
        >>> cfg2 = replace_path(cfg, "train.steps", 5)   # doctest: +SKIP
    """
    head, _, rest = dotted.partition(".")
    if not rest:
        return dataclasses.replace(config, **{head: value})
    return dataclasses.replace(config, **{head: replace_path(getattr(config, head), rest, value)})


def config_differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted keys whose values differ between two configs (for resume warnings)."""
    a, b = to_dict(old), to_dict(new)
    out: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                walk(x.get(key), y.get(key), f"{where}.{key}" if where else key)
        elif x != y:
            out.append(where)

    walk(a, b, path)
    return out


__all__ = ["AMP_MODES", "Config", "DataConfig", "DataSection", "GANConfig", "LossConfig",
           "ModelConfig", "OptimConfig", "ScheduleConfig", "TASKS", "TaskConfig",
           "TrainConfig", "apply_override", "build_config", "config_differences",
           "dump_config", "from_dict", "load_config", "load_config_data", "parse_override",
           "replace_path", "to_dict", "validate_config"]
