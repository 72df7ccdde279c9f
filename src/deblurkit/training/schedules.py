"""Learning-rate schedules of the five systems, as multipliers for ``LambdaLR``.

A schedule is a small frozen dataclass: ``schedule(step)`` returns the factor that multiplies
the optimizer's learning rate at ``step`` (``0, 1, 2, ...``: the number of times
``scheduler.step()`` has been called). Whether a step is an epoch or an iteration is the
trainer's choice (it calls ``scheduler.step()`` once per epoch or once per iteration);
:data:`SCHEDULE_PRESETS` records the unit each paper uses. :func:`build_scheduler` wraps a
schedule in :class:`torch.optim.lr_scheduler.LambdaLR`, so ``state_dict`` / ``load_state_dict``
resume it (the state is the step count; it loads with ``torch.load(weights_only=True)``).
The schedules are registered by name in :data:`SCHEDULES` (a
:class:`deblurkit.utils.registry.Registry`), whose keys are the accepted ``schedule.name``.

Why not ``StepLR``, ``MultiStepLR``, ``CosineAnnealingLR``, ``CyclicLR``, ``LinearLR`` +
``SequentialLR``: those are *chainable* (each step multiplies the optimizer's current lr), so
their values drift from the closed form by rounding (measured against these schedules with
torch 2.13: cosine differs in 11,776 of 12,001 steps, cyclic in 2,411 of 6,000,
constant-then-linear in 97 of its 100 decay steps, step after ten decays; up to ~2e-14
relative) and a run resumed from a
checkpoint written by this module would not continue with the same lr values.
``CosineAnnealingLR`` also rises again after ``T_max`` (ours stays at ``final_ratio``),
``CyclicLR`` has no ``decay_base`` reading of S4, and ``SequentialLR`` cannot express
:class:`Warmup` with an arbitrary ``after``. torch provides the driver (``LambdaLR``: state,
``get_last_lr``, resume); this module provides only the multipliers torch lacks as closed forms.

=========================  ===============================================================
name                       multiplier at step ``t``
=========================  ===============================================================
``constant``               ``1``
``step``                   ``gamma ** (t // step_size)``
``multi_step``             ``gamma ** (number of milestones <= t)``
``constant_then_linear``   ``1`` for ``t < c``, then linear to ``final_ratio`` at ``t = c + d``
``cosine``                 ``f + (1 - f) (1 + cos(pi min(t, T) / T)) / 2``
``cyclic_exp_range``       Smith's triangular cycle with ``gamma ** t`` amplitude, / base_lr
``warmup``                 linear ``start_ratio -> 1`` over ``w`` steps, then ``after(t - w)``
=========================  ===============================================================

Paper settings (:data:`SCHEDULE_PRESETS`):

- S1: Adam 1e-4, ``step(step_size=1000, gamma=0.3)`` per epoch (3000 epochs).
- S2: Adam 5e-5, ``multi_step(milestones=[150000], gamma=0.1)`` per iteration (4.5e5).
- S3: Adam 1e-4, ``constant_then_linear(200, 100, 0.0)`` per epoch (300 epochs).
- S4: ``cyclic_exp_range(1e-3, 6e-3, step_size=1300, gamma=0.99994)`` per iteration; "cycle
  length 2600 iterations" is a full up-and-down cycle, i.e. Smith's ``stepsize`` (half a cycle)
  is 1300. The paper gives no ``gamma``; 0.99994 is our choice (amplitude halves every
  ~11,550 iterations).
- S5: Adam 1e-4, ``constant_then_linear(40, 40, 1e-3)`` per epoch: to 1e-7 = 1e-4 x 1e-3.

Example:
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    >>> sched = build_scheduler(opt, {"name": "step", "step_size": 1000, "gamma": 0.3})
    >>> StepDecay(1000, 0.3)(2000)
    0.09
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from deblurkit.errors import UserError
from deblurkit.utils.registry import Registry

# Relative tolerance when checking that an optimizer's lr equals a schedule's base_lr.
_LR_RTOL = 1e-9

#: Every schedule class, by the name ``schedule.name`` of a training config uses.
SCHEDULES: Registry[type[Schedule]] = Registry("lr schedule")
_ScheduleT = TypeVar("_ScheduleT", bound="type[Schedule]")


def register_schedule(name: str) -> Callable[[_ScheduleT], _ScheduleT]:
    """Class decorator adding a schedule to :data:`SCHEDULES`.

    Raises:
        ValueError: ``name`` is already registered.

    Example:
        >>> @register_schedule("halved")        # doctest: +SKIP
        ... @dataclass(frozen=True)
        ... class Halved(Schedule): ...
    """
    return SCHEDULES.register(name)


def _check_step(step: int) -> int:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    return int(step)


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _check_ratio(name: str, value: float, upper: float | None = 1.0) -> None:
    if not (value >= 0 and (upper is None or value <= upper)):
        bound = f"[0, {upper}]" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be in {bound}, got {value!r}")


class Schedule:
    """Base of the schedules: ``__call__(step) -> multiplier`` of the optimizer's lr."""

    def __call__(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def check_optimizer(self, optimizer: Optimizer) -> None:
        """Raise ``ValueError`` if the schedule cannot drive ``optimizer`` (default: any can)."""


@register_schedule("constant")
@dataclass(frozen=True)
class Constant(Schedule):
    """Multiplier 1 at every step.

    Example:
        >>> Constant()(12345)
        1.0
    """

    def __call__(self, step: int) -> float:
        _check_step(step)
        return 1.0


@register_schedule("step")
@dataclass(frozen=True)
class StepDecay(Schedule):
    """``gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` steps.

    Args:
        step_size: steps between decays (S1: 1000 epochs).
        gamma: factor per decay, ``> 0`` (S1: 0.3).

    Example:
        >>> [StepDecay(1000, 0.3)(t) for t in (999, 1000, 2000)]
        [1.0, 0.3, 0.09]
    """

    step_size: int
    gamma: float

    def __post_init__(self) -> None:
        _check_positive_int("step_size", self.step_size)
        if not self.gamma > 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma!r}")

    def __call__(self, step: int) -> float:
        return float(self.gamma ** (_check_step(step) // self.step_size))


@register_schedule("multi_step")
@dataclass(frozen=True)
class MultiStep(Schedule):
    """``gamma ** k`` where ``k`` counts the milestones ``<= step``.

    Args:
        milestones: increasing steps at which the lr is multiplied by ``gamma``
            (S2: ``[150000]`` iterations).
        gamma: factor per milestone, ``> 0`` (S2: 0.1).

    Example:
        >>> [MultiStep((150000,), 0.1)(t) for t in (149999, 150000)]
        [1.0, 0.1]
    """

    milestones: tuple[int, ...]
    gamma: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))
        if any(m < 0 for m in self.milestones) or list(self.milestones) != sorted(
                set(self.milestones)):
            raise ValueError(f"milestones must be strictly increasing and >= 0, got "
                             f"{list(self.milestones)}")
        if not self.gamma > 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma!r}")

    def __call__(self, step: int) -> float:
        return float(self.gamma ** bisect.bisect_right(self.milestones, _check_step(step)))


