"""Realistic degradation (synth.degrade), real-content sources (synth.corpus), on-the-fly pairs
(data.online) and fixed realistic sets (synth --config).

Every step is checked against an independent computation; determinism and resume are exact.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from deblurkit.errors import UserError
from deblurkit.io import BatchReport
from deblurkit.synth.blur import convolve
from deblurkit.synth.corpus import HighFpsSpec, open_sources
from deblurkit.synth.degrade import (CompressionConfig, DegradationConfig, KernelBlur, ShakeBlur,
                                     h264_roundtrip, jpeg_roundtrip, linear_mean, make_sample,
                                     poisson_gaussian, shake_homographies, warp_average)
from deblurkit.synth.kernels import linear_motion_kernel
from deblurkit.synth.response import GammaResponse
from deblurkit.utils.typed import from_dict

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

# Nothing random but the steps under test: fixed settings for exact comparisons.
QUIET = {"exposure": {"probability": 0.0}, "saturation": {"probability": 0.0},
         "noise": {"probability": 0.0},
         "compression": {"jpeg_probability": 0.0, "h264_probability": 0.0},
         "response": {"gamma_range": [2.2, 2.2]}}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(1.0 / mse) if mse > 0 else math.inf


def _textured(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A photo-like uint8 picture: smooth colour plus blocks (edges for blur to show)."""
    base = rng.integers(20, 235, (h // 8 + 1, w // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)
    return base[:h, :w].astype(np.uint8)


def _write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "threads": "1"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Three photos, one 17-frame moving sequence as an MP4 and as a frame folder, a cache."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    photos = root / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(_textured(rng, 120 + 20 * i, 150)).save(photos / f"p{i}.png")
    canvas = _textured(rng, 120, 220)
    frames = [np.ascontiguousarray(canvas[:, 3 * t:3 * t + 160]) for t in range(17)]
    seqs = root / "seqs"
    (seqs / "frames").mkdir(parents=True)
    for t, f in enumerate(frames):
        Image.fromarray(f).save(seqs / "frames" / f"f{t}.png")
    _write_video(seqs / "moving.mp4", frames)
    return {"photos": photos, "seqs": seqs, "cache": root / "cache", "frames": frames}


def _sources(corpus, photos=True, seqs=True):
    return open_sources([corpus["photos"]] if photos else [],
                        [HighFpsSpec(corpus["seqs"], 1000)] if seqs else [], corpus["cache"])


def _cfg(**changes) -> DegradationConfig:
    data = {**QUIET, **changes}
    return from_dict(DegradationConfig, data)


# ------------------------------------------------------------------------------------------
# each step against an independent computation
# ------------------------------------------------------------------------------------------
def test_linear_mean_is_the_average_in_linear_light_by_hand():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    gamma, gains = 2.4, np.array([1.2, 1.0, 0.8], np.float32)
    by_hand = np.zeros((6, 7, 3))
    for f in frames:
        by_hand += (f / 255.0) ** gamma * gains
    by_hand /= len(frames)
    got = linear_mean(frames, GammaResponse(gamma), gains)
    np.testing.assert_allclose(got, by_hand, rtol=1e-5, atol=1e-7)
    # float input takes the direct path and agrees with the table
    np.testing.assert_allclose(linear_mean(frames / np.float32(255), GammaResponse(gamma), gains),
                               got, rtol=1e-5, atol=1e-6)


def test_frame_average_pair_matches_gopro_protocol_by_hand(corpus):
    # average kind, no jitter/noise/codec, scale 1: blur = g(mean g^-1(frames)), sharp = middle
    src = _sources(corpus, photos=False)
    cfg = _cfg(kind_weights={"average": 1.0}, sharp_fraction=0.0,
               average={"exposure_ms_range": [9.0, 9.0], "scale_range": [1.0, 1.0]})
    s = make_sample(src, cfg, 64, np.random.default_rng(3))
    p = s.params["source"]
    assert p["frames"] == 9 and s.kind == "average"
    top, left, side = p["window"]
    pixels = src.sequences._pixels(src.sequences.sequences[
        [q.name for q in src.sequences.sequences].index(p["file"])])
    stack = pixels[p["start"]:p["start"] + 9, top:top + side, left:left + side] / 255.0
    mean = ((stack ** 2.2).mean(axis=0)) ** (1 / 2.2)
    geo = s.params["geometry"]

    def turn(x):
        x = np.rot90(x, geo["rot90"], axes=(0, 1))
        return x[:, ::-1] if geo["flip"] else x

    np.testing.assert_allclose(s.blur, turn(np.round(mean * 255) / 255), atol=1.01 / 255)
    np.testing.assert_array_equal(s.sharp, turn(stack[4]).astype(np.float32))


def test_saturation_stays_in_range_and_blurs_clipped_highlights_wider():
    # a small light at the sensor's white on a dark wall, blurred along a 21 px line
    scene = np.full((1, 64, 64, 3), 20, np.uint8)
    scene[0, 30:34, 28:36] = 255
    resp = GammaResponse(2.2)
    kernel = linear_motion_kernel(20, 0, 23)
    widths = {}
    for gain in (1.0, 6.0):
        linear = linear_mean(scene, resp, None, gain, threshold=0.9)
        encoded = resp.from_linear(np.clip(convolve(linear, kernel), 0, 1))
        assert encoded.min() >= 0 and encoded.max() <= 1
        widths[gain] = int((encoded[31, :, 0] >= 0.99).sum())
    assert widths[1.0] == 0  # a clipped-then-blurred highlight turns grey
    assert widths[6.0] >= 15  # a real (brighter than white) one stays white along the streak


def test_poisson_gaussian_variance_matches_the_model():
    rng = np.random.default_rng(4)
    n = 200_000
    for x, shot, read in ((0.05, 1e-3, 2e-3), (0.5, 1e-2, 1e-2), (0.9, 1e-4, 5e-4)):
        y = poisson_gaussian(np.full(n, x, np.float32), shot, read, rng)
        want = shot * x + read ** 2
        se = want * math.sqrt(2 / (n - 1))  # standard error of a sample variance
        assert abs(y.var(dtype=np.float64) - want) < 5 * se, (x, shot, read)
        assert abs(y.mean(dtype=np.float64) - x) < 5 * math.sqrt(want / n)


def test_jpeg_is_really_applied():
    img = _textured(np.random.default_rng(5), 64, 64)
    out = jpeg_roundtrip(img, 30)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not np.array_equal(out, img)
    assert 20 < _psnr(out / 255, img / 255) < 45
    assert _psnr(jpeg_roundtrip(img, 95) / 255, img / 255) > _psnr(out / 255, img / 255)


def test_h264_is_really_applied_and_keeps_odd_sizes():
    rng = np.random.default_rng(6)
    frames = [_textured(rng, 47, 63) for _ in range(3)]
    low, high = h264_roundtrip(frames, 40), h264_roundtrip(frames, 15)
    assert [f.shape for f in low] == [(47, 63, 3)] * 3
    q_low = np.mean([_psnr(a / 255, b / 255) for a, b in zip(low, frames)])
    q_high = np.mean([_psnr(a / 255, b / 255) for a, b in zip(high, frames)])
    assert 15 < q_low < q_high < 60
    assert h264_roundtrip(frames, 25)[1].tobytes() == h264_roundtrip(frames, 25)[1].tobytes()


def test_compression_choice_follows_the_kind(corpus):
    src = _sources(corpus)
    comp = {"jpeg_probability": 1.0, "h264_probability": 1.0}
    for kind, codec in (("kernel", "jpeg"), ("average", "h264")):
        cfg = _cfg(kind_weights={kind: 1.0}, compression=comp)
        s = make_sample(src, cfg, 48, np.random.default_rng(7))
        assert s.params["codec"] == codec


def test_unblurred_share_and_unblurred_pairs_differ_only_by_noise(corpus):
    src = _sources(corpus)
    cfg = _cfg(sharp_fraction=0.3, kernel={"length_range": [2.0, 10.0]},
               shake={"length_range": [2.0, 6.0], "roll_deg_range": [0.0, 0.5]})
    kinds = [make_sample(src, cfg, 32, np.random.default_rng([8, i])).kind for i in range(300)]
    share = kinds.count("sharp") / len(kinds)
    assert abs(share - 0.3) < 4 * math.sqrt(0.3 * 0.7 / 300)
    assert {"kernel", "shake", "average"} <= set(kinds)
    quiet = _cfg(sharp_fraction=1.0)
    s = make_sample(src, quiet, 32, np.random.default_rng(9))
    assert s.kind == "sharp" and np.array_equal(s.blur, s.sharp)
    noisy = _cfg(sharp_fraction=1.0, noise={"probability": 1.0})
    s = make_sample(src, noisy, 32, np.random.default_rng(9))
    assert not np.array_equal(s.blur, s.sharp) and _psnr(s.blur, s.sharp) > 20
    # "leave it alone": the target of an unblurred sample is its own degraded input, and
    # only unblurred samples change (same draws otherwise)
    alone = _cfg(sharp_fraction=1.0, noise={"probability": 1.0}, sharp_target="input")
    a = make_sample(src, alone, 32, np.random.default_rng(9))
    assert np.array_equal(a.blur, s.blur) and np.array_equal(a.sharp, a.blur)
    mixed = _cfg(sharp_fraction=0.5, noise={"probability": 1.0}, sharp_target="input")
    clean = _cfg(sharp_fraction=0.5, noise={"probability": 1.0})
    for i in range(12):
        a = make_sample(src, mixed, 32, np.random.default_rng([10, i]))
        c = make_sample(src, clean, 32, np.random.default_rng([10, i]))
        assert a.kind == c.kind and np.array_equal(a.blur, c.blur)
        assert np.array_equal(a.sharp, a.blur if a.kind == "sharp" else c.sharp)
    with pytest.raises(UserError, match="sharp_target"):
        _cfg(sharp_target="noisy")


def test_kernel_samples_carry_their_true_kernel_in_their_own_orientation(corpus):
    from deblurkit.synth.blur import convolve

    src = _sources(corpus, seqs=False)
    cfg = _cfg(kind_weights={"kernel": 1.0}, sharp_fraction=0.0,
               kernel={"length_range": [6.0, 12.0]})
    turns = set()
    for i in range(8):
        s = make_sample(src, cfg, 48, np.random.default_rng([11, i]))
        turns.add((s.params["geometry"]["rot90"], s.params["geometry"]["flip"]))
        k = s.kernel
        assert k is not None and k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-9
        # re-blurring the target (linear light, gamma 2.2, no noise or clipping) with the
        # stored kernel gives the input away from the border, within 8-bit rounding
        linear = s.sharp.astype(np.float64) ** 2.2
        again = convolve(linear, k, boundary="reflect") ** (1 / 2.2)
        m = k.shape[0] // 2 + 1
        inner = (slice(m, -m), slice(m, -m))
        assert np.abs(again[inner] - s.blur[inner]).max() < 3 / 255
    assert len(turns) > 2          # several orientations were checked
    other = _cfg(kind_weights={"shake": 1.0}, sharp_fraction=0.0)
    assert make_sample(src, other, 32, np.random.default_rng(1)).kernel is None


def test_kernels_reach_large_extents_and_stay_normalised():
    step = KernelBlur(length_range=(80.0, 80.0), anxiety_range=(0.0, 0.0))
    kernel, params = step(np.random.default_rng(10))
    assert abs(kernel.sum() - 1) < 1e-9 and kernel.min() >= 0
    rows, cols = np.nonzero(kernel > 1e-6)
    assert max(np.ptp(rows), np.ptp(cols)) >= 75  # a straight 80 px path spans >= 75 px
    assert KernelBlur().length_range[1] >= 75


def test_shake_homographies_and_warp():
    # no motion: identity homographies, and warping by them returns the region exactly
    t = np.zeros(4, complex)
    hs = shake_homographies(t, np.zeros(4), np.ones(4), focal=100.0, center=(10.0, 20.0))
    np.testing.assert_allclose(hs, np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-12)
    img = np.random.default_rng(11).random((40, 40, 3), dtype=np.float32)
    np.testing.assert_allclose(warp_average(img, hs, 32, 4), img[4:36, 4:36], atol=1e-6)
    # pure yaw moves the principal point by the trajectory displacement (f * tan(atan(d/f)))
    h = shake_homographies(np.array([5 + 0j]), np.zeros(1), np.ones(1), 200.0, (16.0, 16.0))[0]
    p = h @ np.array([16.0, 16.0, 1.0])
    np.testing.assert_allclose(p[:2] / p[2], [21.0, 16.0], atol=1e-9)
    # roll blurs the corners more than the rotation centre (non-uniform blur)
    step = ShakeBlur(length_range=(0.0, 0.0), roll_deg_range=(3.0, 3.0), zoom_range=(0.0, 0.0),
                     center_offset=0.0)
    hs, margin, params = step(np.random.default_rng(12), 64)
    def moved(x, y):
        q = hs @ np.array([x, y, 1.0])
        return np.abs(q[:, :2] / q[:, 2:] - [x, y]).max()
    assert moved(0, 0) > 3 * moved(32, 32)
    assert margin >= params["max_displacement"]


def test_config_is_typed_and_strict():
    with pytest.raises(UserError, match="noise.probabilty"):
        from_dict(DegradationConfig, {"noise": {"probabilty": 1}}, "degradation")
    with pytest.raises(UserError, match="kind_weights"):
        DegradationConfig(kind_weights={"motion": 1.0})
    with pytest.raises(UserError, match="jpeg_quality_range"):
        CompressionConfig(jpeg_quality_range=(90, 10))


# ------------------------------------------------------------------------------------------
# sources: frame folders and videos, bad files, short clips
# ------------------------------------------------------------------------------------------
def test_frame_folder_and_video_are_the_same_sequence(corpus):
    src = _sources(corpus, photos=False)
    names = sorted(s.name for s in src.sequences.sequences)
    assert names == sorted([str(corpus["seqs"] / "frames"), str(corpus["seqs"] / "moving.mp4")])
    folder = [s for s in src.sequences.sequences if s.files is not None][0]
    pixels = src.sequences._pixels(folder)
    assert pixels.shape == (17, 120, 160, 3)
    np.testing.assert_array_equal(pixels[5], corpus["frames"][5])  # natural order: f5 not f15


def test_unreadable_files_are_reported_by_name_and_skipped(corpus, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_textured(np.random.default_rng(13), 64, 64)).save(photos / "good.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    vids = tmp_path / "vids"
    vids.mkdir()
    (vids / "broken.mp4").write_bytes(b"\x00" * 100)
    report = BatchReport()
    src = open_sources([photos], [HighFpsSpec(vids, 240)], tmp_path / "cache", report)
    assert src.photos.files == [str(photos / "good.png")]
    failed = {Path(p).name for p, _ in report.failures}
    assert failed == {"broken.jpg", "broken.mp4"}


def test_a_clip_shorter_than_the_longest_window_is_refused(corpus):
    from deblurkit.data.online import OnTheFlyPairs

    src = _sources(corpus, photos=False)  # 17 frames at 1000 fps
    cfg = _cfg(average={"exposure_ms_range": [9.0, 33.0]})
    with pytest.raises(UserError, match=r"moving.mp4: 17 frames at 1000 fps is shorter than "
                                        r"the longest averaging window \(33 ms = 33 frames\)"):
        OnTheFlyPairs(src, cfg, 32, 10)


# ------------------------------------------------------------------------------------------
# on-the-fly dataset: determinism, workers, resume
# ------------------------------------------------------------------------------------------
def _online_section(corpus) -> dict:
    return {"photos": [str(corpus["photos"])],
            "highfps": [{"path": str(corpus["seqs"] / "moving.mp4"), "fps": 1000}],
            "length": 8, "cache_dir": str(corpus["cache"]),
            "degradation": {"average": {"exposure_ms_range": [5.0, 15.0]},
                            "kernel": {"length_range": [2.0, 20.0]},
                            "shake": {"length_range": [2.0, 12.0]}}}


def test_samples_are_a_pure_function_of_seed_epoch_index(corpus):
    from deblurkit.data.online import OnTheFlyPairs

    ds = OnTheFlyPairs.from_config({**_online_section(corpus), "crop_size": 32, "seed": 3})
    ds.set_epoch(2)
    a = ds[5]
    again = OnTheFlyPairs.from_config({**_online_section(corpus), "crop_size": 32, "seed": 3})
    again.set_epoch(2)
    b = again[5]
    assert torch.equal(a["blur"], b["blur"]) and torch.equal(a["sharp"], b["sharp"])
    again.set_epoch(3)
    assert not torch.equal(again[5]["blur"], a["blur"])  # a new epoch, a new pair
    loaders = [torch.utils.data.DataLoader(ds, batch_size=4, num_workers=w) for w in (0, 2)]
    first, second = (next(iter(dl)) for dl in loaders)
    assert torch.equal(first["blur"], second["blur"])


def test_frames_items_are_the_pairs_blurred_pictures_labelled_by_visible_blur(corpus):
    from deblurkit.data.online import OnTheFlyPairs, visible_label
    from deblurkit.data.video import INVISIBLE_BLUR_DB
    from deblurkit.synth.degrade import blur_psnr

    section = {**_online_section(corpus), "crop_size": 32, "seed": 3, "length": 24,
               "degradation": {**_online_section(corpus)["degradation"], "sharp_fraction": 0.5}}
    pairs = OnTheFlyPairs.from_config(section)
    frames = OnTheFlyPairs.from_config({**section, "items": "frames"})
    assert frames.describe()["items"] == "frames" and pairs.describe()["items"] == "pairs"
    labels = []
    for i in range(len(pairs)):
        sample, item = pairs.sample(i), frames[i]
        assert torch.equal(item["image"], pairs[i]["blur"]) and item["meta"]["kind"] == sample.kind
        value = sample.params["blur_psnr"]
        assert (value is None) == (sample.kind == "sharp")
        label = int(sample.kind != "sharp" and value < INVISIBLE_BLUR_DB)
        assert item["label"].item() == label == visible_label(sample)
        labels.append(label)
    assert 0 < sum(labels) < len(labels)
    # visible_label reads the recorded value: the same sample with its blur called invisible
    sample = pairs.sample(labels.index(1))
    sample.params["blur_psnr"] = INVISIBLE_BLUR_DB
    assert visible_label(sample) == 0
    assert blur_psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.4)) == 20.0
    with pytest.raises(UserError, match="items='labels': use one of pairs, frames"):
        OnTheFlyPairs.from_config({**section, "items": "labels"})


def test_the_classifier_trains_on_online_frames_and_only_the_classifier(corpus, tmp_path):
    from deblurkit.training import build_config, train

    recipe = {"task": "classifier",
              "model": {"name": "s4_frame_selector",
                        "kwargs": {"stem_channels": 4, "widths": [4, 8, 8, 8]}},
              "data": {"train": {"layout": "online", "crop_size": 32, "batch_size": 4,
                                 "args": {**_online_section(corpus), "items": "frames"}}},
              "losses": [{"name": "frame_bce"}], "optim": {"lr": 1e-3},
              "train": {"steps": 2, "out_dir": str(tmp_path / "c"), "val_every": 0,
                        "ckpt_every": 0, "device": "cpu", "seed": 1, "log_every": 1}}
    result = train(build_config(recipe), tensorboard=False)
    assert (result.checkpoint / "model.safetensors").is_file()
    with pytest.raises(UserError, match="items: frames is for task: classifier"):
        build_config({**recipe, "task": "supervised", "losses": [{"name": "l1"}]})
    pairs = {**recipe, "data": {"train": {**recipe["data"]["train"],
                                          "args": _online_section(corpus)}}}
    with pytest.raises(UserError, match="'online' with args.items: frames"):
        build_config(pairs)


def _online_recipe(corpus, out: Path, steps: int) -> dict:
    return {"task": "supervised",
            "model": {"name": "s1_msed_1scale", "kwargs": {"base_width": 4, "depth": 2}},
            "data": {"train": {"layout": "online", "args": _online_section(corpus),
                               "crop_size": 32, "batch_size": 2}},
            "losses": [{"name": "l1"}], "optim": {"lr": 1e-3},
            "train": {"steps": steps, "out_dir": str(out), "val_every": 0, "ckpt_every": 0,
                      "device": "cpu", "ema": 0.9, "seed": 2, "log_every": 1}}


def test_resume_with_the_online_dataset_gives_bit_identical_weights(corpus, tmp_path):
    from safetensors.torch import load_file

    from deblurkit.training import build_config, train

    straight = train(build_config(_online_recipe(corpus, tmp_path / "a", 6)), tensorboard=False)
    train(build_config(_online_recipe(corpus, tmp_path / "b", 3)), tensorboard=False)
    resumed = train(build_config(_online_recipe(corpus, tmp_path / "b", 6)), resume=True,
                    tensorboard=False)
    for stem in ("model", "ema"):
        a = load_file(str(straight.checkpoint / f"{stem}.safetensors"))
        b = load_file(str(resumed.checkpoint / f"{stem}.safetensors"))
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (stem, key)


def test_online_layout_is_for_training_only(corpus):
    from deblurkit.training.config import DataConfig
    from deblurkit.training.data import build_dataset

    with pytest.raises(UserError, match="validate on fixed pairs"):
        build_dataset(DataConfig(layout="online", args=_online_section(corpus)), 0, train=False)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not beside the repository")
def test_training_over_the_shared_corpus_runs_end_to_end(tmp_path):
    from deblurkit.training import build_config, train

    photos = sorted((SHARED / "photos" / "train" / "bsds500").glob("*.jpg"))[:3]
    clip = sorted((SHARED / "highfps" / "train" / "x4k1000fps").glob("*.mp4"))[0]
    recipe = {"task": "supervised",
              "model": {"name": "s1_msed_1scale", "kwargs": {"base_width": 4, "depth": 2}},
              "data": {"train": {"layout": "online", "crop_size": 64, "batch_size": 2, "args": {
                  "photos": [str(p) for p in photos],
                  "highfps": [{"path": str(clip), "fps": 1000}], "length": 4,
                  "cache_dir": str(tmp_path / "cache")}}},
              "losses": [{"name": "l1"}],
              "train": {"steps": 2, "out_dir": str(tmp_path / "run"), "val_every": 0,
                        "ckpt_every": 0, "device": "cpu", "log_every": 1}}
    result = train(build_config(recipe), tensorboard=False)
    assert result.step == 2
    cfg = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert cfg["data"]["train"]["layout"] == "online"


# ------------------------------------------------------------------------------------------
# fixed realistic sets: synth --config
# ------------------------------------------------------------------------------------------
def _spec(corpus, path: Path) -> Path:
    spec = {"photos": [str(corpus["photos"])],
            "highfps": [{"path": str(corpus["seqs"] / "moving.mp4"), "fps": 1000}],
            "size": 32, "seed": 5, "split": "val", "cache_dir": str(corpus["cache"]),
            "pairs": {"kernel": 2, "shake": 2, "average": 2, "sharp": 2},
            "clips": {"sequences": 1, "photos": 1, "frames": 6, "interval_ms": [3.0, 5.0],
                      "interval_frames": [2, 4]},
            "degradation": {"average": {"exposure_ms_range": [5.0, 9.0]},
                            "kernel": {"length_range": [2.0, 12.0]}}}
    path.write_text(yaml.safe_dump(spec))
    return path


def _hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_synth_config_twice_gives_identical_files(corpus, tmp_path):
    spec = _spec(corpus, tmp_path / "spec.yaml")
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "deblurkit", "synth", "--config", str(spec),
                               "-o", str(out)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        runs.append(_hashes(out))
    assert runs[0] == runs[1]
    files = runs[0]
    for kind in ("kernel", "shake", "average", "sharp"):
        assert {f"val/{kind}/blur/00000{i}.png" for i in (0, 1)} <= set(files)
    # only kernel pairs store their kernel, readable without pickle
    assert {f for f in files if f.endswith(".npy")} == {"val/kernel/kernel/000000.npy",
                                                         "val/kernel/kernel/000001.npy"}
    kernel = np.load(tmp_path / "a" / "val" / "kernel" / "kernel" / "000000.npy")
    assert kernel.ndim == 2 and abs(kernel.sum() - 1) < 1e-9
    labels = (tmp_path / "a" / "videos" / "val" / "clip_sequence_000" / "labels.csv").read_text()
    assert labels.splitlines()[0] == "frame,blurred" and len(labels.splitlines()) == 7
    # every clip frame's blur_psnr: null for a sharp frame, else the PSNR of the frame as
    # averaged against its reference, before noise (the stored frames differ from both)
    from deblurkit.data.video import load_clip, read_blur_psnr
    from deblurkit.synth.realistic import blur_psnr

    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    clips = [item for item in manifest["items"] if item["kind"].startswith("clip_")]
    assert len(clips) == 2
    for item in clips:
        folder = tmp_path / "a" / item["folder"]
        values = read_blur_psnr(folder)
        assert values == item["blur_psnr"]
        assert [v is None for v in values] == [f.label == 0 for f in load_clip(folder).frames]
        assert all(0 < v < 99 for v in values if v is not None)
    assert blur_psnr(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.4)) == 20.0
    assert read_blur_psnr(tmp_path / "a" / "val" / "kernel") is None


