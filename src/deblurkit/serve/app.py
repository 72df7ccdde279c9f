"""The FastAPI application: the page, the HTTP API, and its OpenAPI schema.

Endpoints (the schema is served at ``/openapi.json``):

==========================================  ================================================
``GET /``                                   the page (``static/index.html``)
``GET /api/info``                           model, tiling and limits
``POST /api/restore``                       an image in, the restored image out (waits)
``POST /api/jobs``                          an image or a video in: a queued job (202)
``GET /api/jobs``                           every job
``GET /api/jobs/{id}``                      one job: status, progress, time left
``GET /api/jobs/{id}/result``               the restored file
``GET /api/jobs/{id}/report``               the JSON report (a video's: ``deblurkit video``'s)
``GET /api/jobs/{id}/preview/{side}``       what the page shows (``?frame=N`` for videos)
``DELETE /api/jobs/{id}``                   cancel a job and delete its files
==========================================  ================================================

Errors are ``{"detail": "one line"}`` with 404 (unknown job or frame), 409 (result not
ready), 413 (upload too large), 415 (not a supported image or video), 422 (corrupt file,
over the pixel or frame limit, bad parameter), 429 (queue full), 503 (shutting down).
FastAPI's own documentation pages (``/docs``) are off: they load scripts from a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from deblurkit import __version__
from deblurkit.serve.config import ServeConfig
from deblurkit.serve.guard import Guard
from deblurkit.serve.jobs import CLASSIFIER_MODES, Classifier, Job, JobQueue
from deblurkit.serve.schemas import Error, JobInfo, ServerInfo
from deblurkit.serve.sniff import IMAGE_FORMATS, UploadRefused

#: Folder of the page's files inside the package.
STATIC = Path(__file__).with_name("static")
#: Room for multipart boundaries and form fields on top of the file itself.
MULTIPART_SLACK = 64 * 1024

_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": Error, "description": "the file is larger than the upload limit"},
    415: {"model": Error, "description": "not a PNG/JPEG/TIFF/BMP/WebP image or a video"},
    422: {"model": Error, "description": "corrupt or truncated file, over the pixel or "
                                         "frame limit, or a bad parameter"},
    429: {"model": Error, "description": "the queue is full"},
    503: {"model": Error, "description": "the server is shutting down"},
}
_UNKNOWN = {404: {"model": Error, "description": "no such job"}}
_NOT_READY = {409: {"model": Error, "description": "the job has not finished (or failed)"}}


def create_app(restorer: Any, config: ServeConfig | None = None, *,
               classifier: Callable[[], Classifier] | None = None) -> FastAPI:
    """The server's FastAPI application; its lifespan starts and stops the job queue.

    Args:
        restorer: a loaded :class:`~deblurkit.inference.restorer.Restorer` (any model,
            tiling and precision; it is not modified).
        config: limits and defaults (:class:`~deblurkit.serve.config.ServeConfig`).
        classifier: loads the frame classifier for ``select=classifier``/``middle15``
            (called once, on first use); None: those selections are refused.

    Returns:
        The application. Its temporary folder exists from startup to shutdown (run it with
        uvicorn, or ``with fastapi.testclient.TestClient(app)``).

    Example:
        >>> from deblurkit.inference.restorer import Restorer
        >>> app = create_app(Restorer("default", tile="auto"))     # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)          # doctest: +SKIP
    """
    config = config or ServeConfig()
    queue = JobQueue(restorer, config, classifier)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(queue.start)
        try:
            yield
        finally:
            await run_in_threadpool(queue.close)

    app = FastAPI(title="deblurkit", version=__version__, lifespan=lifespan,
                  description="Restore motion-blurred photos and videos (`deblurkit serve`).",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    app.state.queue = queue
    body_limit = config.max_upload_bytes + MULTIPART_SLACK
    too_large = f"upload larger than the limit of {config.max_upload_bytes} bytes"
    app.add_middleware(Guard, allowed_hosts=config.allowed_hosts, max_body=body_limit,
                       too_large=too_large)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app, too_large)

    def describe(job: Job) -> dict[str, Any]:
        return job.describe(queue.position(job))

    def find(job_id: str) -> Job:
        try:
            return queue.get(job_id)
        except KeyError:
            raise HTTPException(404, f"no job {job_id[:64]!r} (never created, or deleted)"
                                ) from None

    def finished(job: Job) -> Job:
        if job.status != "done":
            why = f": {job.error}" if job.error else ""
            raise HTTPException(409, f"job {job.id} is {job.status}{why}")
        return job

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info", response_model=ServerInfo, tags=["server"])
    async def info() -> dict[str, Any]:
        """The model, tiling and limits of this server."""
        from deblurkit.inference.selection import SELECT_MODES

        runner = queue.restorer or restorer
        return {"version": __version__, "model": config.model_name,
                "tile": runner.tile_size(), "tta": getattr(runner, "tta", 1),
                "limits": {"max_upload_bytes": config.max_upload_bytes,
                           "max_pixels": config.max_pixels, "max_frames": config.max_frames,
                           "max_queue": config.max_queue},
                "select": config.select,
                "select_modes": [m for m in SELECT_MODES
                                 if classifier is not None or m not in CLASSIFIER_MODES],
                "image_formats": sorted(IMAGE_FORMATS)}

    @app.post("/api/restore", tags=["images"], response_class=Response,
              max_body_size=body_limit,
              responses={200: {"content": {t: {} for _, t in IMAGE_FORMATS.values()},
                               "description": "the restored image, same format and bit "
                                              "depth as the upload"}, **_UPLOAD_ERRORS})
    async def restore_image(file: Annotated[UploadFile, File(
            description="the image (PNG, JPEG, TIFF, BMP, WebP; recognised from its bytes)")]
                            ) -> Response:
        """Restore one image and answer with it (waits its turn in the queue).

        The result keeps the upload's format, bit depth, alpha, ICC profile and EXIF, as
        `deblurkit restore` does.
        """
        job = await run_in_threadpool(queue.add, file.file, file.filename, kinds=("image",))
        try:
            await _until_final(job)
        except BaseException:
            await run_in_threadpool(_forget, queue, job.id)
            raise
        if job.status != "done":
            await run_in_threadpool(_forget, queue, job.id)
            raise HTTPException(job.error_status or 503, job.error or f"job {job.status}")
        return FileResponse(job.result, media_type=job.upload.media_type,
                            filename=job.download_name,
                            background=BackgroundTask(_forget, queue, job.id))

    @app.post("/api/jobs", status_code=202, response_model=JobInfo, tags=["jobs"],
              responses=_UPLOAD_ERRORS, max_body_size=body_limit)
    async def create_job(
            response: Response,
            file: Annotated[UploadFile, File(description="an image or a video (recognised "
                                                         "from its bytes)")],
            select: Annotated[str | None, Form(
                description="video frame selection: all, classifier, middle15, laplacian, "
                            "...; default: the server's (`/api/info`)")] = None,
            threshold: Annotated[float | None, Form(
                ge=0.0, le=1.0, description="deblur a frame when its score >= this")] = None,
    ) -> dict[str, Any]:
        """Queue an image or a video; poll `GET /api/jobs/{id}` for progress."""
        job = await run_in_threadpool(queue.add, file.file, file.filename, select=select,
                                      threshold=threshold)
        response.headers["Location"] = f"/api/jobs/{job.id}"
        return describe(job)

    @app.get("/api/jobs", response_model=list[JobInfo], tags=["jobs"])
    async def list_jobs() -> list[dict[str, Any]]:
        """Every job this server holds, oldest first."""
        return [job.describe(position) for job, position in queue.jobs()]

    @app.get("/api/jobs/{job_id}", response_model=JobInfo, tags=["jobs"], responses=_UNKNOWN)
    async def get_job(job_id: str) -> dict[str, Any]:
        """Status, progress (tiles or frames) and an estimate of the time left."""
        return describe(find(job_id))

    @app.delete("/api/jobs/{job_id}", status_code=204, response_class=Response,
                tags=["jobs"], responses=_UNKNOWN)
    async def delete_job(job_id: str) -> Response:
        """Cancel the job if it has not finished, and delete its files."""
        try:
            await run_in_threadpool(queue.delete, job_id)
        except KeyError:
            find(job_id)  # raises the 404
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/result", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"application/octet-stream": {}},
                              "description": "the restored image or video"},
                        **_UNKNOWN, **_NOT_READY})
    async def get_result(job_id: str) -> FileResponse:
        """Download the restored file (`Content-Disposition: attachment`)."""
        job = finished(find(job_id))
        return FileResponse(job.result, media_type=job.upload.media_type,
                            filename=job.download_name)

    @app.get("/api/jobs/{job_id}/report", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"application/json": {}},
                              "description": "for a video, `deblurkit video --report`'s "
                                             "JSON (per-frame scores and decisions, timings); "
                                             "for an image, its format, tiling and timings"},
                        **_UNKNOWN, **_NOT_READY})
    async def get_report(job_id: str) -> FileResponse:
        """The job's JSON report."""
        job = finished(find(job_id))
        return FileResponse(job.report, media_type="application/json")

    @app.get("/api/jobs/{job_id}/preview/{side}", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"image/png": {}}, "description": "a picture a "
                              "browser shows: the file itself, or a PNG of it"},
                        404: {"model": Error, "description": "no such job or frame"},
                        **_NOT_READY})
    async def get_preview(job_id: str, side: Literal["input", "result"],
                          frame: Annotated[int, Query(ge=0, description="video frame "
                                                      "(from 0, decoding order)")] = 0
                          ) -> FileResponse:
        """What the page compares: the upload or the result (one frame of a video)."""
        from deblurkit.errors import UserError
        from deblurkit.serve.preview import preview

        job = find(job_id)
        if side == "result":
            finished(job)
        try:
            path, media_type = await run_in_threadpool(preview, job, side, frame)
        except IndexError as exc:
            raise HTTPException(404, f"job {job.id}: {exc}") from None
        except (OSError, UserError):
            raise HTTPException(404, f"job {job.id}: its files are gone") from None
        try:
            queue.get(job.id)
        except KeyError:  # deleted while the preview was made: leave nothing behind
            await run_in_threadpool(shutil.rmtree, job.folder, True)
            raise HTTPException(404, f"job {job.id}: deleted") from None
        return FileResponse(path, media_type=media_type)

    return app


def _add_error_handlers(app: FastAPI, too_large: str) -> None:
    """One-line ``{"detail": ...}`` for refusals, validation errors and the body limit."""

    @app.exception_handler(UploadRefused)
    async def refused(_: Request, exc: UploadRefused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if exc.status_code == 413:  # a body sent without Content-Length, counted by the route
            detail = too_large
        return JSONResponse({"detail": str(detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))


async def _until_final(job: Job) -> None:
    """Wait, without holding a thread, until ``job`` is done, failed or cancelled."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    def on_final() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(wake)

    job.add_done_callback(on_final)
    await future


def _forget(queue: JobQueue, job_id: str) -> None:
    with contextlib.suppress(KeyError):
        queue.delete(job_id)