@register_schedule("constant_then_linear")
@dataclass(frozen=True)
class ConstantThenLinear(Schedule):
    """1 for ``constant_steps`` steps, then linear decay to ``final_ratio`` over ``decay_steps``.

    ``m(t) = 1`` for ``t <= c``, ``1 - (1 - f) (t - c) / d`` for ``c < t < c + d`` and ``f``
    after. With S3's 200 + 100 epochs the lr of the last epoch (``t = 299``) is 1 % of the
    initial lr; ``t = 300`` would be 0.

    Args:
        constant_steps: ``c >= 0`` (S3: 200 epochs, S5: 40 epochs).
        decay_steps: ``d >= 1`` (S3: 100, S5: 40).
        final_ratio: ``f`` in ``[0, 1]`` (S3: 0; S5: 1e-7 / 1e-4 = 1e-3).

    Example:
        >>> [ConstantThenLinear(200, 100, 0.0)(t) for t in (199, 200, 250, 300)]
        [1.0, 1.0, 0.5, 0.0]
    """

    constant_steps: int
    decay_steps: int
    final_ratio: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.constant_steps, bool) or int(self.constant_steps) != \
                self.constant_steps or self.constant_steps < 0:
            raise ValueError(f"constant_steps must be an integer >= 0, got "
                             f"{self.constant_steps!r}")
        _check_positive_int("decay_steps", self.decay_steps)
        _check_ratio("final_ratio", self.final_ratio)

    def __call__(self, step: int) -> float:
        progress = min(1.0, max(0, _check_step(step) - self.constant_steps) / self.decay_steps)
        return 1.0 - (1.0 - self.final_ratio) * progress


