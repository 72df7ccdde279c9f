"""Frame-averaging blur of a high-frame-rate sequence (the GoPro protocol).

Nah et al. (2017) made GoPro by averaging ``M`` consecutive 240 fps frames in linear
light: ``B = g((1/M) sum_i g^-1(S_i))`` with ``g`` the camera response (a gamma
curve, ``gamma = 2.2``), and took the middle frame as the sharp target. S4's REBVIDS
uses the same average over random intervals of 7..12 frames.
"""

from __future__ import annotations

import numpy as np

from deblurkit.synth.response import CameraResponse, GammaResponse, LinearResponse

__all__ = ["GOPRO_FRAME_COUNTS", "average_frames", "frame_average_pair"]

#: Frame counts of the GoPro protocol. The paper says "7 to 13" frames; we keep the odd
#: counts so that a middle frame (the sharp target) exists and is centred in time.
GOPRO_FRAME_COUNTS: tuple[int, ...] = (7, 9, 11, 13)


def _frames_as_float(frames: np.ndarray) -> np.ndarray:
    arr = np.asarray(frames)
    if arr.ndim != 4:
        raise ValueError(f"frames must be M x H x W x C, got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("frames is empty (M = 0)")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float32) / np.float32(np.iinfo(arr.dtype).max)
    return arr.astype(np.float32, copy=False)


def average_frames(frames: np.ndarray, response: CameraResponse | None = GammaResponse()) -> np.ndarray:
    """Average encoded frames in linear light: ``g(mean_i g^-1(frames_i))``.

    Args:
        frames: ``M x H x W x C`` encoded frames, float in ``[0, 1]`` (uint8/uint16 are
            scaled by their maximum).
        response: camera response ``g`` (default gamma 2.2, as GoPro); None averages
            the encoded values directly.

    Returns:
        float32 ``H x W x C`` blurred frame in ``[0, 1]``. The sum is accumulated in float64.

    Shape:
        ``(M, H, W, C)`` -> ``(H, W, C)``.

    Example:
        >>> frames = np.stack([np.zeros((2, 2, 1)), np.ones((2, 2, 1))]).astype(np.float32)
        >>> float(average_frames(frames, GammaResponse(2.0))[0, 0, 0]) == float(np.float32(0.5) ** 0.5)
        True
    """
    arr = _frames_as_float(frames)
    resp = LinearResponse() if response is None else response
    total = np.zeros(arr.shape[1:], dtype=np.float64)
    for frame in arr:  # frame by frame: no M-sized linear copy of a long 720p sequence
        total += resp.to_linear(frame)
    return resp.from_linear((total / arr.shape[0]).astype(np.float32))


def frame_average_pair(
    frames: np.ndarray, response: CameraResponse | None = GammaResponse()
) -> tuple[np.ndarray, np.ndarray]:
    """Make a (blurred, sharp) training pair from ``M`` consecutive frames (GoPro protocol).

    Args:
        frames: ``M x H x W x C`` encoded frames, ``M`` odd (7..13 in the GoPro protocol,
            see :data:`GOPRO_FRAME_COUNTS`; any odd ``M >= 1`` is accepted).
        response: camera response used by :func:`average_frames`.

    Returns:
        ``(blur, sharp)``: float32 ``H x W x C`` arrays; ``sharp`` is a copy of frame ``M // 2``.

    Raises:
        ValueError: if ``M`` is even (no middle frame).

    Example:
        >>> frames = np.random.default_rng(0).random((7, 4, 4, 3), dtype=np.float32)
        >>> blur, sharp = frame_average_pair(frames)
        >>> bool(np.array_equal(sharp, frames[3]))
        True
    """
    arr = _frames_as_float(frames)
    m = arr.shape[0]
    if m % 2 == 0:
        raise ValueError(f"frame_average_pair needs an odd number of frames (a middle frame), got {m}")
    return average_frames(arr, response), arr[m // 2].copy()
