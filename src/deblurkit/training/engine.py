"""The training loop: build everything from a :class:`Config`, run steps, validate, checkpoint.

One step function per kind of training, chosen from :data:`STEP_FUNCTIONS` by ``config.task``;
each reads top to bottom and performs exactly one generator (or classifier) optimizer step:

- :func:`supervised_step` -- ``grad_accum`` micro-batches, the weighted loss terms, one step.
- :func:`adversarial_step` -- one generator forward; ``d_steps_per_g`` critic updates on that
  batch (every ``g_steps_per_d``-th step) with the fake detached, then the generator update
  with content terms plus ``adv_weight`` times the adversarial term.
- :func:`multitask_step` -- one batch from every task, one shared-encoder forward over all of
  them, the tasks' generator losses summed and back-propagated once; each task's critic
  updates on its own task's batch.
- :func:`classifier_step` -- frame classifier (S4) on logits, accuracy logged.

The loop, :func:`train`, reads top to bottom in small named steps: :func:`resume_checkpoint`
(with ``--resume``), :func:`build_session`, :func:`restore_session`, :func:`open_run`,
:func:`validate` at step 0, :func:`run_steps` (each :func:`train_step`, the callbacks,
:func:`log_step`, and :func:`validate` / :func:`save` when due, until the last step or
Ctrl-C), a last :func:`validate` unless interrupted, a last :func:`save`, :func:`finish`.
An interrupted and a finished run end the same way; only a finished one writes
``summary.json`` and ``curves.png``.

Distributed runs (``torchrun``) wrap the generator in ``DistributedDataParallel``; critics'
gradients are averaged with one all-reduce per update (they are called in the generator's
step too, so DDP's one-forward-one-backward contract does not fit them).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from deblurkit.errors import UserError
from deblurkit.training.checkpoint import (find_resume_checkpoint, list_checkpoints, rng_state,
                                           save_checkpoint, set_rng_state)
from deblurkit.training.config import (Config, LossConfig, build_config, config_differences,
                                       dump_config, replace_path)
from deblurkit.training.data import DataStream, make_stream, make_val_loader
from deblurkit.training.health import FROZEN_WARNING, frozen_share
from deblurkit.training.optimizers import build_optimizer
from deblurkit.training.pyramids import target_pyramid
from deblurkit.utils.seeding import child_seed, name_key

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
SUMMARY_NAME = "summary.json"
#: Seed-sequence key of the gradient-penalty mixing coefficients.
GP_KEY = 11
#: Seed-sequence key of the global torch RNG (dropout) of each process.
DROPOUT_KEY = 13
#: Main data stream name for single-dataset tasks.
MAIN = "main"


# ------------------------------------------------------------------------------------------
# distributed
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    """Process group facts: ``rank``, ``world`` size, ``local_rank``; ``enabled`` under torchrun."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    enabled: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_setting: str) -> DistInfo:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1).

    gloo on CPU, NCCL on CUDA. Returns a single-process :class:`DistInfo` otherwise.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_setting != "cpu" and torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local_rank, True)


def resolve_device(setting: str, info: DistInfo) -> torch.device:
    """``auto`` -> CUDA (this process's local GPU under torchrun) when available, else CPU."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(setting)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"train.device={setting!r}: CUDA is not available on this machine")
        if info.enabled and device.index is None:
            device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    return device


def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """All-reduce (mean) the gradients of ``module`` over the processes (one flat buffer)."""
    if not info.enabled:
        return
    import torch.distributed as dist

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= info.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_parameters(module: nn.Module, info: DistInfo) -> None:
    if not info.enabled:
        return
    import torch.distributed as dist

    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


# ------------------------------------------------------------------------------------------
# building blocks
# ------------------------------------------------------------------------------------------
class TrainForward(nn.Module):
    """What the training step calls (and DDP wraps): a generator's list of coarse -> fine
    outputs, the multi-task ``{task: output}`` mapping, or a classifier's logits."""

    def __init__(self, net: nn.Module, kind: str) -> None:
        super().__init__()
        self.net, self.kind = net, kind

    def forward(self, x: Any) -> Any:
        if self.kind == "classifier":
            forward_logits = getattr(self.net, "forward_logits", None)
            return forward_logits(x) if forward_logits is not None else self.net(x)
        if self.kind == "multitask":
            return {task: self.net.forward_scales(batch, task) for task, batch in x.items()}
        scales = getattr(self.net, "forward_scales", None)
        return scales(x) if scales is not None else [self.net(x)]


