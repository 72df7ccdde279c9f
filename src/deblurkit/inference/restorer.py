"""Restore images in Python: :class:`Restorer` (holds a loaded model) and :func:`restore`.

Type in, same type out:

- numpy ``H x W x 3`` / ``H x W x 1`` / ``H x W`` (gray) arrays, ``uint8`` / ``uint16`` at
  their native range or float in ``[0, 1]`` -> same dtype and shape. ``H x W x 4`` (RGBA) and
  ``H x W x 2`` (gray + alpha) keep their alpha channel unchanged. Float inputs are clipped
  to ``[0, 1]`` before the model sees them. Integer outputs are rounded half to even
  (:func:`deblurkit.io.from_float`).
- gray images are replicated to RGB for the model and converted back by *averaging* the
  three restored channels (the model saw R = G = B, so the channels differ only by the
  model's own noise; an average treats them alike where luma weights would favour green).
- ``PIL.Image.Image`` (modes ``L``, ``LA``, ``RGB``, ``RGBA``, ``I;16``; other modes are
  converted to ``RGB``/``RGBA`` first) -> a PIL image of the same mode.
- ``torch.Tensor`` ``C x H x W`` or ``B x C x H x W`` (C = 1 or 3), floating point in
  ``[0, 1]`` or ``uint8`` -> same shape, dtype and device.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from deblurkit.inference.backends import Backend, TorchBackend
from deblurkit.inference.tiling import DEFAULT_OVERLAP, auto_overlap, auto_tile_size, restore_tiled

if TYPE_CHECKING:
    from deblurkit.models.files import ModelSpec

#: Default overlap of neighbouring tiles, in pixels.
DEFAULT_TILE_OVERLAP = DEFAULT_OVERLAP


class _Checked:
    """The backend as each tile sees it: with test-time augmentation when asked, refusing a
    non-finite result (:class:`~deblurkit.errors.ModelOutputError`); tiles are planned on
    the backend's own ``pad_multiple``."""

    def __init__(self, backend: Backend, tta: int) -> None:
        self.backend, self.tta = backend, tta
        self.pad_multiple = getattr(backend, "pad_multiple", 1)

    def __call__(self, batch: Tensor) -> Tensor:
        from deblurkit.errors import ModelOutputError
        from deblurkit.inference.tta import self_ensemble

        out = self.backend(batch) if self.tta == 1 else self_ensemble(self.backend, batch,
                                                                      self.tta)
        if not bool(torch.isfinite(out).all()):
            raise ModelOutputError()
        return out


def _is_backend(obj: Any) -> bool:
    return callable(obj) and not isinstance(obj, nn.Module) and hasattr(obj, "pad_multiple")


