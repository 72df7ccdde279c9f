"""Tests of deblurkit.data: layouts, pairing errors, paired augmentation, seeding, datasets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from deblurkit.data import (DVD_TEST_CLIPS, FrameLabelDataset, Geometry, PairedImageDataset,
                            PairedTransform, PairingError, VideoClipDataset, apply_geometry,
                            clip_rgb, clip_windows, compile_pattern, dhazy_pairs, dvd_pairs,
                            folder_pairs, gopro_pairs, koehler_pairs, pattern_pairs,
                            raindrop_pairs, read_labels, reds_pairs, sample_geometry, video_clips)
from deblurkit.data.transforms import CropTooLargeError
from deblurkit.errors import UserError

H, W = 4, 6


def gradient(h: int = H, w: int = W, offset: int = 0) -> np.ndarray:
    """uint8 H x W x 3 image whose pixel (y, x) holds 10*y + x (+ offset, + 100 per channel)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = (10 * yy + xx + offset).astype(np.uint8)
    return np.stack([base, base + 100, base + 150], axis=2).astype(np.uint8)


def png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(pixels).save(path)
    return path


# --------------------------------------------------------------------------- layouts

def test_folder_pairs_nested_and_suffix_insensitive(tmp_path):
    png(tmp_path / "b/x/1.png", gradient())
    png(tmp_path / "b/2.png", gradient())
    png(tmp_path / "s/x/1.png", gradient())
    (tmp_path / "s").mkdir(exist_ok=True)
    PILImage.fromarray(gradient()).save(tmp_path / "s/2.jpg")
    (tmp_path / "b/notes.txt").write_text("not an image")
    pairs = folder_pairs(tmp_path / "b", tmp_path / "s")
    assert [p.key for p in pairs] == ["2", "x/1"]
    assert pairs[0].sharp.name == "2.jpg"
    assert pairs.source["layout"] == "folder" and pairs.source["count"] == 2


def test_folder_pairs_reports_every_unmatched_file(tmp_path):
    png(tmp_path / "b/1.png", gradient())
    png(tmp_path / "b/2.png", gradient())
    png(tmp_path / "b/3.png", gradient())
    png(tmp_path / "s/1.png", gradient())
    png(tmp_path / "s/9.png", gradient())
    with pytest.raises(PairingError) as info:
        folder_pairs(tmp_path / "b", tmp_path / "s")
    err = info.value
    assert [Path(p).name for p in err.unmatched_blur] == ["2.png", "3.png"]
    assert [Path(p).name for p in err.unmatched_sharp] == ["9.png"]
    message = str(err)
    assert "2.png" in message and "3.png" in message and "9.png" in message
    assert str(tmp_path / "b") in message and "\n" not in message


def test_folder_pairs_missing_folder_named(tmp_path):
    with pytest.raises(UserError, match="nowhere"):
        folder_pairs(tmp_path / "nowhere", tmp_path)


def make_gopro(root: Path, split: str = "train") -> None:
    for scene in ("GOPR0372_07_00", "GOPR0384_11_00"):
        for frame in ("000047", "000048"):
            png(root / split / scene / "blur" / f"{frame}.png", gradient(offset=1))
            png(root / split / scene / "blur_gamma" / f"{frame}.png", gradient(offset=2))
            png(root / split / scene / "sharp" / f"{frame}.png", gradient(offset=0))


def test_gopro_blur_gamma_setting_picks_folder_and_is_recorded(tmp_path):
    make_gopro(tmp_path)
    plain = gopro_pairs(tmp_path, "train")
    gamma = gopro_pairs(tmp_path, "train", blur_dir="blur_gamma")
    assert len(plain) == len(gamma) == 4
    assert all(p.blur.parent.name == "blur" for p in plain)
    assert all(p.blur.parent.name == "blur_gamma" for p in gamma)
    assert gamma[0].key == "GOPR0372_07_00/000047"
    assert gamma[0].meta == {"scene": "GOPR0372_07_00", "frame": "000047"}
    ds = PairedImageDataset(gamma)
    info = ds.describe()
    assert info["layout"] == "gopro" and info["blur_dir"] == "blur_gamma"
    assert info["split"] == "train" and info["count"] == 4
    # the pixels come from the blur_gamma folder (offset 2)
    assert ds[0]["blur"][0, 0, 0].item() == pytest.approx(2 / 255)