def test_visible_blur_labels_call_invisible_blur_sharp():
    from deblurkit.data.video import INVISIBLE_BLUR_DB, visible_blur_labels

    assert INVISIBLE_BLUR_DB == 35.0
    assert visible_blur_labels([0, 1, 1, 1], [None, 21.5, 34.99, 35.0]) == [0, 1, 1, 0]
    assert visible_blur_labels([1], [50.0], invisible_db=60.0) == [1]
    with pytest.raises(ValueError, match="length"):
        visible_blur_labels([0, 1], [None])
    with pytest.raises(ValueError, match="no blur_psnr"):
        visible_blur_labels([1], [None])


def test_synth_config_refuses_procedural_options(corpus, tmp_path):
    spec = _spec(corpus, tmp_path / "spec.yaml")
    proc = subprocess.run([sys.executable, "-m", "deblurkit", "synth", "--config", str(spec),
                           "-o", str(tmp_path / "o"), "--train", "5"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "--train: not used with --config" in proc.stderr
    assert "Traceback" not in proc.stderr



DEBLUR_RECIPES = sorted(p.stem for p in (REPO / "configs" / "realistic").glob("*.yaml")
                        if not p.stem.startswith("frame_selector"))


@functools.lru_cache(maxsize=None)
def _recipe_runs() -> dict[str, str]:
    """Run folder (``train.out_dir``) -> recipe name, over the realistic deblurring recipes."""
    from deblurkit.training import load_config

    return {load_config(REPO / "configs" / "realistic" / f"{n}.yaml").train.out_dir: n
            for n in DEBLUR_RECIPES}


@pytest.mark.parametrize("name", DEBLUR_RECIPES)
def test_realistic_recipe_trains_on_train_and_validates_on_realval_only(name):
    from deblurkit.models.weights import load_model
    from deblurkit.training import load_config

    cfg = load_config(REPO / "configs" / "realistic" / f"{name}.yaml")
    train_paths = list(cfg.data.train.args["photos"]) + [h["path"] for h in
                                                         cfg.data.train.args["highfps"]]
    assert train_paths and all("/train" in p and "/val" not in p for p in train_paths)
    assert cfg.data.train.layout == "online"
    monitor = (cfg.data.val.layout, cfg.data.val.args)
    assert monitor in [("gopro", {"root": "data/realval", "split": "val"}),
                       ("gopro", {"root": "data/realhold", "split": "train"})]
    if monitor[1]["root"] == "data/realhold":
        # monitored on held-out train scenes: the recipe must leave exactly those scenes out
        hold = yaml.safe_load((REPO / "configs" / "data" / "realhold.yaml").read_text())
        assert hold["holdout"]["use"] == "listed"
        assert cfg.data.train.args["holdout"] == {"list": hold["holdout"]["list"], "use": "rest"}
    spec = yaml.safe_load((REPO / "configs" / "data" / "realval.yaml").read_text())
    assert all("/val" in p for p in spec["photos"] + [h["path"] for h in spec["highfps"]])
    runs = _recipe_runs()
    start = Path(cfg.model.init or "").parts
    if cfg.model.init and "/".join(start[:3]) in runs:
        # a start from another recipe's run: that recipe's network, and the recipe says so
        other = load_config(REPO / "configs" / "realistic" / f"{runs['/'.join(start[:3])]}.yaml")
        assert other.model.name == cfg.model.name and start[3] == "checkpoints"
        text = (REPO / "configs" / "realistic" / f"{name}.yaml").read_text()
        assert f"train configs/realistic/{runs['/'.join(start[:3])]}.yaml" in text
    elif cfg.model.init and cfg.model.init.startswith("runs/"):
        # a start made by a tool (a grown or revived network): the recipe says how to make it
        text = (REPO / "configs" / "realistic" / f"{name}.yaml").read_text()
        assert re.search(r"tools/\w+_weights\.py", text)
        assert f"-o {Path(cfg.model.init).parent.as_posix()}" in text
    elif cfg.model.init:  # a continued run starts from a file of the recipe's network
        assert load_model(REPO / cfg.model.init).deblurkit_name == cfg.model.name


@pytest.mark.parametrize("name", ["frame_selector", "frame_selector_clips"])
def test_classifier_recipes_read_train_material_only_and_start_from_the_bundled_classifier(name):
    from deblurkit.models.weights import load_model
    from deblurkit.training import load_config

    cfg = load_config(REPO / "configs" / "realistic" / f"{name}.yaml")
    assert cfg.task == "classifier"
    train, val = cfg.data.train, cfg.data.val
    if train.layout == "online":
        paths = list(train.args["photos"]) + [h["path"] for h in train.args["highfps"]]
        assert paths and all("/train" in p and "/val" not in p for p in paths)
        assert train.args["items"] == "frames"
        assert train.args["degradation"]["sharp_fraction"] == 0.5
    else:
        assert train.args == {"root": "data/selector_train/videos", "split": "train",
                              "labels": "visible"}
    assert val.args == {"root": "data/selector_train/videos", "split": "train",
                        "labels": "visible"}  # a monitor; never the validation clips
    model = load_model(REPO / cfg.model.init)  # the start matches the recipe's network
    assert model.deblurkit_name == cfg.model.name
    widths = [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert widths[0] == cfg.model.kwargs["stem_channels"]
    assert set(cfg.model.kwargs["widths"]) <= set(widths)


def test_an_online_recipe_records_every_degradation_setting(corpus, tmp_path):
    from deblurkit.training import build_config
    from deblurkit.training.config import dump_config

    cfg = build_config(_online_recipe(corpus, tmp_path / "r", 1))
    recorded = yaml.safe_load(dump_config(cfg))["data"]["train"]["args"]["degradation"]
    # the recipe set three fields; the record holds all of them, typed and complete
    assert recorded["average"]["exposure_ms_range"] == [5.0, 15.0]
    assert recorded["noise"] == {"probability": 0.9, "shot_range": [1e-4, 1e-2],
                                 "read_range": [5e-4, 1e-2]}
    assert from_dict(DegradationConfig, recorded) == from_dict(
        DegradationConfig, _online_section(corpus)["degradation"])
