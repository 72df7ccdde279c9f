"""The deblurkit command: subcommands, --help, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deblurkit.cli import COMMANDS, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deblurkit", *args],
                          capture_output=True, text=True, timeout=300)


def test_version_and_help():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(name):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0


def test_unknown_subcommand_is_one_line_error():
    out = run_cli("no-such-command")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_no_subcommand_prints_usage():
    out = run_cli()
    assert out.returncode == 2


def test_sigterm_cleans_temporary_files_and_exits_143(tmp_path):
    import signal

    code = f"""
import sys, time
import numpy as np
from deblurkit.io import write_image
write_image({str(tmp_path / 'in.png')!r}, np.zeros((16, 16, 3), np.uint8))
import deblurkit.cli.restore as restore_cmd
from deblurkit.utils.atomic import atomic_path
def slow(restorer, src, dst, **options):
    with atomic_path(dst) as tmp:
        tmp.write_bytes(b"half an image")
        print("writing", flush=True)
        time.sleep(60)
restore_cmd.restore_file = slow
from deblurkit.cli import main
sys.exit(main(["restore", {str(tmp_path / 'in.png')!r}, "-o", {str(tmp_path / 'out')!r},
               "--model", "s1_msed_1scale", "--tile", "0"]))
"""
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    assert list((tmp_path / "out").glob(".in.png.*"))  # the temporary file exists now
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "deblurkit restore: terminated" in err and "Traceback" not in err
    assert list((tmp_path / "out").iterdir()) == []


def test_models_lists_registered_networks_and_every_bundled_weight_file(capsys):
    from deblurkit.models import list_models
    from deblurkit.models.weights import read_metadata
    from deblurkit.pretrained import BUNDLED

    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    split = out.index("trained weights bundled with deblurkit (--model NAME):")
    assert [line.split()[0] for line in out[1:split - 1]] == list_models()
    rows = {line.split()[0]: line.split() for line in out[split + 2:]}
    assert set(rows) == set(BUNDLED)
    for name, card in BUNDLED.items():
        network = read_metadata(card.path)["deblurkit_name"]
        assert rows[name][1:3] == [network, card.task] and rows[name][-1] == card.model_card
    # a pattern and a kind filter both tables
    assert main(["models", "default*", "--kind", "classifier"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("trained weights") and [r.split()[0] for r in out[2:]] == [
        "default_selector"]
    assert main(["models", "nothing_*"]) == 1