def test_gopro_missing_sharp_frame_and_bad_settings(tmp_path):
    make_gopro(tmp_path)
    (tmp_path / "train/GOPR0384_11_00/sharp/000048.png").unlink()
    with pytest.raises(PairingError, match="GOPR0384_11_00/blur/000048.png"):
        gopro_pairs(tmp_path, "train")
    with pytest.raises(UserError, match="blur_dir"):
        gopro_pairs(tmp_path, "train", blur_dir="blurry")
    with pytest.raises(UserError, match="test"):
        gopro_pairs(tmp_path, "test")
    (tmp_path / "train/GOPR0372_07_00/blur_gamma/000047.png").unlink()
    (tmp_path / "train/GOPR0372_07_00/blur_gamma/000048.png").unlink()
    (tmp_path / "train/GOPR0372_07_00/blur_gamma").rmdir()
    with pytest.raises(UserError, match="GOPR0372_07_00/blur_gamma"):
        gopro_pairs(tmp_path, "train", blur_dir="blur_gamma")


def test_gopro_layout_reads_any_split_folder_but_no_path(tmp_path):
    make_gopro(tmp_path, split="val")  # make realval writes the GoPro layout with a val split
    assert len(gopro_pairs(tmp_path, "val")) == len(gopro_pairs_of(tmp_path, "val"))
    for bad in ("../val", "", ".hidden", "a/b"):
        with pytest.raises(UserError, match="split folder name"):
            gopro_pairs(tmp_path, bad)


def gopro_pairs_of(root: Path, split: str) -> list[Path]:
    """Every blurred frame of a GoPro-layout split, found independently of gopro_pairs."""
    return sorted((root / split).glob("*/blur/*.png"))


@pytest.mark.parametrize("nested", [False, True])
def test_reds_pairs_both_nestings(tmp_path, nested):
    base = tmp_path / "val" if nested else tmp_path
    for clip in ("000", "001"):
        for frame in ("00000000", "00000001"):
            png(base / "val_blur" / clip / f"{frame}.png", gradient())
            png(base / "val_sharp" / clip / f"{frame}.png", gradient())
    pairs = reds_pairs(tmp_path, "val")
    assert [p.key for p in pairs] == ["000/00000000", "000/00000001", "001/00000000",
                                      "001/00000001"]
    assert pairs[2].meta == {"clip": "001", "frame": "00000000"}
    assert pairs.source["blur_dir"] == "val_blur"
    with pytest.raises(UserError, match="not public"):
        png(tmp_path / "test_blur/000/00000000.png", gradient())
        reds_pairs(tmp_path, "test")


def test_dvd_pairs_splits(tmp_path):
    root = tmp_path / "DeepVideoDeblurring_Dataset" / "quantitative_datasets"
    for clip in ("IMG_0003", "IMG_9999"):
        for frame in ("00000", "00001"):
            png(root / clip / "input" / f"{frame}.jpg", gradient())
            png(root / clip / "GT" / f"{frame}.jpg", gradient())
    parent = tmp_path / "DeepVideoDeblurring_Dataset"
    assert len(dvd_pairs(parent)) == 4  # parent folder accepted
    train = dvd_pairs(root, split="train")
    assert {p.meta["clip"] for p in train} == {"IMG_9999"}
    assert "IMG_0003" in DVD_TEST_CLIPS and len(DVD_TEST_CLIPS) == 10
    with pytest.raises(UserError, match="IMG_0021"):
        dvd_pairs(root, split="test")  # 9 of the 10 test clips are absent: named
    custom = dvd_pairs(root, clips=["IMG_0003"])
    assert [p.key for p in custom] == ["IMG_0003/00000", "IMG_0003/00001"]
    assert custom.source["split"] == "custom"
    with pytest.raises(UserError, match="IMG_7777"):
        dvd_pairs(root, clips=["IMG_7777"])