class Restorer:
    """A loaded model plus the tiling options, restoring images of any supported type.

    Args:
        model: ``"default"`` (the bundled model, :mod:`deblurkit.pretrained`), a registered name, a
            model file (``.safetensors``, ``.onnx``, ``.pt``; see
            :func:`deblurkit.inference.resolve.load_backend`), a parsed
            :class:`~deblurkit.models.files.ModelSpec` (a state dict with its architecture:
            ``parse_model_spec("w.pth", arch="nafnet_w32")``), a ready
            :class:`~deblurkit.inference.backends.Backend`, or an ``nn.Module`` generator.
        tile: None (whole image at once), a tile side in pixels, or ``"auto"`` (from the
            memory available, :func:`~deblurkit.inference.tiling.auto_tile_size`, computed
            once).
        overlap: minimum overlap of tiles in pixels, or ``"auto"`` (the model's measured
            receptive field, which makes tiled and untiled outputs agree).
        margin: pixels next to a cut tile edge given no weight (default ``overlap // 4``;
            ``overlap // 2`` with ``overlap="auto"``).
        device, dtype, channels_last: for torch backends (see
            :class:`~deblurkit.inference.backends.TorchBackend`).
        backend: ``"torch"`` or ``"onnxruntime"`` when ``model`` is a name or file.
        tta: test-time augmentation, the number of flipped / rotated views averaged (1 off, 2,
            4 or 8: :func:`deblurkit.inference.tta.self_ensemble`); costs that many passes.

    Example:
        >>> restorer = Restorer("s1_msed", tile="auto")          # doctest: +SKIP
        >>> sharp = restorer(np.asarray(PIL.Image.open("blurred.jpg")))   # doctest: +SKIP
    """

    def __init__(self, model: str | os.PathLike | ModelSpec | Backend | nn.Module = "default", *,
                 tile: int | str | None = None, overlap: int | str = DEFAULT_TILE_OVERLAP,
                 margin: int | None = None, device: str = "auto", dtype: str = "fp32",
                 channels_last: bool = True, backend: str = "torch", tta: int = 1) -> None:
        from deblurkit.inference.tta import TTA_MODES

        if tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
        self.tta = tta
        if isinstance(model, nn.Module):
            self.backend: Backend = TorchBackend(model, device=device, dtype=dtype,
                                                 channels_last=channels_last)
        elif _is_backend(model):
            self.backend = model  # type: ignore[assignment]
        else:
            from deblurkit.inference.resolve import load_backend

            self.backend = load_backend(model, backend=backend, device=device, dtype=dtype,
                                        channels_last=channels_last)
        if tile is not None and tile != "auto" and (not isinstance(tile, int) or tile < 1):
            raise ValueError(f"tile must be None, 'auto' or a positive int, got {tile!r}")
        if overlap != "auto" and (not isinstance(overlap, int) or overlap < 0):
            raise ValueError(f"overlap must be 'auto' or an int >= 0, got {overlap!r}")
        from deblurkit.inference.tiling import check_tiling

        check_tiling(tile, overlap, int(getattr(self.backend, "pad_multiple", 1) or 1))
        self.tile = tile
        self.overlap = overlap
        self.margin = margin
        #: Optional ``on_tile(done, total)`` called after each tile of a tiled pass (for
        #: progress bars); None: silent.
        self.on_tile: Any = None
        self._auto_tile: int | None = None

    def __repr__(self) -> str:
        return (f"Restorer({self.backend!r}, tile={self.tile!r}, overlap={self.overlap!r}, "
                f"tta={self.tta})")

    def tile_size(self) -> int | None:
        """The tile side used (``"auto"`` resolved once), or None for whole images."""
        if self.tile == "auto":
            if self._auto_tile is None:
                self._auto_tile = auto_tile_size(self.backend)
            return self._auto_tile
        return self.tile  # type: ignore[return-value]

    # ------------------------------------------------------------------ tensors (the core)
    def restore_tensor(self, batch: Tensor) -> Tensor:
        """``(B, 3, H, W)`` float32 ``[0, 1]`` -> restored float32 on ``batch``'s device.

        Raises:
            ModelOutputError: the model returned NaN or infinite values.

        Shape:
            ``(B, 3, H, W)`` -> ``(B, 3, H, W)``.
        """
        from deblurkit.inference.tta import self_ensemble

        from deblurkit.errors import ModelOutputError

        with torch.inference_mode():
            if self.tta == 1:
                out = self._restore_once(batch)
            else:
                out = self_ensemble(self._restore_once, batch, self.tta)
            if not bool(torch.isfinite(out).all()):
                raise ModelOutputError()
            return out

    def _restore_once(self, batch: Tensor) -> Tensor:
        tile = self.tile_size()
        if tile is None:
            return self.backend(batch).to(batch.device, torch.float32)
        overlap, margin = self._overlap_and_margin(tile)
        return restore_tiled(self.backend, batch, tile, overlap, margin=margin,
                             progress=self.on_tile)

    def _overlap_and_margin(self, tile: int) -> tuple[int, int | None]:
        """The overlap and margin for ``tile`` (``"auto"`` resolved from the backend)."""
        if self.overlap != "auto":
            return int(self.overlap), self.margin
        overlap, auto_margin = auto_overlap(self.backend, tile)
        return overlap, auto_margin if self.margin is None else self.margin

    def restore_array(self, rgb_float: np.ndarray) -> np.ndarray:
        """``H x W x 3`` float32 ``[0, 1]`` -> restored ``H x W x 3`` float32 ``[0, 1]``.

        Example:
            >>> restorer.restore_array(np.zeros((32, 32, 3), np.float32)).shape  # doctest: +SKIP
            (32, 32, 3)
        """
        array = np.asarray(rgb_float)
        if array.ndim != 3 or array.shape[2] != 3:
            raise ValueError(f"expected an H x W x 3 array, got shape {array.shape}")
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32).transpose(2, 0, 1))
        x = x[None].clamp(0.0, 1.0)
        y = self.restore_tensor(x)
        return np.ascontiguousarray(y[0].permute(1, 2, 0).cpu().numpy(), dtype=np.float32)

    # ------------------------------------------------------------------ typed front doors
    def __call__(self, image: Any) -> Any:
        """Restore ``image`` (numpy array, PIL image or tensor); returns the same type."""
        if isinstance(image, Tensor):
            return self._restore_torch(image)
        if isinstance(image, np.ndarray):
            return self._restore_numpy(image)
        try:
            import PIL.Image
        except ImportError:  # pragma: no cover - Pillow is a dependency
            PIL = None  # noqa: N806
        if PIL is not None and isinstance(image, PIL.Image.Image):
            return self._restore_pil(image)
        raise TypeError(f"cannot restore a {type(image).__name__}; pass a numpy array, "
                        "a PIL image or a torch tensor")

    def _restore_numpy(self, image: np.ndarray) -> np.ndarray:
        """Restore strip by strip (:func:`~deblurkit.inference.tiling.restore_strips`): the
        picture stays in its own dtype, only a strip of tiles is ever float32, so memory is
        the input, the output and one strip, at any size."""
        from deblurkit.inference.tiling import restore_strips
        from deblurkit.io import from_float, to_float
        from deblurkit.io.convert import bit_depth_of

        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4)):
            raise ValueError(f"expected H x W or H x W x C (C in 1..4) image, got {image.shape}")
        if not (np.issubdtype(image.dtype, np.floating) or image.dtype in (np.uint8, np.uint16)):
            raise TypeError(f"expected uint8, uint16 or float pixels, got {image.dtype}")
        layout = image if image.ndim == 3 else image[:, :, None]
        height, width, channels = layout.shape
        colour_channels = 3 if channels >= 3 else 1
        floating = np.issubdtype(image.dtype, np.floating)
        out_colour = np.empty((height, width, colour_channels), image.dtype)

        def read(y0: int, y1: int, x0: int, x1: int) -> Tensor:
            colour = to_float(layout[y0:y1, x0:x1, :colour_channels])
            rgb = np.repeat(colour, 3, axis=2) if colour_channels == 1 else colour
            rgb = np.clip(rgb, 0.0, 1.0).transpose(2, 0, 1)
            return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))[None]

        def write(y0: int, y1: int, rows: Tensor) -> None:
            restored = np.ascontiguousarray(rows[0].permute(1, 2, 0).cpu().numpy(),
                                            dtype=np.float32)
            if colour_channels == 1:
                restored = restored.mean(axis=2, keepdims=True, dtype=np.float32)
            out_colour[y0:y1] = (restored.astype(image.dtype, copy=False) if floating
                                 else from_float(restored, bit_depth_of(image.dtype)))

        tile = self.tile_size()
        if tile is None:                 # one pass over the whole picture
            tile, (overlap, margin) = max(height, width), (0, self.margin)
        else:
            overlap, margin = self._overlap_and_margin(tile)
        restore_strips(_Checked(self.backend, self.tta), height, width, read, write, tile,
                       overlap, margin=margin, progress=self.on_tile)
        if channels in (2, 4):  # alpha passes through untouched
            out = np.concatenate([out_colour, layout[:, :, colour_channels:]], axis=2)
        else:
            out = out_colour
        return out if image.ndim == 3 else out[:, :, 0]

    def _restore_pil(self, image: Any) -> Any:
        import PIL.Image

        mode = image.mode
        if mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
            has_alpha = "A" in mode or "transparency" in image.info
            mode = "RGBA" if has_alpha else "RGB"
            image = image.convert(mode)
        array = np.asarray(image)
        if mode == "I;16":
            array = array.astype(np.uint16)
        restored = self._restore_numpy(array)
        return PIL.Image.fromarray(restored, mode=mode) if mode != "I;16" else \
            PIL.Image.fromarray(restored.astype("<u2"), mode="I;16")

    def _restore_torch(self, image: Tensor) -> Tensor:
        if image.ndim not in (3, 4) or image.shape[-3] not in (1, 3):
            raise ValueError(f"expected C x H x W or B x C x H x W (C = 1 or 3), got "
                             f"{tuple(image.shape)}")
        batch = image if image.ndim == 4 else image[None]
        if image.dtype == torch.uint8:
            x = batch.float() / 255.0
        elif image.is_floating_point():
            x = batch.float().clamp(0.0, 1.0)
        else:
            raise TypeError(f"expected a floating point or uint8 tensor, got {image.dtype}")
        gray = x.shape[1] == 1
        if gray:
            x = x.expand(-1, 3, -1, -1)
        with torch.inference_mode():
            y = self.restore_tensor(x.contiguous())
        if gray:
            y = y.mean(dim=1, keepdim=True)
        if image.dtype == torch.uint8:
            y = torch.round(y * 255.0).to(torch.uint8)
        else:
            y = y.to(image.dtype)
        y = y.to(image.device)
        return y if image.ndim == 4 else y[0]


def restore(image: Any, model: str | os.PathLike | Backend | nn.Module = "default",
            **kwargs: Any) -> Any:
    """Restore one image with a model loaded for this call (see :class:`Restorer`).

    Args:
        image: numpy array, PIL image or tensor (module docstring for the rules).
        model: as for :class:`Restorer`.
        **kwargs: :class:`Restorer` options (``tile``, ``overlap``, ``device``, ``dtype``...).

    Returns:
        The restored image, same type, shape and dtype as ``image``.

    Example:
        >>> import deblurkit
        >>> sharp = deblurkit.restore(blurred, model="net.safetensors")   # doctest: +SKIP
    """
    return Restorer(model, **kwargs)(image)
