"""Serve a local web page and an HTTP API that restore photos and videos.

The page (http://127.0.0.1:8000/ by default) takes images and videos dropped on it or picked
with a file dialog, shows each file's progress (tiles of an image, frames of a video, with
an estimate of the time left), then the input and the result under a slider, with a zoom;
a video's report (which frames were deblurred) is drawn on a timeline. The API takes the
same files from scripts: POST /api/restore answers with the restored image (same format and
bit depth, as `deblurkit restore` writes it); POST /api/jobs queues an image or a video
(progress, result, JSON report, DELETE). The schema is at /openapi.json; docs/serve.md.

Jobs run one at a time, with the model loaded once. Files live in a temporary folder that
is removed when the server stops (Ctrl-C). Uploads are recognised from their bytes and
refused above --max-upload-mb (413) or --max-pixels / --max-frames (422).

Only this machine can connect unless --host says otherwise: the server has no
authentication. Example: deblurkit serve --port 8000 --model default
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from deblurkit.cli._common import (add_classifier_argument, add_model_arguments,
                                   non_negative_int, positive_int, unit_float)
from deblurkit.errors import UserError

HELP = "serve a local web page and an HTTP API that restore photos and videos"

#: Default address and port.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deblurkit.inference.selection import DEFAULT_SELECT, SELECT_MODES
    from deblurkit.serve.config import (DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS,
                                        DEFAULT_MAX_QUEUE, DEFAULT_MAX_UPLOAD_BYTES)

    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: this machine "
                             "only). WARNING: any other address (0.0.0.0, a network "
                             "address) exposes the server, which has no authentication, to "
                             "every machine that can reach it")
    parser.add_argument("--port", type=non_negative_int, default=DEFAULT_PORT,
                        help=f"TCP port (default {DEFAULT_PORT}; 0: any free port, printed "
                             "at start)")
    add_model_arguments(parser)
    parser.add_argument("--select", choices=SELECT_MODES, default=DEFAULT_SELECT,
                        help="frame selection of video jobs that name none, as `deblurkit "
                             f"video --select` (default {DEFAULT_SELECT})")
    parser.add_argument("--threshold", type=unit_float, default=None, metavar="T",
                        help="selection threshold of video jobs that name none (default: "
                             "the selector's, 0.5)")
    add_classifier_argument(parser)
    parser.add_argument("--max-upload-mb", type=positive_int,
                        default=DEFAULT_MAX_UPLOAD_BYTES // 2**20, metavar="MIB",
                        help="largest upload in MiB (default "
                             f"{DEFAULT_MAX_UPLOAD_BYTES // 2**20}; larger: HTTP 413)")
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                        metavar="N", help="largest image or video frame, width x height "
                                          f"(default {DEFAULT_MAX_PIXELS}; larger: HTTP 422)")
    parser.add_argument("--max-frames", type=positive_int, default=DEFAULT_MAX_FRAMES,
                        metavar="N", help=f"longest video (default {DEFAULT_MAX_FRAMES})")
    parser.add_argument("--max-queue", type=positive_int, default=DEFAULT_MAX_QUEUE,
                        metavar="N", help="jobs that may wait behind the running one "
                                          f"(default {DEFAULT_MAX_QUEUE}; more: HTTP 429)")
    parser.add_argument("--log-level", choices=("warning", "info", "debug"),
                        default="warning",
                        help="server log on stderr (info: one line per request)")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names the loopback interface only.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one).

    Raises:
        UserError: the address cannot be resolved or bound (in use, not this machine's).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: cannot resolve ({exc.strerror})", exit_code=2
                        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        hint = "; choose another --port" if port else ""
        raise UserError(f"{host}:{port}: cannot listen ({exc.strerror or exc}){hint}"
                        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://HOST:PORT/`` of a bound socket (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from deblurkit.cli._common import make_restorer
    from deblurkit.inference.classifier import FrameClassifier
    from deblurkit.serve.app import create_app
    from deblurkit.serve.config import ServeConfig
    from deblurkit.serve.guard import LOOPBACK_HOSTS

    loopback = is_loopback(args.host)
    config = ServeConfig(max_upload_bytes=args.max_upload_mb * 2**20,
                         max_pixels=args.max_pixels, max_frames=args.max_frames,
                         max_queue=args.max_queue, select=args.select,
                         threshold=args.threshold,
                         allowed_hosts=LOOPBACK_HOSTS if loopback else None,
                         model_name=str(args.model),
                         classifier_name=str(args.classifier))
    sock = bind(args.host, args.port)  # before loading the model: a busy port fails fast
    try:
        restorer = make_restorer(args)  # the model is loaded once, here
        app = create_app(restorer, config, classifier=lambda: FrameClassifier(
            args.classifier, device=args.device, dtype=args.dtype).probability)
        if not loopback:
            print(f"deblurkit serve: warning: listening on {args.host}: every machine that "
                  "can reach it may use this server (no authentication)", file=sys.stderr)
        print(f"deblurkit serve: {url_of(sock)} (model {config.model_name}; Ctrl-C stops "
              "and deletes every job's files)", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level,
                                               timeout_graceful_shutdown=5))
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
