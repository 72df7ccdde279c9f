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
