"""benchmarks/default_model.py's evaluation core on a tiny synthesized set (seconds, CPU)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from deblurkit.io import read_image, to_float
from deblurkit.metrics import evaluate_gopro
from deblurkit.metrics.reference import psnr_ssim
from deblurkit.metrics.baselines import wiener_deconvolve
from deblurkit.synth.job import SynthConfig, run_synth
from scripts import load_script

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "default_model.py"
GRID = (1e-3, 1e-2, 1e-1)


def _load_benchmark():
    return load_script(BENCHMARK, "default_model_benchmark")


@pytest.fixture(scope="module")
def bench():
    return _load_benchmark()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    run_synth(SynthConfig(out=out, n_train=4, n_test=4, size=(48, 48), seed=3, video_clips=1,
                          test_video_clips=2, clip_frames=6, kernel_size=15, workers=1,
                          sources=("procedural",), preview=False))
    return out


@pytest.fixture(scope="module")
def default_result(bench, tiny_data, tmp_path_factory):
    figure = tmp_path_factory.mktemp("fig") / "examples.png"
    result = bench.evaluate_default(tiny_data, "default", "default", wiener_tune=2, grid=GRID,
                                    latency=False, threads=1, figure=figure)
    return result, figure


def test_result_keys_and_counts(default_result, tiny_data):
    result, figure = default_result
    assert {"pairs", "counts", "wiener", "selector", "machine", "seconds", "config", "model",
            "classifier", "images", "figure"} <= result.keys()
    assert "latency" not in result
    assert set(result["pairs"]) == {"blurred", "wiener", "model_fp32", "model_bf16"}
    n_kernel = len(list((tiny_data / "test").glob("kernel_*/blur/*.png")))
    n_average = len(list((tiny_data / "test").glob("average_*/blur/*.png")))
    assert n_kernel and n_average and n_kernel + n_average == 4
    assert result["counts"] == {"kernel": n_kernel, "average": n_average, "all": 4}
    for name in ("blurred", "model_fp32", "model_bf16"):
        assert [result["pairs"][name][s]["count"] for s in ("kernel", "average", "all")] \
            == [n_kernel, n_average, 4]
    assert set(result["pairs"]["wiener"]) == {"kernel"}
    assert result["pairs"]["wiener"]["kernel"]["count"] == n_kernel
    assert result["wiener"]["balance"] in GRID and result["wiener"]["tune_pairs"] == 2
    assert len(result["images"]) == 4
    assert figure.is_file() and result["figure"]["examples"]


def test_input_scores_equal_eval_identity(default_result, tiny_data):
    result, _ = default_result
    reference = evaluate_gopro(tiny_data, "test")
    assert result["pairs"]["blurred"]["all"]["psnr"] == pytest.approx(reference.mean_psnr,
                                                                      abs=1e-12)
    assert result["pairs"]["blurred"]["all"]["ssim"] == pytest.approx(reference.mean_ssim,
                                                                      abs=1e-12)
    kernel = [s for s in reference.images if s.path.startswith("kernel_")]
    assert result["pairs"]["blurred"]["kernel"]["psnr"] == pytest.approx(
        np.mean([s.psnr for s in kernel]), abs=1e-12)


def test_wiener_scores_are_the_tuned_deconvolution(default_result, tiny_data):
    result, _ = default_result
    balance = result["wiener"]["balance"]
    row = next(r for r in result["images"] if r["subset"] == "kernel")
    scene, name = row["path"].split("/")
    folder = tiny_data / "test" / scene
    restored = wiener_deconvolve(to_float(read_image(folder / "blur" / name).pixels),
                                 np.load(folder / "kernel" / name.replace(".png", ".npy")),
                                 balance)
    expected = psnr_ssim(restored, read_image(folder / "sharp" / name).pixels)
    assert row["wiener_psnr"] == pytest.approx(expected[0], abs=1e-9)
    assert row["wiener_ssim"] == pytest.approx(expected[1], abs=1e-9)


def test_selector_counts_every_test_frame(default_result, tiny_data):
    selector = default_result[0]["selector"]
    labels = []
    for path in sorted((tiny_data / "videos" / "test").glob("*/labels.csv")):
        labels += [int(row["blurred"]) for row in csv.DictReader(path.open())]
    assert selector["count"] == len(labels) == 12 and selector["clips"] == 2
    assert selector["blurred_frames"] == sum(labels)
    assert selector["sharp_frames"] == len(labels) - sum(labels)
    n_b, n_s = selector["blurred_frames"], selector["sharp_frames"]
    assert selector["majority_class_accuracy"] == max(n_b, n_s) / len(labels)
    # accuracy is the label-weighted mean of the two recalls
    recalls = (selector["blurred_recall"] or 0) * n_b + (selector["sharp_recall"] or 0) * n_s
    assert selector["accuracy"] == pytest.approx(recalls / len(labels))


def test_identity_model_scores_the_input(bench, tiny_data, tmp_path):
    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    identity = create_model("s4_deblurnet", stem_channels=4, body_channels=4, num_blocks=1,
                            residual_init="zero")
    path = save_model(identity, tmp_path / "identity.safetensors")
    result = bench.evaluate_default(tiny_data, str(path), None, wiener_tune=0, latency=False,
                                    bf16=False)
    assert "selector" not in result and "wiener" not in result["pairs"]
    assert "balance" not in result["wiener"]
    for subset in ("kernel", "average", "all"):
        model, blurred = result["pairs"]["model_fp32"][subset], result["pairs"]["blurred"][subset]
        assert model["psnr"] == pytest.approx(blurred["psnr"], abs=1e-9)
        assert model["ssim"] == pytest.approx(blurred["ssim"], abs=1e-9)
    assert result["model"]["sha256"]


def test_choose_examples_is_fixed_and_spread(bench):
    paths = ["kernel_b/1.png", "kernel_a/3.png", "kernel_a/1.png", "average_x/2.png",
             "average_x/5.png", "other/1.png"]
    assert bench.choose_examples(paths) == ["kernel_a/1.png", "kernel_b/1.png",
                                            "average_x/2.png", "average_x/5.png"]