def make_koehler(root: Path, frames: int = 3) -> None:
    for kernel in (1, 2):
        png(root / "BlurryImages" / f"Blurry1_{kernel}.png", gradient())
        for frame in range(1, frames + 1):
            png(root / f"GroundTruth_pngs_Image1" / f"GroundTruth1_{kernel}_{frame}.png",
                gradient(offset=frame))


def test_koehler_reference_frame_choice(tmp_path):
    make_koehler(tmp_path)
    pairs = koehler_pairs(tmp_path)
    assert [p.key for p in pairs] == ["1_1", "1_2"]
    assert pairs[0].sharp.name == "GroundTruth1_1_2.png"  # middle of 3
    assert pairs[0].meta == {"image": "1", "kernel": "1", "frame": "2", "sharp_candidates": 3}
    assert koehler_pairs(tmp_path, reference="first")[1].sharp.name == "GroundTruth1_2_1.png"
    assert koehler_pairs(tmp_path, reference="last")[1].sharp.name == "GroundTruth1_2_3.png"
    assert koehler_pairs(tmp_path, reference=3)[0].sharp.name == "GroundTruth1_1_3.png"
    assert pairs.source["ignored_files"] == 0 and pairs.source["reference"] == "middle"
    with pytest.raises(UserError, match="frame number 7"):
        koehler_pairs(tmp_path, reference=7)


def test_koehler_missing_ground_truth_and_custom_patterns(tmp_path):
    make_koehler(tmp_path)
    png(tmp_path / "BlurryImages" / "Blurry1_3.png", gradient())
    with pytest.raises(PairingError, match="Blurry1_3.png"):
        koehler_pairs(tmp_path)
    other = tmp_path / "renamed"
    png(other / "blurred_a-1.png", gradient())
    png(other / "gt_a-1_0.png", gradient())
    png(other / "gt_a-1_1.png", gradient())
    pairs = koehler_pairs(other, blur_pattern="blurred_{image}-{kernel}.png",
                          sharp_pattern="gt_{image}-{kernel}_{frame}.png", reference="first")
    assert pairs[0].sharp.name == "gt_a-1_0.png" and pairs[0].key == "a_1"


def test_dhazy_pairs_and_seeded_split(tmp_path):
    for i in range(1, 8):
        png(tmp_path / "NYU_Hazy" / f"{i}_Hazy.bmp", gradient())
        png(tmp_path / "NYU_GT" / f"{i}_Image_.bmp", gradient())
    pairs = dhazy_pairs(tmp_path)
    assert [p.key for p in pairs] == [str(i) for i in range(1, 8)]
    assert pairs[0].sharp.name == "1_Image_.bmp"
    train = dhazy_pairs(tmp_path, split="train", train_count=5, split_seed=3)
    test = dhazy_pairs(tmp_path, split="test", train_count=5, split_seed=3)
    assert len(train) == 5 and len(test) == 2
    assert {p.key for p in train} | {p.key for p in test} == {p.key for p in pairs}
    assert not {p.key for p in train} & {p.key for p in test}
    again = dhazy_pairs(tmp_path, split="train", train_count=5, split_seed=3)
    assert [p.key for p in again] == [p.key for p in train]
    assert train.source["split"] == "train" and train.source["count"] == 5
    (tmp_path / "NYU_GT" / "4_Image_.bmp").unlink()
    with pytest.raises(PairingError, match="4_Hazy.bmp"):
        dhazy_pairs(tmp_path)