class LossTerm:
    """One weighted loss term built from a :class:`LossConfig`.

    ``final`` terms compute ``loss(outputs[-1], target)``; ``scales`` terms compute
    ``loss(outputs, pyramid(target))`` with one target level per output scale.
    """

    def __init__(self, cfg: LossConfig, device: torch.device) -> None:
        from deblurkit.losses import build_loss

        self.cfg = cfg
        self.name = cfg.name
        self.module = build_loss(cfg.name, weight=cfg.weight, **cfg.kwargs).to(device)

    def __call__(self, outputs: Any, target: Tensor) -> Tensor:
        if self.cfg.input == "final":
            return self.module(outputs[-1] if isinstance(outputs, list) else outputs, target)
        return self.module(outputs, target_pyramid(target, len(outputs), self.cfg.pyramid))


def build_lr_scheduler(optimizer: torch.optim.Optimizer, config: Config) -> Any:
    from deblurkit.training.schedules import build_scheduler

    return build_scheduler(optimizer, {"name": config.schedule.name, **config.schedule.kwargs})


def scheduler_state(scheduler: Any) -> dict[str, Any]:
    """``state_dict`` without the attached schedule object (keeps ``weights_only`` loading)."""
    return {k: v for k, v in scheduler.state_dict().items() if k != "schedule"}


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * model`` for parameters; buffers copied."""
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def ema_decay(decay: float, step: int, warmup: bool) -> float:
    """The average's decay after ``step`` optimizer steps: ``decay``, or with ``warmup``
    ``min(decay, (1 + step) / (10 + step))``."""
    return min(decay, (1.0 + step) / (10.0 + step)) if warmup else decay


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


@dataclass
class Session:
    """Everything one run holds; the step functions read and update it."""

    config: Config
    device: torch.device
    dist: DistInfo
    model: nn.Module                       # the generator / classifier (plain)
    forward: nn.Module                     # TrainForward, maybe compiled and DDP-wrapped
    losses: list[LossTerm]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    streams: dict[str, DataStream]
    discs: dict[str, nn.Module] = field(default_factory=dict)
    opt_d: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    sched_d: dict[str, Any] = field(default_factory=dict)
    gan_loss: nn.Module | None = None
    scaler: Any = None
    ema: nn.Module | None = None
    step: int = 0
    epoch_ended: bool = False

    # helpers used by the step functions ------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        amp = self.config.train.amp
        if amp == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def to_device(self, tensor: Tensor) -> Tensor:
        tensor = tensor.to(self.device, non_blocking=True)
        if self.config.train.channels_last and tensor.ndim == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def next_batch(self, name: str = MAIN) -> dict[str, Any]:
        batch, last = self.streams[name].next()
        if name == next(iter(self.streams)):
            self.epoch_ended = self.epoch_ended or last
        return batch

    def backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def optimizer_step(self, optimizer: torch.optim.Optimizer, module: nn.Module) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if self.config.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(module.parameters(), self.config.train.grad_clip)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def gp_rng(self, task: str, d_iter: int) -> np.random.Generator:
        """Stateless generator of the gradient-penalty mix of one critic update."""
        return np.random.default_rng([self.config.train.seed, GP_KEY, self.step, d_iter,
                                      self.dist.rank, name_key(task)])

    @property
    def epoch(self) -> int:
        return next(iter(self.streams.values())).epoch


#: ``callback(session, logs)``, called by :func:`train` after every step.
Callback = Callable[[Session, dict[str, float]], None]


# ------------------------------------------------------------------------------------------
# step functions
# ------------------------------------------------------------------------------------------
def _content_terms(session: Session, outputs: Any, target: Tensor, prefix: str = ""
                   ) -> dict[str, Tensor]:
    return {f"{prefix}{term.name}": term(outputs, target) for term in session.losses}


def supervised_step(session: Session) -> dict[str, float]:
    """One optimizer step over ``grad_accum`` micro-batches of the weighted loss terms."""
    accum = session.config.train.grad_accum
    session.forward.train()
    session.optimizer.zero_grad(set_to_none=True)
    logs: dict[str, float] = {}
    for micro in range(accum):
        batch = session.next_batch()
        blur, sharp = session.to_device(batch["blur"]), session.to_device(batch["sharp"])
        sync = micro == accum - 1 or not hasattr(session.forward, "no_sync")
        with contextlib.nullcontext() if sync else session.forward.no_sync():
            with session.autocast():
                outputs = session.forward(blur)
                terms = _content_terms(session, outputs, sharp)
                loss = sum(terms.values()) / accum
            session.backward(loss)
        for name, value in terms.items():
            logs[name] = logs.get(name, 0.0) + float(value.detach()) / accum
        logs["loss"] = logs.get("loss", 0.0) + float(loss.detach())
    session.optimizer_step(session.optimizer, session.model)
    return logs


def _critic_updates(session: Session, task: str, real: Tensor, fake: Tensor) -> dict[str, float]:
    """``d_steps_per_g`` updates of critic ``task`` on one (real, detached fake) batch."""
    gan = session.config.gan
    disc, opt = session.discs[task], session.opt_d[task]
    logs: dict[str, float] = {}
    for d_iter in range(gan.d_steps_per_g):
        opt.zero_grad(set_to_none=True)
        with session.autocast():
            loss_real = session.gan_loss(disc(real), True, is_disc=True)
            loss_fake = session.gan_loss(disc(fake), False, is_disc=True)
            loss_d = loss_real + loss_fake
        if gan.gp_weight > 0:
            from deblurkit.losses import gradient_penalty

            gp = gradient_penalty(disc, real.float(), fake.float(), gan.gp_weight,
                                  rng=session.gp_rng(task, d_iter))
            loss_d = loss_d + gan.d_loss_weight * gp
            logs["gp"] = float(gp.detach())
        session.backward(loss_d)
        average_gradients(disc, session.dist)
        session.optimizer_step(opt, disc)
        logs["d_loss"] = float(loss_d.detach())
    return logs


def _adversarial_active(session: Session) -> tuple[bool, bool]:
    """(critics update this step, adversarial term in the generator loss this step)."""
    gan = session.config.gan
    on = session.step >= gan.start_step
    return on and session.step % gan.g_steps_per_d == 0, on


def _generator_update(session: Session, terms: dict[str, Tensor], discs,
                      logs: dict[str, float]) -> dict[str, float]:
    """Sum the generator's loss terms, one backward and step, critics trainable again."""
    loss = sum(terms.values())
    session.backward(loss)
    for disc in discs:
        set_requires_grad(disc, True)
    session.optimizer_step(session.optimizer, session.model)
    logs.update({name: float(v.detach()) for name, v in terms.items()})
    logs["loss"] = float(loss.detach())
    return logs


