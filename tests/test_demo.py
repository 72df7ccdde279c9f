"""`deblurkit demo` (what `make demo` runs) restores the bundled samples end to end.

The end-to-end run uses tiny samples made by the same functions as the bundled ones
(tools/make_demo_assets.py), so the test stays fast; the bundled samples themselves are checked
for consistency without running the models on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from deblurkit.cli import main
from deblurkit.cli import demo
from deblurkit.errors import UserError
from deblurkit.io import read_image, write_image
from deblurkit.metrics import psnr, ssim
from deblurkit.synth.sources import load_skimage_image
from scripts import load_script

REPO = Path(__file__).resolve().parents[1]
TINY_PHOTO_CROP = (100, 200, 48, 64)   # (top, left, h, w) of astronaut
TINY_CLIP_SIZE = (32, 48)
TINY_CLIP_FRAMES = 10


def _load_script():
    return load_script(REPO / "tools" / "make_demo_assets.py")


@pytest.fixture(scope="module")
def script():
    return _load_script()


def _tiny_assets(script, folder: Path, seed: int = 7) -> dict:
    photo_rng, clip_rng = np.random.default_rng(seed).spawn(2)
    sharp, blurred, _ = script.make_photo(load_skimage_image("astronaut"), photo_rng,
                                          crop=TINY_PHOTO_CROP, kernel_size=9,
                                          trajectory_length=6.0)
    clip = script.make_clip_frames(load_skimage_image("hubble_deep_field")[:120, :160],
                                   clip_rng, n_frames=TINY_CLIP_FRAMES, size=TINY_CLIP_SIZE)
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / demo.PHOTO_SHARP, sharp)
    write_image(folder / demo.PHOTO_BLURRED, blurred)
    script.write_clip(folder / demo.CLIP, clip.frames,
                      script.synth_chords(len(clip.frames) / script.CLIP_FPS))
    (folder / demo.CLIP_LABELS).write_text(script.labels_csv(clip.labels))
    return {"sharp": sharp, "blurred": blurred, "clip": clip}


def _count_frames(path: Path) -> tuple[int, list[str]]:
    with av.open(str(path)) as c:
        audio = [s.codec_context.name for s in c.streams.audio]
        return sum(1 for _ in c.decode(video=0)), audio


def test_assets_script_is_deterministic(script):
    image = load_skimage_image("astronaut")
    a = script.make_photo(image, np.random.default_rng(3), crop=TINY_PHOTO_CROP, kernel_size=9,
                          trajectory_length=6.0)
    b = script.make_photo(image, np.random.default_rng(3), crop=TINY_PHOTO_CROP, kernel_size=9,
                          trajectory_length=6.0)
    c = script.make_photo(image, np.random.default_rng(4), crop=TINY_PHOTO_CROP, kernel_size=9,
                          trajectory_length=6.0)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])
    # the sharp photo is the crop itself, untouched; the blurred one is worse than it
    np.testing.assert_array_equal(a[0], image[100:148, 200:264])
    assert a[1].dtype == np.uint8 and 15 < psnr(a[1], a[0]) < 45

    src = load_skimage_image("hubble_deep_field")[:120, :160]
    v1 = script.make_clip_frames(src, np.random.default_rng(5), n_frames=6, size=(16, 24))
    v2 = script.make_clip_frames(src, np.random.default_rng(5), n_frames=6, size=(16, 24))
    np.testing.assert_array_equal(v1.frames, v2.frames)
    assert v1.labels == v2.labels and len(v1.labels) == 6 == len(v1.frames)
    assert sum(v1.labels) <= 0.7 * 6   # S4's cap on the blurred share
    np.testing.assert_array_equal(script.synth_chords(0.5, rate=8000),
                                  script.synth_chords(0.5, rate=8000))
    assert script.labels_csv([1, 0]) == "frame,blurred\n0,1\n1,0\n"


def test_demo_restores_samples_end_to_end(tmp_path, script, capsys):
    made = _tiny_assets(script, tmp_path / "assets")
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--assets", str(tmp_path / "assets"), "--device", "cpu"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in demo.OUTPUT_FILES:
        assert (out / name).is_file(), name
        assert str(out / name) in printed
    assert "[1/4]" in printed and "[4/4]" in printed

    restored = read_image(out / "photo_restored.png").pixels
    assert restored.shape == made["sharp"].shape and restored.dtype == np.uint8
    figure = read_image(out / "before_after.png").pixels
    assert figure.shape[1] >= 3 * TINY_PHOTO_CROP[3] and figure.shape[2] == 3

    n_in, audio_in = _count_frames(tmp_path / "assets" / demo.CLIP)
    n_out, audio_out = _count_frames(out / "clip_restored.mp4")
    assert n_in == n_out == TINY_CLIP_FRAMES
    assert audio_in == audio_out == ["aac"]

    report = json.loads((out / "clip_report.json").read_text())
    assert report["select"] == "classifier" and len(report["frames"]) == TINY_CLIP_FRAMES

    metrics = json.loads((out / "metrics.json").read_text())
    assert {"model", "classifier", "photo", "video", "seconds_total"} <= set(metrics)
    p, v = metrics["photo"], metrics["video"]
    assert p["input"]["psnr"] == pytest.approx(psnr(made["blurred"], made["sharp"]), abs=1e-9)
    assert p["input"]["ssim"] == pytest.approx(ssim(made["blurred"], made["sharp"]), abs=1e-9)
    assert p["restored"]["psnr"] == pytest.approx(psnr(restored, made["sharp"]), abs=1e-9)
    assert p["seconds"] >= 0
    labels = made["clip"].labels
    selected = [f["deblurred"] for f in report["frames"]]
    assert v["frames"] == TINY_CLIP_FRAMES and v["labelled_blurred"] == sum(labels)
    assert v["selected"] == sum(selected)
    assert v["selector"]["accuracy"] == pytest.approx(
        np.mean(np.array(selected) == np.array(labels, bool)))
    assert v["audio_copied"] is True
    assert "speedup_vs_all" in v and v["seconds"] > 0
    assert "| blurred input |" in (out / "metrics.md").read_text()

    # a second run replaces its own earlier output
    assert main(argv) == 0


def test_missing_or_bad_sample_is_one_line_error(tmp_path, script, capsys):
    _tiny_assets(script, tmp_path / "assets")
    (tmp_path / "assets" / demo.CLIP).unlink()
    assert main(["demo", "--out", str(tmp_path / "o"), "--assets",
                 str(tmp_path / "assets")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and demo.CLIP in err and "missing" in err

    bad = tmp_path / "labels.csv"
    bad.write_text("frame,blurred\n0,1\n2,0\n")
    with pytest.raises(UserError, match="line 3"):
        demo.read_labels(bad)


def test_selector_agreement_and_strip_choice():
    agree = demo.selector_agreement([True, True, False, False], [1, 0, 1, 0])
    assert agree == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5}
    assert demo.selector_agreement([False], [0]) == {"accuracy": 1.0, "precision": None,
                                                     "recall": None}
    assert demo.strip_indices([0, 1, 1, 0, 1, 1, 1, 0], 3) == [1, 4, 6]
    assert demo.strip_indices([0, 0, 0], 4) == [0, 1, 2]


def test_bundled_samples_are_consistent(script):
    folder = demo.default_assets_dir()
    paths = demo.check_assets(folder)
    labels = demo.read_labels(paths[demo.CLIP_LABELS])
    n_frames, audio = _count_frames(paths[demo.CLIP])
    assert n_frames == len(labels) and audio == ["aac"]
    assert 0 < sum(labels) < len(labels)   # partially blurred
    sharp = read_image(paths[demo.PHOTO_SHARP]).pixels
    blurred = read_image(paths[demo.PHOTO_BLURRED]).pixels
    assert sharp.shape == blurred.shape and sharp.dtype == blurred.dtype == np.uint8
    assert sharp.shape[2] == 3 and psnr(blurred, sharp) < 35
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert total < 3 * 1024**2
    # both pictures are held out of the default model's training data
    held = script.held_out_skimage()
    assert script.PHOTO_NAME in held and script.CLIP_SOURCE in held
