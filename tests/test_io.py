"""Tests for deblurkit.io: formats x modes, bit depths, EXIF, errors, atomic writes, batches."""

from __future__ import annotations

import io as stdio
import os
import warnings
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageCms
import PIL.ImageOps
import pytest

from deblurkit.errors import ImageReadError, OutputExistsError, UserError
from deblurkit.io import (
    IMAGE_SUFFIXES,
    BatchReport,
    ImageInfo,
    apply_orientation,
    convert_bit_depth,
    folder_images,
    from_float,
    image_to_tensor,
    list_images,
    read_image,
    tensor_to_image,
    to_float,
    write_image,
)
from deblurkit.io.png16 import decode_png16, encode_png

H, W = 13, 17  # odd, non-square: catches transposed axes


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _random(shape, dtype, seed=0) -> np.ndarray:
    return _rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def _srgb_profile() -> bytes:
    return PIL.ImageCms.ImageCmsProfile(PIL.ImageCms.createProfile("sRGB")).tobytes()


# ----------------------------------------------------------------- sample conversions


def test_to_float_values_and_exact_round_trip_all_codes():
    codes8 = np.arange(256, dtype=np.uint8)
    codes16 = np.arange(65536, dtype=np.uint16)
    f8, f16 = to_float(codes8), to_float(codes16)
    assert f8.dtype == np.float32 and f16.dtype == np.float32
    assert f8[0] == 0 and f8[255] == 1 and f8[51] == pytest.approx(0.2)
    assert f16[65535] == 1 and f16[257] == pytest.approx(1 / 255)
    np.testing.assert_array_equal(from_float(f8, 8), codes8)
    np.testing.assert_array_equal(from_float(f16, 16), codes16)
    floats = np.array([0.25, 0.75], np.float32)
    assert to_float(floats) is floats  # float32 passes through, no copy
    assert to_float(np.array([0.5])).dtype == np.float32
    with pytest.raises(TypeError):
        to_float(np.array([1, 2], np.int32))


def test_from_float_clips_and_rounds_half_to_even():
    out = from_float(np.array([-3.0, -0.0, 0.5, 1.0, 7.0, np.inf, -np.inf]), 8)
    np.testing.assert_array_equal(out, [0, 0, 128, 255, 255, 255, 0])  # 127.5 -> 128 (even)
    assert out.dtype == np.uint8
    out16 = from_float(np.array([0.5, 1.0, 2.0], np.float32), 16)
    np.testing.assert_array_equal(out16, [32768, 65535, 65535])  # 32767.5 -> 32768 (even)
    assert out16.dtype == np.uint16
    # exact ties n + 0.5 go to the even neighbour, in both directions
    ties = np.array([0.5, 1.5, 2.5, 253.5]) / 255.0
    assert np.all(ties * 255.0 == np.array([0.5, 1.5, 2.5, 253.5]))  # the ties are exact
    np.testing.assert_array_equal(from_float(ties, 8), [0, 2, 2, 254])
    with pytest.raises(ValueError, match="NaN"):
        from_float(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="bit_depth"):
        from_float(np.zeros(2), 12)


def test_convert_bit_depth_rules():
    codes8 = np.arange(256, dtype=np.uint8)
    up = convert_bit_depth(codes8, 16)
    np.testing.assert_array_equal(up, codes8.astype(np.uint16) * 257)
    np.testing.assert_array_equal(convert_bit_depth(up, 8), codes8)  # lossless both ways
    down = convert_bit_depth(np.array([0, 128, 129, 385, 65535], np.uint16), 8)
    np.testing.assert_array_equal(down, [0, 0, 1, 1, 255])  # rint(v / 257)


def test_tensor_round_trip_and_shapes():
    torch = pytest.importorskip("torch")
    for dtype, depth in ((np.uint8, 8), (np.uint16, 16)):
        image = _random((H, W, 3), dtype)
        tensor = image_to_tensor(image)
        assert tensor.shape == (1, 3, H, W) and tensor.dtype == torch.float32
        assert float(tensor[0, 1, 2, 3]) == pytest.approx(image[2, 3, 1] / np.iinfo(dtype).max)
        np.testing.assert_array_equal(tensor_to_image(tensor, depth), image)
        np.testing.assert_array_equal(tensor_to_image(tensor[0], depth), image)
    assert image_to_tensor(np.zeros((H, W), np.uint8)).shape == (1, 1, H, W)
    with pytest.raises(ValueError):
        tensor_to_image(torch.zeros(2, 3, H, W))


