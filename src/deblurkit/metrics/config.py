"""The conventions behind a PSNR / SSIM number, in one frozen record.

Two papers can report "PSNR 30.2 dB" on the same images and mean different things: RGB or
luma, border cropped or not, 8-bit output or float output, uniform or Gaussian SSIM window.
:class:`MetricConfig` names every such choice, validates it, and is recorded next to every
score (:meth:`MetricConfig.as_dict`) so that a number never travels without its conventions.
See ``docs/metrics.md`` for the reasoning behind each default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

Channel = Literal["rgb", "y"]
SsimWindow = Literal["uniform", "gaussian"]

CHANNELS: tuple[str, ...] = ("rgb", "y")
SSIM_WINDOWS: tuple[str, ...] = ("uniform", "gaussian")

#: Side of the uniform SSIM window when ``win_size`` is None (scikit-image's default).
DEFAULT_UNIFORM_WIN_SIZE = 7
#: Standard deviation of the Gaussian SSIM window (Wang et al. 2004).
DEFAULT_SIGMA = 1.5
#: Gaussian truncation in standard deviations (scikit-image's choice: an 11-tap window at 1.5).
DEFAULT_TRUNCATE = 3.5
#: SSIM stabilising constants, C1 = (K1 L)^2 and C2 = (K2 L)^2 (Wang et al. 2004).
DEFAULT_K1 = 0.01
DEFAULT_K2 = 0.03
#: Bit depth that ``quantize`` rounds a float restored image to (what saving an 8-bit file does).
DEFAULT_QUANTIZE_BITS = 8
#: Largest bit depth ``quantize_bits`` accepts (16-bit PNG / TIFF).
MAX_QUANTIZE_BITS = 16


def gaussian_radius(sigma: float, truncate: float) -> int:
    """Radius in pixels of a Gaussian kernel truncated at ``truncate`` standard deviations.

    Same rule as :func:`scipy.ndimage.gaussian_filter`: ``int(truncate * sigma + 0.5)``.

    Example:
        >>> gaussian_radius(1.5, 3.5)
        5
    """
    return int(truncate * sigma + 0.5)


@dataclasses.dataclass(frozen=True)
class MetricConfig:
    """Every convention that changes a PSNR or SSIM value.

    Args:
        data_range: peak-to-peak range ``L`` of the scored values (PSNR's peak, SSIM's C1/C2).
            None: from the dtype, 255 for uint8, 65535 for uint16, 1.0 for float. When the two
            images have different dtypes both are first brought to float ``[0, 1]`` (integers
            divided by their dtype maximum), so None means 1.0 and an explicit value is in
            ``[0, 1]`` units. With ``channel="y"`` the same range is used (Y keeps the input's
            units; see :func:`deblurkit.metrics.color.rgb_to_y`).
        channel: ``"rgb"`` scores all channels (SSIM = mean of per-channel SSIM); ``"y"``
            scores the BT.601 luma of MATLAB's ``rgb2ycbcr`` (the deblurring / super-resolution
            papers' convention).
        crop_border: pixels removed from each of the four sides before scoring.
        quantize: round a float restored image to the ``quantize_bits`` grid (after clipping to
            ``[0, 1]``) before scoring, i.e. score what would be saved. Integer images are
            stored values already and are never changed; the reference is never changed.
        quantize_bits: bit depth of that grid (8: levels k/255).
        ssim_window: ``"uniform"`` (``win_size`` x ``win_size`` box, scikit-image's default) or
            ``"gaussian"`` (``sigma`` 1.5, truncated at ``truncate`` sigmas: Wang et al. 2004).
        win_size: odd window side. None: 7 for uniform, ``2 * int(truncate*sigma + 0.5) + 1``
            (11 at the defaults) for gaussian. For gaussian it sets only the border excluded
            from the SSIM mean, ``(win_size - 1) // 2``, and the sample-covariance ``N``, as in
            scikit-image; the filter itself follows ``sigma`` and ``truncate``.
        sigma: standard deviation of the gaussian window.
        truncate: gaussian window radius in standard deviations.
        K1: SSIM constant, ``C1 = (K1 * data_range) ** 2``.
        K2: SSIM constant, ``C2 = (K2 * data_range) ** 2``.
        use_sample_covariance: divide (co)variances by ``N - 1`` instead of ``N``
            (``N = win_size ** 2``). None: True for uniform (scikit-image's default), False for
            gaussian (Wang et al.).

    Example:
        >>> MetricConfig(channel="y", crop_border=4).resolved_win_size
        7
        >>> MetricConfig(ssim_window="gaussian").resolved_win_size
        11
    """

    data_range: float | None = None
    channel: Channel = "rgb"
    crop_border: int = 0
    quantize: bool = True
    quantize_bits: int = DEFAULT_QUANTIZE_BITS
    ssim_window: SsimWindow = "uniform"
    win_size: int | None = None
    sigma: float = DEFAULT_SIGMA
    truncate: float = DEFAULT_TRUNCATE
    K1: float = DEFAULT_K1
    K2: float = DEFAULT_K2
    use_sample_covariance: bool | None = None

    def __post_init__(self) -> None:
        if self.data_range is not None and not self.data_range > 0:
            raise ValueError(f"data_range must be > 0, got {self.data_range!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        if isinstance(self.crop_border, bool) or int(self.crop_border) != self.crop_border \
                or self.crop_border < 0:
            raise ValueError(f"crop_border must be an integer >= 0, got {self.crop_border!r}")
        if not 1 <= int(self.quantize_bits) <= MAX_QUANTIZE_BITS:
            raise ValueError(f"quantize_bits must be in 1..{MAX_QUANTIZE_BITS}, "
                             f"got {self.quantize_bits!r}")
        if self.ssim_window not in SSIM_WINDOWS:
            raise ValueError(f"ssim_window must be one of {SSIM_WINDOWS}, "
                             f"got {self.ssim_window!r}")
        if self.win_size is not None and (self.win_size < 3 or self.win_size % 2 != 1):
            raise ValueError(f"win_size must be an odd integer >= 3, got {self.win_size!r}")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be > 0, got {self.sigma!r}")
        if not self.truncate > 0:
            raise ValueError(f"truncate must be > 0, got {self.truncate!r}")
        if self.K1 < 0 or self.K2 < 0:
            raise ValueError(f"K1 and K2 must be >= 0, got {self.K1!r}, {self.K2!r}")

    # -- resolved values (what None means for this config) ------------------------------------

    @property
    def resolved_win_size(self) -> int:
        """The SSIM window side actually used (``win_size`` or its default)."""
        if self.win_size is not None:
            return int(self.win_size)
        if self.ssim_window == "gaussian":
            return 2 * gaussian_radius(self.sigma, self.truncate) + 1
        return DEFAULT_UNIFORM_WIN_SIZE

    @property
    def resolved_use_sample_covariance(self) -> bool:
        """Whether (co)variances are divided by ``N - 1`` (True) or ``N`` (False)."""
        if self.use_sample_covariance is not None:
            return bool(self.use_sample_covariance)
        return self.ssim_window == "uniform"

    @property
    def filter_radius(self) -> int:
        """Radius in pixels of the SSIM filter kernel."""
        if self.ssim_window == "gaussian":
            return gaussian_radius(self.sigma, self.truncate)
        return (self.resolved_win_size - 1) // 2

    def replace(self, **changes: Any) -> MetricConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every field with None defaults resolved, JSON-ready (``data_range`` None = from dtype).

        Example:
            >>> MetricConfig().as_dict()["use_sample_covariance"]
            True
        """
        out = dataclasses.asdict(self)
        out["win_size"] = self.resolved_win_size
        out["use_sample_covariance"] = self.resolved_use_sample_covariance
        if out["data_range"] is not None:
            out["data_range"] = float(out["data_range"])
        return out


def make_config(config: MetricConfig | None = None, **overrides: Any) -> MetricConfig:
    """``config`` (default :class:`MetricConfig`) with keyword ``overrides`` applied."""
    base = MetricConfig() if config is None else config
    if not isinstance(base, MetricConfig):
        raise TypeError(f"config must be a MetricConfig, got {type(base).__name__}")
    return base.replace(**overrides) if overrides else base
