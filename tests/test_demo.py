"""`deblurkit demo` (what `make demo` runs) works end to end on bundled inputs."""

from __future__ import annotations

import json

from deblurkit.cli import main


def test_demo_writes_data_scores_and_preview(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--workers", "1"]) == 0
    report = json.loads((out / "eval.json").read_text())
    assert report["count"] == 12 and not report["missing"] and not report["failed"]
    assert report["dataset"]["layout"] == "gopro"
    # blurred inputs are worse than their references, but not noise
    assert 10 < report["mean"]["psnr"] < 40 and 0 < report["mean"]["ssim"] < 1
    assert (out / "preview.png").stat().st_size > 0
    labels = list((out / "data" / "videos" / "test").glob("*/labels.csv"))
    assert len(labels) == 1
    printed = capsys.readouterr().out
    assert "eval.json" in printed and "preview.png" in printed
    # a second run replaces its own earlier output
    assert main(["demo", "--out", str(out), "--workers", "1"]) == 0