def adversarial_step(session: Session) -> dict[str, float]:
    """Critic update(s) on a detached fake, then one generator update (see module doc)."""
    gan = session.config.gan
    batch = session.next_batch()
    blur, sharp = session.to_device(batch["blur"]), session.to_device(batch["sharp"])
    session.forward.train()
    with session.autocast():
        outputs = session.forward(blur)
    update_d, use_adv = _adversarial_active(session)
    logs: dict[str, float] = {}
    if update_d:
        logs.update(_critic_updates(session, MAIN, sharp, outputs[-1].detach()))
    disc = session.discs[MAIN]
    set_requires_grad(disc, False)
    session.optimizer.zero_grad(set_to_none=True)
    with session.autocast():
        terms = _content_terms(session, outputs, sharp)
        if use_adv:
            terms["adv"] = gan.adv_weight * session.gan_loss(disc(outputs[-1]), True,
                                                             is_disc=False)
    return _generator_update(session, terms, [disc], logs)


def multitask_step(session: Session) -> dict[str, float]:
    """S5: one batch per task, one forward, summed generator losses, one backward."""
    config = session.config
    batches = {task: session.next_batch(task) for task in config.tasks}
    blurs = {t: session.to_device(b["blur"]) for t, b in batches.items()}
    sharps = {t: session.to_device(b["sharp"]) for t, b in batches.items()}
    session.forward.train()
    with session.autocast():
        outputs = session.forward(blurs)
    logs: dict[str, float] = {}
    update_d, use_adv = _adversarial_active(session) if config.gan else (False, False)
    if update_d:
        for task in config.tasks:
            d_logs = _critic_updates(session, task, sharps[task], outputs[task][-1].detach())
            logs.update({f"{task}/{k}": v for k, v in d_logs.items()})
    for disc in session.discs.values():
        set_requires_grad(disc, False)
    session.optimizer.zero_grad(set_to_none=True)
    with session.autocast():
        terms: dict[str, Tensor] = {}
        for task, task_cfg in config.tasks.items():
            task_terms = _content_terms(session, outputs[task], sharps[task], f"{task}/")
            if use_adv:
                score = session.discs[task](outputs[task][-1])
                task_terms[f"{task}/adv"] = config.gan.adv_weight * session.gan_loss(
                    score, True, is_disc=False)
            terms.update({k: task_cfg.weight * v for k, v in task_terms.items()})
    return _generator_update(session, terms, session.discs.values(), logs)


