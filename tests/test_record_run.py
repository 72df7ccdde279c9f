"""tools/record_run.py: a run's CPU hours and validation curve, and a run continued from
another run's weights (the row rebuilt from the base's record up to the start step)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from scripts import load_script

TOOL = Path(__file__).resolve().parent.parent / "tools" / "record_run.py"


@pytest.fixture()
def record_run(tmp_path, monkeypatch):
    module = load_script(TOOL)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "system_runs.json")

    def run(*argv: str) -> int:
        monkeypatch.setattr(sys, "argv", ["record_run.py", *argv])
        return module.main()

    return module, run


def write_metrics(folder: Path, points: dict[int, float], last: int) -> Path:
    folder.mkdir(parents=True)
    rows = ["step,split,metric,value", f"{last},train,loss,0.1"]
    rows += [f"{s},val,psnr,{v}" for s, v in points.items()]
    rows += ["0,val,psnr_input,25.0"]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_run_is_recorded_with_its_hours_and_curve(tmp_path, record_run):
    module, run = record_run
    folder = write_metrics(tmp_path / "a", {0: 25.0, 500: 25.5, 1000: 26.0}, 1000)
    assert run("a", str(folder), "--segment", "0:600:3600", "--segment", "600:1000:1800") == 0
    rec = json.loads(module.RESULTS.read_text())["a"]
    assert rec["cpu_hours"] == 1.5 and rec["last_step"] == 1000
    assert rec["segments"] == [[0, 600, 1.0], [600, 1000, 0.5]]
    assert rec["val_psnr"] == {"0": 25.0, "500": 25.5, "1000": 26.0}
    assert rec["input_psnr"] == 25.0 and "continues" not in rec


def test_a_continued_run_starts_from_the_base_truncated_at_its_step(tmp_path, record_run):
    module, run = record_run
    base = write_metrics(tmp_path / "base", {0: 25.0, 500: 25.5, 1000: 26.0, 1500: 26.1}, 1600)
    run("base", str(base), "--segment", "0:600:3600", "--segment", "600:1600:7200")
    more = write_metrics(tmp_path / "more", {0: 26.0, 500: 26.3}, 700)
    assert run("cont", str(more), "--base", "base", "--from-step", "1000",
               "--segment", "0:700:1800") == 0
    data = json.loads(module.RESULTS.read_text())
    rec = data["cont"]
    # 600..1600 (2 h) split at 1000: 0.8 h kept, 1.2 h spent on steps that were lost
    assert rec["segments"] == [[0, 600, 1.0], [600, 1000, 0.8], [1000, 1000, 1.2],
                               [1000, 1700, 0.5]]
    assert rec["cpu_hours"] == 3.5 and rec["last_step"] == 1700
    assert rec["val_psnr"] == {"0": 25.0, "500": 25.5, "1000": 26.0, "1500": 26.3}
    assert rec["continues"] == "base up to step 1000"
    assert data["base"]["val_psnr"]["1500"] == 26.1  # the base record is kept as it was
    # rebuilt, not appended to, on the next call
    run("cont", str(more), "--base", "base", "--from-step", "1000", "--segment", "0:700:1800")
    assert json.loads(module.RESULTS.read_text())["cont"] == rec


def test_a_row_of_the_bases_weights_at_a_step_has_their_hours_only(tmp_path, record_run):
    module, run = record_run
    base = write_metrics(tmp_path / "base", {0: 25.0, 500: 25.5, 1000: 26.0, 1500: 26.1}, 1600)
    run("base", str(base), "--segment", "0:600:3600", "--segment", "600:1600:7200")
    assert run("alias", "--base", "base", "--from-step", "1000") == 0
    rec = json.loads(module.RESULTS.read_text())["alias"]
    # the hours after step 1000 made other weights: not counted
    assert rec["segments"] == [[0, 600, 1.0], [600, 1000, 0.8]] and rec["cpu_hours"] == 1.8
    assert rec["val_psnr"] == {"0": 25.0, "500": 25.5, "1000": 26.0}
    assert (rec["last_step"], rec["input_psnr"]) == (1000, 25.0)
    assert rec["weights_of"] == "base at step 1000"


def test_bad_arguments_are_refused(tmp_path, record_run, capsys):
    _, run = record_run
    folder = write_metrics(tmp_path / "a", {0: 25.0}, 10)
    assert run("a", str(folder), "--segment", "0:10:1", "--base", "x") == 1
    assert run("a", str(folder), "--segment", "0:10:1", "--base", "x", "--from-step", "5") == 1
    assert run("a", str(tmp_path / "none"), "--segment", "0:10:1") == 1
    assert run("a", str(folder)) == 1                                  # a run needs segments
    assert run("a", "--base", "x", "--from-step", "5") == 1           # no such base
    assert run("a") == 1
    err = capsys.readouterr().err
    assert "go together" in err and "x: no such record" in err and "not found" in err
    assert err.count("needs --segment") == 2


def test_a_run_monitored_on_another_set_says_so_and_is_not_drawn_with_validation(
        tmp_path, record_run, monkeypatch):
    import matplotlib.axes

    module, run = record_run
    held = write_metrics(tmp_path / "held", {0: 25.0, 500: 25.4}, 500)
    (held / "config.yaml").write_text(
        "data:\n  val:\n    layout: gopro\n    args: {root: data/realhold, split: train}\n")
    plain = write_metrics(tmp_path / "plain", {0: 25.0, 500: 25.6}, 500)
    (plain / "config.yaml").write_text("data:\n  val:\n    args: {root: data/realval}\n")
    assert run("held", str(held), "--segment", "0:500:1800") == 0
    assert run("plain", str(plain), "--segment", "0:500:1800") == 0
    data = json.loads(module.RESULTS.read_text())
    assert data["held"]["monitor"] == "data/realhold" and "monitor" not in data["plain"]
    # the validation curves (benchmarks/system_models.py) leave the held-out monitor out
    script = load_script(TOOL.parent.parent / "benchmarks" / "system_models.py")
    monkeypatch.setattr(script, "load_json", lambda name: data)
    drawn, plot = [], matplotlib.axes.Axes.plot

    def spy(self, *args, label=None, **kwargs):
        drawn.append(label)
        return plot(self, *args, label=label, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "plot", spy)
    assert script.curves(tmp_path / "curves.png")
    assert drawn == ["plain"]
