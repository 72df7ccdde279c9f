"""The server's limits and defaults, in one frozen record (:class:`ServeConfig`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from deblurkit.inference.selection import DEFAULT_SELECT

#: Largest upload accepted by default (bytes): 512 MiB.
DEFAULT_MAX_UPLOAD_BYTES = 512 * 2**20
#: Largest image (or video frame) accepted by default, in pixels (8192 x 8192). Checked from
#: the file header before anything is decoded.
DEFAULT_MAX_PIXELS = 2**26
#: Longest video accepted by default, in frames.
DEFAULT_MAX_FRAMES = 10_000
#: Jobs that may wait in the queue (running one excluded) before uploads get 429.
DEFAULT_MAX_QUEUE = 16


@dataclass(frozen=True)
class ServeConfig:
    """Limits and defaults of one server.

    Attributes:
        max_upload_bytes: largest file a client may upload (larger: HTTP 413).
        max_pixels: largest image or video frame, ``width x height`` (larger: HTTP 422; read
            from the header, so a decompression bomb is refused before it is decoded).
        max_frames: longest video, in frames (longer: HTTP 422 when the container says so,
            else the job fails when the limit is passed).
        max_queue: jobs that may wait behind the running one (more: HTTP 429).
        select: frame selection of video jobs when the request names none (one of
            :data:`deblurkit.inference.selection.SELECT_MODES`).
        threshold: selection threshold when the request names none (None: the selector's).
        tmp_parent: folder in which the server makes its temporary folder (None: the
            system's temporary folder).
        allowed_hosts: ``Host`` header values accepted (without the port; None: any). The
            command line passes the loopback names when it listens on loopback, which stops
            DNS-rebinding pages from reaching the server through a browser.
        model_name: the model specification shown by ``/api/info`` and written in reports.
        classifier_name: the frame classifier's specification, written in video reports.

    Example:
        >>> ServeConfig(max_upload_bytes=2**20).max_upload_bytes
        1048576
    """

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_queue: int = DEFAULT_MAX_QUEUE
    select: str = DEFAULT_SELECT
    threshold: float | None = None
    tmp_parent: str | os.PathLike | None = None
    allowed_hosts: tuple[str, ...] | None = None
    model_name: str = "default"
    classifier_name: str = "default"

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "max_frames", "max_queue"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        from deblurkit.inference.selection import SELECT_MODES

        if self.select not in SELECT_MODES:
            raise ValueError(f"select must be one of {', '.join(SELECT_MODES)}, got "
                             f"{self.select!r}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold!r}")
