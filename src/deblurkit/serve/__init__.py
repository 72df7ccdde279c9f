"""``deblurkit serve``: a local web page and an HTTP API that restore photos and videos.

Modules (imported on first use, so that ``import deblurkit.serve`` stays cheap):

- :mod:`~deblurkit.serve.app` -- ``create_app``: the FastAPI application (page + API);
- :mod:`~deblurkit.serve.config` -- ``ServeConfig``: limits and defaults;
- :mod:`~deblurkit.serve.jobs` -- ``JobQueue``, ``Job``: uploads, the one worker, temporary
  files;
- :mod:`~deblurkit.serve.sniff` -- ``inspect_upload``: image or video, from the bytes;
- :mod:`~deblurkit.serve.meter` -- tile and frame progress, cancellation;
- :mod:`~deblurkit.serve.preview` -- pictures for the page's comparison;
- :mod:`~deblurkit.serve.guard` -- ``Host`` check and safety headers;
- :mod:`~deblurkit.serve.schemas` -- the API's JSON models;
- ``static/`` -- the page (HTML, CSS, JavaScript; no build step, nothing from elsewhere).

Rules and the API: docs/serve.md.
"""

from __future__ import annotations

from deblurkit.utils.lazy import lazy_exports

_EXPORTS = {
    "create_app": "deblurkit.serve.app",
    "ServeConfig": "deblurkit.serve.config",
    "JobQueue": "deblurkit.serve.jobs",
    "Job": "deblurkit.serve.jobs",
    "inspect_upload": "deblurkit.serve.sniff",
    "UploadRefused": "deblurkit.serve.sniff",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
