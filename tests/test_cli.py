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