# ----------------------------------------------------------------- lossless round trips

# (kind, channels, dtype, alpha?)
KINDS = {
    "gray8": (1, np.uint8, False), "rgb8": (3, np.uint8, False), "rgba8": (3, np.uint8, True),
    "graya8": (1, np.uint8, True), "gray16": (1, np.uint16, False),
    "rgb16": (3, np.uint16, False), "rgba16": (3, np.uint16, True),
    "graya16": (1, np.uint16, True),
}
LOSSLESS = [(suffix, kind) for suffix in (".png", ".tif", ".bmp") for kind in KINDS
            if suffix != ".bmp" or kind in ("gray8", "rgb8")]


@pytest.mark.parametrize(("suffix", "kind"), LOSSLESS)
def test_lossless_round_trip(tmp_path, suffix, kind):
    channels, dtype, with_alpha = KINDS[kind]
    pixels = _random((H, W, channels), dtype, seed=1)
    alpha = _random((H, W), dtype, seed=2) if with_alpha else None
    out = write_image(tmp_path / f"x{suffix}", pixels, alpha=alpha)
    image = read_image(out)
    assert image.pixels.dtype == dtype and image.pixels.shape == (H, W, channels)
    np.testing.assert_array_equal(image.pixels, pixels)
    if with_alpha:
        np.testing.assert_array_equal(image.alpha, alpha)
    else:
        assert image.alpha is None
    info = image.info
    assert (info.bit_depth, info.channels, info.has_alpha) == (
        8 * np.dtype(dtype).itemsize, channels, with_alpha)
    assert info.path == os.fspath(out)
    assert info.format == {".png": "PNG", ".tif": "TIFF", ".bmp": "BMP"}[suffix]
    # the written file is what an independent decoder sees too (Pillow keeps the high byte)
    if suffix == ".png" and dtype == np.uint16 and channels == 3:
        with PIL.Image.open(out) as pil:
            high = np.asarray(pil.convert("RGB"))
        np.testing.assert_array_equal(high, (pixels >> 8).astype(np.uint8))


