"""Sample-format conversions: integer <-> float arrays, arrays <-> torch tensors.

Conventions (see docs/io.md):

- integer images are ``uint8`` (0..255) or ``uint16`` (0..65535) at their native range;
- float images are ``float32`` in ``[0, 1]``; ``to_float`` divides by the maximum code value
  (255 or 65535), ``from_float`` multiplies, clips to ``[0, max]`` and rounds half to even;
- tensors are ``B x C x H x W`` float32 in ``[0, 1]``.

torch is imported lazily (only inside the tensor functions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The largest code value of each supported integer bit depth.
MAX_VALUE: dict[int, int] = {8: 255, 16: 65535}
#: The numpy dtype that holds each supported bit depth.
DTYPE_FOR_DEPTH: dict[int, type[np.unsignedinteger]] = {8: np.uint8, 16: np.uint16}


def bit_depth_of(dtype: np.dtype | type) -> int:
    """Bit depth of an integer image dtype (8 for ``uint8``, 16 for ``uint16``).

    Raises:
        TypeError: for any other dtype.
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 8
    if dtype == np.uint16:
        return 16
    raise TypeError(f"expected a uint8 or uint16 image, got dtype {dtype}")


def _check_depth(bit_depth: int) -> int:
    if bit_depth not in MAX_VALUE:
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    return bit_depth


def to_float(array: np.ndarray) -> np.ndarray:
    """Integer image -> float32 in ``[0, 1]``; float input passes through as float32.

    ``uint8`` is divided by 255 and ``uint16`` by 65535, so that ``from_float(to_float(x),
    depth)`` gives ``x`` back exactly for the same depth. Float arrays are only cast to
    float32 (no clipping, no copy when already float32).

    Args:
        array: an image of any shape, dtype ``uint8``, ``uint16`` or floating point.

    Returns:
        A float32 array of the same shape.

    Shape:
        any -> same.

    Example:
        >>> to_float(np.array([0, 51, 255], dtype=np.uint8))
        array([0. , 0.2, 1. ], dtype=float32)
    """
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float32, copy=False)
    depth = bit_depth_of(array.dtype)
    return array.astype(np.float32) / np.float32(MAX_VALUE[depth])


def from_float(array: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Float image in ``[0, 1]`` -> ``uint8`` / ``uint16``: clip, scale, round half to even.

    ``v = rint(clip(x, 0, 1) * (2**bit_depth - 1))``. Values outside ``[0, 1]`` (including
    +/-inf) are clipped; NaN is an error, because it always means a bug upstream. Integer
    input is accepted and converted through :func:`to_float` (so ``uint16 -> 8`` bits gives
    ``rint(v / 257)``).

    Args:
        array: float image of any shape (or uint8/uint16).
        bit_depth: 8 or 16.

    Returns:
        ``uint8`` (bit_depth 8) or ``uint16`` (bit_depth 16) array of the same shape.

    Raises:
        ValueError: NaN in the input, or a bit depth other than 8/16.

    Shape:
        any -> same.

    Example:
        >>> from_float(np.array([-0.1, 0.5, 0.2, 1.7]))
        array([  0, 128,  51, 255], dtype=uint8)
    """
    _check_depth(bit_depth)
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        if bit_depth_of(array.dtype) == bit_depth:
            return array.copy()
        array = to_float(array)
    # float64 input keeps its precision; anything narrower is computed in float32.
    work = np.float64 if array.dtype == np.float64 else np.float32
    if np.isnan(array).any():
        raise ValueError("cannot quantize an image that contains NaN")
    scaled = np.clip(array.astype(work, copy=False), 0.0, 1.0) * work(MAX_VALUE[bit_depth])
    return np.rint(scaled).astype(DTYPE_FOR_DEPTH[bit_depth])


def convert_bit_depth(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer image -> the same image at another bit depth (exact where exactness exists).

    ``uint8 -> 16``: ``v * 257`` (0 -> 0, 255 -> 65535; lossless). ``uint16 -> 8``:
    ``rint(v / 257)`` (the same as ``from_float(to_float(v), 8)``; there are no ties).
    Float input is quantized with :func:`from_float`.

    Example:
        >>> convert_bit_depth(np.array([0, 128, 255], dtype=np.uint8), 16)
        array([    0, 32896, 65535], dtype=uint16)
    """
    _check_depth(bit_depth)
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return from_float(array, bit_depth)
    depth = bit_depth_of(array.dtype)
    if depth == bit_depth:
        return array
    if bit_depth == 16:
        return array.astype(np.uint16) * np.uint16(257)
    return from_float(array, 8)


def image_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """``H x W x C`` (or ``H x W``) image of any supported dtype -> ``1 x C x H x W`` tensor.

    Integer images are scaled to ``[0, 1]`` with :func:`to_float`; float images are only cast
    to float32.

    Args:
        pixels: the image, ``uint8``/``uint16``/float.

    Returns:
        A contiguous float32 CPU tensor.

    Shape:
        ``(H, W, C)`` or ``(H, W)`` -> ``(1, C, H, W)`` (``C = 1`` for a 2-D input).

    Example:
        >>> image_to_tensor(np.zeros((4, 5, 3), np.uint8)).shape
        torch.Size([1, 3, 4, 5])
    """
    import torch

    array = to_float(pixels)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"expected an H x W x C image, got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


def tensor_to_image(tensor: torch.Tensor, bit_depth: int = 8) -> np.ndarray:
    """``1 x C x H x W`` or ``C x H x W`` float tensor -> ``H x W x C`` uint8/uint16 array.

    The tensor is detached and moved to the CPU, then quantized with :func:`from_float`
    (clip to ``[0, 1]``, round half to even).

    Args:
        tensor: float tensor in ``[0, 1]``; a batch dimension must be 1.
        bit_depth: 8 or 16.

    Returns:
        ``uint8`` or ``uint16`` array.

    Shape:
        ``(1, C, H, W)`` or ``(C, H, W)`` -> ``(H, W, C)``.

    Example:
        >>> import torch
        >>> tensor_to_image(torch.ones(1, 3, 2, 2)).max()
        np.uint8(255)
    """
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a batch of one image, got shape {tuple(tensor.shape)}")
        tensor = tensor[0]
    if tensor.ndim != 3:
        raise ValueError(f"expected a C x H x W tensor, got shape {tuple(tensor.shape)}")
    array = tensor.detach().to("cpu").float().numpy().transpose(1, 2, 0)
    return from_float(array, bit_depth)