def classifier_step(session: Session) -> dict[str, float]:
    """Frame classifier: loss terms on logits against labels (1 = blurred); accuracy logged."""
    accum = session.config.train.grad_accum
    session.forward.train()
    session.optimizer.zero_grad(set_to_none=True)
    logs: dict[str, float] = {"loss": 0.0, "accuracy": 0.0}
    for micro in range(accum):
        batch = session.next_batch()
        image, label = session.to_device(batch["image"]), batch["label"].to(session.device)
        sync = micro == accum - 1 or not hasattr(session.forward, "no_sync")
        with contextlib.nullcontext() if sync else session.forward.no_sync():
            with session.autocast():
                logits = session.forward(image).float()
                loss = sum(term.module(logits, label) for term in session.losses) / accum
            session.backward(loss)
        logs["loss"] += float(loss.detach())
        logs["accuracy"] += float(((logits.detach() > 0).float() == label).float().mean()) / accum
    session.optimizer_step(session.optimizer, session.model)
    return logs


#: ``config.task`` -> step function.
STEP_FUNCTIONS: dict[str, Callable[[Session], dict[str, float]]] = {
    "supervised": supervised_step,
    "adversarial": adversarial_step,
    "multitask": multitask_step,
    "classifier": classifier_step,
}


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def validate_restorer(model: nn.Module, loader: Any, device: torch.device,
                      task: str | None = None, grid_count: int = 0
                      ) -> tuple[dict[str, float], Tensor | None]:
    """Mean PSNR / SSIM (``deblurkit.metrics`` defaults) of the model and of its input.

    Returns:
        ``{"psnr", "ssim", "psnr_input", "ssim_input"}`` and an optional image grid.
    """
    from deblurkit.metrics import MetricConfig, psnr_torch, ssim_torch
    from deblurkit.training.logs import image_grid

    metric_cfg = MetricConfig()
    was_training = model.training
    model.eval()
    sums = {"psnr": 0.0, "ssim": 0.0, "psnr_input": 0.0, "ssim_input": 0.0}
    count, grid = 0, None
    for batch in loader:
        blur, sharp = batch["blur"].to(device), batch["sharp"].to(device)
        restored = (model(blur, task) if task is not None else model(blur)).float().clamp(0, 1)
        sums["psnr"] += float(psnr_torch(restored, sharp, metric_cfg).sum())
        sums["ssim"] += float(ssim_torch(restored, sharp, metric_cfg).sum())
        sums["psnr_input"] += float(psnr_torch(blur, sharp, metric_cfg).sum())
        sums["ssim_input"] += float(ssim_torch(blur, sharp, metric_cfg).sum())
        if grid is None and grid_count:
            grid = image_grid(blur, restored, sharp, grid_count)
        count += blur.shape[0]
    model.train(was_training)
    return {k: v / max(count, 1) for k, v in sums.items()}, grid


@torch.no_grad()
def validate_classifier(model: nn.Module, loader: Any, device: torch.device
                        ) -> dict[str, float]:
    """Accuracy, and the accuracy on blurred and on sharp frames, at threshold 0.5."""
    was_training = model.training
    model.eval()
    right = total = right_blur = n_blur = right_sharp = n_sharp = 0
    for batch in loader:
        label = batch["label"].to(device)
        prob = model(batch["image"].to(device)).float()
        hit = ((prob > 0.5).float() == label)
        right += int(hit.sum()); total += label.numel()
        right_blur += int(hit[label == 1].sum()); n_blur += int((label == 1).sum())
        right_sharp += int(hit[label == 0].sum()); n_sharp += int((label == 0).sum())
    model.train(was_training)
    return {"accuracy": right / max(total, 1), "accuracy_blurred": right_blur / max(n_blur, 1),
            "accuracy_sharp": right_sharp / max(n_sharp, 1)}


