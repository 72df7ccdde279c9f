"""An ASGI layer in front of the app: refuse foreign ``Host`` headers and bodies that say they
are too large, add safety headers.

A page on another site can make a browser send requests to ``http://127.0.0.1:PORT`` under
a host name it controls (DNS rebinding); checking the ``Host`` header against the names the
server answers to (the loopback names when it listens on loopback) stops that. A request
whose ``Content-Length`` passes the body limit gets its 413 before anything is read (the
routes count the bytes of bodies sent without a length themselves). Every
response gets ``X-Content-Type-Options: nosniff``, a strict Content-Security-Policy (the page
loads only its own files: no inline code, nothing from elsewhere), no referrer, no framing;
API responses are not cached.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: ``Host`` names of the loopback interface.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: What the page may load: its own scripts, styles, images and API; pictures from blob: URLs.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' blob: data:; "
                           "media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def host_name(header: str) -> str:
    """The host of a ``Host`` header value, without its port, brackets or case.

    Example:
        >>> host_name("[::1]:8000"), host_name("LocalHost:80"), host_name("127.0.0.1")
        ('::1', 'localhost', '127.0.0.1')
    """
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class Guard:
    """Pure ASGI middleware: ``Host`` check, body size check, safety headers.

    Args:
        app: the wrapped application.
        allowed_hosts: accepted host names (:func:`host_name` form); None accepts any.
        max_body: largest ``Content-Length`` accepted (None: no check here).
        too_large: the 413 message.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] | None = None,
                 max_body: int | None = None, too_large: str = "request body too large"
                 ) -> None:
        self.app = app
        self.allowed = None if allowed_hosts is None else {host_name(h) for h in allowed_hosts}
        self.max_body = max_body
        self.too_large = too_large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
                if api and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        if self.allowed is not None:
            host = host_name(Headers(scope=scope).get("host", ""))
            if host not in self.allowed:
                response = JSONResponse({"detail": f"host {host!r} is not served here"},
                                        status_code=400)
                await response(scope, receive, send_with_headers)
                return
        length = Headers(scope=scope).get("content-length", "")
        if self.max_body is not None and length.isdigit() and int(length) > self.max_body:
            response = JSONResponse({"detail": self.too_large}, status_code=413,
                                    headers={"connection": "close"})
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
