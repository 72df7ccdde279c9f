"""`deblurkit serve`'s HTTP API with FastAPI's test client: every endpoint, the error codes,
the queue, cleanup; plus the command line's defaults and a real server process.

The model is a tiny untrained S1 (saved once per module) so that restoring takes
milliseconds; outputs are compared byte for byte with what `deblurkit restore` writes with
the same model and tiling. A "gate" backend that waits for the test holds jobs in place to
check the queue, cancelling and shutdown.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import av
import numpy as np
import PIL.Image
import pytest
import torch
from fastapi.testclient import TestClient

from deblurkit.cli import build_parser, main
from deblurkit.cli.demo import CLIP, default_assets_dir
from deblurkit.inference.restorer import Restorer
from deblurkit.io import read_image, write_image
from deblurkit.models import create_model
from deblurkit.models.weights import save_model
from deblurkit.serve import ServeConfig, create_app
from deblurkit.serve.guard import LOOPBACK_HOSTS, host_name
from deblurkit.serve.jobs import display_name, download_name
from deblurkit.serve.meter import count_passes
from deblurkit.serve.sniff import image_format

TILING = ["--tile", "32", "--overlap", "8"]
SIZE = (40, 70)
#: Seconds any wait in these tests may take before it counts as a failure.
TIMEOUT = 120


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    return save_model(net, tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def restorer(model_file) -> Restorer:
    """The server's restorer: what `deblurkit restore --model FILE --tile 32 --overlap 8`
    builds."""
    return Restorer(str(model_file), tile=32, overlap=8, device="cpu")


@pytest.fixture
def serve(tmp_path, restorer):
    """``serve(**config)`` -> a started test client; checks the temporary folder is gone
    after shutdown."""
    parent = tmp_path / "server-tmp"
    parent.mkdir()
    clients = []

    def start(runner=None, **options) -> TestClient:
        options.setdefault("select", "laplacian")
        client = TestClient(create_app(runner or restorer,
                                       ServeConfig(tmp_parent=parent, **options)))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)
    assert list(parent.iterdir()) == [], "the server left files behind"


class GateBackend:
    """Identity "model" that waits for ``gate`` on every call and records overlapping calls."""

    pad_multiple = 1
    receptive_field = 1

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.lock = threading.Lock()
        self.active = self.max_active = self.calls = 0

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.entered.set()
        try:
            assert self.gate.wait(TIMEOUT), "the test never opened the gate"
            return batch.clone()
        finally:
            with self.lock:
                self.active -= 1
                self.calls += 1


def poll(condition, what: str, timeout: float = TIMEOUT) -> None:
    """Wait until ``condition()`` is true (polled), failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def png_bytes(pixels: np.ndarray, tmp_path: Path, name: str = "in.png", **kwargs) -> bytes:
    path = tmp_path / name
    write_image(path, pixels, overwrite=True, **kwargs)
    return path.read_bytes()