# ------------------------------------------------------------------------------------------
# the loop
# ------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns: final step, last validation, run folder, last checkpoint,
    and whether the run was interrupted (Ctrl-C)."""

    step: int
    metrics: dict[str, float]
    run_dir: Path
    checkpoint: Path | None
    interrupted: bool = False


class _StopFlag:
    """SIGINT sets a flag checked between steps; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopFlag":
        try:
            self._previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread
            self._previous = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _build_models(config: Config, device: torch.device) -> tuple[nn.Module, dict[str, nn.Module]]:
    from deblurkit.models import create_model
    from deblurkit.models.weights import read_state_dict

    model = create_model(config.model.name, **config.model.kwargs)
    if config.model.init:
        model.load_state_dict(read_state_dict(config.model.init))
    discs: dict[str, nn.Module] = {}
    if config.gan is not None:
        names = list(config.tasks) if config.task == "multitask" else [MAIN]
        for name in names:
            disc = create_model(config.gan.discriminator.name, **config.gan.discriminator.kwargs)
            if config.gan.discriminator.init:
                disc.load_state_dict(read_state_dict(config.gan.discriminator.init))
            discs[name] = disc.to(device)
    return model.to(device), discs


def _data_streams(config: Config, info: DistInfo) -> dict[str, DataStream]:
    seed = config.train.seed
    if config.task == "multitask":
        return {task: make_stream(t.train, seed, info.rank, info.world)
                for task, t in config.tasks.items()}
    return {MAIN: make_stream(config.data.train, seed, info.rank, info.world)}


def _val_loaders(config: Config) -> dict[str, Any]:
    seed = config.train.seed
    if config.task == "multitask":
        return {task: make_val_loader(t.val, seed) for task, t in config.tasks.items()
                if t.val is not None}
    return {MAIN: make_val_loader(config.data.val, seed)} if config.data.val else {}


def _disc_file(task: str) -> str:
    return "disc" if task == MAIN else f"disc_{task}"


def build_session(config: Config, info: DistInfo, device: torch.device) -> Session:
    """Models, optimizers, schedulers, data streams and losses of a fresh run."""
    train = config.train
    torch.manual_seed(train.seed)
    model, discs = _build_models(config, device)
    if train.channels_last:
        model = model.to(memory_format=torch.channels_last)
        discs = {k: d.to(memory_format=torch.channels_last) for k, d in discs.items()}
    broadcast_parameters(model, info)
    for disc in discs.values():
        broadcast_parameters(disc, info)
    kind = "classifier" if config.task == "classifier" else (
        "multitask" if config.task == "multitask" else "generator")
    forward: nn.Module = TrainForward(model, kind)
    if train.compile:
        forward = torch.compile(forward)
    if info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(
            forward, device_ids=[device.index] if device.type == "cuda" else None)
    optim = config.optim
    optimizer = build_optimizer(list(model.parameters()), optim.name, optim.lr, optim.betas,
                                optim.eps, optim.weight_decay, optim.momentum)
    session = Session(config=config, device=device, dist=info, model=model, forward=forward,
                      losses=[LossTerm(c, device) for c in config.losses], optimizer=optimizer,
                      scheduler=build_lr_scheduler(optimizer, config),
                      streams=_data_streams(config, info))
    if config.gan is not None:
        from deblurkit.losses import GANLoss

        gan = config.gan
        session.gan_loss = GANLoss(gan.gan_type, disc_weight=gan.d_loss_weight).to(device)
        for name, disc in discs.items():
            opt_d = build_optimizer(list(disc.parameters()), optim.name,
                                    gan.lr_d if gan.lr_d is not None else optim.lr,
                                    gan.betas_d if gan.betas_d is not None else optim.betas,
                                    optim.eps, optim.weight_decay, optim.momentum)
            session.discs[name], session.opt_d[name] = disc, opt_d
            session.sched_d[name] = build_lr_scheduler(opt_d, config)
    if train.amp == "fp16":
        if device.type != "cuda":
            raise UserError("train.amp='fp16' needs CUDA; use 'bf16' on the CPU")
        session.scaler = torch.amp.GradScaler("cuda")
    if train.ema > 0:
        session.ema = copy.deepcopy(model).eval()
        set_requires_grad(session.ema, False)
    seed_dropout(session)
    return session


def seed_dropout(session: Session) -> None:
    """Seed the global torch RNG (dropout) of this process at this step.

    Fresh runs, and resumed distributed runs (the checkpoint holds rank 0's RNG state only),
    use ``child_seed(seed, DROPOUT_KEY, rank, step)``: one independent stream per process.
    """
    torch.manual_seed(child_seed(session.config.train.seed, DROPOUT_KEY, session.dist.rank,
                                 session.step))