def test_reads_16bit_files_from_independent_encoders(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    av = pytest.importorskip("av")
    rgb = _random((H, W, 3), np.uint16, seed=3)
    tifffile.imwrite(tmp_path / "t.tif", rgb, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "t.tif").pixels, rgb)
    # FFmpeg's PNG encoder -> our reader
    with av.open(os.fspath(tmp_path / "f.png"), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = W, H, "rgb48be"
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    np.testing.assert_array_equal(read_image(tmp_path / "f.png").pixels, rgb)
    # Pillow's own 16-bit grayscale writer
    gray = _random((H, W), np.uint16, seed=4)
    PIL.Image.fromarray(gray).save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.pixels.shape == (H, W, 1)
    np.testing.assert_array_equal(image.pixels[:, :, 0], gray)


def test_png16_encoder_against_pillow_decoder():
    # smooth ramps plus noise exercise all five PNG filters; Pillow decodes independently
    # (16-bit gray exactly, 16-bit colour as its high byte)
    ramp = np.arange(W)[None, :, None] * 3000 + np.arange(H)[:, None, None] * 7
    for samples in (1, 3):
        data = (ramp + _random((H, W, samples), np.uint16, seed=samples) % 50).astype(np.uint16)
        blob = encode_png(data, icc_profile=b"p" * 40, dpi=(300, 300))
        with PIL.Image.open(stdio.BytesIO(blob)) as pil:
            assert pil.info["icc_profile"] == b"p" * 40
            assert pil.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            decoded = np.asarray(pil)
        if samples == 1:
            np.testing.assert_array_equal(decoded, data[:, :, 0])
        else:
            np.testing.assert_array_equal(decoded, (data >> 8).astype(np.uint8))


@pytest.mark.parametrize("samples", [2, 3, 4])
def test_png16_decode_matches_encode(tmp_path, samples):
    data = _random((H, W, samples), np.uint16, seed=samples)
    data[:4] = np.arange(W, dtype=np.uint16)[None, :, None] * 1000  # filterable rows
    (tmp_path / "x.png").write_bytes(encode_png(data))
    np.testing.assert_array_equal(decode_png16(tmp_path / "x.png"), data)


# ----------------------------------------------------------------- lossy formats


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
def test_lossy_round_trip_within_tolerance(tmp_path, suffix):
    y, x = np.mgrid[0:32, 0:48]
    smooth = np.dstack([x * 5, y * 7, (x + y) * 3]).astype(np.uint8)
    image = read_image(write_image(tmp_path / f"s{suffix}", smooth, quality=95))
    assert image.pixels.shape == smooth.shape and image.pixels.dtype == np.uint8
    assert np.abs(image.pixels.astype(int) - smooth).mean() < 2.0


def test_sixteen_bit_to_jpeg_becomes_8bit_by_rule(tmp_path):
    flat = np.full((16, 16, 3), 257 * 100 + 128, np.uint16)  # rint(v / 257) = 100
    image = read_image(write_image(tmp_path / "a.jpg", flat, quality=100))
    assert image.info.bit_depth == 8
    assert np.abs(image.pixels.astype(int) - 100).max() <= 1


def test_grayscale_jpeg_stays_gray_and_webp_gray_becomes_rgb(tmp_path):
    gray = np.full((16, 16, 1), 77, np.uint8)
    assert read_image(write_image(tmp_path / "g.jpg", gray)).pixels.shape == (16, 16, 1)
    webp = read_image(write_image(tmp_path / "g.webp", gray, quality=100))
    assert webp.pixels.shape == (16, 16, 3)
    np.testing.assert_array_equal(webp.pixels, 77)


def test_webp_lossless_keeps_alpha_and_hidden_colour(tmp_path):
    rgb = _random((H, W, 3), np.uint8, seed=5)
    alpha = _random((H, W), np.uint8, seed=6)
    alpha[0, :] = 0  # colour under fully transparent pixels is kept too (exact=True)
    image = read_image(write_image(tmp_path / "a.webp", rgb, alpha=alpha, quality=100))
    np.testing.assert_array_equal(image.pixels, rgb)
    np.testing.assert_array_equal(image.alpha, alpha)


def test_alpha_dropped_for_jpeg_and_bmp(tmp_path):
    rgb = _random((H, W, 3), np.uint8)
    alpha = np.full((H, W), 9, np.uint8)
    assert read_image(write_image(tmp_path / "a.jpg", rgb, alpha=alpha)).alpha is None
    bmp = read_image(write_image(tmp_path / "a.bmp", rgb, alpha=alpha))
    assert bmp.alpha is None
    np.testing.assert_array_equal(bmp.pixels, rgb)


# ----------------------------------------------------------------- modes and metadata


def _exif_with_orientation(value: int) -> PIL.Image.Exif:
    exif = PIL.Image.Exif()
    exif[0x0112] = value
    exif[0x010F] = "deblurkit-test-camera"  # Make
    return exif


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_exif_transpose(tmp_path, orientation):
    stored = _random((H, W, 3), np.uint8, seed=orientation)
    pil = PIL.Image.fromarray(stored)
    pil.save(tmp_path / "o.png", exif=_exif_with_orientation(orientation))
    image = read_image(tmp_path / "o.png")
    with PIL.Image.open(tmp_path / "o.png") as reference:
        expected = np.asarray(PIL.ImageOps.exif_transpose(reference))
    np.testing.assert_array_equal(image.pixels, expected)
    assert image.info.orientation == orientation
    np.testing.assert_array_equal(apply_orientation(stored, orientation), expected)


def test_jpeg_orientation_applied_and_reset_on_write(tmp_path):
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:20, :30] = 255  # bright block at the stored top-left
    PIL.Image.fromarray(stored).save(tmp_path / "cam.jpg", exif=_exif_with_orientation(6),
                                     quality=95)
    image = read_image(tmp_path / "cam.jpg")
    assert image.pixels.shape == (60, 40, 3)  # rotated 90 degrees clockwise
    assert image.pixels[10, 30].mean() > 200 and image.pixels[10, 5].mean() < 50  # now top-right
    out = write_image(tmp_path / "out.jpg", image.pixels, info=image.info)
    with PIL.Image.open(out) as written:
        exif = written.getexif()
        assert exif.get(0x0112) == 1 and exif.get(0x010F) == "deblurkit-test-camera"
    again = read_image(out)
    assert again.pixels.shape == (60, 40, 3) and again.info.orientation == 1


