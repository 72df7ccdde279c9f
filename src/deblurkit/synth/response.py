"""Camera response curves: encoded (display) values <-> linear light.

A camera response ``g`` maps scene irradiance (linear light, in ``[0, 1]``) to the
encoded values stored in an image file. Blur synthesis by frame averaging
(Nah et al. 2017, used by S4's REBVIDS and by GoPro) averages frames in linear
light: ``B = g(mean_i g^-1(S_i))``. Every response here exposes the same two
methods so that callers can swap them:

* ``to_linear(encoded)``  = ``g^-1``
* ``from_linear(linear)`` = ``g``

Both take and return float arrays of any shape, clip their input to ``[0, 1]``
(values outside cannot be represented by the curve) and return ``float32``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = [
    "CameraResponse",
    "GammaResponse",
    "LinearResponse",
    "SRGBResponse",
]

#: Default gamma of :class:`GammaResponse` (the value GoPro's ``blur_gamma`` assumes).
DEFAULT_GAMMA = 2.2

# IEC 61966-2-1 (sRGB) constants.
SRGB_LINEAR_THRESHOLD = 0.0031308  # linear value where the curve switches from linear to power
SRGB_ENCODED_THRESHOLD = 0.04045  # the same point on the encoded side (12.92 * 0.0031308)
SRGB_SLOPE = 12.92
SRGB_EXPONENT = 2.4
SRGB_OFFSET = 0.055


@runtime_checkable
class CameraResponse(Protocol):
    """Anything with ``to_linear`` (``g^-1``) and ``from_linear`` (``g``)."""

    def to_linear(self, encoded: np.ndarray) -> np.ndarray: ...

    def from_linear(self, linear: np.ndarray) -> np.ndarray: ...


def _as_unit_float32(x: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0)


@dataclass(frozen=True)
class LinearResponse:
    """Identity response: the encoded values already are linear light.

    Averaging with it is the plain mean of the encoded frames.

    Example:
        >>> LinearResponse().to_linear(np.array([0.25]))
        array([0.25], dtype=float32)
    """

    def to_linear(self, encoded: np.ndarray) -> np.ndarray:
        """Return ``encoded`` clipped to ``[0, 1]`` as float32."""
        return _as_unit_float32(encoded)

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """Return ``linear`` clipped to ``[0, 1]`` as float32."""
        return _as_unit_float32(linear)


@dataclass(frozen=True)
class GammaResponse:
    """Power-law camera response ``g(x) = x ** (1 / gamma)``.

    The default response of the frame-averaging model: Nah et al. (GoPro) assume
    a gamma curve with ``gamma = 2.2``.

    Args:
        gamma: exponent, ``> 0``. ``to_linear`` computes ``x ** gamma``.

    Shape:
        any shape in, the same shape out (float32).

    Example:
        >>> r = GammaResponse(2.0)
        >>> float(r.to_linear(np.float32(0.5)))
        0.25
        >>> float(r.from_linear(np.float32(0.25)))
        0.5
    """

    gamma: float = DEFAULT_GAMMA

    def __post_init__(self) -> None:
        if not (np.isfinite(self.gamma) and self.gamma > 0):
            raise ValueError(f"gamma must be a positive finite number, got {self.gamma!r}")

    def to_linear(self, encoded: np.ndarray) -> np.ndarray:
        """``g^-1(x) = x ** gamma`` on ``clip(x, 0, 1)``; float32."""
        return np.power(_as_unit_float32(encoded), np.float32(self.gamma))

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """``g(x) = x ** (1 / gamma)`` on ``clip(x, 0, 1)``; float32."""
        return np.power(_as_unit_float32(linear), np.float32(1.0 / self.gamma))


@dataclass(frozen=True)
class SRGBResponse:
    """The piecewise sRGB transfer curve (IEC 61966-2-1).

    ``g(x) = 12.92 x`` for ``x <= 0.0031308``, else ``1.055 x ** (1/2.4) - 0.055``;
    ``g^-1`` is its exact inverse (threshold ``0.04045`` on the encoded side).

    Shape:
        any shape in, the same shape out (float32).

    Example:
        >>> r = SRGBResponse()
        >>> round(float(r.to_linear(np.float32(0.5))), 4)
        0.214
    """

    def to_linear(self, encoded: np.ndarray) -> np.ndarray:
        """Decode sRGB values to linear light; float32."""
        x = _as_unit_float32(encoded)
        low = x / np.float32(SRGB_SLOPE)
        high = np.power((x + np.float32(SRGB_OFFSET)) / np.float32(1.0 + SRGB_OFFSET), np.float32(SRGB_EXPONENT))
        return np.where(x <= SRGB_ENCODED_THRESHOLD, low, high).astype(np.float32, copy=False)

    def from_linear(self, linear: np.ndarray) -> np.ndarray:
        """Encode linear light with the sRGB curve; float32."""
        x = _as_unit_float32(linear)
        low = x * np.float32(SRGB_SLOPE)
        high = np.float32(1.0 + SRGB_OFFSET) * np.power(x, np.float32(1.0 / SRGB_EXPONENT)) - np.float32(SRGB_OFFSET)
        return np.clip(np.where(x <= SRGB_LINEAR_THRESHOLD, low, high), 0.0, 1.0).astype(np.float32, copy=False)