def session_state(session: Session) -> dict[str, Any]:
    """Everything but the weights, for ``state.pt``."""
    return {
        "epoch": session.epoch,
        "optimizer": session.optimizer.state_dict(),
        "scheduler": scheduler_state(session.scheduler),
        "opt_d": {k: o.state_dict() for k, o in session.opt_d.items()},
        "sched_d": {k: scheduler_state(s) for k, s in session.sched_d.items()},
        "scaler": session.scaler.state_dict() if session.scaler is not None else None,
        "streams": {k: s.state() for k, s in session.streams.items()},
        "rng": rng_state(),
    }


def session_models(session: Session) -> dict[str, nn.Module]:
    models = {"model": session.model}
    if session.ema is not None:
        models["ema"] = session.ema
    models.update({_disc_file(k): d for k, d in session.discs.items()})
    return models


def restore_session(session: Session, checkpoint: dict[str, Any]) -> None:
    """Load a checkpoint's weights and state into a freshly built session."""
    weights = checkpoint["weights"]
    session.model.load_state_dict(weights["model"])
    if session.ema is not None:
        session.ema.load_state_dict(weights.get("ema", weights["model"]))
    for name, disc in session.discs.items():
        disc.load_state_dict(weights[_disc_file(name)])
    session.optimizer.load_state_dict(checkpoint["optimizer"])
    session.scheduler.load_state_dict(checkpoint["scheduler"])
    for name in session.opt_d:
        session.opt_d[name].load_state_dict(checkpoint["opt_d"][name])
        session.sched_d[name].load_state_dict(checkpoint["sched_d"][name])
    if session.scaler is not None and checkpoint.get("scaler"):
        session.scaler.load_state_dict(checkpoint["scaler"])
    for name, stream in session.streams.items():
        stream.load_state(checkpoint["streams"][name])
    session.step = int(checkpoint["step"])
    set_rng_state(checkpoint["rng"])
    if session.dist.enabled:
        seed_dropout(session)


def total_steps(config: Config, session: Session) -> int:
    if config.train.epochs is None:
        return config.train.steps
    return config.train.epochs * next(iter(session.streams.values())).batches_per_epoch


def run_validation(session: Session, loaders: dict[str, Any]) -> tuple[dict[str, float],
                                                                        Tensor | None]:
    """Validate the EMA weights if kept, else the model; keys ``task/metric`` for multitask."""
    model = session.ema if session.ema is not None else session.model
    count = session.config.train.val_images
    if session.config.task == "classifier":
        return validate_classifier(model, loaders[MAIN], session.device), None
    metrics: dict[str, float] = {}
    grid = None
    for task, loader in loaders.items():
        values, task_grid = validate_restorer(
            model, loader, session.device, None if task == MAIN else task, count)
        grid = grid if grid is not None else task_grid
        prefix = "" if task == MAIN else f"{task}/"
        metrics.update({f"{prefix}{k}": v for k, v in values.items()})
    return metrics, grid


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove the given folders (innermost first) while they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return


def prepare_run_dir(config: Config, resume: bool, create: bool = True) -> Path:
    """The run folder; refuses to start over a run that has checkpoints unless resuming."""
    run_dir = Path(config.train.out_dir)
    if not resume and list_checkpoints(run_dir):
        raise UserError(f"{run_dir}: already holds checkpoints; pass --resume to continue it "
                        "or choose another folder (--set train.out_dir=...)")
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def train(config: Config, resume: bool = False, callbacks: Sequence[Callback] = (),
          tensorboard: bool = True) -> TrainResult:
    """Run (or resume) the training described by ``config``.

    Args:
        config: the resolved recipe.
        resume: continue from the newest readable checkpoint in ``train.out_dir``.
        callbacks: called as ``callback(session, logs)`` after every step (tests, hooks);
            a ``KeyboardInterrupt`` raised by one is handled like Ctrl-C.
        tensorboard: write TensorBoard event files.

    Returns:
        :class:`TrainResult`.

    Raises:
        UserError: bad data, bad settings, no checkpoint to resume, corrupt checkpoints.
            A run folder that the failing call created and left empty is removed.

    Example:
        >>> result = train(load_config("configs/small/s1_han.yaml"))   # doctest: +SKIP
        >>> result.step, result.metrics["psnr"]                        # doctest: +SKIP
        (400, 20.9...)
    """
    prepare_run_dir(config, resume, create=False)  # every process fails alike, before joining
    info = init_distributed(config.train.device)
    device = resolve_device(config.train.device, info)
    if config.train.deterministic:
        torch.use_deterministic_algorithms(True)
    created = _missing_folders(Path(config.train.out_dir)) if info.is_main else []
    run_dir = prepare_run_dir(config, resume, create=info.is_main)
    try:
        return _train_in(run_dir, config, resume, info, device, callbacks, tensorboard)
    except BaseException:
        _remove_empty(created)  # a run that failed before writing anything leaves no folder
        raise


