"""The ``deblurkit`` command and its subcommands.

Each subcommand lives in its own module under :mod:`deblurkit.cli` and defines:

- ``HELP``: a one-line summary shown by ``deblurkit --help``;
- ``add_arguments(parser)``: its options (argparse);
- ``run(args) -> int``: the work, returning the exit status.

Command modules import heavy libraries (torch, PyAV) inside ``run`` so that ``--help`` is fast.
A :class:`~deblurkit.errors.UserError` is printed as one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deblurkit import __version__
from deblurkit.errors import UserError

# name -> module, in the order shown by --help. Listed explicitly: nothing is imported by scanning.
COMMANDS: dict[str, str] = {
    "demo": "deblurkit.cli.demo",
    "restore": "deblurkit.cli.restore",
    "video": "deblurkit.cli.video",
    "serve": "deblurkit.cli.serve",
    "eval": "deblurkit.cli.eval",
    "synth": "deblurkit.cli.synth",
    "train": "deblurkit.cli.train",
    "export": "deblurkit.cli.export",
    "models": "deblurkit.cli.models",
}


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line error format."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deblurkit",
                     description="Restore motion-blurred images and videos.")
    parser.add_argument("--version", action="version", version=f"deblurkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        doc = (module.__doc__ or "").strip()
        cmd = sub.add_parser(name, help=module.HELP, description=doc or module.HELP,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` and every atomic write's
    clean-up runs (no temporary file is left beside an output)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 success, 1 failed inputs, 2 usage, 130 Ctrl-C,
    143 SIGTERM)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help(sys.stderr)
        return 2
    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"deblurkit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"deblurkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"deblurkit {args.command}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
