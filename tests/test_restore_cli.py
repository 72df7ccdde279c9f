"""`deblurkit restore` end to end, `deblurkit eval --model`, and torchrun sharding."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deblurkit.cli import COMMANDS
from deblurkit.errors import UserError
from deblurkit.io import read_image, write_image
from deblurkit.models import create_model
from deblurkit.models.weights import save_model

SIZE = (24, 40)


def _main(argv: list[str]) -> int:
    """``deblurkit.cli.main`` when ``restore`` is registered, else the same parse-and-run."""
    if "restore" in COMMANDS:
        from deblurkit.cli import main

        return main(argv)
    from deblurkit.cli import eval as eval_cmd, restore as restore_cmd

    module = {"restore": restore_cmd, "eval": eval_cmd}[argv[0]]
    parser = argparse.ArgumentParser(prog=f"deblurkit {argv[0]}")
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    args.command = argv[0]
    try:
        return module.run(args)
    except UserError as exc:
        print(f"deblurkit {argv[0]}: error: {exc}", file=sys.stderr)
        return exc.exit_code


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    return save_model(net, tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture
def inputs(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "in"
    rgb16 = rng.integers(0, 65536, (*SIZE, 3), dtype=np.uint16)
    alpha16 = rng.integers(0, 65536, SIZE, dtype=np.uint16)
    write_image(root / "sub" / "deep.png", rgb16, alpha=alpha16)
    write_image(root / "photo.jpg", rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    return root


def test_restore_folder_keeps_format_depth_alpha_and_reports_failures(inputs, model_file,
                                                                        tmp_path, capsys):
    out = tmp_path / "out"
    code = _main(["restore", str(inputs), "-o", str(out), "--model", str(model_file),
                  "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert "2 succeeded, 1 failed" in err and "broken.png" in err
    png = read_image(out / "sub" / "deep.png")
    source = read_image(inputs / "sub" / "deep.png")
    assert png.info.format == "PNG" and png.pixels.dtype == np.uint16
    assert png.pixels.shape == source.pixels.shape
    np.testing.assert_array_equal(png.alpha, source.alpha)  # alpha carried through exactly
    assert not np.array_equal(png.pixels, source.pixels)  # the model did run
    jpg = read_image(out / "photo.jpg")
    assert jpg.info.format == "JPEG" and jpg.pixels.shape == (*SIZE, 3)
    assert not (out / "broken.png").exists()
    assert sorted(p.name for p in out.rglob("*")) == ["deep.png", "photo.jpg", "sub"]


def test_restore_output_matches_restorer(inputs, model_file, tmp_path):
    from deblurkit.inference.restorer import Restorer
    from deblurkit.io import from_float, to_float

    out = tmp_path / "out"
    src = inputs / "sub" / "deep.png"
    assert _main(["restore", str(src), "-o", str(out), "--model", str(model_file),
                  "--tile", "0", "--suffix", "_sharp"]) == 0
    written = read_image(out / "deep_sharp.png").pixels
    expected = from_float(Restorer(str(model_file), device="cpu")(to_float(
        read_image(src).pixels)), 16)
    np.testing.assert_array_equal(written, expected)


def test_restore_refuses_to_write_onto_inputs(inputs, model_file, capsys):
    before = {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()}
    code = _main(["restore", str(inputs), "-o", str(inputs), "--model", str(model_file)])
    assert code == 1 and "output folder is the input folder" in capsys.readouterr().err
    code = _main(["restore", str(inputs / "photo.jpg"), "-o", str(inputs), "--overwrite",
                  "--model", str(model_file)])
    assert code == 1 and "would replace the input" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in inputs.rglob("*") if p.is_file()} == before


def test_restore_existing_output_needs_overwrite(inputs, model_file, tmp_path, capsys):
    out = tmp_path / "out"
    src = str(inputs / "photo.jpg")
    assert _main(["restore", src, "-o", str(out), "--model", str(model_file)]) == 0
    capsys.readouterr()
    assert _main(["restore", src, "-o", str(out), "--model", str(model_file)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert _main(["restore", src, "-o", str(out), "--model", str(model_file),
                  "--overwrite"]) == 0


def test_restore_uses_the_bundled_default_model(inputs, tmp_path, capsys):
    from deblurkit.inference.restorer import Restorer
    from deblurkit.io import read_image, write_image

    src = tmp_path / "in.png"
    write_image(src, read_image(inputs / "photo.jpg").pixels)
    out = tmp_path / "o"
    assert _main(["restore", str(src), "-o", str(out), "--tile", "0"]) == 0
    assert "untrained" not in capsys.readouterr().err
    written = read_image(out / "in.png").pixels
    expected = Restorer(device="cpu")(read_image(src).pixels)
    assert np.array_equal(written, expected)


def test_eval_with_model_records_seconds(tmp_path, model_file, capsys):
    rng = np.random.default_rng(1)
    blur, sharp = tmp_path / "blur", tmp_path / "sharp"
    for name in ("a", "b"):
        image = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
        write_image(sharp / f"{name}.png", image)
        write_image(blur / f"{name}.png", image // 2 + 60)
    out_json = tmp_path / "scores.json"
    code = _main(["eval", "--blur", str(blur), "--sharp", str(sharp), "--json", str(out_json),
                  "--model", str(model_file), "--device", "cpu", "--tile", "auto"])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out_json.read_text())
    assert doc["model"] == str(model_file) and doc["count"] == 2
    seconds = [entry["seconds"] for entry in doc["images"]]
    assert all(isinstance(s, float) and s > 0 for s in seconds)
    assert doc["seconds_per_image"] == pytest.approx(np.mean(seconds))
    # identity baseline: no timing, and different scores from the model's
    base_json = tmp_path / "base.json"
    assert _main(["eval", "--blur", str(blur), "--sharp", str(sharp),
                  "--json", str(base_json)]) == 0
    base = json.loads(base_json.read_text())
    assert base["seconds_per_image"] is None and base["images"][0]["seconds"] is None
    assert base["mean"]["psnr"] != doc["mean"]["psnr"]


def test_torchrun_two_ranks_write_every_output_once(tmp_path, model_file):
    rng = np.random.default_rng(2)
    root = tmp_path / "in"
    names = [f"img{i}.png" for i in range(5)]
    for name in names:
        write_image(root / name, rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out = tmp_path / "out"
    if "restore" in COMMANDS:
        target = ["-m", "deblurkit"]
    else:  # until the command is registered: a script that runs the same code
        script = tmp_path / "run_restore.py"
        script.write_text(
            "import argparse, sys\n"
            "from deblurkit.cli import restore\n"
            "p = argparse.ArgumentParser()\nrestore.add_arguments(p)\n"
            "sys.exit(restore.run(p.parse_args(sys.argv[2:])))\n", encoding="utf-8")
        target = [str(script)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "DEBLURKIT_PROGRESS": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--master_port=0", *target, "restore", str(root), "-o", str(out),
         "--model", str(model_file), "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == names
    assert "rank 0/2: 3 succeeded, 0 failed" in result.stderr
    assert "rank 1/2: 2 succeeded, 0 failed" in result.stderr


def test_a_model_that_outputs_nan_fails_each_file_with_one_line_and_eval_json_stays_valid(
        inputs, tmp_path, capsys):
    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    with torch.no_grad():
        net.scales[0].decoder[-1].out.bias.fill_(float("nan"))
    broken = save_model(net, tmp_path / "nan.safetensors")
    out = tmp_path / "out"
    code = _main(["restore", str(inputs), "-o", str(out), "--model", str(broken),
                  "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "0 succeeded, 3 failed" in err
    assert err.count("the model returned NaN or infinite values") == 2  # + the broken png
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))
    report = tmp_path / "eval.json"
    code = _main(["eval", "--blur", str(inputs), "--sharp", str(inputs), "--model", str(broken),
                  "--json", str(report)])
    assert code == 1
    text = report.read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON report"))
    reasons = json.dumps(data)
    assert "the model returned NaN or infinite values" in reasons


@pytest.mark.parametrize(("argv", "message"), [
    (["--tile", "7"], "tile 7 px is too small for this model"),
    (["--tile", "64", "--overlap", "32"], "overlap 32 px must be less than half the tile"),
    (["--tile", "128", "--overlap", "64"], "overlap 64 px must be less than half the tile"),
])
def test_unusable_tiles_are_refused_with_one_line_before_any_file(inputs, model_file, tmp_path,
                                                                   capsys, argv, message):
    out = tmp_path / "out"
    code = _main(["restore", str(inputs), "-o", str(out), "--model", str(model_file), *argv])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_zero_overlap_tiles_abut_and_cover_every_pixel():
    from deblurkit.inference.tiling import blend_weights, restore_tiled, tile_starts

    starts = tile_starts(100, 32, 0)
    weights = blend_weights(starts, 32, 100, margin=0)
    total = np.zeros(100)
    for s, w in zip(starts, weights):
        total[s:s + 32] += w
    np.testing.assert_allclose(total, 1.0)
    x = torch.rand(1, 3, 70, 90)
    torch.testing.assert_close(restore_tiled(lambda t: t * 0.5, x, 32, 0), x * 0.5)


def test_max_pixels_flag_raises_the_bomb_limit(tmp_path, model_file, capsys):
    src = tmp_path / "big.png"
    write_image(src, np.zeros((100, 100, 3), np.uint8))
    out = tmp_path / "out"
    assert _main(["restore", str(src), "-o", str(out), "--model", str(model_file),
                  "--max-pixels", "5000"]) == 1
    err = capsys.readouterr().err
    assert "exceeds the limit of 5000" in err and "--max-pixels" in err
    assert _main(["restore", str(src), "-o", str(out), "--model", str(model_file),
                  "--max-pixels", "20000"]) == 0
    assert (out / "big.png").is_file()


def test_eval_help_says_what_runs_without_a_model(capsys):
    with pytest.raises(SystemExit):
        _main(["eval", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(default: none: the blurred input itself is scored)" in help_text


def test_restore_shows_progress_over_the_tiles_of_a_large_picture(tmp_path, model_file):
    src = tmp_path / "wide.png"
    write_image(src, np.zeros((64, 96, 3), np.uint8))
    env = {**os.environ, "DEBLURKIT_PROGRESS": "1"}
    proc = subprocess.run([sys.executable, "-m", "deblurkit", "restore", str(src), "-o",
                           str(tmp_path / "out"), "--model", str(model_file), "--tile", "32",
                           "--overlap", "8"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    shown = proc.stderr.replace("\r", "\n")
    assert "wide.png tiles" in shown and "tile/s" in shown
    from deblurkit.inference.restorer import Restorer

    restorer = Restorer(str(model_file), device="cpu", tile=32, overlap=8)
    calls = []
    restorer.on_tile = lambda done, total: calls.append((done, total))
    restorer(np.zeros((64, 96, 3), np.uint8))
    total = calls[-1][1]
    assert total > 1 and calls == [(i, total) for i in range(1, total + 1)]
    assert f"0/{total}" in shown
