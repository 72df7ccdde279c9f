"""The one Registry class and its instances: models, losses, schedules, optimizers, pyramids.

An unknown name is refused with the list of valid ones, both by the direct API and by config
validation, and every name a config may use is a key of the registry that builds it.
"""

from __future__ import annotations

import re

import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.losses import LOSSES, build_loss, list_losses
from deblurkit.models import create_model, get_entry, list_models
from deblurkit.models.registry import MODELS
from deblurkit.training import build_config
from deblurkit.training.optimizers import OPTIMIZERS, build_optimizer
from deblurkit.training.pyramids import PYRAMIDS, target_pyramid
from deblurkit.training.schedules import SCHEDULES, build_schedule, build_scheduler
from deblurkit.utils.registry import Registry


def test_registry_refuses_duplicates_lists_keys_and_names_the_valid_ones():
    colours = Registry("colour")
    colours.add("red", 1)

    @colours.register("blue")
    def blue() -> int:
        return 2

    assert colours.keys() == ("blue", "red") and list(colours) == ["blue", "red"]
    assert "red" in colours and len(colours) == 2 and colours.get("blue") is blue
    with pytest.raises(ValueError, match="colour name 'red' is already registered"):
        colours.add("red", 3)
    assert colours.get("red") == 1  # the first registration stands
    with pytest.raises(UserError, match=re.escape("unknown colour 'green'; choose from "
                                                  "['blue', 'red']")):
        colours.get("green")
    with pytest.raises(UserError, match="unknown colour"):
        colours.get(["not", "hashable"])


def test_registry_loader_runs_once_before_the_first_lookup():
    calls = []
    later = Registry("thing", loader=lambda: (calls.append(1), later.add("late", 0)))
    assert calls == []
    assert later.keys() == ("late",) and later.get("late") == 0 and calls == [1]


def _names(message: str) -> list[str]:
    """The names listed after ``choose from`` in a registry's message."""
    return re.findall(r"'([^']+)'", message.split("choose from", 1)[1])


@pytest.mark.parametrize("lookup, registry, kind", [
    (lambda: build_optimizer([torch.zeros(1, requires_grad=True)], "adagrad", 0.1,
                             (0.9, 0.999), 1e-8, 0.0, 0.9), OPTIMIZERS, "optimizer"),
    (lambda: build_schedule({"name": "exponential"}), SCHEDULES, "lr schedule"),
    (lambda: build_loss("ssim"), LOSSES, "loss"),
    (lambda: create_model("s9_nonexistent"), MODELS, "model"),
    (lambda: get_entry("s9_nonexistent"), MODELS, "model"),
    (lambda: target_pyramid(torch.zeros(1, 3, 8, 8), 2, "laplacian"), PYRAMIDS,
     "target pyramid"),
], ids=["optimizer", "schedule", "loss", "create_model", "get_entry", "pyramid"])
def test_direct_api_refuses_an_unknown_name_with_the_valid_ones(lookup, registry, kind):
    with pytest.raises(UserError, match=f"unknown {kind} ") as caught:
        lookup()
    assert _names(str(caught.value)) == list(registry.keys())
    assert "\n" not in str(caught.value)


def test_model_message_keeps_its_hint_and_pointer():
    with pytest.raises(UserError) as caught:
        get_entry("s1_nope")
    message = str(caught.value)
    assert message.startswith("unknown model 's1_nope'; did you mean one of [")
    assert "'s1_msed'" in message and message.endswith("(see `deblurkit models`)")
    assert set(list_models()) == set(MODELS.keys())


def _config(**changes) -> dict:
    config = {"task": "supervised", "model": {"name": "s1_msed"},
              "data": {"train": {"layout": "gopro", "args": {"root": "nowhere"}}},
              "losses": [{"name": "l1", "input": "scales", "pyramid": "area"}]}
    return {**config, **changes}


@pytest.mark.parametrize("override, key, registry", [
    ("optim.name=adagrad", "optim.name", OPTIMIZERS),
    ("schedule.name=exponential", "schedule.name", SCHEDULES),
    ("losses.0.name=ssim", "losses.0.name", LOSSES),
    ("losses.0.pyramid=laplacian", "losses.0.pyramid", PYRAMIDS),
    ("model.name=s9_nonexistent", "model.name", MODELS),
], ids=["optimizer", "schedule", "loss", "pyramid", "model"])
def test_config_validation_refuses_an_unknown_name_with_the_valid_ones(override, key,
                                                                         registry):
    build_config(_config())  # the base validates
    value = override.partition("=")[2]
    with pytest.raises(UserError) as caught:
        build_config(_config(), [override])
    assert str(caught.value) == (f"config: {key}={value!r}; choose one of "
                                 f"{', '.join(registry.keys())}")


def test_config_validation_checks_the_discriminator_name():
    gan = {"discriminator": {"name": "s9_critic"}}
    with pytest.raises(UserError) as caught:
        build_config(_config(task="adversarial", gan=gan))
    assert str(caught.value) == ("config: gan.discriminator.name='s9_critic'; choose one of "
                                 f"{', '.join(MODELS.keys())}")


def test_every_offered_name_works():
    params = [torch.zeros(1, requires_grad=True)]
    for name in OPTIMIZERS.keys():
        optimizer = build_optimizer(params, name, 0.1, (0.9, 0.999), 1e-8, 0.0, 0.9)
        assert isinstance(optimizer, OPTIMIZERS.get(name).cls)
        build_config(_config(optim={"name": name}))
    for name in PYRAMIDS.keys():
        levels = target_pyramid(torch.zeros(1, 3, 8, 8), 2, name)
        assert [t.shape[-1] for t in levels] == [4, 8]
    arguments = {"step": {"step_size": 2, "gamma": 0.5}, "multi_step": {"milestones": [2],
                                                                        "gamma": 0.5},
                 "constant_then_linear": {"constant_steps": 1, "decay_steps": 2},
                 "cosine": {"total_steps": 4},
                 "cyclic_exp_range": {"base_lr": 0.1, "max_lr": 0.2, "step_size": 2},
                 "warmup": {"warmup_steps": 2}, "constant": {}}
    assert set(arguments) == set(SCHEDULES.keys())
    for name, kwargs in arguments.items():
        build_config(_config(schedule={"name": name, "kwargs": kwargs}))
        optimizer = torch.optim.SGD(params, lr=0.1)
        scheduler = build_scheduler(optimizer, {"name": name, **kwargs})
        optimizer.step()
        scheduler.step()
    assert list_losses() == list(LOSSES.keys())
