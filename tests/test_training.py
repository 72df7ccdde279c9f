"""Training engine: configs, every recipe runs, exact resume, checkpoints, Ctrl-C, DDP, steps."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from deblurkit.errors import UserError
from deblurkit.training import build_config, load_config, train
from deblurkit.training.checkpoint import (CheckpointError, find_resume_checkpoint,
                                           list_checkpoints, load_checkpoint)
from deblurkit.training.config import parse_override
from deblurkit.training.data import EpochBatchSampler
from deblurkit.training.engine import ema_decay

REPO = Path(__file__).resolve().parents[1]
CONFIGS = (sorted((REPO / "configs").glob("*.yaml"))
           + sorted((REPO / "configs" / "small").glob("*.yaml")))
SIZE = 32


# ------------------------------------------------------------------------------------------
# tiny data written by the tests
# ------------------------------------------------------------------------------------------
def _box_blur(image: np.ndarray, radius: int = 2) -> np.ndarray:
    padded = np.pad(image.astype(np.float64), ((radius, radius), (radius, radius), (0, 0)),
                    mode="edge")
    out = np.zeros(image.shape, np.float64)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out += padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return out / (2 * radius + 1) ** 2


def _write_pair(folder: Path, name: str, rng: np.random.Generator) -> None:
    sharp = rng.integers(0, 256, (SIZE // 4, SIZE // 4, 3)).repeat(4, 0).repeat(4, 1)
    blur = _box_blur(sharp)
    for sub, image in (("sharp", sharp), ("blur", blur)):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image).astype(np.uint8)).save(folder / sub / f"{name}.png")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> dict[str, Path]:
    """A GoPro-layout folder (8 train / 2 test pairs) and a labelled-clip folder."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    pairs = root / "pairs"
    for split, count in (("train", 8), ("test", 2)):
        for i in range(count):
            _write_pair(pairs / split / "scene0", f"{i:04d}", rng)
    clips = root / "clips"
    for split, count in (("train", 8), ("test", 4)):
        folder = clips / split / "clip0"
        lines = ["frame,blurred"]
        for i in range(count):
            sharp = rng.integers(0, 256, (SIZE // 4, SIZE // 4, 3)).repeat(4, 0).repeat(4, 1)
            blurred = i % 2
            image = _box_blur(sharp, 3) if blurred else sharp
            (folder / "blur").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(image).astype(np.uint8)).save(folder / "blur" / f"{i:04d}.png")
            lines.append(f"{i:04d},{blurred}")
        (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return {"pairs": pairs, "clips": clips}


# Per-model overrides that shrink the published networks to test size.
TINY_MODELS = {
    "s1_msed": {"base_width": 4, "depth": 2},
    "s2_msrn": {"width": 8, "num_msrb": 1},
    "s3_msdn": {"stem_channels": 8, "growth_rate": 4, "block_layers": [1, 1, 1, 1],
                "bottleneck_layers": 1, "decoder_channels": [8, 8, 8, 8]},
    "s4_deblurnet": {"stem_channels": 4, "body_channels": 8, "num_blocks": 1},
    "s4_frame_selector": {"stem_channels": 4, "widths": [4, 4, 8, 8]},
    "s5_multitask_resnet": {"base_width": 4, "num_blocks": 1},
}
TINY_DISCS = {
    "s2_discriminator": {"layers": [[8, 5, 2], [8, 4, 2]]},
    "patchgan_wgan": {"base_width": 4, "n_layers": 1},
}


def _tiny_overrides(path: Path, data: dict[str, Path], out: Path) -> list[str]:
    raw = yaml.safe_load(path.read_text())
    sets = [f"train.out_dir={out}", "train.steps=2", "train.epochs=null", "train.val_every=0",
            "train.ckpt_every=0", "train.log_every=1", "train.device=cpu"]
    model = raw["model"]["name"]
    for key, value in TINY_MODELS[model].items():
        sets.append(f"model.kwargs.{key}={value}")
    if raw.get("gan"):
        for key, value in TINY_DISCS[raw["gan"]["discriminator"]["name"]].items():
            sets.append(f"gan.discriminator.kwargs.{key}={value}")
    sections = ([f"data.{s}" for s in ("train", "val")] if raw["task"] != "multitask" else
                [f"tasks.{t}.{s}" for t in raw["tasks"] for s in ("train", "val")])
    for section in sections:
        video = raw["task"] == "classifier"
        split = "train" if section.endswith("train") else "test"
        root = data["clips"] if video else data["pairs"]
        sets += [f"{section}.layout={'video' if video else 'gopro'}",
                 f"{section}.args={{root: {root}, split: {split}}}",
                 f"{section}.crop_size={SIZE if section.endswith('train') else 'null'}",
                 f"{section}.batch_size=2", f"{section}.limit=null"]
    for i, loss in enumerate(raw["losses"]):
        if loss["name"] == "perceptual":  # random VGG features: no download here
            sets.append(f"losses.{i}.kwargs.pretrained=null")
    return sets


@pytest.mark.filterwarnings("ignore:no pretrained VGG")
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_every_recipe_loads_and_runs_two_steps(path, tiny_data, tmp_path):
    config = load_config(path)  # the recipe as shipped validates
    assert config.losses and config.task in ("supervised", "adversarial", "multitask",
                                             "classifier")
    tiny = load_config(path, _tiny_overrides(path, tiny_data, tmp_path / "run"))
    seen = []
    result = train(tiny, callbacks=[lambda s, logs: seen.append(logs)], tensorboard=False)
    assert result.step == 2 and not result.interrupted
    assert all(np.isfinite(logs["loss"]) for logs in seen)
    saved = yaml.safe_load((result.checkpoint / "config.yaml").read_text())
    assert saved["train"]["steps"] == 2 and saved["model"]["name"] == config.model.name
    assert (tmp_path / "run" / "metrics.csv").is_file()
    assert (tmp_path / "run" / "curves.png").is_file()
    if tiny.task == "classifier":
        assert "accuracy" in seen[0] and 0.0 <= result.metrics["accuracy"] <= 1.0
    else:
        assert any(k.endswith("psnr_input") for k in result.metrics)


# ------------------------------------------------------------------------------------------
# configs
# ------------------------------------------------------------------------------------------
def _base(root: Path, out: Path, **train) -> dict:
    return {
        "task": "supervised",
        "model": {"name": "s1_msed", "kwargs": {"num_scales": 1, "base_width": 4, "depth": 2}},
        "data": {"train": {"layout": "gopro", "args": {"root": str(root), "split": "train"},
                           "crop_size": 16, "hflip": True, "batch_size": 2}},
        "losses": [{"name": "mse"}],
        "train": {"steps": 4, "out_dir": str(out), "val_every": 0, "ckpt_every": 0,
                  "device": "cpu", **train},
    }


def test_unknown_keys_and_bad_types_are_errors_naming_the_path(tiny_data, tmp_path):
    data = _base(tiny_data["pairs"], tmp_path)
    with pytest.raises(UserError, match=r"'train\.stpes'"):
        build_config(data, ["train.stpes=3"])
    with pytest.raises(UserError, match=r"'data\.train\.crop'"):
        build_config({**data, "data": {"train": {**data["data"]["train"], "crop": 3}}})
    with pytest.raises(UserError, match=r"train\.steps: expected an integer"):
        build_config(data, ["train.steps=abc"])
    with pytest.raises(UserError, match="task"):
        build_config(data, ["task=gan"])
    cfg = build_config(data, ["train.steps=7", "optim.betas=[0.5, 0.9]", "losses.0.weight=2"])
    assert cfg.train.steps == 7 and cfg.optim.betas == (0.5, 0.9) and cfg.losses[0].weight == 2.0
    assert parse_override("a.b=1e-4") == (["a", "b"], 1e-4)  # YAML 1.1 reads 1e-4 as a string
    with pytest.raises(UserError):
        parse_override("novalue")


def test_sampler_slices_the_same_global_batches_over_processes():
    single = list(EpochBatchSampler(10, 4, seed=3))
    ranks = [list(EpochBatchSampler(10, 4, seed=3, rank=r, world=2)) for r in range(2)]
    assert len(single) == 2
    for b, batch in enumerate(single):
        assert ranks[0][b] + ranks[1][b] == batch
    resumed = EpochBatchSampler(10, 4, seed=3)
    resumed.set_position(0, 1)
    assert list(resumed) == single[1:]


def test_child_seeds_come_from_seed_sequences_not_arithmetic():
    from deblurkit.utils.seeding import child_seed, name_key

    # seed + 1_000_003 * rank + step made rank 0 at step 1 equal a fresh rank 0 (+ 1)
    seeds = {child_seed(seed, 13, rank, step) for seed in range(3) for rank in range(3)
             for step in range(3)}
    assert len(seeds) == 27 and all(0 <= s < 2 ** 64 for s in seeds)
    assert child_seed(5, 17, 2) == child_seed(5, 17, 2)
    assert name_key("ab") != name_key("ba")  # a sum of character codes made them collide


# ------------------------------------------------------------------------------------------
# exact resume, checkpoints, Ctrl-C
# ------------------------------------------------------------------------------------------
def _adversarial(root: Path, out: Path, steps: int) -> dict:
    """S4-like: dropout (RNG state), WGAN-GP with 2 critic steps, step-wise cyclic lr, EMA."""
    return {
        "task": "adversarial",
        "model": {"name": "s4_deblurnet", "kwargs": TINY_MODELS["s4_deblurnet"]},
        "data": {"train": {"layout": "gopro", "args": {"root": str(root), "split": "train"},
                           "crop_size": 16, "hflip": True, "batch_size": 2}},
        "losses": [{"name": "huber", "weight": 10.0}],
        "gan": {"discriminator": {"name": "patchgan_wgan", "kwargs": TINY_DISCS["patchgan_wgan"]},
                "gan_type": "wgan", "gp_weight": 10.0, "d_steps_per_g": 2},
        "optim": {"lr": 1e-3},
        "schedule": {"name": "step", "kwargs": {"step_size": 2, "gamma": 0.5}},
        "train": {"steps": steps, "out_dir": str(out), "val_every": 0, "ckpt_every": 0,
                  "device": "cpu", "ema": 0.9, "seed": 5},
    }


def _weights(result) -> dict[str, dict[str, torch.Tensor]]:
    return {f.stem: load_file(str(f)) for f in result.checkpoint.glob("*.safetensors")}


def test_resume_continues_exactly(tiny_data, tmp_path):
    # 8 pairs, batch 2: 4 batches per epoch; 6 steps cross an epoch, the resume is mid-epoch.
    straight = train(build_config(_adversarial(tiny_data["pairs"], tmp_path / "a", 6)),
                     tensorboard=False)
    first = train(build_config(_adversarial(tiny_data["pairs"], tmp_path / "b", 3)),
                  tensorboard=False)
    assert first.step == 3
    resumed = train(build_config(_adversarial(tiny_data["pairs"], tmp_path / "b", 6)),
                    resume=True, tensorboard=False)
    assert resumed.step == 6
    a, b = _weights(straight), _weights(resumed)
    assert set(a) == set(b) == {"model", "disc", "ema"}
    for stem in a:
        for key in a[stem]:
            assert torch.equal(a[stem][key], b[stem][key]), (stem, key)
    state = torch.load(resumed.checkpoint / "state.pt", weights_only=True)
    assert state["streams"]["main"] == {"epoch": 1, "position": 2}


def test_existing_run_needs_resume(tiny_data, tmp_path):
    train(build_config(_base(tiny_data["pairs"], tmp_path, steps=1)), tensorboard=False)
    with pytest.raises(UserError, match="--resume"):
        train(build_config(_base(tiny_data["pairs"], tmp_path, steps=2)), tensorboard=False)


def test_corrupt_checkpoint_is_named_and_the_last_good_one_is_used(tiny_data, tmp_path, caplog):
    cfg = build_config(_base(tiny_data["pairs"], tmp_path, steps=2, ckpt_every=1,
                             keep_checkpoints=0))
    train(cfg, tensorboard=False)
    folders = list_checkpoints(tmp_path)
    assert [f.name for f in folders] == ["step_00000001", "step_00000002"]
    weights = folders[-1] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(folders[-1])
    chosen = find_resume_checkpoint(tmp_path)
    assert chosen["step"] == 1 and "skipping checkpoint" in caplog.text
    assert folders[-1].exists()  # the bad one is kept for inspection
    (folders[0] / "state.pt").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="no readable checkpoint"):
        find_resume_checkpoint(tmp_path)


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes(tiny_data, tmp_path):
    def interrupt(session, logs):
        if session.step == 2:
            raise KeyboardInterrupt

    cfg = build_config(_base(tiny_data["pairs"], tmp_path, steps=4))
    result = train(cfg, callbacks=[interrupt], tensorboard=False)
    assert result.interrupted and result.step == 2
    assert result.checkpoint.name == "step_00000002"
    assert load_checkpoint(result.checkpoint)["step"] == 2
    done = train(cfg, resume=True, tensorboard=False)
    assert done.step == 4 and not done.interrupted


def test_summary_counts_only_the_steps_of_this_session_after_a_resume(tiny_data, tmp_path):
    train(build_config(_base(tiny_data["pairs"], tmp_path, steps=3)), tensorboard=False)
    first = json.loads((tmp_path / "summary.json").read_text())
    assert first["step"] == 3 and first["steps_this_session"] == 3
    train(build_config(_base(tiny_data["pairs"], tmp_path, steps=5)), resume=True,
          tensorboard=False)
    second = json.loads((tmp_path / "summary.json").read_text())
    assert second["step"] == 5 and second["steps_this_session"] == 2
    assert second["checkpoint"].endswith("step_00000005")


def test_sigint_finishes_the_step_then_checkpoints(tiny_data, tmp_path):
    import signal

    def press_ctrl_c(session, logs):
        if session.step == 1:
            os.kill(os.getpid(), signal.SIGINT)  # handled: the loop stops after this step

    cfg = build_config(_base(tiny_data["pairs"], tmp_path, steps=4))
    # the handler the process had (a job started in the background inherits SIG_IGN)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = train(cfg, callbacks=[press_ctrl_c], tensorboard=False)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, before)
    assert result.interrupted and result.step == 1
    assert load_checkpoint(result.checkpoint)["step"] == 1


# ------------------------------------------------------------------------------------------
# step functions
# ------------------------------------------------------------------------------------------
def test_multitask_step_sums_losses_with_one_backward_and_updates_each_critic(tiny_data,
                                                                               tmp_path):
    from deblurkit.training.engine import DistInfo, build_session, multitask_step

    pairs = {"layout": "gopro", "args": {"root": str(tiny_data["pairs"]), "split": "train"},
             "crop_size": 16, "batch_size": 2}
    data = {
        "task": "multitask",
        "model": {"name": "s5_multitask_resnet",
                  "kwargs": {**TINY_MODELS["s5_multitask_resnet"], "tasks": ["a", "b"]}},
        "tasks": {"a": {"train": pairs}, "b": {"train": {**pairs, "batch_size": 1}}},
        "losses": [{"name": "l1", "weight": 0.5}],
        "gan": {"discriminator": {"name": "patchgan_wgan", "kwargs": TINY_DISCS["patchgan_wgan"]},
                "gan_type": "wgan", "gp_weight": 10.0, "adv_weight": 0.01, "d_loss_weight": 0.01},
        "train": {"steps": 1, "out_dir": str(tmp_path), "device": "cpu"},
    }
    session = build_session(build_config(data), DistInfo(), torch.device("cpu"))
    before = {t: [p.detach().clone() for p in d.parameters()] for t, d in session.discs.items()}
    g_before = [p.detach().clone() for p in session.model.parameters()]
    calls = []
    original = session.backward
    session.backward = lambda loss: (calls.append(float(loss.detach())), original(loss))
    logs = multitask_step(session)
    assert len(calls) == 3  # one per critic update, then one generator backward
    task_terms = [v for k, v in logs.items() if k.split("/")[-1] in ("l1", "adv")]
    assert len(task_terms) == 4 and logs["loss"] == pytest.approx(sum(task_terms), rel=1e-5)
    assert calls[-1] == pytest.approx(logs["loss"], rel=1e-5)
    for task, disc in session.discs.items():
        assert any(not torch.equal(p, q) for p, q in zip(disc.parameters(), before[task]))
    changed = [not torch.equal(p, q) for p, q in zip(session.model.parameters(), g_before)]
    assert any(changed)
    # both decoders received gradients from the single backward
    assert all(p.grad is not None for p in session.model.decoders.parameters())


def test_grad_accumulation_matches_a_double_batch(tiny_data, tmp_path):
    one = train(build_config(_base(tiny_data["pairs"], tmp_path / "a", steps=1),
                             ["data.train.batch_size=4", "data.train.hflip=false"]),
                tensorboard=False)
    two = train(build_config(_base(tiny_data["pairs"], tmp_path / "b", steps=1),
                             ["train.grad_accum=2", "data.train.hflip=false"]),
                tensorboard=False)
    a, b = _weights(one)["model"], _weights(two)["model"]
    # 2 micro-batches of 2 are the 4 items of the first global batch of 4 (same order and
    # augmentation), so the accumulated gradient is the batch-of-4 gradient up to rounding.
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------
# distributed
# ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_match_one_process_with_the_same_global_batch(tiny_data, tmp_path):
    """2 gloo processes x batch 2 vs 1 process x batch 4, 3 steps of Adam on S1 (no BN, no
    dropout). Not bit-exact: DDP averages gradients with an all-reduce whose summation order
    differs from the single process's batch mean; float32 agreement within 1e-5."""
    single = train(build_config(_base(tiny_data["pairs"], tmp_path / "one", steps=3),
                                ["data.train.batch_size=4"]), tensorboard=False)
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(_base(tiny_data["pairs"], tmp_path / "two", steps=3)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEBLURKIT_PROGRESS": "0",
           "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
         f"--master_port={_free_port()}", "-m", "deblurkit", "train", str(cfg_path),
         "--no-tensorboard"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = list_checkpoints(tmp_path / "two")[-1]
    a = _weights(single)["model"]
    b = load_file(str(ckpt / "model.safetensors"))
    assert set(a) == set(b)
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-5)
    # the weights moved (the comparison is not between two untouched inits)
    assert not list((tmp_path / "two").glob("checkpoints/.tmp-*"))


def test_cli_print_config_and_one_line_errors(tiny_data, tmp_path, capsys):
    from deblurkit.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_base(tiny_data["pairs"], tmp_path / "run")))
    assert main(["train", str(path), "--set", "train.steps=9", "--print-config"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["train"]["steps"] == 9 and printed["optim"]["lr"] == 1e-4
    assert main(["train", str(path), "--set", "train.stpes=1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train.stpes" in err[0]


def test_options_bf16_ema_channels_last_clip_run_and_log(tiny_data, tmp_path):
    cfg = build_config(_base(tiny_data["pairs"], tmp_path, steps=2),
                       ["train.amp=bf16", "train.ema=0.5", "train.channels_last=true",
                        "train.grad_clip=0.1", "train.log_every=1",
                        f"data.val={{layout: gopro, args: {{root: {tiny_data['pairs']}, "
                        "split: test}, crop_size: null}"])
    result = train(cfg, tensorboard=True)
    assert set(_weights(result)) == {"model", "ema"}
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0] == "step,epoch,split,metric,value"
    assert any(",val,psnr_input," in r for r in rows) and any(",train,lr," in r for r in rows)
    assert list((tmp_path / "tensorboard").glob("events.*"))
    assert np.isfinite(result.metrics["psnr"])


def test_ema_warmup_ramps_the_decay_from_the_first_step(tiny_data, tmp_path):
    # ema_decay: (1 + t) / (10 + t) until it reaches the configured decay
    assert ema_decay(0.999, 1, True) == pytest.approx(2 / 11)
    assert ema_decay(0.999, 100, True) == pytest.approx(101 / 110)
    assert ema_decay(0.999, 10**6, True) == 0.999 and ema_decay(0.999, 1, False) == 0.999
    # one step, the same seed: the model's weights are the same with and without the warmup,
    # so the starting weights follow from the plain average and the warmed one must hold
    # 2/11 of them (the plain one 0.999)
    runs = {flag: _weights(train(build_config(
        _base(tiny_data["pairs"], tmp_path / str(flag), steps=1, ema=0.999, ema_warmup=flag)),
        tensorboard=False)) for flag in (False, True)}
    for key, model in runs[False]["model"].items():
        assert torch.equal(model, runs[True]["model"][key])
        start = (runs[False]["ema"][key].double() - 0.001 * model.double()) / 0.999
        expected = start + (1 - 2 / 11) * (model.double() - start)
        torch.testing.assert_close(runs[True]["ema"][key].double(), expected,
                                   rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(runs[True]["ema"][k], runs[False]["ema"][k])
               for k in runs[False]["ema"])


def test_a_failed_train_leaves_no_empty_run_folder(tiny_data, tmp_path):
    cfg = build_config(_adversarial(tiny_data["pairs"], tmp_path / "runs" / "deep" / "x", 2))
    broken = build_config(_adversarial(tmp_path / "missing", tmp_path / "runs" / "deep" / "x", 2))
    with pytest.raises(UserError, match="missing"):
        train(broken, tensorboard=False)
    assert not (tmp_path / "runs").exists()  # every folder the call made is gone
    (tmp_path / "keep").mkdir()
    with pytest.raises(UserError):
        train(build_config(_adversarial(tmp_path / "missing", tmp_path / "keep", 2)),
              tensorboard=False)
    assert (tmp_path / "keep").is_dir()  # a folder that existed before is left alone
    assert train(cfg, tensorboard=False).step == 2


def test_curves_put_each_validation_metric_beside_its_input_baseline(tmp_path):
    from deblurkit.training.logs import _panels, plot_curves

    rows = ["step,epoch,split,metric,value"]
    for step in (0, 10, 20):
        rows += [f"{step},0,train,loss,{1 / (step + 1)}", f"{step},0,train,l1,{0.5 / (step + 1)}",
                 f"{step},0,val,psnr,{25 + step / 10}", f"{step},0,val,psnr_input,25",
                 f"{step},0,val,ssim,0.7", f"{step},0,val,ssim_input,0.6"]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    from deblurkit.training.logs import read_metrics

    assert _panels(read_metrics(tmp_path / "metrics.csv")) == [
        ("train", ["l1", "loss"]), ("val psnr", ["psnr", "psnr_input"]),
        ("val ssim", ["ssim", "ssim_input"])]
    out = plot_curves(tmp_path)
    assert out is not None and out.stat().st_size > 1000


def test_checkpoint_weights_picks_the_average_when_kept(tmp_path):
    from deblurkit.errors import UserError
    from deblurkit.training.checkpoint import checkpoint_weights

    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert checkpoint_weights(tmp_path) == tmp_path / "model.safetensors"
    (tmp_path / "ema.safetensors").write_bytes(b"x")
    assert checkpoint_weights(tmp_path) == tmp_path / "ema.safetensors"
    assert checkpoint_weights(tmp_path, "model") == tmp_path / "model.safetensors"
    with pytest.raises(UserError, match="disc.safetensors: not found"):
        checkpoint_weights(tmp_path, "disc")
