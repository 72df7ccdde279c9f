"""deblurkit: restore motion-blurred images and videos with multi-scale deep networks.

Subpackages, each one idea, in the order an image travels:

- :mod:`deblurkit.io` -- image files <-> arrays (bit depth, alpha, EXIF), atomic writes.
- :mod:`deblurkit.synth` -- blur synthesis: kernels, frame averaging, partially blurred videos.
- :mod:`deblurkit.data` -- paired datasets (GoPro, REDS, DVD, ...) and paired augmentation.
- :mod:`deblurkit.metrics` -- PSNR / SSIM with explicit conventions, numpy and torch.

Heavy dependencies (torch) are imported lazily by the subpackages that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
