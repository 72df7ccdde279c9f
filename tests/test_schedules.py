"""Tests of deblurkit.training.schedules: exact multipliers of every schedule at chosen steps,
parity of the cyclical schedule with torch's CyclicLR, the papers' presets, and resuming."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim.lr_scheduler import CyclicLR

from deblurkit.errors import UserError
from deblurkit.training.schedules import (SCHEDULE_PRESETS, Constant, ConstantThenLinear,
                                          Cosine, CyclicExpRange, MultiStep, Schedule,
                                          StepDecay, Warmup, build_schedule, build_scheduler,
                                          list_schedules, load_scheduler_state,
                                          register_schedule)


def _optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def _lrs(scheduler, steps: int) -> list[float]:
    """The lr in use at steps 0 .. steps-1 (stepping the optimizer as a trainer would)."""
    values = []
    for _ in range(steps):
        values.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return values


def test_step_decay_s1():
    s1 = StepDecay(step_size=1000, gamma=0.3)
    assert [s1(t) for t in (0, 999, 1000, 1999, 2000, 2999)] == pytest.approx(
        [1.0, 1.0, 0.3, 0.3, 0.09, 0.09])


def test_multi_step():
    s2 = MultiStep(milestones=[150000], gamma=0.1)
    assert [s2(t) for t in (0, 149999, 150000, 449999)] == pytest.approx([1, 1, 0.1, 0.1])
    two = MultiStep((10, 20), 0.5)
    assert [two(t) for t in (9, 10, 19, 20, 100)] == [1.0, 0.5, 0.5, 0.25, 0.25]


def test_constant_then_linear_s3_s5():
    s3 = ConstantThenLinear(200, 100, 0.0)
    assert [s3(t) for t in (0, 199, 200, 250, 299, 300, 400)] == pytest.approx(
        [1, 1, 1, 0.5, 0.01, 0, 0])
    s5 = ConstantThenLinear(constant_steps=40, decay_steps=40, final_ratio=1e-3)
    assert [1e-4 * s5(t) for t in (39, 40, 60, 80, 90)] == pytest.approx(
        [1e-4, 1e-4, 1e-4 * (1 - 0.999 / 2), 1e-7, 1e-7], rel=1e-12)


def test_cosine_and_constant():
    cos = Cosine(total_steps=100, final_ratio=0.2)
    assert [cos(t) for t in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.6, 0.2, 0.2])
    assert cos(25) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2)
    assert Constant()(0) == Constant()(10 ** 9) == 1.0


def test_cyclic_exp_range_values():
    clr = CyclicExpRange(base_lr=1e-3, max_lr=6e-3, step_size=1300, gamma=1.0)
    # Base at 0, peak at step_size, base again after the full 2600-iteration cycle.
    assert [clr.lr(t) for t in (0, 650, 1300, 1950, 2600, 3900)] == pytest.approx(
        [1e-3, 3.5e-3, 6e-3, 3.5e-3, 1e-3, 6e-3], rel=1e-12)
    assert clr(1300) == pytest.approx(6.0)               # multiplier of base_lr
    decaying = CyclicExpRange(1e-3, 6e-3, step_size=1300, gamma=0.9999)
    assert decaying.lr(1300) == pytest.approx(1e-3 + 5e-3 * 0.9999 ** 1300, rel=1e-12)
    assert decaying.lr(2600) == pytest.approx(1e-3, rel=1e-12)     # the lower bound stays
    both = CyclicExpRange(1e-3, 6e-3, step_size=1300, gamma=0.9999, decay_base=True)
    assert both.lr(2600) == pytest.approx(1e-3 * 0.9999 ** 2600, rel=1e-12)
    assert both.lr(1300) == pytest.approx(6e-3 * 0.9999 ** 1300, rel=1e-12)


def test_cyclic_exp_range_matches_torch_cyclic_lr():
    base, peak, step_size, gamma = 1e-3, 6e-3, 7, 0.97
    reference = CyclicLR(_optimizer(base), base_lr=base, max_lr=peak, step_size_up=step_size,
                         mode="exp_range", gamma=gamma, cycle_momentum=False)
    ours = build_scheduler(_optimizer(base), {"name": "cyclic_exp_range", "base_lr": base,
                                              "max_lr": peak, "step_size": step_size,
                                              "gamma": gamma})
    expected, got = _lrs(reference, 50), _lrs(ours, 50)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert max(got) > 4e-3                                     # the comparison saw peaks


def test_warmup():
    sched = Warmup(4, StepDecay(10, 0.5))
    assert [sched(t) for t in (0, 1, 2, 3, 4, 13, 14, 24)] == [0, 0.25, 0.5, 0.75, 1, 1, 0.5,
                                                               0.25]
    assert Warmup(2, start_ratio=0.1)(0) == pytest.approx(0.1)
    assert Warmup(2)(5) == 1.0
    nested = Warmup(10, {"name": "cosine", "total_steps": 90})
    assert isinstance(nested.after, Cosine)
    assert [nested(t) for t in (5, 10, 55, 100)] == pytest.approx([0.5, 1.0, 0.5, 0.0])
    with pytest.raises(TypeError, match="after"):
        Warmup(3, after=0.5)


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    (StepDecay, {"step_size": 0, "gamma": 0.3}, "step_size"),
    (StepDecay, {"step_size": 10, "gamma": 0.0}, "gamma"),
    (StepDecay, {"step_size": 1.5, "gamma": 0.3}, "step_size"),
    (MultiStep, {"milestones": (20, 10), "gamma": 0.1}, "milestones"),
    (MultiStep, {"milestones": (10, 10), "gamma": 0.1}, "milestones"),
    (MultiStep, {"milestones": (10,), "gamma": -1.0}, "gamma"),
    (ConstantThenLinear, {"constant_steps": -1, "decay_steps": 10}, "constant_steps"),
    (ConstantThenLinear, {"constant_steps": 1, "decay_steps": 0}, "decay_steps"),
    (ConstantThenLinear, {"constant_steps": 1, "decay_steps": 5, "final_ratio": 2.0}, "final"),
    (Cosine, {"total_steps": 0}, "total_steps"),
    (Cosine, {"total_steps": 5, "final_ratio": -0.1}, "final"),
    (CyclicExpRange, {"base_lr": 0.0, "max_lr": 1.0, "step_size": 5}, "base_lr"),
    (CyclicExpRange, {"base_lr": 2e-3, "max_lr": 1e-3, "step_size": 5}, "max_lr"),
    (CyclicExpRange, {"base_lr": 1e-3, "max_lr": 2e-3, "step_size": 5, "gamma": 1.1}, "gamma"),
    (Warmup, {"warmup_steps": 0}, "warmup_steps"),
])
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_negative_step_refused():
    for schedule in (Constant(), StepDecay(2, 0.5), Cosine(3), Warmup(2)):
        with pytest.raises(ValueError, match="step"):
            schedule(-1)


def test_build_schedule_and_presets():
    assert set(list_schedules()) == {"constant", "step", "multi_step", "constant_then_linear",
                                     "cosine", "cyclic_exp_range", "warmup"}
    assert build_schedule({"name": "step", "step_size": 1000, "gamma": 0.3}) == StepDecay(
        1000, 0.3)
    assert build_schedule("s2") == MultiStep((150000,), 0.1)
    s4 = build_schedule("s4")
    assert isinstance(s4, CyclicExpRange) and (s4.base_lr, s4.max_lr, s4.step_size) == (
        1e-3, 6e-3, 1300)
    assert {name: preset.unit for name, preset in SCHEDULE_PRESETS.items()} == {
        "s1": "epoch", "s2": "iteration", "s3": "epoch", "s4": "iteration", "s5": "epoch"}
    for name, preset in SCHEDULE_PRESETS.items():
        scheduler = build_scheduler(_optimizer(preset.lr), name)
        assert scheduler.get_last_lr() == [preset.lr]
    s5 = build_scheduler(_optimizer(1e-4), "s5")
    assert _lrs(s5, 81)[80] == pytest.approx(1e-7, rel=1e-9)
    with pytest.raises(UserError, match="unknown lr schedule"):
        build_schedule({"name": "exponential"})
    with pytest.raises(UserError, match="unknown lr schedule"):
        build_schedule({"step_size": 3})
    with pytest.raises(UserError, match="'step'"):
        build_schedule({"name": "step", "step": 10, "gamma": 0.5})
    with pytest.raises(UserError, match="preset"):
        build_schedule("s6")
    with pytest.raises(ValueError, match="already registered"):
        register_schedule("step")(type("Again", (Schedule,), {}))


def test_build_scheduler_drives_the_optimizer():
    scheduler = build_scheduler(_optimizer(1e-4), {"name": "step", "step_size": 3, "gamma": 0.3})
    assert _lrs(scheduler, 7) == pytest.approx([1e-4] * 3 + [3e-5] * 3 + [9e-6], rel=1e-12)
    assert scheduler.lr_lambdas[0].schedule == StepDecay(3, 0.3)
    with pytest.raises(UserError, match="base_lr"):
        build_scheduler(_optimizer(1e-4), "s4")            # the optimizer lr must be base_lr


@pytest.mark.parametrize("config", [
    "s1",
    {"name": "cyclic_exp_range", "base_lr": 1e-3, "max_lr": 6e-3, "step_size": 3,
     "gamma": 0.9},
    {"name": "warmup", "warmup_steps": 3, "after": {"name": "cosine", "total_steps": 6}},
])
def test_state_dict_round_trip(tmp_path, config):
    lr = 1e-3
    uninterrupted = build_scheduler(_optimizer(lr), config)
    expected = _lrs(uninterrupted, 12)

    first = build_scheduler(_optimizer(lr), config)
    before = _lrs(first, 5)
    path = tmp_path / "checkpoint.pt"
    torch.save({"optimizer": first.optimizer.state_dict(), "scheduler": first.state_dict()},
               path)
    state = torch.load(path, weights_only=True)            # plain values only
    # PyTorch's order: build the scheduler, then load the optimizer and scheduler states.
    resumed = build_scheduler(_optimizer(lr), config)
    resumed.optimizer.load_state_dict(state["optimizer"])
    resumed.load_state_dict(state["scheduler"])
    assert resumed.last_epoch == 5
    assert before + _lrs(resumed, 7) == pytest.approx(expected, rel=1e-12)
    # Any order with load_scheduler_state.
    optimizer = _optimizer(lr)
    optimizer.load_state_dict(state["optimizer"])
    again = build_scheduler(optimizer, config)
    load_scheduler_state(again, state["scheduler"])
    assert before + _lrs(again, 7) == pytest.approx(expected, rel=1e-12)