def rgb8(seed: int = 0, size=SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def upload(client: TestClient, data: bytes, name: str = "photo.png", **fields):
    return client.post("/api/jobs", files={"file": (name, data)}, data=fields)


def finish(client: TestClient, job_id: str) -> dict:
    """Wait for the job's own event, then read it through the API."""
    assert client.app.state.queue.get(job_id).wait(TIMEOUT)
    return client.get(f"/api/jobs/{job_id}").json()


def cli_restore(src: Path, out: Path, model_file: Path) -> Path:
    assert main(["restore", str(src), "-o", str(out), "--model", str(model_file), *TILING,
                 "--device", "cpu"]) == 0
    return out / src.name


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` pixels, with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------- images
def _sample(kind: str, tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    if kind == "png16-rgba":
        path = tmp_path / "in.png"
        write_image(path, rng.integers(0, 65536, (*SIZE, 3), dtype=np.uint16),
                    alpha=rng.integers(0, 65536, SIZE, dtype=np.uint16))
    elif kind == "tiff16-gray":
        path = tmp_path / "in.tif"
        write_image(path, rng.integers(0, 65536, SIZE, dtype=np.uint16))
    else:
        suffix = {"jpeg": ".jpg", "bmp": ".bmp", "webp-alpha": ".webp"}[kind]
        path = tmp_path / f"in{suffix}"
        alpha = rng.integers(0, 256, SIZE, dtype=np.uint8) if kind == "webp-alpha" else None
        write_image(path, rgb8(2), alpha=alpha, quality=100)
    return path


@pytest.mark.parametrize("kind", ["png16-rgba", "jpeg", "tiff16-gray", "bmp", "webp-alpha"])
def test_restore_endpoint_answers_what_deblurkit_restore_writes(kind, serve, model_file,
                                                                tmp_path):
    src = _sample(kind, tmp_path)
    client = serve()
    # the name lies about the type: the server goes by the bytes
    response = client.post("/api/restore", files={"file": ("mystery.bin", src.read_bytes())})
    assert response.status_code == 200, response.text
    expected = cli_restore(src, tmp_path / "cli", model_file)
    assert response.content == expected.read_bytes()
    media = {".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff",
             ".bmp": "image/bmp", ".webp": "image/webp"}[src.suffix]
    assert response.headers["content-type"] == media
    assert response.headers["content-disposition"] == \
        f'attachment; filename="mystery_restored{src.suffix}"'
    written = read_image(expected)
    source = read_image(src)
    assert written.pixels.dtype == source.pixels.dtype  # bit depth kept
    assert written.info.has_alpha == source.info.has_alpha
    assert client.get("/api/jobs").json() == []  # the waiting request's job is gone


def test_image_job_progress_result_report_previews_and_delete(serve, restorer, tmp_path):
    client = serve()
    data = png_bytes(rgb8(3), tmp_path)
    response = upload(client, data, name="C:\\photos\\shaky.png")
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["name"] == "shaky.png" and job["kind"] == "image"
    assert job["input"] == {"format": "PNG", "width": SIZE[1], "height": SIZE[0],
                            "frames": None}
    assert job["status"] in ("queued", "running")
    job = finish(client, job["id"])
    assert job["status"] == "done" and job["error"] is None
    passes = count_passes(restorer, *SIZE)
    assert passes is not None and passes > 1  # several tiles
    progress = job["progress"]
    assert progress["unit"] == "tiles"
    assert progress["done"] == progress["total"] == passes and progress["fraction"] == 1.0
    assert progress["elapsed_seconds"] > 0 and progress["eta_seconds"] is None
    result = client.get(job["links"]["result"])
    assert result.status_code == 200
    assert result.content == client.post("/api/restore",
                                         files={"file": ("x.png", data)}).content
    assert job["result"] == {"filename": "shaky_restored.png", "media_type": "image/png",
                             "bytes": len(result.content)}
    report = client.get(job["links"]["report"]).json()
    assert report["passes"] == passes  # the backend really ran as often as announced
    assert report["input"] == {"name": "shaky.png", "format": "PNG", "width": SIZE[1],
                               "height": SIZE[0], "channels": 3, "bit_depth": 8,
                               "alpha": False}
    assert (report["tile"], report["overlap"], report["model"]) == (32, 8, "default")
    # PNG is shown as it is: the previews are the files themselves
    assert client.get(job["links"]["preview_input"]).content == data
    assert client.get(job["links"]["preview_result"]).content == result.content
    assert client.get(job["links"]["preview_input"] + "?frame=1").status_code == 404
    folder = client.app.state.queue.root / job["id"]
    assert folder.is_dir()
    assert client.delete(job["links"]["self"]).status_code == 204
    assert not folder.exists()
    for link in job["links"].values():
        assert client.get(link).status_code == 404


def test_tiff_preview_is_an_8bit_png(serve, tmp_path):
    client = serve()
    src = _sample("tiff16-gray", tmp_path)
    job = finish(client, upload(client, src.read_bytes(), name="scan.tif").json()["id"])
    for side in ("input", "result"):
        response = client.get(f"/api/jobs/{job['id']}/preview/{side}")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        image = PIL.Image.open(io.BytesIO(response.content))
        assert (image.format, image.size, image.mode) == ("PNG", (SIZE[1], SIZE[0]), "L")
    assert client.get(f"/api/jobs/{job['id']}/result").headers["content-type"] == "image/tiff"


# ---------------------------------------------------------------------------- videos
@pytest.mark.slow
def test_video_job_report_timeline_previews(serve, tmp_path):
    client = serve(Restorer(torch.nn.Identity(), device="cpu"))  # the pipeline, not a model
    clip = default_assets_dir() / CLIP
    response = upload(client, clip.read_bytes(), name="clip.mp4", select="all",
                      threshold="0.25")
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["kind"], job["select"], job["threshold"]) == ("video", "all", 0.25)
    assert job["input"]["width"] == 480 and job["input"]["frames"] == 75
    job = finish(client, job["id"])
    assert job["status"] == "done", job["error"]
    assert job["progress"]["unit"] == "frames"
    assert job["progress"]["done"] == job["progress"]["total"] == 75
    assert job["result"]["filename"] == "clip_restored.mp4"
    assert job["result"]["media_type"] == "video/mp4"
    text = client.get(job["links"]["report"]).text
    assert str(client.app.state.queue.root) not in text  # no server path reaches a client
    report = json.loads(text)
    assert report["input"]["path"] == "clip.mp4"
    assert report["output"]["path"] == "clip_restored.mp4"
    assert (report["select"], report["threshold"]) == ("all", None)  # as `deblurkit video`
    assert len(report["frames"]) == 75 and all(f["deblurred"] for f in report["frames"])
    assert report["totals"]["N_b"] == report["totals"]["N_a"] == 75
    assert report["output"]["audio_copied"] is True
    out = tmp_path / "out.mp4"
    out.write_bytes(client.get(job["links"]["result"]).content)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 75
    for side in ("input", "result"):
        frame = client.get(f"{job['links']['preview_' + side]}?frame=74")
        assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
        assert PIL.Image.open(io.BytesIO(frame.content)).size == (480, 270)
    missing = client.get(f"{job['links']['preview_input']}?frame=75")
    assert missing.status_code == 404 and "no frame 75" in missing.json()["detail"]


def test_video_limits_and_endpoints(serve):
    clip = (default_assets_dir() / CLIP).read_bytes()
    client = serve(max_frames=10)
    response = upload(client, clip, name="clip.mp4")
    assert response.status_code == 422
    assert response.json()["detail"] == "clip.mp4: 75 frames exceeds the limit of 10"
    client = serve(max_pixels=1000)
    response = upload(client, clip, name="clip.mp4")
    assert response.status_code == 422
    assert "480 x 270 = 129600 pixels per frame exceeds the limit of 1000" in \
        response.json()["detail"]
    client = serve()
    response = client.post("/api/restore", files={"file": ("clip.mp4", clip)})
    assert response.status_code == 415
    assert response.json()["detail"] == "clip.mp4: is a video; POST it to /api/jobs"
    response = upload(client, clip, name="clip.mp4", select="classifier")
    assert response.status_code == 422 and "no frame classifier" in response.json()["detail"]
    response = upload(client, clip, name="clip.mp4", select="sharpest")
    assert response.status_code == 422 and "unknown selection 'sharpest'" in \
        response.json()["detail"]


# ---------------------------------------------------------------------------- errors
def test_error_codes(serve, tmp_path):
    client = serve(max_upload_bytes=50_000)
    root = str(client.app.state.queue.root)
    good = png_bytes(rgb8(4), tmp_path)

    def refused(response, status: int, starts: str = "") -> str:
        assert response.status_code == status, response.text
        detail = response.json()["detail"]
        assert isinstance(detail, str) and "\n" not in detail and root not in detail
        assert detail.startswith(starts)
        return detail

    for endpoint in ("/api/restore", "/api/jobs"):
        corrupt = good[:60] + bytes(len(good) - 60)  # PNG signature and header, then zeros
        detail = refused(client.post(endpoint, files={"file": ("bad.png", corrupt)}), 422,
                         "bad.png: ")
        assert "corrupt or truncated" in detail
        refused(client.post(endpoint, files={"file": ("cut.png", good[:len(good) // 2])}),
                422, "cut.png: corrupt or truncated")
        refused(client.post(endpoint, files={"file": ("notes.png", b"just some text\n")}),
                415, "notes.png: not an image or a video")
        gif = io.BytesIO()
        PIL.Image.new("RGB", (8, 8)).save(gif, format="GIF")
        refused(client.post(endpoint, files={"file": ("a.gif", gif.getvalue())}), 415,
                "a.gif: GIF images are not supported")
        refused(client.post(endpoint, files={"file": ("empty.png", b"")}), 422,
                "empty.png: empty file")
        bomb = refused(client.post(endpoint, files={"file": ("bomb.png",
                                                             png_header(100_000, 100_000))}),
                       422, "bomb.png: 100000 x 100000 = 10000000000 pixels exceeds")
        assert "decompression bomb" in bomb
        # too large: announced by Content-Length (refused before reading) ...
        big = bytes(200_000)
        assert refused(client.post(endpoint, files={"file": ("big.png", big)}), 413) == \
            "upload larger than the limit of 50000 bytes"
        # ... inside the multipart slack (the file part itself is counted) ...
        refused(client.post(endpoint, files={"file": ("big.png", bytes(60_000))}), 413,
                "big.png: larger than the upload limit of 50000 bytes")
        # ... or streamed without a length
        body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.png"\r\n\r\n'
                + big + b"\r\n--b--\r\n")
        chunked = client.post(endpoint, content=iter([body[i:i + 8192]
                                                      for i in range(0, len(body), 8192)]),
                              headers={"content-type": "multipart/form-data; boundary=b"})
        assert "content-length" not in chunked.request.headers
        refused(chunked, 413, "upload larger than the limit")
        refused(client.post(endpoint), 422, "file: Field required")
    refused(upload(client, good, threshold="2"), 422,
            "threshold: Input should be less than or equal to 1")
    for method, path in [("get", "/api/jobs/0123456789abcdef0123456789abcdef"),
                         ("delete", "/api/jobs/0123456789abcdef0123456789abcdef"),
                         ("get", "/api/jobs/nope/result"), ("get", "/api/jobs/nope/report"),
                         ("get", "/api/jobs/nope/preview/input")]:
        refused(getattr(client, method)(path), 404, "no job")
    for path in ("/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/jobs/..%2F..%2Fetc/result",
                 "/static/..%2F..%2F__init__.py", "/static/../jobs.py"):
        assert client.get(path).status_code == 404, path
    assert client.get("/api/jobs").json() == []  # every refused upload left nothing
    assert os.listdir(root) == []


def test_pixel_limit_is_configurable(serve, tmp_path):
    client = serve(max_pixels=SIZE[0] * SIZE[1] - 1)
    response = client.post("/api/restore", files={"file": ("p.png",
                                                           png_bytes(rgb8(), tmp_path))})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        f"p.png: {SIZE[1]} x {SIZE[0]} = {SIZE[0] * SIZE[1]} pixels exceeds the limit")


# ---------------------------------------------------------------------------- the queue
def test_concurrent_requests_queue_and_all_finish(serve, tmp_path):
    gate = GateBackend()
    client = serve(Restorer(gate))
    queue = client.app.state.queue
    images = [rgb8(10 + i) for i in range(5)]
    results: dict[int, object] = {}

    def post(i: int) -> None:
        data = png_bytes(images[i], tmp_path, f"in{i}.png")
        results[i] = client.post("/api/restore", files={"file": (f"{i}.png", data)})

    threads = [threading.Thread(target=post, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    poll(lambda: len(client.get("/api/jobs").json()) == 5, "five queued jobs")
    jobs = client.get("/api/jobs").json()
    assert sorted(j["status"] for j in jobs) == ["queued"] * 4 + ["running"]
    assert sorted(j["queue_position"] for j in jobs if j["status"] == "queued") == [0, 1, 2, 3]
    assert gate.entered.wait(TIMEOUT) and gate.active == 1
    gate.gate.set()
    for thread in threads:
        thread.join(TIMEOUT)
    for i, response in results.items():
        assert response.status_code == 200
        restored = PIL.Image.open(io.BytesIO(response.content))
        np.testing.assert_array_equal(np.asarray(restored), images[i])  # identity model
    assert gate.max_active == 1 and gate.calls == 5  # one at a time, every one ran
    assert client.get("/api/jobs").json() == [] and os.listdir(queue.root) == []


def test_queue_full_then_delete_queued_and_running_jobs(serve, tmp_path):
    gate = GateBackend()
    client = serve(Restorer(gate), max_queue=1)
    queue = client.app.state.queue
    data = png_bytes(rgb8(), tmp_path)
    running = upload(client, data, name="a.png").json()
    assert gate.entered.wait(TIMEOUT)
    waiting = upload(client, data, name="b.png").json()
    assert waiting["status"] == "queued" and waiting["queue_position"] == 0
    full = upload(client, data, name="c.png")
    assert full.status_code == 429
    assert full.json()["detail"] == "c.png: the queue is full (1 jobs waiting); retry later"
    not_ready = client.get(waiting["links"]["result"])
    assert not_ready.status_code == 409 and "is queued" in not_ready.json()["detail"]
    assert client.get(waiting["links"]["preview_result"]).status_code == 409
    assert client.get(waiting["links"]["preview_input"]).content == data  # shown at once
    waiting_job = queue.get(waiting["id"])
    assert client.delete(waiting["links"]["self"]).status_code == 204
    assert waiting_job.status == "cancelled" and not waiting_job.folder.exists()
    running_job = queue.get(running["id"])
    assert client.delete(running["links"]["self"]).status_code == 204
    assert client.get(running["links"]["self"]).status_code == 404
    gate.gate.set()  # the model call in progress returns; the job stops before writing
    assert running_job.wait(TIMEOUT) and running_job.status == "cancelled"
    assert not running_job.folder.exists() and os.listdir(queue.root) == []
    assert gate.calls == 1  # the deleted waiting job never ran


def test_shutdown_cancels_jobs_and_removes_the_temporary_folder(restorer, tmp_path):
    parent = tmp_path / "server-tmp"
    parent.mkdir()
    gate = GateBackend()
    client = TestClient(create_app(Restorer(gate), ServeConfig(tmp_parent=parent)))
    client.__enter__()
    queue = client.app.state.queue
    data = png_bytes(rgb8(), tmp_path)
    first = upload(client, data).json()
    gate.gate.set()
    assert finish(client, first["id"])["status"] == "done"
    gate.gate.clear()
    running = queue.get(upload(client, data).json()["id"])
    waiting = queue.get(upload(client, data).json()["id"])
    poll(lambda: running.status == "running" and gate.active == 1, "the second job to run")
    assert len(list(parent.iterdir())) == 1 and len(os.listdir(queue.root)) == 3
    stopping = threading.Thread(target=client.__exit__, args=(None, None, None))
    stopping.start()
    poll(lambda: queue._closing, "shutdown to begin")
    gate.gate.set()
    stopping.join(TIMEOUT)
    assert not stopping.is_alive()
    assert (running.status, waiting.status) == ("cancelled", "cancelled")
    assert waiting.error == "the server is shutting down"
    assert list(parent.iterdir()) == []


# ---------------------------------------------------------------------------- the rest
def test_openapi_schema_documents_every_endpoint(serve):
    client = serve()
    schema = client.get("/openapi.json").json()
    paths = {path: sorted(ops) for path, ops in schema["paths"].items()}
    assert paths == {
        "/api/info": ["get"], "/api/restore": ["post"], "/api/jobs": ["get", "post"],
        "/api/jobs/{job_id}": ["delete", "get"], "/api/jobs/{job_id}/result": ["get"],
        "/api/jobs/{job_id}/report": ["get"], "/api/jobs/{job_id}/preview/{side}": ["get"],
    }
    restore = schema["paths"]["/api/restore"]["post"]
    assert "multipart/form-data" in restore["requestBody"]["content"]
    assert {"200", "413", "415", "422", "429", "503"} <= set(restore["responses"])
    assert {"413", "415", "422"} <= set(schema["paths"]["/api/jobs"]["post"]["responses"])
    assert "JobInfo" in schema["components"]["schemas"]
    assert client.get("/docs").status_code == 404  # Swagger UI would load from a CDN
    info = client.get("/api/info").json()
    assert info["tile"] == 32 and info["limits"]["max_upload_bytes"] == 512 * 2**20
    assert info["select"] == "laplacian" and "classifier" not in info["select_modes"]


def test_page_loads_only_its_own_files(serve):
    client = serve()
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in page.text and "/static/app.css" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    static = Path(__file__).parents[1] / "src" / "deblurkit" / "serve" / "static"
    for path in static.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
        served = client.get(f"/static/{path.name}")
        assert served.status_code == 200 and served.text == text
    assert client.get("/static/app.js").headers["content-type"].startswith(
        "text/javascript")


def test_host_header_guard(serve):
    client = serve(allowed_hosts=LOOPBACK_HOSTS)
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST:1"):
        assert client.get("/api/info", headers={"host": host}).status_code == 200, host
    for host in ("evil.example", "127.0.0.1.evil.example:8000", ""):
        response = client.get("/api/info", headers={"host": host})
        assert response.status_code == 400, host
    assert host_name("[::1]:8000") == "::1"


def test_count_passes_matches_the_backend_calls(restorer):
    from deblurkit.serve.meter import Ticket, metered_restorer

    runner, backend = metered_restorer(restorer)
    assert runner.backend is backend and restorer.backend is backend.inner  # original kept
    cases = [(restorer, (40, 70)), (restorer, (20, 20)),
             (Restorer(restorer.backend, tile=48, overlap="auto"), (100, 90)),
             (Restorer(restorer.backend), (33, 47))]
    if "tta" in inspect.signature(Restorer).parameters:  # test-time augmentation views
        cases.append((Restorer(restorer.backend, tile=32, overlap=8, tta=8), (40, 70)))
    for source, (height, width) in cases:
        runner, backend = metered_restorer(source)
        backend.ticket = Ticket()
        runner(np.zeros((height, width, 3), np.float32))
        assert count_passes(source, height, width) == backend.ticket.done


def test_names_and_signatures():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a\\b\\c d.PNG") == "c d.PNG"
    assert display_name(None) == display_name("") == display_name("dir/") == "upload"
    assert display_name("x\x00y\n.png") == "xy.png"
    assert download_name("..", ".png") == "upload_restored.png"
    assert download_name("clip.final.mov", ".mp4") == "clip.final_restored.mp4"
    assert download_name("été.jpeg", ".jpg") == "t_restored.jpg"
    assert image_format(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "WEBP"
    assert image_format(b"II*\x00") == "TIFF" and image_format(b"\xff\xd8\xff\xe0") == "JPEG"


# ---------------------------------------------------------------------------- command line
def test_cli_defaults_listen_on_loopback_and_warn_about_other_hosts(capsys):
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.select) == ("127.0.0.1", 8000, "temporal")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default 127.0.0.1: this machine only" in text and "WARNING" in text


def test_cli_busy_port_is_a_one_line_error(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"deblurkit serve: error: 127.0.0.1:{port}: cannot listen")
    assert "\n" not in err and "choose another --port" in err


@pytest.mark.slow
def test_cli_server_process_restores_then_cleans_up_on_sigterm(model_file, tmp_path):
    import httpx2

    env = dict(os.environ, TMPDIR=str(tmp_path), DEBLURKIT_PROGRESS="0")
    server = subprocess.Popen([sys.executable, "-m", "deblurkit", "serve", "--port", "0",
                               "--model", str(model_file), *TILING, "--device", "cpu"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        line = server.stdout.readline()  # printed once the socket listens
        assert line.startswith("deblurkit serve: http://127.0.0.1:"), server.stderr.read()
        url = line.split()[2]
        src = tmp_path / "in.png"
        write_image(src, rgb8(7))
        response = httpx2.post(url + "api/restore", timeout=TIMEOUT,
                               files={"file": ("in.png", src.read_bytes())})
        assert response.status_code == 200
        assert response.content == cli_restore(src, tmp_path / "cli", model_file).read_bytes()
        assert len(list(tmp_path.glob("deblurkit-serve-*"))) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=TIMEOUT)
    assert "Traceback" not in err
    assert list(tmp_path.glob("deblurkit-serve-*")) == []
