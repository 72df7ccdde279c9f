"""``deblurkit eval`` and evaluate_folders: pairing, reporting, JSON contract."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from scipy import ndimage

from deblurkit.cli import main
from deblurkit.metrics import MetricConfig, evaluate_folders, evaluate_gopro, psnr, ssim

SIZE = (24, 20)  # H, W


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array).save(path)  # uint16 grey -> 16-bit PNG
    return path


def _sharp(seed: int, channels: int = 3, size: tuple[int, int] = SIZE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.random((*size, channels)), (1.5, 1.5, 0))
    image = np.clip((smooth - smooth.min()) / np.ptp(smooth) * 255, 0, 255).astype(np.uint8)
    return image if channels == 3 else image[..., 0]


def _blur(image: np.ndarray) -> np.ndarray:
    sigma = (1.0, 1.0, 0) if image.ndim == 3 else 1.0
    return np.round(ndimage.gaussian_filter(image.astype(np.float64), sigma)).astype(np.uint8)


@pytest.fixture
def folders(tmp_path):
    """blur/ and sharp/ with three pairs, one in a subfolder and one with another suffix."""
    blur, sharp = tmp_path / "blur", tmp_path / "sharp"
    arrays = {}
    for name, seed in (("a", 1), ("b", 2), ("sub/c", 3)):
        image = _sharp(seed)
        arrays[name] = (_blur(image), image)
        _save(sharp / f"{name}.png", image)
        _save(blur / f"{name}.png", arrays[name][0])
    # same relative path, other suffix: lossless TIFF so the expected scores stay exact
    (blur / "b.png").unlink()
    _save(blur / "b.tif", arrays["b"][0])
    return blur, sharp, arrays


def _eval(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_scores_json_and_table(folders, tmp_path, capsys):
    blur, sharp, arrays = folders
    out_json = tmp_path / "scores.json"
    code, stdout, stderr = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                                 "--json", str(out_json))
    assert code == 0, stderr
    doc = json.loads(out_json.read_text())
    # the contract: keys later work may extend but never remove
    assert {"mean", "count", "images", "missing", "failed", "config", "model"} <= doc.keys()
    assert doc["model"] == "identity"
    assert doc["count"] == 3 and doc["missing"] == [] and doc["failed"] == []
    assert doc["config"] == MetricConfig().as_dict()
    by_path = {entry["path"]: entry for entry in doc["images"]}
    assert sorted(by_path) == ["a.png", "b.tif", "sub/c.png"]
    assert by_path["b.tif"]["sharp"] == "b.png"
    for name, (blurred, image) in arrays.items():
        entry = by_path[{"a": "a.png", "b": "b.tif", "sub/c": "sub/c.png"}[name]]
        assert entry["psnr"] == pytest.approx(psnr(blurred, image), abs=1e-12)
        assert entry["ssim"] == pytest.approx(ssim(blurred, image), abs=1e-12)
        assert entry["identical"] is False
        assert (entry["width"], entry["height"]) == (SIZE[1], SIZE[0])
        assert 15 < entry["psnr"] < 60 and 0.3 < entry["ssim"] < 1
    assert doc["mean"]["psnr"] == pytest.approx(np.mean([e["psnr"] for e in doc["images"]]))
    assert doc["mean"]["ssim"] == pytest.approx(np.mean([e["ssim"] for e in doc["images"]]))
    assert doc["mean"]["identical"] == 0
    assert doc["mean"]["psnr_excluding_identical"] == doc["mean"]["psnr"]
    # table: header, one row per image with the same numbers, then the mean
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["file", "PSNR"]
    row = next(line for line in lines if line.startswith("sub/c.png"))
    assert row.split()[1:] == [f"{by_path['sub/c.png']['psnr']:.3f}",
                               f"{by_path['sub/c.png']['ssim']:.4f}"]
    assert lines[-1].split()[:3] == ["mean", "(3", "images)"]
    assert lines[-1].split()[3] == f"{doc['mean']['psnr']:.3f}"


def test_identical_folders_give_identical_psnr_and_ssim_one(folders, tmp_path, capsys):
    _, sharp, _ = folders
    out_json = tmp_path / "same.json"
    code, stdout, _ = _eval(capsys, "--blur", str(sharp), "--sharp", str(sharp),
                            "--json", str(out_json))
    assert code == 0
    text = out_json.read_text()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON
    doc = json.loads(text)
    assert doc["mean"] == {"psnr": None, "ssim": 1.0, "identical": 3,
                           "psnr_excluding_identical": None}
    assert all(e["psnr"] is None and e["ssim"] == 1.0 and e["identical"] for e in doc["images"])
    assert stdout.count("identical") >= 4  # three rows and the mean


def test_missing_pairs_are_reported_and_exit_1(folders, tmp_path, capsys):
    blur, sharp, arrays = folders
    _save(sharp / "only_sharp.png", _sharp(7))
    _save(blur / "deep/only_blur.png", _sharp(8))
    out_json = tmp_path / "scores.json"
    code, stdout, stderr = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                                 "--json", str(out_json))
    assert code == 1
    doc = json.loads(out_json.read_text())  # results for the good pairs are still written
    assert doc["count"] == 3
    assert doc["missing"] == [
        {"path": "deep/only_blur.png", "present_in": "blur", "missing_from": "sharp"},
        {"path": "only_sharp.png", "present_in": "sharp", "missing_from": "blur"},
    ]
    for text in (stdout, stderr):
        assert "only_sharp.png" in text and "deep/only_blur.png" in text


def test_size_channel_unreadable_and_ambiguous_pairs_fail(folders, tmp_path, capsys):
    blur, sharp, _ = folders
    _save(blur / "big.png", _sharp(9, size=(30, 20)))
    _save(sharp / "big.png", _sharp(9))
    _save(blur / "grey.png", _sharp(10, channels=1))
    _save(sharp / "grey.png", _sharp(10))
    (blur / "broken.png").write_bytes(b"not a png")
    _save(sharp / "broken.png", _sharp(11))
    _save(blur / "twice.png", _sharp(12))
    _save(blur / "twice.tif", _sharp(12))
    _save(sharp / "twice.png", _sharp(12))
    out_json = tmp_path / "scores.json"
    code, stdout, stderr = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                                 "--json", str(out_json))
    assert code == 1
    doc = json.loads(out_json.read_text())
    failed = {f["path"]: f["reason"] for f in doc["failed"]}
    assert sorted(failed) == ["big.png", "broken.png", "grey.png", "twice"]
    assert failed["big.png"] == "size differs: blur 20x30, sharp 20x24"
    assert failed["grey.png"] == "channels differ: blur grey, sharp RGB"
    assert failed["broken.png"].startswith("blur: ")
    assert "twice.png" in failed["twice"] and "twice.tif" in failed["twice"]
    assert doc["count"] == 3 and doc["missing"] == []
    for name in failed:
        assert name in stdout and name in stderr


def test_options_are_applied_and_recorded(folders, tmp_path, capsys):
    blur, sharp, arrays = folders
    out_json = tmp_path / "y.json"
    code, _, _ = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp), "--json",
                       str(out_json), "--channel", "y", "--crop-border", "2",
                       "--ssim-window", "gaussian", "--data-range", "255")
    assert code == 0
    doc = json.loads(out_json.read_text())
    cfg = MetricConfig(channel="y", crop_border=2, ssim_window="gaussian", data_range=255)
    assert doc["config"] == cfg.as_dict()
    entry = next(e for e in doc["images"] if e["path"] == "a.png")
    blurred, image = arrays["a"]
    assert entry["psnr"] == pytest.approx(psnr(blurred, image, cfg), abs=1e-12)
    assert entry["ssim"] == pytest.approx(ssim(blurred, image, cfg), abs=1e-12)
    assert entry["psnr"] != pytest.approx(psnr(blurred, image), abs=1e-3)


def test_missing_folder_and_existing_json_are_one_line_errors(folders, tmp_path, capsys):
    blur, sharp, _ = folders
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--blur", str(tmp_path / "nope"), "--sharp", str(sharp)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
    existing = tmp_path / "old.json"
    existing.write_text("keep")
    code, _, stderr = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                            "--json", str(existing))
    assert code == 1 and "already exists" in stderr and existing.read_text() == "keep"
    code, _, _ = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                       "--json", str(existing), "--overwrite")
    assert code == 0 and json.loads(existing.read_text())["count"] == 3


def test_empty_blur_folder_reports_every_sharp_image_missing(folders, tmp_path, capsys):
    _, sharp, _ = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    code, stdout, _ = _eval(capsys, "--blur", str(empty), "--sharp", str(sharp))
    assert code == 1
    assert stdout.count("missing:") == 3


def test_restore_hook_and_sixteen_bit(tmp_path):
    blur, sharp = tmp_path / "blur", tmp_path / "sharp"
    image16 = _sharp(4, channels=1).astype(np.uint16) * 256 + 100  # not on the 8-bit grid
    blurred16 = ndimage.gaussian_filter(image16, 1.0)
    _save(sharp / "x.png", image16)
    _save(blur / "x.png", blurred16)
    identity = evaluate_folders(blur, sharp)
    [score] = identity.images
    assert score.psnr == pytest.approx(psnr(blurred16, image16), abs=1e-12)  # native 16 bits
    assert identity.model == "identity" and identity.exit_code == 0

    def sharpen_exactly(x: np.ndarray) -> np.ndarray:
        assert x.dtype == np.float32 and x.shape == (*SIZE, 1)
        return image16.astype(np.float64)[..., None] / 65535

    cfg16 = MetricConfig(quantize_bits=16)
    restored = evaluate_folders(blur, sharp, cfg16, restore=sharpen_exactly)
    assert restored.model == "sharpen_exactly"
    assert math.isinf(restored.images[0].psnr) and restored.images[0].ssim == 1.0
    # the 8-bit default quantization is visible on 16-bit references
    assert math.isfinite(evaluate_folders(blur, sharp, restore=sharpen_exactly).images[0].psnr)


def test_one_identical_pair_makes_mean_psnr_null_but_keeps_the_others_mean(folders, tmp_path,
                                                                           capsys):
    blur, sharp, arrays = folders
    _save(blur / "same.png", arrays["a"][1])
    _save(sharp / "same.png", arrays["a"][1])
    out_json = tmp_path / "mix.json"
    code, stdout, _ = _eval(capsys, "--blur", str(blur), "--sharp", str(sharp),
                            "--json", str(out_json))
    assert code == 0
    doc = json.loads(out_json.read_text())
    others = [e["psnr"] for e in doc["images"] if not e["identical"]]
    assert doc["count"] == 4 and len(others) == 3
    assert doc["mean"]["psnr"] is None and doc["mean"]["identical"] == 1
    assert doc["mean"]["psnr_excluding_identical"] == pytest.approx(np.mean(others))
    assert f"mean PSNR of the other 3: {np.mean(others):.3f}" in stdout


def test_identity_restore_hook_gives_the_identity_scores_on_8_bit(folders):
    blur, sharp, _ = folders
    native = evaluate_folders(blur, sharp)
    through_float = evaluate_folders(blur, sharp, restore=lambda x: x, model="float-identity")
    assert through_float.model == "float-identity"
    for a, b in zip(native.images, through_float.images, strict=True):
        assert b.psnr == pytest.approx(a.psnr, abs=1e-9)
        assert b.ssim == pytest.approx(a.ssim, abs=1e-12)


def test_gopro_layout_scores_every_scene_and_records_the_blur_folder(tmp_path, capsys):
    root = tmp_path / "GOPRO"
    expected = {}
    for scene, seed in (("GOPR0001", 4), ("GOPR0002", 5)):
        image = _sharp(seed)
        _save(root / "test" / scene / "sharp" / "000001.png", image)
        _save(root / "test" / scene / "blur" / "000001.png", _blur(image))
        _save(root / "test" / scene / "blur_gamma" / "000001.png", image)  # identical
        expected[f"{scene}/000001.png"] = (psnr(_blur(image), image), ssim(_blur(image), image))
    _save(root / "test" / "GOPR0002" / "blur" / "000002.png", _sharp(6))  # no sharp twin
    code, out, err = _eval(capsys, "--gopro", str(root), "--json", str(tmp_path / "r.json"))
    assert code == 1 and "GOPR0002/000002.png" in err
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["dataset"] == {"layout": "gopro", "root": str(root), "split": "test",
                               "blur_folder": "blur"}
    scores = {i["path"]: (i["psnr"], i["ssim"]) for i in data["images"]}
    assert scores.keys() == expected.keys()
    for path, values in expected.items():
        assert scores[path] == pytest.approx(values, abs=1e-9)
    assert [m["path"] for m in data["missing"]] == ["GOPR0002/000002.png"]
    code, _, _ = _eval(capsys, "--gopro", str(root), "--blur-folder", "blur_gamma",
                       "--json", str(tmp_path / "g.json"))
    data = json.loads((tmp_path / "g.json").read_text())
    assert code == 0 and data["mean"]["ssim"] == 1.0
    assert data["dataset"]["blur_folder"] == "blur_gamma"


def test_gopro_and_folders_are_exclusive(folders, tmp_path, capsys):
    blur, sharp, _ = folders
    code, _, err = _eval(capsys, "--gopro", str(tmp_path), "--blur", str(blur), "--sharp",
                         str(sharp))
    assert code == 2 and "not both" in err
    code, _, err = _eval(capsys, "--blur", str(blur))
    assert code == 2 and "--sharp" in err


def test_gopro_evaluation_and_training_pairs_agree_in_natural_order(tmp_path):
    from deblurkit.data import gopro_pairs

    root = tmp_path / "GOPRO"
    for scene in ("scene10", "scene2"):
        for frame, seed in (("frame10", 1), ("frame2", 2), ("frame1", 3)):
            image = _sharp(seed)
            _save(root / "test" / scene / "sharp" / f"{frame}.png", image)
            _save(root / "test" / scene / "blur" / f"{frame}.png", _blur(image))
    expected = [f"{scene}/{frame}" for scene in ("scene2", "scene10")
                for frame in ("frame1", "frame2", "frame10")]
    assert [p.key for p in gopro_pairs(root, "test")] == expected
    result = evaluate_gopro(root, "test")
    assert [s.path for s in result.images] == [f"{key}.png" for key in expected]
    assert result.exit_code == 0


def test_one_failure_rule_for_training_pairs_and_evaluation(tmp_path):
    from deblurkit.data import PairingError, gopro_pairs

    root = tmp_path / "GOPRO"
    image = _sharp(1)
    for scene in ("a", "b"):
        _save(root / "test" / scene / "sharp" / "001.png", image)
        _save(root / "test" / scene / "blur" / "001.png", _blur(image))
    _save(root / "test" / "a" / "blur" / "002.png", image)          # unmatched
    _save(root / "test" / "a" / "blur" / "003.png", image)          # ambiguous on the blur side
    _save(root / "test" / "a" / "blur" / "003.tif", image)
    _save(root / "test" / "a" / "sharp" / "003.png", image)
    _save(root / "test" / "c" / "blur" / "001.png", image)          # scene without sharp/
    with pytest.raises(PairingError) as caught:
        gopro_pairs(root, "test")
    error = caught.value
    assert [Path(p).name for p in error.unmatched_blur] == ["002.png", "001.png"]
    assert error.unmatched_sharp == [] and len(error.ambiguous) == 1
    assert "003.png" in error.ambiguous[0] and "003.tif" in error.ambiguous[0]
    assert error.missing_folders == [str(root / "test" / "c" / "sharp")]
    assert "\n" not in str(error)
    result = evaluate_gopro(root, "test")
    assert [s.path for s in result.images] == ["a/001.png", "b/001.png"]
    assert [(m.path, m.present_in) for m in result.missing] == [("a/002.png", "blur"),
                                                                ("c/001.png", "blur")]
    assert {f.path: f.reason for f in result.failed} == {
        "a/003": "ambiguous in blur folder: a/003.png, a/003.tif",
        "c/sharp": "folder not found"}
    assert result.exit_code == 1