@register_schedule("cosine")
@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing from 1 to ``final_ratio`` over ``total_steps`` (then constant).

    ``m(t) = f + (1 - f) (1 + cos(pi min(t, T) / T)) / 2``.

    Args:
        total_steps: ``T >= 1``.
        final_ratio: ``f`` in ``[0, 1]`` (default 0).

    Example:
        >>> [round(Cosine(100)(t), 6) for t in (0, 50, 100, 150)]
        [1.0, 0.5, 0.0, 0.0]
    """

    total_steps: int
    final_ratio: float = 0.0

    def __post_init__(self) -> None:
        _check_positive_int("total_steps", self.total_steps)
        _check_ratio("final_ratio", self.final_ratio)

    def __call__(self, step: int) -> float:
        progress = min(_check_step(step), self.total_steps) / self.total_steps
        return self.final_ratio + (1.0 - self.final_ratio) * 0.5 * (1.0 + math.cos(math.pi *
                                                                                  progress))


@register_schedule("cyclic_exp_range")
@dataclass(frozen=True)
class CyclicExpRange(Schedule):
    """Smith's cyclical learning rate, triangular policy with ``exp_range`` scaling (WACV 2017).

    With ``it`` the iteration::

        cycle = floor(1 + it / (2 step_size))
        x     = |it / step_size - 2 cycle + 1|
        lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * gamma ** it

    so the lr is ``base_lr`` at ``it = 0``, peaks at ``it = step_size`` and returns to
    ``base_lr`` at ``2 step_size`` (one full cycle), the amplitude shrinking by ``gamma ** it``
    (Smith's and PyTorch's ``CyclicLR(mode="exp_range")``). S4's text says "each boundary value
    declines by gamma^iterations": ``decay_base=True`` reads that literally and multiplies the
    whole lr, ``(base_lr + (max_lr - base_lr) max(0, 1 - x)) * gamma ** it``.

    The schedule returns ``lr / base_lr`` (a ``LambdaLR`` multiplier): the optimizer's lr must
    be ``base_lr`` (checked by :func:`build_scheduler`). :meth:`lr` gives the absolute value.

    Args:
        base_lr: lower bound (S4: 1e-3).
        max_lr: upper bound, ``>= base_lr`` (S4: 6e-3).
        step_size: iterations in half a cycle (S4: cycle length 2600 -> 1300).
        gamma: ``(0, 1]`` amplitude decay per iteration (S4: not given; preset 0.99994).
        decay_base: also decay the lower bound (see above; default False).

    Example:
        >>> clr = CyclicExpRange(1e-3, 6e-3, step_size=1300, gamma=1.0)
        >>> [round(clr.lr(t), 9) for t in (0, 650, 1300, 2600)]
        [0.001, 0.0035, 0.006, 0.001]
    """

    base_lr: float
    max_lr: float
    step_size: int
    gamma: float = 1.0
    decay_base: bool = False

    def __post_init__(self) -> None:
        if not self.base_lr > 0:
            raise ValueError(f"base_lr must be > 0, got {self.base_lr!r}")
        if not self.max_lr >= self.base_lr:
            raise ValueError(f"max_lr ({self.max_lr!r}) must be >= base_lr ({self.base_lr!r})")
        _check_positive_int("step_size", self.step_size)
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma!r}")

    def lr(self, step: int) -> float:
        """The absolute learning rate at iteration ``step``."""
        it = _check_step(step)
        cycle = math.floor(1 + it / (2 * self.step_size))
        x = abs(it / self.step_size - 2 * cycle + 1)
        triangle = max(0.0, 1.0 - x)
        scale = self.gamma ** it
        if self.decay_base:
            return (self.base_lr + (self.max_lr - self.base_lr) * triangle) * scale
        return self.base_lr + (self.max_lr - self.base_lr) * triangle * scale

    def __call__(self, step: int) -> float:
        return self.lr(step) / self.base_lr

    def check_optimizer(self, optimizer: Optimizer) -> None:
        for index, group in enumerate(optimizer.param_groups):
            lr = group.get("initial_lr", group["lr"])
            if not math.isclose(lr, self.base_lr, rel_tol=_LR_RTOL):
                raise ValueError(f"cyclic_exp_range: the optimizer's lr ({lr!r}, param group "
                                 f"{index}) must equal base_lr ({self.base_lr!r})")


@register_schedule("warmup")
@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up over ``warmup_steps``, then ``after`` counted from the end of warm-up.

    ``m(t) = start_ratio + (1 - start_ratio) t / w`` for ``t < w``, then ``after(t - w)``
    (``after`` defaults to :class:`Constant`). ``after`` sees steps from 0, so e.g. a cosine
    over the remaining ``T - w`` steps is ``Warmup(w, Cosine(T - w))``.

    Args:
        warmup_steps: ``w >= 1``.
        after: the schedule after warm-up (a :class:`Schedule` or a config mapping).
        start_ratio: multiplier at step 0, in ``[0, 1]`` (default 0: the first step has lr 0).

    Example:
        >>> sched = Warmup(4, StepDecay(10, 0.5))
        >>> [sched(t) for t in (0, 2, 4, 14)]
        [0.0, 0.5, 1.0, 0.5]
    """

    warmup_steps: int
    after: Schedule = field(default_factory=Constant)
    start_ratio: float = 0.0

    def __post_init__(self) -> None:
        _check_positive_int("warmup_steps", self.warmup_steps)
        _check_ratio("start_ratio", self.start_ratio)
        if isinstance(self.after, Mapping):
            object.__setattr__(self, "after", build_schedule(self.after))
        if not isinstance(self.after, Schedule):
            raise TypeError(f"after must be a Schedule or a config mapping, got "
                            f"{type(self.after).__name__}")

    def __call__(self, step: int) -> float:
        t = _check_step(step)
        if t < self.warmup_steps:
            return self.start_ratio + (1.0 - self.start_ratio) * t / self.warmup_steps
        return self.after(t - self.warmup_steps)

    def check_optimizer(self, optimizer: Optimizer) -> None:
        self.after.check_optimizer(optimizer)