def _train_in(run_dir: Path, config: Config, resume: bool, info: DistInfo,
              device: torch.device, callbacks: Sequence[Callback], tensorboard: bool
              ) -> TrainResult:
    """The body of :func:`train` once the run folder exists, top to bottom."""
    checkpoint = resume_checkpoint(run_dir, config) if resume else None
    session = build_session(config, info, device)
    session.config = config = replace_path(config, "train.steps", total_steps(config, session))
    config_text = dump_config(config)
    if checkpoint is not None:
        restore_session(session, checkpoint)
    run = open_run(run_dir, session, config_text, checkpoint, tensorboard)
    if session.step == 0:
        validate(session, run)
    interrupted = run_steps(session, run, callbacks)
    if not interrupted:
        validate(session, run)
    save(session, run)
    return finish(session, run, interrupted)


#: Settings a resumed run may change without a warning.
_RESUME_FREE_KEYS = ("train.steps", "train.epochs", "train.val_every", "train.ckpt_every",
                     "train.log_every", "train.keep_checkpoints")


@dataclass
class RunState:
    """What the loop keeps besides the :class:`Session`: the run folder and its records.

    Args:
        run_dir: the run folder.
        config_text: the resolved config (``config.yaml``, copied into every checkpoint).
        loaders: validation loaders by task (empty on processes other than rank 0).
        log: the :class:`~deblurkit.training.logs.RunLogger` (None off rank 0).
        start_step: the step this session started at (0, or the resumed checkpoint's).
        started: ``time.perf_counter()`` when the steps began.
        loss: the last step's ``loss``.
        metrics: the last validation's metrics.
        checkpoint: the last checkpoint written.
    """

    run_dir: Path
    config_text: str
    loaders: dict[str, Any]
    log: Any
    start_step: int
    started: float = 0.0
    loss: float = float("nan")
    metrics: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    frozen_warned: bool = False


def resume_checkpoint(run_dir: Path, config: Config) -> dict[str, Any]:
    """The newest readable checkpoint of ``run_dir``; warns about changed settings.

    Raises:
        UserError: no checkpoint, or every one is corrupt.
    """
    checkpoint = find_resume_checkpoint(run_dir)
    changed = [key for key in config_differences(build_config(_yaml(checkpoint["config"])),
                                                 config)
               if not key.startswith(_RESUME_FREE_KEYS)]
    if changed:
        logger.warning("resuming with settings that differ from the checkpoint's: %s",
                       ", ".join(changed))
    return checkpoint


def open_run(run_dir: Path, session: Session, config_text: str,
             checkpoint: dict[str, Any] | None, tensorboard: bool) -> RunState:
    """Validation loaders, ``config.yaml`` and the logger (rank 0 only) of a run."""
    from deblurkit.training.logs import RunLogger

    run = RunState(run_dir, config_text, loaders={}, log=None, start_step=session.step)
    if not session.dist.is_main:
        return run
    run.loaders = _val_loaders(session.config)
    (run_dir / CONFIG_NAME).write_text(config_text, encoding="utf-8")
    run.log = RunLogger(run_dir, session.config.train.steps, session.step, tensorboard)
    if checkpoint is not None:
        run.log.message(f"resumed from {checkpoint['path']} (step {session.step})")
    return run


def train_step(session: Session) -> dict[str, float]:
    """One optimizer step of the task's step function, then EMA and the lr schedules."""
    session.epoch_ended = False
    logs = STEP_FUNCTIONS[session.config.task](session)
    session.step += 1
    if session.ema is not None:
        train = session.config.train
        ema_update(session.ema, session.model, ema_decay(train.ema, session.step, train.ema_warmup))
    if session.config.schedule.interval == "step" or session.epoch_ended:
        session.scheduler.step()
        for scheduler in session.sched_d.values():
            scheduler.step()
    return logs