def test_palette_with_and_without_transparency(tmp_path):
    indices = (np.arange(H * W).reshape(H, W) % 4).astype(np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
    pil = PIL.Image.frombytes("P", (W, H), indices.tobytes())
    pil.putpalette(palette)
    pil.save(tmp_path / "p.png")
    pil.save(tmp_path / "pt.png", transparency=bytes([255, 0, 255, 128]))
    colours = np.array(palette, np.uint8).reshape(4, 3)[indices]
    plain = read_image(tmp_path / "p.png")
    assert plain.info.mode == "P" and plain.alpha is None
    np.testing.assert_array_equal(plain.pixels, colours)
    clear = read_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(clear.pixels, colours)
    np.testing.assert_array_equal(clear.alpha, np.array([255, 0, 255, 128], np.uint8)[indices])


def test_bilevel_becomes_8bit_gray(tmp_path):
    bits = _random((H, W), np.uint8) > 127
    PIL.Image.fromarray(bits).save(tmp_path / "b.png")
    image = read_image(tmp_path / "b.png")
    assert image.info.mode == "1" and image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels[:, :, 0], np.where(bits, 255, 0))


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_becomes_rgb_by_pillow_conversion(tmp_path, suffix):
    cmyk = PIL.Image.frombytes("CMYK", (W, H), _random((H, W, 4), np.uint8).tobytes())
    cmyk.save(tmp_path / f"c{suffix}", icc_profile=b"\0" * 16 + b"CMYK" + b"\0" * 20)
    image = read_image(tmp_path / f"c{suffix}")
    with PIL.Image.open(tmp_path / f"c{suffix}") as pil:
        expected = np.asarray(pil.convert("RGB"))
    assert image.info.mode == "CMYK" and image.pixels.shape == (H, W, 3)
    np.testing.assert_array_equal(image.pixels, expected)
    assert image.info.icc_profile is None  # a CMYK profile is not carried to RGB pixels


def test_colour_key_transparency_becomes_alpha(tmp_path):
    gray = _random((H, W), np.uint8)
    PIL.Image.fromarray(gray).save(tmp_path / "k.png", transparency=int(gray[0, 0]))
    image = read_image(tmp_path / "k.png")
    np.testing.assert_array_equal(image.alpha, np.where(gray == gray[0, 0], 0, 255))
    np.testing.assert_array_equal(image.pixels[:, :, 0], gray)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_icc_profile_and_dpi_carried(tmp_path, suffix):
    profile = _srgb_profile()
    rgb = _random((H, W, 3), np.uint8)
    PIL.Image.fromarray(rgb).save(tmp_path / f"in{suffix}", icc_profile=profile, dpi=(300, 300))
    source = read_image(tmp_path / f"in{suffix}")
    assert source.info.icc_profile == profile
    out = write_image(tmp_path / f"out{suffix}", source.pixels, info=source.info)
    assert read_image(out).info.icc_profile == profile
    if suffix != ".webp":
        assert read_image(out).info.dpi == pytest.approx((300, 300), abs=0.01)
    # an RGB profile is not attached to a grayscale output (WebP has no gray: written RGB)
    gray = write_image(tmp_path / f"gray{suffix}", rgb[:, :, :1], info=source.info)
    assert read_image(gray).info.icc_profile == (profile if suffix == ".webp" else None)


def test_icc_carried_on_16bit_outputs(tmp_path):
    profile = _srgb_profile()
    info = ImageInfo(path=None, format="PNG", mode="RGB", bit_depth=16, channels=3,
                     has_alpha=False, icc_profile=profile)
    for suffix in (".png", ".tif"):
        out = write_image(tmp_path / f"x{suffix}", np.full((4, 5, 3), 0.5, np.float32), info=info)
        image = read_image(out)
        assert image.info.icc_profile == profile and image.info.bit_depth == 16
        np.testing.assert_array_equal(image.pixels, 32768)