# --------------------------------------------------------------------------------------------
# Presets and builders
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SchedulePreset:
    """A paper's schedule: the config for :func:`build_schedule`, its unit and its source.

    Attributes:
        config: ``{"name": ..., **arguments}``.
        unit: ``"epoch"`` or ``"iteration"``: when the trainer calls ``scheduler.step()``.
        lr: the paper's initial learning rate (the optimizer's lr).
        paper: where the numbers come from.
    """

    config: Mapping[str, Any]
    unit: str
    lr: float
    paper: str


#: The five systems' schedules (see the module docstring for the readings taken).
SCHEDULE_PRESETS: dict[str, SchedulePreset] = {
    "s1": SchedulePreset({"name": "step", "step_size": 1000, "gamma": 0.3}, "epoch", 1e-4,
                         "S1: Adam 1e-4, x0.3 every 1000 epochs, 3000 epochs"),
    "s2": SchedulePreset({"name": "multi_step", "milestones": [150000], "gamma": 0.1},
                         "iteration", 5e-5,
                         "S2: Adam 5e-5, /10 after 1.5e5 iterations, 4.5e5 iterations"),
    "s3": SchedulePreset({"name": "constant_then_linear", "constant_steps": 200,
                          "decay_steps": 100, "final_ratio": 0.0}, "epoch", 1e-4,
                         "S3: Adam 1e-4, 200 epochs constant then linear decay (300 epochs)"),
    "s4": SchedulePreset({"name": "cyclic_exp_range", "base_lr": 1e-3, "max_lr": 6e-3,
                          "step_size": 1300, "gamma": 0.99994}, "iteration", 1e-3,
                         "S4: CLR exp_range, bounds 1e-3 / 6e-3, cycle 2600 iterations "
                         "(gamma not given: 0.99994 is our choice)"),
    "s5": SchedulePreset({"name": "constant_then_linear", "constant_steps": 40,
                          "decay_steps": 40, "final_ratio": 1e-3}, "epoch", 1e-4,
                         "S5: Adam 1e-4, 40 epochs constant then linear to 1e-7 over 40"),
}


def list_schedules() -> list[str]:
    """Sorted schedule names accepted by :func:`build_schedule`.

    Example:
        >>> "cosine" in list_schedules()
        True
    """
    return list(SCHEDULES.keys())


