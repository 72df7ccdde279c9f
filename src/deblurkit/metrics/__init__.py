"""PSNR and SSIM with explicit conventions: numpy reference, batched torch, folder evaluation.

- :class:`MetricConfig` -- every convention (data range, RGB or Y, border crop, 8-bit
  quantization of the restored image, SSIM window), recorded with every result.
- :func:`psnr`, :func:`ssim` -- the numpy reference (matches scikit-image).
- :func:`psnr_torch`, :func:`ssim_torch` -- batched, differentiable torch versions (torch is
  imported only when one of them is first used).
- :func:`evaluate_folders` -- score two folders of images paired by relative path.
- :func:`evaluate_gopro` -- score a GoPro-layout dataset (`<split>/<scene>/{blur,sharp}`).
- :func:`wiener_deconvolve`, :func:`tune_wiener_balance` -- the classical non-blind baseline
  (Wiener deconvolution given the true kernel, scikit-image).

See ``docs/metrics.md``.
"""

from __future__ import annotations

from deblurkit.metrics.baselines import BalanceSearch, tune_wiener_balance, wiener_deconvolve
from deblurkit.metrics.color import rgb_to_y
from deblurkit.metrics.config import MetricConfig
from deblurkit.metrics.evaluate import EvalResult, evaluate_folders, evaluate_gopro
from deblurkit.metrics.reference import MetricInputError, psnr, ssim
from deblurkit.utils.lazy import lazy_exports

_TORCH_NAMES = {"psnr_torch", "ssim_torch", "rgb_to_y_torch"}

__all__ = ["MetricConfig", "MetricInputError", "psnr", "ssim", "rgb_to_y", "psnr_torch",
           "ssim_torch", "rgb_to_y_torch", "evaluate_folders", "evaluate_gopro", "EvalResult",
           "BalanceSearch", "tune_wiener_balance", "wiener_deconvolve"]


__getattr__, __dir__ = lazy_exports(
    __name__, {name: "deblurkit.metrics.torch_metrics" for name in _TORCH_NAMES})