def test_raindrop_pairs(tmp_path):
    base = tmp_path / "test_b"
    png(base / "data" / "0_rain.png", gradient())
    png(base / "gt" / "0_clean.png", gradient())
    png(base / "data" / "1_rain.jpg", gradient())
    png(base / "gt" / "1_clean.jpg", gradient())
    png(base / "data" / "stray.png", gradient())
    pairs = raindrop_pairs(tmp_path, split="test_b")
    assert [(p.blur.name, p.sharp.name) for p in pairs] == [("0_rain.png", "0_clean.png"),
                                                          ("1_rain.jpg", "1_clean.jpg")]
    assert pairs.source["ignored_files"] == 1 and pairs.source["split"] == "test_b"
    png(base / "gt" / "2_clean.png", gradient())
    with pytest.raises(PairingError, match="2_clean.png"):
        raindrop_pairs(tmp_path, split="test_b")


def test_compile_pattern_and_pattern_checks(tmp_path):
    regex = compile_pattern("GroundTruth{image}_{kernel}_{frame}.png")
    m = regex.fullmatch("GroundTruth4_12_199.png")
    assert (m["image"], m["kernel"], m["frame"]) == ("4", "12", "199")
    assert regex.fullmatch("GroundTruth4_12_199.jpg") is None
    assert compile_pattern("a.b{x}").fullmatch("aXb1") is None  # '.' is literal
    with pytest.raises(UserError, match="at most one more"):
        pattern_pairs(tmp_path, tmp_path, "{a}_{b}.png", "{a}.png")


# --------------------------------------------------------------------------- transforms

def test_geometry_exact_values_on_gradient():
    img = gradient()[:, :, :1]
    base = img[:, :, 0].astype(int)
    g = Geometry(top=1, left=2, height=2, width=3)
    np.testing.assert_array_equal(apply_geometry(img, g)[:, :, 0], [[12, 13, 14], [22, 23, 24]])
    g = Geometry(1, 2, 2, 3, hflip=True)
    np.testing.assert_array_equal(apply_geometry(img, g)[:, :, 0], [[14, 13, 12], [24, 23, 22]])
    g = Geometry(1, 2, 2, 3, vflip=True)
    np.testing.assert_array_equal(apply_geometry(img, g)[:, :, 0], [[22, 23, 24], [12, 13, 14]])
    g = Geometry(1, 2, 2, 3, rot90=True)  # counter-clockwise: right column becomes top row
    np.testing.assert_array_equal(apply_geometry(img, g)[:, :, 0], [[14, 24], [13, 23], [12, 22]])
    assert base[0, 0] == 0
    out = apply_geometry(img, Geometry(0, 0, H, W, vflip=True, hflip=True))
    assert out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(out[:, :, 0], base[::-1, ::-1])


def test_paired_transform_applies_identical_geometry():
    t = PairedTransform(crop_size=3, hflip=True, vflip=True, rot90=True)
    blur = gradient().astype(np.int32)
    sharp = blur + 1000  # different values, same geometry expected
    for index in range(40):
        rng = np.random.default_rng([0, 0, index])
        b, s = t(blur, sharp, rng)
        assert b.shape == (3, 3, 3)
        np.testing.assert_array_equal(s - b, 1000)
        # the output is some crop of the input, oriented by one of the 8 square symmetries
        top, left = divmod(int(b[:, :, 0].min()), 10)
        window = blur[top:top + 3, left:left + 3]
        candidates = [np.rot90(f, k) for f in (window, window[:, ::-1]) for k in range(4)]
        assert any(np.array_equal(b, c) for c in candidates)


def test_sample_geometry_position_and_flag_independence():
    rng_a = np.random.default_rng([5, 1, 2])
    rng_b = np.random.default_rng([5, 1, 2])
    plain = sample_geometry((H, W), rng_a, (2, 3))
    flipped = sample_geometry((H, W), rng_b, (2, 3), hflip=True, vflip=True)
    assert (plain.top, plain.left) == (flipped.top, flipped.left)  # flags do not move crops
    assert not (plain.hflip or plain.vflip or plain.rot90)
    assert 0 <= plain.top <= H - 2 and 0 <= plain.left <= W - 3
    centre = sample_geometry((H, W), np.random.default_rng(0), (2, 2), random_crop=False)
    assert (centre.top, centre.left) == (1, 2)
    assert sample_geometry((H, W), np.random.default_rng(0)).height == H  # no crop