def build_schedule(config: Mapping[str, Any] | Schedule | str) -> Schedule:
    """A :class:`Schedule` from a config mapping ``{"name": ..., **arguments}``.

    Args:
        config: a mapping with ``"name"`` (one of :func:`list_schedules`) and the class's
            arguments; a preset name ``"s1"`` ... ``"s5"``; or a schedule (returned as is).

    Raises:
        UserError: unknown name or arguments the schedule refuses.

    Example:
        >>> build_schedule({"name": "multi_step", "milestones": [10, 20], "gamma": 0.5})
        MultiStep(milestones=(10, 20), gamma=0.5)
    """
    if isinstance(config, Schedule):
        return config
    if isinstance(config, str):
        if config not in SCHEDULE_PRESETS:
            raise UserError(f"unknown schedule preset {config!r}; choose from "
                            f"{sorted(SCHEDULE_PRESETS)}")
        config = SCHEDULE_PRESETS[config].config
    arguments = dict(config)
    name = arguments.pop("name", None)
    schedule_class = SCHEDULES.get(name)
    try:
        return schedule_class(**arguments)
    except (TypeError, ValueError) as error:
        raise UserError(f"lr schedule {name!r}: {error}") from None


def build_scheduler(optimizer: Optimizer, config: Mapping[str, Any] | Schedule | str,
                    last_epoch: int = -1) -> LambdaLR:
    """A :class:`~torch.optim.lr_scheduler.LambdaLR` driving ``optimizer`` with a schedule.

    Every parameter group gets ``lr = initial lr * schedule(step)``. The scheduler's
    ``state_dict`` holds the step count (the schedule itself is rebuilt from the config), so a
    resumed run builds the scheduler again and calls :func:`load_scheduler_state` (or builds
    the scheduler first and loads the optimizer's state after it, then
    ``scheduler.load_state_dict``).

    Args:
        optimizer: the optimizer; its lr is the schedule's reference (for
            ``cyclic_exp_range`` it must equal ``base_lr``).
        config: as for :func:`build_schedule`.
        last_epoch: passed to ``LambdaLR`` (``-1`` for a fresh start).

    Returns:
        The scheduler; call ``scheduler.step()`` once per epoch or iteration (the preset's
        ``unit``). The schedule object is ``scheduler.lr_lambdas[0].schedule``.

    Raises:
        UserError: bad config, or an optimizer the schedule cannot drive.

    Example:
        >>> opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-4)
        >>> sched = build_scheduler(opt, "s1")
        >>> sched.get_last_lr()
        [0.0001]
    """
    schedule = build_schedule(config)
    try:
        schedule.check_optimizer(optimizer)
    except ValueError as error:
        raise UserError(str(error)) from None

    def multiplier(step: int) -> float:
        return schedule(step)

    # A plain function (not the dataclass) so that state_dict() holds only plain values and
    # loads with weights_only=True; the schedule stays reachable as lr_lambdas[0].schedule.
    multiplier.schedule = schedule  # type: ignore[attr-defined]
    return LambdaLR(optimizer, multiplier, last_epoch=last_epoch)


def load_scheduler_state(scheduler: LambdaLR, state: Mapping[str, Any]) -> None:
    """Resume ``scheduler`` from its ``state_dict`` and put the resumed lr into the optimizer.

    ``LambdaLR.load_state_dict`` restores the step count but leaves the optimizer's lr as it
    was (building a scheduler sets the lr of step 0), so the first step after resuming would
    run at the wrong lr unless the optimizer state is loaded *after* the scheduler is built.
    This helper makes the order irrelevant: it writes the resumed lr into every group.

    Example:
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = build_scheduler(opt, {"name": "step", "step_size": 1, "gamma": 0.5})
        >>> load_scheduler_state(sched, {**sched.state_dict(), "last_epoch": 2,
        ...                              "_last_lr": [0.25]})
        >>> opt.param_groups[0]["lr"]
        0.25
    """
    scheduler.load_state_dict(dict(state))
    for group, lr in zip(scheduler.optimizer.param_groups, scheduler.get_last_lr()):
        group["lr"] = lr


__all__ = ["SCHEDULES", "SCHEDULE_PRESETS", "Constant", "ConstantThenLinear", "Cosine",
           "CyclicExpRange", "MultiStep", "Schedule", "SchedulePreset", "StepDecay", "Warmup",
           "build_schedule", "build_scheduler", "list_schedules", "load_scheduler_state",
           "register_schedule"]
