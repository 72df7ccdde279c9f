"""Batch input listing and failure reports."""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deblurkit.errors import ImageReadError, UserError
from deblurkit.io.formats import IMAGE_SUFFIXES
from deblurkit.utils.sorting import natural_key

_GLOB_CHARS = frozenset("*?[")


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def folder_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """The image files of an existing folder, in natural order of their relative path.

    Image files have a suffix of :data:`IMAGE_SUFFIXES` (case-insensitive); hidden files and
    folders (name starting with ``.``) are skipped. Natural order compares digit runs by
    value (``frame2`` before ``frame10``: :func:`deblurkit.utils.sorting.natural_key`), the
    one file order of the toolkit.

    Args:
        folder: the folder (it must exist).
        recursive: search sub-folders too.

    Returns:
        Paths built from ``folder`` (not resolved); an empty list if there is no image.

    Example:
        >>> folder_images("shots")          # doctest: +SKIP
        [PosixPath('shots/frame2.png'), PosixPath('shots/frame10.png')]
    """
    root = Path(folder)
    candidates = root.rglob("*") if recursive else root.iterdir()
    found = [p for p in candidates
             if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and not _is_hidden(p, root)]
    return sorted(found, key=lambda p: natural_key(p.relative_to(root).as_posix()))


def list_images(inputs: Sequence[str | os.PathLike], *, recursive: bool = True) -> list[Path]:
    """Expand files, folders and glob patterns into a list of image files.

    - a file is taken as given, whatever its suffix (reading it reports a bad one);
    - a folder gives its image files (suffix in :data:`IMAGE_SUFFIXES`, case-insensitive),
      searched recursively unless ``recursive=False``, in natural order of their path
      (:func:`folder_images`); hidden files and folders (name starting with ``.``: our own
      temporary files, macOS ``._`` files) are skipped;
    - a pattern with ``*``, ``?`` or ``[`` is expanded with :func:`glob.glob` (``**`` allowed);
      matching files with an image suffix are taken, matching folders are expanded as above.

    The result keeps the order of ``inputs`` and drops duplicates (same resolved path).

    Args:
        inputs: paths and patterns.
        recursive: search folders recursively.

    Returns:
        The image files, as paths built from the inputs (not resolved).

    Raises:
        UserError: an input that does not exist, a pattern matching nothing, or a folder or
            pattern without any image file; the message names it.

    Example:
        >>> list_images(["shots/", "extra/*.png"])   # doctest: +SKIP
        [PosixPath('shots/a.png'), PosixPath('shots/b.jpg'), PosixPath('extra/c.png')]
    """
    result: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_file():
            found = [path]
        elif path.is_dir():
            found = folder_images(path, recursive)
            if not found:
                raise UserError(f"{text}: no image files in this folder "
                                f"(looked for {' '.join(sorted(IMAGE_SUFFIXES))})")
        elif _GLOB_CHARS & set(text):
            found = []
            for match in sorted(glob.glob(text, recursive=True), key=natural_key):
                candidate = Path(match)
                if candidate.is_dir():
                    found.extend(folder_images(candidate, recursive))
                elif candidate.suffix.lower() in IMAGE_SUFFIXES:
                    found.append(candidate)
            if not found:
                raise UserError(f"{text}: pattern matches no image files")
        else:
            raise UserError(f"{text}: no such file or folder")
        for image in found:
            key = image.resolve()
            if key not in seen:
                seen.add(key)
                result.append(image)
    return result


@dataclass
class BatchReport:
    """Counts successes and collects failures of a batch, to report them all at the end.

    Example:
        >>> report = BatchReport()
        >>> report.ok("a.png")
        >>> report.fail("b.png", "empty file (0 bytes)")
        >>> print(report.summary())
        1 succeeded, 1 failed
          b.png: empty file (0 bytes)
        >>> report.exit_code
        1
    """

    succeeded: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def ok(self, path: str | os.PathLike) -> None:
        """Record one item done."""
        self.succeeded += 1

    def fail(self, path: str | os.PathLike, reason: str) -> None:
        """Record one failed item and why."""
        self.failures.append((os.fspath(path), reason))

    @contextlib.contextmanager
    def item(self, path: str | os.PathLike,
             catch: tuple[type[BaseException], ...] = (UserError, OSError)) -> Iterator[None]:
        """Run one item: success is recorded on exit, a ``catch`` exception as a failure.

        Other exceptions (bugs) propagate. An :class:`ImageReadError` is recorded with its
        reason only (the path is already in the report line).

        Example:
            >>> report = BatchReport()
            >>> with report.item("x.png"):
            ...     raise UserError("x.png: broken")
            >>> report.failures
            [('x.png', 'x.png: broken')]
        """
        try:
            yield
        except catch as err:
            reason = err.reason if isinstance(err, ImageReadError) else str(err)
            if isinstance(err, OSError) and not isinstance(err, UserError):
                reason = err.strerror or str(err)
            self.fail(path, reason or type(err).__name__)
        else:
            self.ok(path)

    @property
    def failed(self) -> int:
        """Number of failures."""
        return len(self.failures)

    def summary(self, detail: str = "") -> str:
        """``"N succeeded, M failed"`` (then `` (detail)`` when given) followed by one indented
        ``path: reason`` line per failure."""
        head = f"{self.succeeded} succeeded, {self.failed} failed"
        lines = [f"{head} ({detail})" if detail else head]
        lines += [f"  {path}: {reason}" for path, reason in self.failures]
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """0 if nothing failed, else 1."""
        return 1 if self.failures else 0