def test_augmentation_covers_all_orientations_and_positions():
    t = PairedTransform(crop_size=2, hflip=True, vflip=True, rot90=True)
    seen_flags, seen_pos, hflips = set(), set(), 0
    n = 400
    for index in range(n):
        g = t.sample((H, W), np.random.default_rng([0, 0, index]))
        seen_flags.add((g.vflip, g.hflip, g.rot90))
        seen_pos.add((g.top, g.left))
        hflips += g.hflip
    assert len(seen_flags) == 8
    assert seen_pos == {(y, x) for y in range(H - 1) for x in range(W - 1)}
    assert 0.4 < hflips / n < 0.6


def test_transform_errors():
    with pytest.raises(ValueError, match="square"):
        PairedTransform(crop_size=(2, 3), rot90=True)
    with pytest.raises(CropTooLargeError, match="larger"):
        PairedTransform(crop_size=5)(gradient(), gradient(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="positive"):
        PairedTransform(crop_size=0)


# --------------------------------------------------------------------------- datasets

def make_folder(tmp_path: Path, n: int = 6) -> tuple[Path, Path]:
    for i in range(n):
        png(tmp_path / "b" / f"{i:03d}.png", gradient(offset=i))
        png(tmp_path / "s" / f"{i:03d}.png", gradient(offset=i))
    return tmp_path / "b", tmp_path / "s"


def test_dataset_item_values_and_types(tmp_path):
    b, s = make_folder(tmp_path, 2)
    ds = PairedImageDataset(folder_pairs(b, s))
    item = ds[1]
    assert item["blur"].shape == (3, H, W) and item["blur"].dtype == torch.float32
    expected = torch.from_numpy(gradient(offset=1).transpose(2, 0, 1).astype(np.float32) / 255)
    torch.testing.assert_close(item["blur"], expected, rtol=0, atol=1e-7)
    assert item["name"] == "001" and item["blur_path"].endswith("001.png")
    assert isinstance(item["sharp_path"], str) and item["index"] == 1
    with pytest.raises(IndexError):
        ds[2]


def test_dataset_same_seed_same_crops_other_index_other_crops(tmp_path):
    b, s = make_folder(tmp_path)
    pairs = folder_pairs(b, s)
    t = PairedTransform(crop_size=2, hflip=True)
    one, two = PairedImageDataset(pairs, t, seed=7), PairedImageDataset(pairs, t, seed=7)
    for i in range(len(pairs)):
        assert torch.equal(one[i]["blur"], two[i]["blur"])
        assert torch.equal(one[i]["blur"], one[i]["sharp"])
    # all images differ only by offset: item i's crop corner, minus its offset, is the position
    corners = {round(one[i]["blur"][0, 0, 0].item() * 255) - i for i in range(len(pairs))}
    assert len(corners) > 1  # different indices -> different crops
    other = PairedImageDataset(pairs, t, seed=8)
    assert any(not torch.equal(one[i]["blur"], other[i]["blur"]) for i in range(len(pairs)))


def test_set_epoch_changes_crops_and_is_reproducible(tmp_path):
    b, s = make_folder(tmp_path)
    ds = PairedImageDataset(folder_pairs(b, s), PairedTransform(crop_size=2, hflip=True), seed=1)
    epoch0 = [ds[i]["blur"] for i in range(len(ds))]
    ds.set_epoch(1)
    assert ds.epoch == 1
    epoch1 = [ds[i]["blur"] for i in range(len(ds))]
    assert any(not torch.equal(x, y) for x, y in zip(epoch0, epoch1))
    ds.set_epoch(0)
    assert all(torch.equal(x, ds[i]["blur"]) for i, x in enumerate(epoch0))
    with pytest.raises(UserError):
        ds.set_epoch(-1)


def test_dataloader_workers_give_identical_batches(tmp_path):
    b, s = make_folder(tmp_path)
    ds = PairedImageDataset(folder_pairs(b, s), PairedTransform(crop_size=2, hflip=True,
                                                                vflip=True, rot90=True), seed=3)

    def run(loader, epoch):
        ds.set_epoch(epoch)
        return [(batch["blur"], batch["name"]) for batch in loader]

    single = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=0)
    multi = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True)
    for epoch in (0, 1):  # epoch 1 reaches persistent workers through shared memory
        ref, got = run(single, epoch), run(multi, epoch)
        assert [n for _, n in ref] == [n for _, n in got]
        assert all(torch.equal(x, y) for (x, _), (y, _) in zip(ref, got))
    ds.set_epoch(0)
    first = torch.cat([x for x, _ in run(single, 0)])
    ds.set_epoch(1)
    second = torch.cat([x for x, _ in run(single, 1)])
    assert not torch.equal(first, second)


