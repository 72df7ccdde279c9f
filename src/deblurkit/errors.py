"""Errors a user can cause and fix (bad path, unreadable file, bad argument).

The CLI prints a :class:`UserError` as one line on stderr and exits non-zero, with no
traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class UserError(Exception):
    """A problem with the user's input or arguments, reported as one line.

    Args:
        message: what is wrong, naming the file or argument at fault.
        exit_code: the process exit status the CLI uses (default 1).
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ImageReadError(UserError):
    """An image file that cannot be read (missing, corrupt, truncated, not an image, too large)."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputExistsError(UserError):
    """Refusing to overwrite an existing file (an input, or an earlier output) unless asked."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: already exists (pass --overwrite to replace it)")


class ModelOutputError(UserError):
    """The model returned something unusable for an input (NaN or infinite values).

    Raised per image, so a batch records that one file as failed and goes on.
    """

    def __init__(self, reason: str = "the model returned NaN or infinite values (a broken or "
                                      "incompatible weight file?)") -> None:
        self.reason = reason
        super().__init__(reason)