def run_steps(session: Session, run: RunState, callbacks: Sequence[Callback]) -> bool:
    """Train up to ``train.steps``; True when stopped early (Ctrl-C, or a callback's
    ``KeyboardInterrupt``), after the current step."""
    train_cfg, steps = session.config.train, session.config.train.steps
    run.started = time.perf_counter()
    with _StopFlag() as stop:
        try:
            while session.step < steps:
                logs = train_step(session)
                run.loss = logs.get("loss", float("nan"))
                for callback in callbacks:
                    callback(session, logs)
                log_step(session, run, logs)
                if _due(train_cfg.val_every, session.step, steps):
                    validate(session, run)
                if _due(train_cfg.ckpt_every, session.step, steps):
                    save(session, run)
                if _stop_requested(stop.requested, session.dist, session.device):
                    return True
        except KeyboardInterrupt:
            return True
    return False


def _due(every: int, step: int, steps: int) -> bool:
    """A periodic action (validation, checkpoint) is due after ``step`` (not the last one:
    the end of the run does both anyway)."""
    return bool(every) and step % every == 0 and step < steps


def log_step(session: Session, run: RunState, logs: dict[str, float]) -> None:
    """Training scalars every ``log_every`` steps (with the lr), and the progress bar."""
    if run.log is None:
        return
    log_every = session.config.train.log_every
    if log_every and session.step % log_every == 0:
        logs["lr"] = session.optimizer.param_groups[0]["lr"]
        # this step's gradients are still in place (the next step clears them)
        frozen = logs["frozen"] = frozen_share(session.model)
        if frozen > FROZEN_WARNING and session.step >= 2 * log_every and not run.frozen_warned:
            run.frozen_warned = True
            run.log.message(
                f"warning: {frozen:.0%} of the network's parameters got no gradient "
                f"at step {session.step} (a dead sub-network: ReLUs that no longer fire for "
                "any input; docs/training.md, 'Dead sub-networks')")
        run.log.scalars(session.step, session.epoch, "train", logs)
    run.log.progress(session.step, run.loss)


def validate(session: Session, run: RunState) -> None:
    """Validate (rank 0, when there is validation data) and log the metrics and image grid."""
    if run.log is None or not run.loaders:
        return
    run.metrics, grid = run_validation(session, run.loaders)
    run.log.scalars(session.step, session.epoch, "val", run.metrics)
    if grid is not None:
        run.log.image(session.step, "val/blurred|restored|sharp", grid)
    run.log.message(f"step {session.step}: " + ", ".join(
        f"val {k} {v:.4g}" for k, v in run.metrics.items()))


def save(session: Session, run: RunState) -> None:
    """Write a checkpoint of the current step (rank 0)."""
    if session.dist.is_main:
        run.checkpoint = save_checkpoint(run.run_dir, session.step, session_models(session),
                                         session_state(session), run.config_text,
                                         session.config.train.keep_checkpoints)


def finish(session: Session, run: RunState, interrupted: bool) -> TrainResult:
    """Close the logs; a finished run also draws its curves and writes ``summary.json``."""
    if run.log is not None:
        if interrupted:
            run.log.message(f"interrupted at step {session.step}; checkpoint {run.checkpoint}")
        run.log.close()
        if not interrupted:
            from deblurkit.training.logs import plot_curves

            plot_curves(run.run_dir)
            (run.run_dir / SUMMARY_NAME).write_text(json.dumps(summary(session, run), indent=2),
                                                    encoding="utf-8")
    _finish_distributed(session.dist)
    return TrainResult(session.step, run.metrics, run.run_dir, run.checkpoint, interrupted)


def summary(session: Session, run: RunState) -> dict[str, Any]:
    """``summary.json``: final step, steps run by this session (not counting the steps before
    a resume), wall time of the steps, last loss, last validation and checkpoint."""
    return {"step": session.step, "steps_this_session": session.step - run.start_step,
            "wall_s": round(time.perf_counter() - run.started, 2), "final_loss": run.loss,
            "val": run.metrics, "checkpoint": str(run.checkpoint)}


def _stop_requested(local: bool, info: DistInfo, device: torch.device) -> bool:
    """Ctrl-C seen by any process stops every process at the same step."""
    if not info.enabled:
        return local
    import torch.distributed as dist

    flag = torch.tensor([1.0 if local else 0.0], device=device)
    dist.all_reduce(flag)
    return bool(flag.item() > 0)


def _finish_distributed(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def _yaml(text: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(text)


__all__ = ["STEP_FUNCTIONS", "Callback", "DistInfo", "LossTerm", "RunState", "Session",
           "TrainForward", "TrainResult", "adversarial_step", "build_session", "classifier_step",
           "multitask_step", "run_steps", "supervised_step", "train", "train_step",
           "validate_classifier", "validate_restorer"]
