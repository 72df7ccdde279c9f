"""Layered object motion (synth.layers, the ``objects`` blur kind) and held-out training scenes
(synth.corpus.HoldOut, configs/data/holdout.txt, make realhold).

The renderer is checked against hand computations (integer shifts, occlusion order, coverage),
the kind against the properties every pair must have (alignment of the target, determinism,
JSON-able records), the hold-out against its rule and against the recipes and sets that use it.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from deblurkit.errors import UserError
from deblurkit.synth.corpus import HighFpsSpec, HoldOut, open_sources
from deblurkit.synth.degrade import DegradationConfig, ObjectMotion, make_sample
from deblurkit.synth.layers import Sprite, blob_alpha, render_layers, smooth_path
from deblurkit.utils.typed import from_dict

from test_degrade import QUIET  # the degradation steps off, for exact comparisons

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


def _still(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((n, 2)), np.zeros(n)


def _square(value: float, side: int, corner, path) -> Sprite:
    path = np.asarray(path, np.float64)
    return Sprite(np.full((side, side, 3), value, np.float32), np.ones((side, side), np.float32),
                  corner, path, np.zeros(len(path)))


# ------------------------------------------------------------------------------------------
# the renderer against hand computations
# ------------------------------------------------------------------------------------------
def test_without_motion_the_blurred_picture_is_the_target():
    rng = np.random.default_rng(0)
    bg = rng.random((40, 40, 3)).astype(np.float32)
    path, angle = _still(5)
    sprite = Sprite(rng.random((9, 9, 3)).astype(np.float32), blob_alpha(rng, 9), (7.0, 11.0),
                    path, angle)
    blurred, target = render_layers(bg, np.zeros((5, 2)), [sprite], 32, 4)
    np.testing.assert_allclose(blurred, target, atol=1e-6)
    outside = np.ones((32, 32), bool)
    outside[10:22, 6:18] = False   # around the sprite: the background's centre, untouched
    np.testing.assert_array_equal(target[outside], bg[4:36, 4:36][outside])
    # a camera that moves by nothing but rounding samples the same pixels
    nearly, _ = render_layers(bg, np.full((5, 2), 1e-9), [sprite], 32, 4)
    np.testing.assert_allclose(nearly, blurred, atol=1e-5)


def test_camera_motion_averages_integer_shifts_of_the_background():
    rng = np.random.default_rng(1)
    bg = rng.random((30, 30, 3)).astype(np.float32)
    camera = np.array([[-2.0, 1.0], [0.0, 0.0], [2.0, -1.0]])
    blurred, target = render_layers(bg, camera, [], 20, 5)
    by_hand = np.mean([bg[5 + dy:25 + dy, 5 + dx:25 + dx] for dx, dy in camera.astype(int)], axis=0)
    np.testing.assert_allclose(blurred, by_hand, atol=1e-6)
    np.testing.assert_allclose(target, bg[5:25, 5:25], atol=1e-6)


def test_a_moving_sprite_keeps_its_coverage_and_smears_along_its_path():
    bg = np.zeros((40, 40, 3), np.float32)
    path = [[-3.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [3.0, 0.0]]
    blurred, target = render_layers(bg, np.zeros((4, 2)), [_square(1.0, 6, (12.0, 12.0), path)],
                                    40, 0)
    # light is moved, not made: the same total, and a row profile that is the box smeared
    assert math.isclose(float(blurred.sum()), float(target.sum()), rel_tol=1e-6)
    assert math.isclose(float(target[..., 0].sum()), 36.0, rel_tol=1e-6)
    row = blurred[14, :, 0]
    expected = np.zeros(40)
    for dx in (-3, -1, 1, 3):
        expected[12 + dx:18 + dx] += 0.25
    np.testing.assert_allclose(row, expected, atol=1e-6)
    assert np.abs(blurred[:12]).max() < 1e-6 and np.abs(blurred[18:]).max() < 1e-6  # no vertical smear


def test_front_sprites_cover_the_ones_behind_and_uncover_the_background():
    bg = np.full((30, 30, 3), 0.5, np.float32)
    back = _square(0.0, 10, (5.0, 5.0), [[0.0, 0.0], [0.0, 0.0]])
    front = _square(1.0, 4, (8.0, 8.0), [[-4.0, 0.0], [4.0, 0.0]])
    blurred, target = render_layers(bg, np.zeros((2, 2)), [back, front], 30, 0)
    assert target[9, 9, 0] == 1.0 and target[6, 6, 0] == 0.0 and target[20, 20, 0] == 0.5
    # the front square spends half the time over (5, 9) (on the dark square), half elsewhere
    assert blurred[9, 5, 0] == pytest.approx(0.5)
    assert blurred[9, 9, 0] == pytest.approx(0.0)   # between its two poses: the dark square
    # order matters: the back square drawn last would cover the front one
    swapped, _ = render_layers(bg, np.zeros((2, 2)), [front, back], 30, 0)
    assert swapped[9, 5, 0] == pytest.approx(0.0)


def test_rendering_does_not_depend_on_the_chunk_size():
    rng = np.random.default_rng(2)
    bg = rng.random((50, 50, 3)).astype(np.float32)
    n = 11
    sprites = [Sprite(rng.random((s, s, 3)).astype(np.float32), blob_alpha(rng, s), corner,
                      smooth_path(rng, n, 9.0, 0.3), np.linspace(-0.1, 0.1, n))
               for s, corner in ((12, (3.0, 5.0)), (17, (20.0, 18.0)))]
    camera = smooth_path(rng, n, 4.0, 0.3)
    one = render_layers(bg, camera, sprites, 40, 5, chunk=1)
    many = render_layers(bg, camera, sprites, 40, 5, chunk=8)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_rendering_errors():
    bg = np.zeros((20, 20, 3), np.float32)
    with pytest.raises(ValueError, match="one displacement"):
        render_layers(bg, np.zeros((3, 2)), [_square(1.0, 4, (2.0, 2.0), [[0.0, 0.0]])], 16, 2)


def test_paths_and_outlines():
    rng = np.random.default_rng(3)
    straight = smooth_path(rng, 9, 12.0, 0.0)
    np.testing.assert_allclose(straight.mean(axis=0), 0.0, atol=1e-12)
    assert math.isclose(float(np.hypot(*(straight[-1] - straight[0]))), 12.0, rel_tol=1e-9)
    steps = np.hypot(*np.diff(straight, axis=0).T)
    np.testing.assert_allclose(steps, 1.5)        # constant speed
    bent = smooth_path(rng, 9, 12.0, 0.5)
    np.testing.assert_allclose(bent.mean(axis=0), 0.0, atol=1e-12)
    alpha = blob_alpha(rng, 21)
    assert alpha.dtype == np.float32 and alpha.min() == 0.0 and alpha.max() == 1.0
    assert alpha[10, 10] == 1.0 and alpha[0, 0] == 0.0 and alpha[0, 20] == 0.0
    assert np.any((alpha > 0) & (alpha < 1))    # anti-aliased outline


# ------------------------------------------------------------------------------------------
# the objects kind
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(4):
        base = rng.integers(20, 235, (20, 24, 3)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
        Image.fromarray(base).save(root / f"p{i}.png")
    return root


def _objects_cfg(**objects) -> DegradationConfig:
    return from_dict(DegradationConfig, {**QUIET, "kind_weights": {"objects": 1.0},
                                         "sharp_fraction": 0.0, "objects": objects})


def test_objects_samples_are_deterministic_json_recorded_and_blurred(photos):
    src = open_sources([photos])
    cfg = _objects_cfg(length_range=[20.0, 30.0])
    a = make_sample(src, cfg, 64, np.random.default_rng(5))
    b = make_sample(src, cfg, 64, np.random.default_rng(5))
    assert a.kind == "objects" and a.blur.shape == a.sharp.shape == (64, 64, 3)
    assert a.blur.tobytes() == b.blur.tobytes() and a.sharp.tobytes() == b.sharp.tobytes()
    json.dumps(a.params)
    rec = a.params["blur"]
    assert 1 <= len(rec["sprites"]) <= 3 and rec["sub_exposures"] >= 8
    assert all(20.0 <= s["length"] <= 30.0 for s in rec["sprites"])
    assert a.params["blur_psnr"] is not None and a.params["blur_psnr"] < 40


def test_objects_without_motion_give_identical_pairs(photos):
    src = open_sources([photos])
    cfg = _objects_cfg(length_range=[0.0, 0.0], turn_deg=0.0, camera_probability=0.0)
    s = make_sample(src, cfg, 48, np.random.default_rng(6))
    np.testing.assert_array_equal(s.blur, s.sharp)


def test_object_motion_plan_and_settings():
    step = ObjectMotion(max_objects=2, camera_probability=1.0, camera_length=10.0,
                        max_sub_exposures=20)
    plan, margin = step(np.random.default_rng(4), 64)
    n = plan["sub_exposures"]
    assert 8 <= n <= 20 and plan["camera"].shape == (n, 2)
    assert margin >= np.abs(plan["camera"]).max() + 2
    assert 1 <= len(plan["sprites"]) <= 2
    for sprite in plan["sprites"]:
        assert sprite["path"].shape == (n, 2) and sprite["angle"].shape == (n,)
        np.testing.assert_allclose(sprite["path"].mean(axis=0), 0.0, atol=1e-9)
    again, _ = step(np.random.default_rng(4), 64)
    np.testing.assert_array_equal(again["camera"], plan["camera"])
    for bad in ({"max_objects": 0}, {"size_range": [0.5, 2.0]}, {"camera_probability": 1.5},
                {"max_sub_exposures": 1}, {"turn_deg": 120.0}):
        with pytest.raises(UserError, match="objects"):
            from_dict(DegradationConfig, {"objects": bad})


def test_objects_is_a_photo_kind():
    cfg = DegradationConfig(kind_weights={"objects": 1.0, "average": 1.0})
    assert cfg.kinds_for(True, False) == {"objects": 1.0}
    with pytest.raises(UserError, match="no blur kind"):
        DegradationConfig(kind_weights={"objects": 1.0}).kinds_for(False, True)


# ------------------------------------------------------------------------------------------
# held-out scenes
# ------------------------------------------------------------------------------------------
def _listing(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "hold.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_holdout_keeps_the_rest_or_only_the_listed(tmp_path):
    paths = ["/d/photos/train/a/1.jpg", "/d/photos/train/a/2.jpg", "/d/highfps/train/x.mp4"]
    listing = _listing(tmp_path, "# a comment", "", "photos/train/a/2.jpg", "highfps/train/x.mp4")
    assert HoldOut(listing, "rest").split(paths) == paths[:1]
    assert HoldOut(listing, "listed").split(paths) == paths[1:]
    # a suffix matches whole path parts only
    assert HoldOut(_listing(tmp_path, "1.jpg"), "rest").split(paths) == paths[1:]
    assert HoldOut(_listing(tmp_path, "a/1.jpg"), "rest").split(["/d/aa/1.jpg", *paths]) == \
        ["/d/aa/1.jpg", *paths[1:]]


def test_holdout_refuses_stale_or_foreign_lists(tmp_path):
    paths = ["/d/photos/1.jpg"]
    with pytest.raises(UserError, match="matches no source"):
        HoldOut(_listing(tmp_path, "photos/1.jpg", "photos/9.jpg"), "listed").split(paths)
    with pytest.raises(UserError, match="none of its 1 entries"):
        HoldOut(_listing(tmp_path, "other/1.jpg"), "rest").split(paths)
    with pytest.raises(UserError, match="cannot read"):
        HoldOut(str(tmp_path / "missing.txt")).split(paths)
    with pytest.raises(UserError, match="holdout.use"):
        HoldOut("x.txt", "train")


def test_open_sources_applies_the_holdout_to_photos_and_sequences(photos, tmp_path):
    seqs = tmp_path / "seqs"
    for name in ("s1", "s2"):
        (seqs / name).mkdir(parents=True)
        for t in range(3):
            Image.fromarray(np.full((20, 20, 3), 10 * t, np.uint8)).save(seqs / name / f"{t}.png")
    listing = _listing(tmp_path, f"{photos.name}/p1.png", "seqs/s2")
    rest = open_sources([photos], [HighFpsSpec(seqs, 1000)], tmp_path / "cache",
                        holdout=HoldOut(listing, "rest"))
    listed = open_sources([photos], [HighFpsSpec(seqs, 1000)], tmp_path / "cache",
                          holdout=HoldOut(listing, "listed"))
    assert [Path(p).name for p in rest.photos.files] == ["p0.png", "p2.png", "p3.png"]
    assert [Path(s.name).name for s in rest.sequences.sequences] == ["s1"]
    assert [Path(p).name for p in listed.photos.files] == ["p1.png"]
    assert [Path(s.name).name for s in listed.sequences.sequences] == ["s2"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")
def test_the_committed_holdout_list_is_the_tools_rule_and_holds_no_validation_scene(tmp_path):
    out = tmp_path / "holdout.txt"
    subprocess.run([sys.executable, str(REPO / "tools" / "make_holdout.py"), str(SHARED),
                    "-o", str(out)], check=True, capture_output=True)
    committed = (REPO / "configs" / "data" / "holdout.txt").read_text()
    entries = [l for l in committed.splitlines() if l and not l.startswith("#")]
    assert [l for l in out.read_text().splitlines() if not l.startswith("#")] == \
        [l for l in committed.splitlines() if not l.startswith("#")]
    assert all("/train/" in e for e in entries) and all((SHARED / e).is_file() for e in entries)
    assert sum(e.endswith(".mp4") for e in entries) == 2 and len(entries) == 43


def test_recipes_that_hold_scenes_out_and_the_tuning_set_use_the_same_list():
    hold = yaml.safe_load((REPO / "configs" / "data" / "realhold.yaml").read_text())
    assert hold["holdout"] == {"list": "configs/data/holdout.txt", "use": "listed"}
    assert all("/train" in p for p in hold["photos"] + [h["path"] for h in hold["highfps"]])
    users = []
    for path in sorted((REPO / "configs").rglob("*.yaml")):
        train = ((yaml.safe_load(path.read_text()) or {}).get("data") or {}).get("train") or {}
        args = train.get("args") or {}
        if "holdout" in args:
            users.append(path.stem)
            assert args["holdout"] == {"list": hold["holdout"]["list"], "use": "rest"}
    assert "deblur_objects" in users
