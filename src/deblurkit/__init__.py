"""deblurkit: restore motion-blurred images and videos with multi-scale deep networks.

Subpackages, each one idea, in the order an image travels:

- :mod:`deblurkit.io` -- image files <-> arrays (bit depth, alpha, EXIF), atomic writes.
- :mod:`deblurkit.synth` -- blur synthesis: kernels, frame averaging, partially blurred videos.
- :mod:`deblurkit.data` -- paired datasets (GoPro, REDS, DVD, ...) and paired augmentation.
- :mod:`deblurkit.metrics` -- PSNR / SSIM with explicit conventions, numpy and torch.
- :mod:`deblurkit.models`, :mod:`deblurkit.losses`, :mod:`deblurkit.training` -- networks,
  losses and the train loop.
- :mod:`deblurkit.inference` -- restore images and videos: :func:`restore`, :class:`Restorer`.
- :mod:`deblurkit.export` -- ONNX and TorchScript.

Heavy dependencies (torch) are imported lazily by the subpackages that need them:
``deblurkit.restore`` and ``deblurkit.Restorer`` load :mod:`deblurkit.inference.restorer` on
first access, so ``import deblurkit`` does not import torch.
"""

from deblurkit.utils.lazy import lazy_exports

__version__ = "0.1.0"

__all__ = ["Restorer", "__version__", "restore"]

__getattr__, __dir__ = lazy_exports(__name__, {"restore": "deblurkit.inference.restorer",
                                               "Restorer": "deblurkit.inference.restorer"})