def test_size_mismatch_names_both_files(tmp_path):
    png(tmp_path / "b/1.png", gradient())
    png(tmp_path / "s/1.png", gradient(h=5))
    ds = PairedImageDataset(folder_pairs(tmp_path / "b", tmp_path / "s"))
    with pytest.raises(UserError) as info:
        ds[0]
    assert str(tmp_path / "b/1.png") in str(info.value)
    assert str(tmp_path / "s/1.png") in str(info.value)


def test_crop_larger_than_image_names_file(tmp_path):
    b, s = make_folder(tmp_path, 1)
    ds = PairedImageDataset(folder_pairs(b, s), PairedTransform(crop_size=8))
    with pytest.raises(UserError, match="000.png.*larger"):
        ds[0]


def test_grey_files_become_rgb_and_16_bit_is_scaled(tmp_path):
    grey16 = (np.arange(H * W, dtype=np.uint16).reshape(H, W) * 1000)
    PILImage.fromarray(grey16).save(png(tmp_path / "b/1.png", gradient()))
    PILImage.fromarray(grey16).save(png(tmp_path / "s/1.png", gradient()))
    item = PairedImageDataset(folder_pairs(tmp_path / "b", tmp_path / "s"))[0]
    assert item["blur"].shape == (3, H, W)
    expected = torch.from_numpy(grey16.astype(np.float32) / 65535)
    for c in range(3):
        torch.testing.assert_close(item["blur"][c], expected, rtol=0, atol=1e-6)
    keep = PairedImageDataset(folder_pairs(tmp_path / "b", tmp_path / "s"), channels=None)[0]
    assert keep["blur"].shape == (1, H, W)


def test_from_config_gopro(tmp_path):
    make_gopro(tmp_path)
    ds = PairedImageDataset.from_config({"layout": "gopro", "root": str(tmp_path),
                                         "split": "train", "blur_dir": "blur_gamma",
                                         "crop_size": 2, "hflip": True, "seed": 4})
    info = ds.describe()
    assert info["blur_dir"] == "blur_gamma" and info["seed"] == 4
    assert info["transform"]["crop_size"] == [2, 2] and info["transform"]["hflip"] is True
    assert ds[0]["blur"].shape == (3, 2, 2)
    json.dumps(info)  # recordable as-is
    with pytest.raises(UserError, match="crop"):
        PairedImageDataset.from_config({"layout": "gopro", "root": str(tmp_path), "crop": 2})
    with pytest.raises(UserError, match="layout"):
        PairedImageDataset.from_config({"layout": "nope", "root": str(tmp_path)})


# --------------------------------------------------------------------------- video clips

def make_clips(root: Path, labels: dict[str, list[int]]) -> None:
    """Clips as the synth job writes them: <root>/train/<clip>/{blur,sharp}, labels.csv."""
    for clip, values in labels.items():
        folder = root / "train" / clip
        lines = ["frame,blurred"]
        for i, value in enumerate(values):
            name = f"{i:05d}"
            png(folder / "blur" / f"{name}.png", gradient(offset=10 * value + i))
            png(folder / "sharp" / f"{name}.png", gradient(offset=i))
            lines.append(f"{name},{value}")
        (folder / "labels.csv").write_text("\n".join(lines) + "\n")