# ----------------------------------------------------------------- bad files


def _png_bytes() -> bytes:
    buffer = stdio.BytesIO()
    PIL.Image.fromarray(_random((64, 64, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg_bytes() -> bytes:
    buffer = stdio.BytesIO()
    PIL.Image.fromarray(_random((64, 64, 3), np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


BAD_FILES = {
    "zero.png": (lambda: b"", "empty"),
    "trunc.png": (lambda: _png_bytes()[: len(_png_bytes()) // 2], "truncated"),
    "trunc.jpg": (lambda: _jpeg_bytes()[: len(_jpeg_bytes()) // 2], "truncated"),
    "trunc16.png": (lambda: encode_png(_random((64, 64, 3), np.uint16))[:3000], "truncated"),
    "noise.png": (lambda: _rng(9).bytes(4096), "not an image"),
    "notes.jpg": (lambda: b"just some text, not a photo\n" * 20, "not an image"),
    "broken.tif": (lambda: b"II*\x00" + _rng(3).bytes(500), "corrupt"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_image_read_error_naming_the_file(tmp_path, name):
    make, words = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(make())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning escapes either
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
    assert str(path) in str(caught.value) and caught.value.path == str(path)
    assert words in caught.value.reason


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="no such file") as caught:
        read_image(tmp_path / "nope.png")
    assert str(tmp_path / "nope.png") in str(caught.value)
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


def test_decompression_bomb_limit_checked_before_decoding(tmp_path, monkeypatch):
    path = write_image(tmp_path / "big.png", np.zeros((40, 50, 3), np.uint8))
    with pytest.raises(ImageReadError, match="exceeds the limit of 1999") as caught:
        read_image(path, max_pixels=1999)
    assert str(path) in str(caught.value)
    assert read_image(path, max_pixels=2000).pixels.shape == (40, 50, 3)
    # Pillow's own (global) limit neither warns nor fails when ours allows the image
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).pixels.shape == (40, 50, 3)
    assert PIL.Image.MAX_IMAGE_PIXELS == 100  # restored


# ----------------------------------------------------------------- writing


def test_write_refuses_to_overwrite_unless_asked(tmp_path):
    path = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(OutputExistsError) as caught:
        write_image(path, np.ones((4, 4, 3), np.uint8))
    assert str(path) in str(caught.value)
    assert read_image(path).pixels.max() == 0  # untouched
    write_image(path, np.ones((4, 4, 3), np.uint8), overwrite=True)
    assert read_image(path).pixels.min() == 1


@pytest.mark.parametrize(("suffix", "dtype"), [(".png", np.uint8), (".png", np.uint16),
                                               (".jpg", np.uint8)])
def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch, suffix, dtype):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PIL.Image.Image, "save", broken)
    monkeypatch.setattr("deblurkit.io.write.encode_png", broken)
    with pytest.raises(UserError, match="No space left") as caught:
        write_image(tmp_path / f"out{suffix}", np.zeros((4, 4, 3), dtype))
    assert str(tmp_path / f"out{suffix}") in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("deblurkit.io.write.encode_png", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint16))
    assert list(tmp_path.iterdir()) == []


def test_float_pixels_quantized_to_requested_depth(tmp_path):
    values = np.array([[[0.0], [0.5], [1.0], [1.5]]], np.float32)  # 1 x 4 x 1
    eight = read_image(write_image(tmp_path / "f8.png", values)).pixels
    np.testing.assert_array_equal(eight.ravel(), [0, 128, 255, 255])
    sixteen = read_image(write_image(tmp_path / "f16.png", values, bit_depth=16)).pixels
    np.testing.assert_array_equal(sixteen.ravel(), [0, 32768, 65535, 65535])
    info = ImageInfo(path=None, format="PNG", mode="I;16", bit_depth=16, channels=1,
                     has_alpha=False)
    assert read_image(write_image(tmp_path / "fi.png", values, info=info)).info.bit_depth == 16


def test_write_argument_errors(tmp_path):
    with pytest.raises(UserError, match=".gif"):
        write_image(tmp_path / "a.gif", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(TypeError):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.int32))
    with pytest.raises(ValueError):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ValueError, match="alpha"):
        write_image(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8), alpha=np.zeros((3, 2)))
    assert list(tmp_path.iterdir()) == []


def test_four_channel_array_is_rgba(tmp_path):
    rgba = _random((H, W, 4), np.uint8)
    image = read_image(write_image(tmp_path / "a.png", rgba))
    np.testing.assert_array_equal(image.pixels, rgba[:, :, :3])
    np.testing.assert_array_equal(image.alpha, rgba[:, :, 3])


# ----------------------------------------------------------------- batches


def _touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_list_images_folders_globs_and_errors(tmp_path):
    root = tmp_path / "shots"
    b = _touch_image(root / "b.PNG")
    a = _touch_image(root / "a.jpg")
    deep = _touch_image(root / "sub" / "c.tiff")
    _touch_image(root / "notes.txt")
    _touch_image(root / ".a.png.tmp.png")  # our own temporary file
    _touch_image(root / ".hidden" / "d.png")
    assert IMAGE_SUFFIXES >= {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
    assert list_images([root]) == [a, b, deep]
    assert list_images([root], recursive=False) == [a, b]
    odd = _touch_image(tmp_path / "frame.raw")
    assert list_images([odd, root / "*.jpg", root]) == [odd, a, b, deep]  # order kept, no dupes
    assert list_images([str(tmp_path / "**" / "*.tiff")]) == [deep]
    for bad, words in ((tmp_path / "missing.png", "no such file"),
                       (str(root / "*.webp"), "matches no image"),
                       (_touch_image(tmp_path / "empty" / "x.txt").parent, "no image files")):
        with pytest.raises(UserError, match=words) as caught:
            list_images([bad])
        assert str(bad) in str(caught.value)


def test_listing_is_in_natural_order(tmp_path):
    names = ["frame10.png", "frame2.png", "frame1.png", "sub10/x.png", "sub9/x.png"]
    for name in names:
        _touch_image(tmp_path / name)
    expected = ["frame1.png", "frame2.png", "frame10.png", "sub9/x.png", "sub10/x.png"]
    assert [p.relative_to(tmp_path).as_posix() for p in folder_images(tmp_path)] == expected
    assert list_images([tmp_path]) == [tmp_path / name for name in expected]
    assert list_images([str(tmp_path / "frame*.png")]) == [tmp_path / n for n in expected[:3]]


def test_batch_goes_on_and_reports_every_failure(tmp_path):
    good = write_image(tmp_path / "good.png", np.zeros((3, 3, 3), np.uint8))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    report = BatchReport()
    for path in list_images([tmp_path]):
        with report.item(path):
            read_image(path)
    assert report.succeeded == 1 and report.exit_code == 1
    assert [p for p, _ in report.failures] == [str(tmp_path / "empty.png"),
                                               str(tmp_path / "text.png")]
    lines = report.summary().splitlines()
    assert lines[0] == "1 succeeded, 2 failed"
    assert lines[1] == f"  {tmp_path / 'empty.png'}: empty file (0 bytes)"
    assert str(tmp_path / "text.png") in lines[2] and "not an image" in lines[2]
    clean = BatchReport()
    clean.ok(good)
    assert clean.exit_code == 0 and clean.summary() == "1 succeeded, 0 failed"
    with pytest.raises(ZeroDivisionError):  # bugs are not swallowed
        with clean.item("x"):
            raise ZeroDivisionError


def test_premultiplied_16bit_tiff_is_unpremultiplied(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    straight = np.array([[[40000, 20000, 0], [65535, 1, 2]]], np.uint16)
    alpha = np.array([[32768, 0]], np.uint16)
    premultiplied = np.rint(straight * (alpha[:, :, None] / 65535.0)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "p.tif", np.dstack([premultiplied, alpha]), photometric="rgb",
                     extrasamples=["assocalpha"])
    image = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(image.alpha, alpha)
    assert np.abs(image.pixels[0, 0].astype(int) - straight[0, 0]).max() <= 2
    np.testing.assert_array_equal(image.pixels[0, 1], 0)  # fully transparent: colour unknown
