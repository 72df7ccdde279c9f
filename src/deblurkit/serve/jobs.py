"""Jobs and the queue that runs them one at a time, in a temporary folder of their own.

Every upload becomes a :class:`Job` (images and videos alike; ``POST /api/restore`` waits
for its job and answers with the result). One worker thread runs the jobs in the order they
came, so the model never runs twice at once and the CPU is not oversubscribed; a job's
progress (tiles of an image, frames of a video) and an estimate of the time left are read
while it runs. Files live in one temporary folder per server (``deblurkit-serve-*``), one
sub-folder per job named by its random id, with fixed file names (``input``, ``result.EXT``,
``report.json``): nothing a client sends ever becomes part of a path. Deleting a job
removes its folder (a running job is stopped first, between two tiles or frames); closing
the queue stops the worker and removes the whole temporary folder.

Restoring reuses the command line's engines: an image is read with
:func:`deblurkit.io.read_image` (with the server's pixel limit), restored by the server's
:class:`~deblurkit.inference.restorer.Restorer` and written with
:func:`deblurkit.io.write_image` exactly as ``deblurkit restore`` does (format, bit depth,
alpha, ICC, EXIF); a video goes through :func:`deblurkit.inference.video.restore_video` with
the same restorer, as ``deblurkit video`` does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from deblurkit.errors import ImageReadError, UserError
from deblurkit.inference.selection import CLASSIFIER_MODES
from deblurkit.serve.config import ServeConfig
from deblurkit.serve.meter import (Cancelled, MeteredSelector, Ticket, count_passes,
                                   metered_restorer)
from deblurkit.serve.sniff import Upload, UploadRefused, inspect_upload
from deblurkit.utils.atomic import atomic_path, write_text_atomic

log = logging.getLogger("deblurkit.serve")

#: A job's states, in order; the last three are final.
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINAL = frozenset({"done", "failed", "cancelled"})
#: Bytes copied at a time from an upload to the job's folder.
CHUNK = 2**20
#: Longest client file name kept for display.
MAX_NAME = 200
#: A job id: 32 lower-case hex digits (a random UUID).
JOB_ID = re.compile(r"[0-9a-f]{32}")

Classifier = Callable[[Any], float]


def display_name(filename: str | None) -> str:
    """The client's file name reduced to a last component fit for display and messages.

    Folders (``/`` or ``\\``) and control characters are dropped and the length capped. The
    result is never used in a path.

    Example:
        >>> display_name("C:\\\\photos\\\\..\\\\shaky photo.JPG")
        'shaky photo.JPG'
        >>> display_name("../../etc/passwd\\n")
        'passwd'
    """
    last = re.split(r"[/\\]", filename or "")[-1]
    clean = "".join(ch for ch in last if ch.isprintable()).strip()
    return clean[:MAX_NAME] or "upload"


def download_name(name: str, suffix: str) -> str:
    """``STEM_restored.SUFFIX`` in safe ASCII, for the ``Content-Disposition`` header.

    Example:
        >>> download_name("shaky photo (1).jpeg", ".jpg")
        'shaky_photo_1_restored.jpg'
    """
    stem = name.rsplit(".", 1)[0] if "." in name[1:] else name
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:100] or "upload"
    return f"{safe}_restored{suffix}"


@dataclass(eq=False)  # a job is itself: compared by identity
class Job:
    """One uploaded file and what became of it.

    Attributes:
        id: random hex id (also the folder's name).
        name: the client's file name, for display only (:func:`display_name`).
        upload: what the file is (:class:`~deblurkit.serve.sniff.Upload`).
        folder: the job's own folder in the server's temporary folder.
        select, threshold: frame selection of a video job.
        status: one of :data:`STATUSES`.
        stage: what a running job is doing (``reading``, ``restoring``, ``writing``).
        error: one line when failed.
        error_status: the HTTP status of that failure (422 for a bad file, 500 otherwise).
        ticket: progress and cancel flag (:class:`~deblurkit.serve.meter.Ticket`).
    """

    id: str
    name: str
    upload: Upload
    folder: Path
    select: str | None = None
    threshold: float | None = None
    status: str = "queued"
    stage: str = "queued"
    error: str | None = None
    error_status: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None      # monotonic, when restoring (the measured part) began
    finished: float | None = None     # monotonic
    ticket: Ticket = field(default_factory=Ticket)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _callbacks: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def kind(self) -> str:
        return self.upload.kind

    @property
    def input(self) -> Path:
        return self.folder / "input"

    @property
    def result(self) -> Path:
        return self.folder / f"result{self.upload.suffix}"

    @property
    def report(self) -> Path:
        return self.folder / "report.json"

    @property
    def download_name(self) -> str:
        return download_name(self.name, self.upload.suffix)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job is final; returns False on timeout."""
        return self._finished.wait(timeout)

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the job is final (at once if it already is); it runs in
        the thread that finishes the job, so it must be quick and thread-safe."""
        with self._lock:
            if not self._finished.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _finish(self, status: str) -> None:
        with self._lock:
            self.status = status
            self.stage = status
            self.finished = time.monotonic()
            self._finished.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def progress(self) -> dict[str, Any]:
        """Steps done and expected, elapsed time and an estimate of the time left.

        The estimate is the elapsed restoring time times ``(total - done) / done``: tiles of
        one image cost alike; frames of a video do not when only some are deblurred, so
        there it is rougher.
        """
        done, total = self.ticket.done, self.ticket.total
        if self.status == "done":
            done = total = total if total is not None else done
        end = self.finished if self.finished is not None else time.monotonic()
        elapsed = end - self.started if self.started is not None else None
        eta = None
        if self.status == "running" and elapsed is not None and total and 0 < done <= total:
            eta = elapsed * (total - done) / done
        return {"unit": "tiles" if self.kind == "image" else "frames",
                "done": done, "total": total,
                "fraction": min(1.0, done / total) if total else None,
                "elapsed_seconds": elapsed, "eta_seconds": eta}

    def describe(self, queue_position: int | None = None) -> dict[str, Any]:
        """The job as the API shows it (``GET /api/jobs/{id}``)."""
        base = f"/api/jobs/{self.id}"
        info: dict[str, Any] = {
            "id": self.id, "name": self.name, "kind": self.kind, "status": self.status,
            "stage": self.stage, "error": self.error, "queue_position": queue_position,
            "created": self.created, "progress": self.progress(),
            "input": {"format": self.upload.format, "width": self.upload.width,
                      "height": self.upload.height, "frames": self.upload.frames},
            "select": self.select, "threshold": self.threshold,
            "links": {"self": base, "result": f"{base}/result", "report": f"{base}/report",
                      "preview_input": f"{base}/preview/input",
                      "preview_result": f"{base}/preview/result"},
            "result": None,
        }
        if self.status == "done":
            with contextlib.suppress(OSError):
                info["result"] = {"filename": self.download_name,
                                  "media_type": self.upload.media_type,
                                  "bytes": self.result.stat().st_size}
        return info


class JobQueue:
    """The server's jobs: accepted uploads, one worker thread, the temporary folder.

    Args:
        restorer: the loaded :class:`~deblurkit.inference.restorer.Restorer` (it is not
            changed: the queue runs a copy whose backend is metered).
        config: the limits (:class:`~deblurkit.serve.config.ServeConfig`).
        classifier: returns the frame classifier (``H x W x 3`` float frame -> P(blurred)),
            called once, when the first video job that needs one runs; None: videos may
            only use selections without a classifier.

    Example:
        >>> queue = JobQueue(restorer, ServeConfig())          # doctest: +SKIP
        >>> queue.start()                                       # doctest: +SKIP
        >>> job = queue.add(open("shaky.jpg", "rb"), "shaky.jpg")  # doctest: +SKIP
        >>> job.wait(); job.status                              # doctest: +SKIP
        'done'
        >>> queue.close()                                       # doctest: +SKIP
    """

    def __init__(self, restorer: Any, config: ServeConfig,
                 classifier: Callable[[], Classifier] | None = None) -> None:
        self.config = config
        self._source_restorer = restorer
        self._classifier_loader = classifier
        self._classifier: Classifier | None = None
        self.restorer: Any = None
        self._backend: Any = None
        self.root: Path | None = None
        self._jobs: dict[str, Job] = {}
        self._pending: deque[Job] = deque()
        self._running: Job | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Make the temporary folder, resolve the tile size and start the worker."""
        self.restorer, self._backend = metered_restorer(self._source_restorer)
        parent = self.config.tmp_parent
        self.root = Path(tempfile.mkdtemp(prefix="deblurkit-serve-",
                                          dir=None if parent is None else str(parent)))
        self._worker = threading.Thread(target=self._work, name="deblurkit-serve-worker",
                                        daemon=True)
        self._worker.start()

    def close(self) -> None:
        """Cancel every job, stop the worker and remove the temporary folder (idempotent)."""
        with self._cond:
            self._closing = True
            pending = list(self._pending)
            self._pending.clear()
            running = self._running
            if running is not None:
                running.ticket.cancelled.set()
            self._cond.notify_all()
        for job in pending:
            job.error = "the server is shutting down"
            job._finish("cancelled")
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def accepting(self) -> bool:
        return self.root is not None and not self._closing

    # ------------------------------------------------------------------ jobs
    def add(self, source: BinaryIO, filename: str | None, *,
            kinds: tuple[str, ...] = ("image", "video"), select: str | None = None,
            threshold: float | None = None) -> Job:
        """Save an upload atomically in a new job folder, check it, and queue the job.

        Args:
            source: the uploaded bytes (read to the end, in chunks).
            filename: the client's file name (display only).
            kinds: what the endpoint accepts.
            select, threshold: frame selection for a video (None: the server's default).

        Returns:
            The queued :class:`Job`.

        Raises:
            UploadRefused: 413 larger than ``max_upload_bytes``; 415 not an accepted kind;
                422 corrupt, over a limit, or a selection this server cannot run; 429 the
                queue is full; 503 the server is shutting down. Nothing is left on disk.
        """
        name = display_name(filename)
        select = self.config.select if select is None else select
        threshold = self.config.threshold if threshold is None else threshold
        if not self.accepting:
            raise UploadRefused(503, f"{name}: the server is shutting down")
        with self._cond:
            if len(self._pending) >= self.config.max_queue:
                raise UploadRefused(429, f"{name}: the queue is full "
                                         f"({self.config.max_queue} jobs waiting); retry later")
        job_id = uuid.uuid4().hex
        assert self.root is not None
        folder = self.root / job_id
        folder.mkdir()
        try:
            self._save(source, folder / "input", name)
            upload = inspect_upload(folder / "input", name, max_pixels=self.config.max_pixels,
                                    max_frames=self.config.max_frames, kinds=kinds)
            job = Job(job_id, name, upload, folder)
            if upload.kind == "video":
                self._check_selection(select, name)
                job.select, job.threshold = select, threshold
            with self._cond:
                if self._closing:
                    raise UploadRefused(503, f"{name}: the server is shutting down")
                if len(self._pending) >= self.config.max_queue:
                    raise UploadRefused(429, f"{name}: the queue is full "
                                             f"({self.config.max_queue} jobs waiting); "
                                             "retry later")
                self._jobs[job_id] = job
                self._pending.append(job)
                self._cond.notify_all()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return job

    def _check_selection(self, select: str, name: str) -> None:
        from deblurkit.inference.selection import SELECT_MODES

        if select not in SELECT_MODES:
            raise UploadRefused(422, f"{name}: unknown selection {select!r}; use one of "
                                     f"{', '.join(SELECT_MODES)}")
        if select in CLASSIFIER_MODES and self._classifier_loader is None:
            raise UploadRefused(422, f"{name}: this server has no frame classifier; use "
                                     "select=all or laplacian")

    def _save(self, source: BinaryIO, path: Path, name: str) -> None:
        """Copy ``source`` to ``path`` atomically, refusing more than the upload limit."""
        limit = self.config.max_upload_bytes
        size = 0
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise UploadRefused(413, f"{name}: larger than the upload limit of "
                                             f"{limit} bytes")
                out.write(chunk)

    def get(self, job_id: str) -> Job:
        """The job with this id.

        Raises:
            KeyError: no such job (never was, or deleted).
        """
        with self._cond:
            return self._jobs[job_id]

    def jobs(self) -> list[tuple[Job, int | None]]:
        """Every job with its queue position (0: next to run; None: not waiting), oldest
        first."""
        with self._cond:
            positions = {job.id: i for i, job in enumerate(self._pending)}
            return [(job, positions.get(job.id)) for job in self._jobs.values()]

    def position(self, job: Job) -> int | None:
        """Jobs ahead of ``job`` in the queue (None when it is not waiting)."""
        with self._cond:
            for i, other in enumerate(self._pending):
                if other is job:
                    return i
        return None

    def delete(self, job_id: str) -> Job:
        """Forget a job and remove its files; a waiting job is cancelled, a running one is
        stopped between two tiles or frames (its folder is removed when it has stopped).

        Raises:
            KeyError: no such job.
        """
        with self._cond:
            job = self._jobs.pop(job_id)
            running = job is self._running
            queued = job in self._pending
            if queued:
                self._pending.remove(job)
            elif running:
                job.ticket.cancelled.set()
        if not running:
            shutil.rmtree(job.folder, ignore_errors=True)
        if queued:
            job.error = "deleted"
            job._finish("cancelled")
        return job

    # ------------------------------------------------------------------ the worker
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                job = self._pending.popleft()
                self._running = job
                job.status = "running"
            status = self._run(job)
            with self._cond:
                self._running = None
                forgotten = job.id not in self._jobs
            if forgotten:  # deleted while running: its files go before anyone hears of it
                shutil.rmtree(job.folder, ignore_errors=True)
            job._finish(status)

    def _run(self, job: Job) -> str:
        """Run one job; returns its final status (``error`` is set when it did not finish)."""
        import torch

        try:
            if job.kind == "image":
                self._run_image(job)
            else:
                self._run_video(job)
        except Cancelled:
            job.error = job.error or "cancelled"
            return "cancelled"
        except UserError as exc:
            job.error = self._client_message(exc, job)
            job.error_status = 422
            return "failed"
        except (MemoryError, torch.OutOfMemoryError):
            job.error = f"{job.name}: not enough memory to restore this file"
            job.error_status = 500
            return "failed"
        except Exception as exc:  # noqa: BLE001 - a bug: logged in full, one line to the client
            log.exception("job %s (%s) failed", job.id, job.name)
            job.error = f"{job.name}: internal error ({type(exc).__name__}: {exc})"
            job.error_status = 500
            return "failed"
        return "done"

    def _client_message(self, exc: UserError, job: Job) -> str:
        """The one-line message with every server path replaced by the client's name."""
        if isinstance(exc, ImageReadError):
            return f"{job.name}: {exc.reason}"
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for path in sorted({str(job.input), str(job.result), str(job.report)}, key=len,
                           reverse=True):
            text = text.replace(path, job.name)
        return text.replace(str(self.root), "")

    def _begin(self, job: Job, stage: str, total: int | None) -> None:
        job.ticket.total = total
        job.stage = stage
        job.started = time.monotonic()

    def _run_image(self, job: Job) -> None:
        from deblurkit.io import read_image, to_float, write_image

        t0 = time.perf_counter()
        job.stage = "reading"
        image = read_image(job.input, max_pixels=self.config.max_pixels)
        height, width = image.pixels.shape[:2]
        self._begin(job, "restoring", count_passes(self.restorer, height, width))
        t1 = time.perf_counter()
        self._backend.ticket = job.ticket
        try:
            restored = self.restorer(to_float(image.pixels))
        finally:
            self._backend.ticket = None
        t2 = time.perf_counter()
        job.stage = "writing"
        job.ticket.check()
        write_image(job.result, restored, alpha=image.alpha, info=image.info, overwrite=True)
        info = image.info
        report = {
            "kind": "image", "model": self.config.model_name,
            "input": {"name": job.name, "format": info.format, "width": width,
                      "height": height, "channels": info.channels,
                      "bit_depth": info.bit_depth, "alpha": info.has_alpha},
            "output": {"name": job.download_name, "media_type": job.upload.media_type},
            "tile": self.restorer.tile_size(), "overlap": self.restorer.overlap,
            "tta": getattr(self.restorer, "tta", 1), "passes": job.ticket.done,
            "seconds": {"read": t1 - t0, "restore": t2 - t1,
                        "write": time.perf_counter() - t2},
        }
        write_text_atomic(job.report, json.dumps(report, indent=2) + "\n")

    def _run_video(self, job: Job) -> None:
        from deblurkit.inference.selection import make_selector
        from deblurkit.inference.video import EncodeOptions, restore_video

        assert job.select is not None
        classifier = self._load_classifier() if job.select in CLASSIFIER_MODES else None
        selector = make_selector(job.select, classifier=classifier, threshold=job.threshold)
        self._begin(job, "restoring", job.upload.frames)
        frames = MeteredSelector(selector, job.ticket, self.config.max_frames, job.name)
        self._backend.ticket = Ticket(cancelled=job.ticket.cancelled)  # cancels between tiles
        try:
            result = restore_video(job.input, job.result, selector=frames,
                                   deblur=self.restorer.restore_array, encode=EncodeOptions(),
                                   overwrite=True, model=self.config.model_name,
                                   threshold=getattr(selector, "threshold", None),
                                   show_progress=False,
                                   extra_report={"classifier": self.config.classifier_name
                                                 if classifier is not None else None})
        finally:
            self._backend.ticket = None
        report = result.report
        report["input"]["path"] = job.name
        report["output"]["path"] = job.download_name
        job.ticket.total = job.ticket.done = len(report["frames"])
        write_text_atomic(job.report, json.dumps(report, indent=2) + "\n")

    def _load_classifier(self) -> Classifier:
        if self._classifier is None:
            assert self._classifier_loader is not None
            self._classifier = self._classifier_loader()
        return self._classifier