def test_labels_parsed_and_checked(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1, 1], "clip_b": [1, 0]})
    clips = video_clips(tmp_path, "train", require_labels=True, require_sharp=True)
    assert [c.name for c in clips] == ["clip_a", "clip_b"]
    assert [f.label for f in clips[0].frames] == [0, 1, 1]
    assert clips.source["blurred_frames"] == 3 and clips.source["sharp_frames"] == 2
    assert read_labels(tmp_path / "train/clip_b/labels.csv") == {"00000": 1, "00001": 0}
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,blurred\n00000,1\n00001,2\n")
    with pytest.raises(UserError, match=r"bad.csv:3: blurred must be 0 or 1"):
        read_labels(bad)
    bad.write_text("name,label\n")
    with pytest.raises(UserError, match="header"):
        read_labels(bad)
    js = tmp_path / "labels.json"
    js.write_text('{"a": 1, "b": 0}')
    assert read_labels(js) == {"a": 1, "b": 0}


def test_labels_must_cover_frames(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1, 1]})
    (tmp_path / "train/clip_a/labels.csv").write_text("frame,blurred\n00000,0\n00001,1\n"
                                                      "00009,1\n")
    with pytest.raises(UserError, match="00002.*00009"):
        video_clips(tmp_path, "train")


def test_visible_labels_call_invisible_blur_sharp_from_the_manifest(tmp_path):
    # the synth job's layout: <root>/videos/<split>/<clip>, manifest.json at <root>
    root = tmp_path / "set"
    make_clips(root / "videos", {"clip_a": [0, 1, 1, 1], "clip_b": [1, 0]})
    (root / "manifest.json").write_text(json.dumps({"items": [
        {"folder": "videos/train/clip_a", "blur_psnr": [None, 24.0, 35.0, 51.3]}]}))
    s4 = video_clips(root / "videos", "train")
    visible = video_clips(root / "videos", "train", labels="visible")
    assert [f.label for f in s4[0].frames] == [0, 1, 1, 1]
    assert [f.label for f in visible[0].frames] == [0, 1, 0, 0]
    assert [f.label for f in visible[1].frames] == [1, 0]  # no record: the file's labels
    assert visible.source["labels"] == "visible" and visible.source["blurred_frames"] == 2
    ds = FrameLabelDataset.from_config({"root": str(root / "videos"), "split": "train",
                                        "labels": "visible"})
    assert [ds[i]["label"].item() for i in range(len(ds))] == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    frames = clip_rgb(visible[0])
    assert len(frames) == 4 and frames[0].shape == (H, W, 3) and frames[0].dtype == np.float32
    np.testing.assert_allclose(frames[1] * 255, gradient(offset=11), atol=1e-4)
    (root / "manifest.json").write_text(json.dumps({"items": [
        {"folder": "videos/train/clip_a", "blur_psnr": [None, 24.0]}]}))
    with pytest.raises(UserError, match="clip_a: the manifest's blur_psnr has 2 values for 4"):
        video_clips(root / "videos", "train", labels="visible")
    (root / "manifest.json").write_text(json.dumps({"items": [
        {"folder": "videos/train/clip_a", "blur_psnr": [None, None, 30.0, 30.0]}]}))
    with pytest.raises(UserError, match="clip_a: a frame labelled blurred has no blur_psnr"):
        video_clips(root / "videos", "train", labels="visible")
    with pytest.raises(UserError, match="labels='mine': use one of s4, visible"):
        video_clips(root / "videos", "train", labels="mine")


