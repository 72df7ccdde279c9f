"""deblurkit: restore motion-blurred images and videos with multi-scale deep networks.

Subpackages, each one idea, in the order an image travels:

- :mod:`deblurkit.io` -- image files <-> arrays (bit depth, alpha, EXIF), atomic writes.
- :mod:`deblurkit.synth` -- blur synthesis: kernels, frame averaging, partially blurred videos.
- :mod:`deblurkit.data` -- paired datasets (GoPro, REDS, DVD, ...) and paired augmentation.
- :mod:`deblurkit.metrics` -- PSNR / SSIM with explicit conventions, numpy and torch.

- :mod:`deblurkit.inference` -- restore images: :func:`restore`, :class:`Restorer`, tiling.

Heavy dependencies (torch) are imported lazily by the subpackages that need them:
``deblurkit.restore`` and ``deblurkit.Restorer`` load :mod:`deblurkit.inference.restorer` on
first access, so ``import deblurkit`` does not import torch.
"""

from typing import Any

__version__ = "0.1.0"

__all__ = ["Restorer", "__version__", "restore"]

_LAZY = {"restore": "deblurkit.inference.restorer", "Restorer": "deblurkit.inference.restorer"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'deblurkit' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
