"""Inference: backends, tiling, the :class:`Restorer` API, model resolution, the frame
classifier, frame selection, the video pipeline, sharding.

Modules (imported on first use, so that ``import deblurkit.inference`` stays cheap):

- :mod:`~deblurkit.inference.backends` -- the ``Backend`` protocol, ``TorchBackend``;
- :mod:`~deblurkit.inference.tiling` -- ``restore_tiled``, ``auto_tile_size``;
- :mod:`~deblurkit.inference.restorer` -- ``Restorer``, ``restore``;
- :mod:`~deblurkit.inference.resolve` -- ``load_backend`` (any model specification);
- :mod:`~deblurkit.inference.classifier` -- ``FrameClassifier``, ``load_classifier``;
- :mod:`~deblurkit.inference.selection` -- which frames of a video to deblur;
- :mod:`~deblurkit.inference.video` -- the video pipeline (``restore_video``);
- :mod:`~deblurkit.inference.shard` -- ``shard`` for torchrun launches.
"""

from __future__ import annotations

from deblurkit.utils.lazy import lazy_exports

_EXPORTS = {
    "Backend": "deblurkit.inference.backends",
    "TorchBackend": "deblurkit.inference.backends",
    "restore_tiled": "deblurkit.inference.tiling",
    "auto_tile_size": "deblurkit.inference.tiling",
    "Restorer": "deblurkit.inference.restorer",
    "restore": "deblurkit.inference.restorer",
    "load_backend": "deblurkit.inference.resolve",
    "load_classifier": "deblurkit.inference.classifier",
    "FrameClassifier": "deblurkit.inference.classifier",
    "shard": "deblurkit.inference.shard",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