def test_clip_rgb_repeats_grey_and_drops_alpha(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1]})
    folder = tmp_path / "train/clip_a/blur"
    grey = np.arange(H * W, dtype=np.uint8).reshape(H, W)
    PILImage.fromarray(grey, "L").save(folder / "00000.png")
    rgba = np.dstack([gradient(offset=3), np.full((H, W), 7, np.uint8)])
    PILImage.fromarray(rgba, "RGBA").save(folder / "00001.png")
    frames = clip_rgb(video_clips(tmp_path, "train")[0])
    assert [f.shape for f in frames] == [(H, W, 3), (H, W, 3)]
    for c in range(3):
        np.testing.assert_allclose(frames[0][..., c] * 255, grey, atol=1e-4)
    np.testing.assert_allclose(frames[1] * 255, gradient(offset=3), atol=1e-4)


def test_frame_label_dataset_label_and_paired_modes(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1, 1], "clip_b": [1, 0]})
    clips = video_clips(tmp_path, "train")
    ds = FrameLabelDataset(clips, mode="label", transform=PairedTransform(crop_size=2), seed=0)
    assert len(ds) == 5
    assert [ds[i]["label"].item() for i in range(5)] == [0.0, 1.0, 1.0, 1.0, 0.0]
    item = ds[1]
    assert item["image"].shape == (3, 2, 2) and item["name"] == "clip_a/00001"
    assert item["path"].endswith("clip_a/blur/00001.png")
    assert ds.describe()["blurred"] == 3 and ds.describe()["mode"] == "label"
    blurred = FrameLabelDataset(clips, mode="paired", frames="blurred")
    assert [blurred[i]["name"] for i in range(len(blurred))] == [
        "clip_a/00001", "clip_a/00002", "clip_b/00000"]
    pair = blurred[0]
    assert pair["label"].item() == 1.0 and pair["sharp_path"].endswith("sharp/00001.png")
    assert pair["blur"].shape == pair["sharp"].shape == (3, H, W)
    assert pair["meta"] == {"clip": "clip_a", "frame": "00001", "blurred": "1"}
    (tmp_path / "train/clip_b/labels.csv").unlink()
    unlabelled = video_clips(tmp_path, "train")
    with pytest.raises(UserError, match="clip_b"):
        FrameLabelDataset(unlabelled, mode="label")
    assert FrameLabelDataset(unlabelled, mode="paired")[4]["label"].item() == -1.0
    labelled = video_clips(tmp_path, "train", only_labelled=True)
    assert [c.name for c in labelled] == ["clip_a"]
    assert labelled.source["unlabelled_skipped"] == 1


def test_frame_label_dataset_from_config(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1]})
    ds = FrameLabelDataset.from_config({"root": str(tmp_path), "split": "train",
                                        "mode": "paired", "crop_size": 2, "seed": 2})
    assert ds.describe()["split"] == "train" and ds[0]["blur"].shape == (3, 2, 2)
    ds.set_epoch(3)
    assert ds._paired.epoch == 3  # one shared epoch counter


def test_video_clip_windows_share_geometry(tmp_path):
    make_clips(tmp_path, {"clip_a": [0, 1, 1, 0, 1]})
    assert clip_windows([5], 2) == [(0, 0, 2), (0, 2, 4), (0, 3, 5)]
    assert clip_windows([5, 1], 3, stride=1) == [(0, 0, 3), (0, 1, 4), (0, 2, 5), (1, 0, 1)]
    assert clip_windows([4], None) == [(0, 0, 4)]
    ds = VideoClipDataset(video_clips(tmp_path, "train"), window=2,
                          transform=PairedTransform(crop_size=2, hflip=True), seed=0)
    assert len(ds) == 3
    item = ds[2]
    assert item["blur"].shape == item["sharp"].shape == (2, 3, 2, 2)
    assert item["frames"] == ["00003", "00004"] and item["labels"].tolist() == [0, 1]
    # sharp frame i is gradient(offset=i): one geometry means a constant frame difference
    diff = (item["sharp"][1] - item["sharp"][0]) * 255
    torch.testing.assert_close(diff[0], torch.ones(2, 2), rtol=0, atol=1e-4)
