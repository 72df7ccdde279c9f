"""Shared pieces of every image-to-image generator: value range and padding.

Every generator in deblurkit takes and returns RGB tensors in ``[0, 1]`` (``B x 3 x H x W``),
whatever range its paper trained in. :class:`RestorationNet` converts to the paper's range
(:class:`ValueRange`), pads the input to the multiple the architecture needs, runs the
network, then converts back and crops to the input size. Subclasses implement
:meth:`RestorationNet.restore`, which works in the network's own range on padded tensors and returns
one tensor or a list of tensors ordered coarse -> fine (multi-scale models).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class ValueRange:
    """Affine map between ``[0, 1]`` images and a network's own value range.

    ``network = (image - offset) / scale`` and ``image = network * scale + offset``.

    Args:
        offset: value subtracted from a ``[0, 1]`` image.
        scale: divisor after the offset.

    Example:
        >>> ValueRange.centered().to_network(torch.tensor(1.0))   # S1: x/255 - 0.5
        tensor(0.5000)
    """

    offset: float = 0.0
    scale: float = 1.0

    @classmethod
    def unit(cls) -> "ValueRange":
        """``[0, 1]`` as is."""
        return cls(0.0, 1.0)

    @classmethod
    def centered(cls) -> "ValueRange":
        """``[-0.5, 0.5]``: S1's ``x / 255 - 0.5``."""
        return cls(0.5, 1.0)

    @classmethod
    def symmetric(cls) -> "ValueRange":
        """``[-1, 1]``: the DeblurGAN family (S3, S4, S5) with a tanh output."""
        return cls(0.5, 0.5)

    def to_network(self, image: Tensor) -> Tensor:
        return (image - self.offset) / self.scale

    def to_image(self, network: Tensor) -> Tensor:
        return network * self.scale + self.offset


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "reflect") -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x`` at the bottom and right so that H and W are multiples of ``multiple``.

    Reflect padding needs the pad to be smaller than the size; larger pads fall back to
    replicate padding.

    Args:
        x: tensor ``B x C x H x W``.
        multiple: the size multiple the network needs (1 = no padding).
        mode: ``"reflect"`` (default) or ``"replicate"`` / ``"constant"``.

    Returns:
        The padded tensor and the original ``(H, W)``.

    Example:
        >>> y, size = pad_to_multiple(torch.zeros(1, 3, 37, 53), 8)
        >>> tuple(y.shape[-2:]), size
        ((40, 56), (37, 53))
    """
    height, width = x.shape[-2:]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (height, width)
    if mode == "reflect" and (pad_h >= height or pad_w >= width):
        mode = "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (height, width)


def crop_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop the top-left ``size = (H, W)`` of ``x`` (undoes :func:`pad_to_multiple`)."""
    return x[..., : size[0], : size[1]]


class RestorationNet(nn.Module):
    """Base class of the generators: ``[0, 1]`` in and out, any input size.

    Subclasses set ``self.value_range`` and ``self.pad_multiple`` in ``__init__`` and implement
    :meth:`restore`. ``forward`` returns the finest output (after ``guard``, when one is
    attached: :mod:`deblurkit.models.guard`); :meth:`forward_scales` returns every
    scale's output (coarse -> fine), each cropped to that scale's share of the input size
    (``ceil(H / 2**k)``), for multi-scale losses.

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``.
        - Output: ``(B, 3, H, W)``, nominally ``[0, 1]`` (not clamped, so losses see the raw
          prediction; clamp when saving).
    """

    value_range: ValueRange = ValueRange.unit()
    pad_multiple: int = 1

    def __init__(self) -> None:
        super().__init__()
        #: An output guard (:class:`deblurkit.models.guard.LowpassGuard`) applied at the end
        #: of ``forward``, set by :func:`deblurkit.models.guard.attach_guard`; None: none.
        self.guard: nn.Module | None = None

    def restore(self, x: Tensor) -> Tensor | list[Tensor]:
        """Run the network on a padded input in the network's own value range."""
        raise NotImplementedError

    def forward_scales(self, x: Tensor) -> list[Tensor]:
        padded, size = pad_to_multiple(x, self.pad_multiple)
        outputs = self.restore(self.value_range.to_network(padded))
        if isinstance(outputs, Tensor):
            outputs = [outputs]
        results = []
        full_h = padded.shape[-2]
        for out in outputs:
            factor = full_h // out.shape[-2]
            scaled = (-(-size[0] // factor), -(-size[1] // factor))
            results.append(crop_to(self.value_range.to_image(out), scaled))
        return results

    def forward(self, x: Tensor) -> Tensor:
        out = self.forward_scales(x)[-1]
        return out if self.guard is None else self.guard(x, out)



#: Values of the generators' ``residual_init`` option: ``"default"`` keeps the paper's
#: initialization; ``"zero"`` zeroes the last layer of the residual branch so that the
#: untrained generator is the identity (output = input) through its global skip.
RESIDUAL_INITS = ("default", "zero")


def check_residual_init(residual_init: str, has_global_skip: bool = True) -> str:
    """Validate a ``residual_init`` argument.

    Args:
        residual_init: one of :data:`RESIDUAL_INITS`.
        has_global_skip: whether the generator adds its input to the residual branch; ``"zero"``
            without it would make a constant (grey) generator, so it is refused.

    Returns:
        ``residual_init`` unchanged.

    Raises:
        ValueError: unknown value, or ``"zero"`` without a global skip.

    Example:
        >>> check_residual_init("zero")
        'zero'
    """
    if residual_init not in RESIDUAL_INITS:
        raise ValueError(f"residual_init must be one of {RESIDUAL_INITS}, got {residual_init!r}")
    if residual_init == "zero" and not has_global_skip:
        raise ValueError("residual_init='zero' needs the global input->output skip "
                         "(without it the untrained network outputs a constant)")
    return residual_init


def zero_init_output_layer_(layer: nn.Module) -> None:
    """Make the last layer of a residual branch output zero, in place.

    Zeroes the weight and the bias. For a weight-normalized layer
    (``torch.nn.utils.parametrizations.weight_norm``, weight ``= g * v / ||v||``) only the
    magnitude ``g`` (``parametrizations.weight.original0``) is zeroed and the direction ``v``
    is kept, so that the layer still has a defined direction. The layer's own parameters get a
    gradient at the first step (its input is not zero); the layers before it get gradients from
    the second step on, once the weight has left zero.

    Args:
        layer: a convolution or linear layer (plain or weight-normalized).

    Example:
        >>> conv = nn.Conv2d(4, 3, 3, padding=1)
        >>> zero_init_output_layer_(conv)
        >>> float(conv(torch.rand(1, 4, 5, 5)).abs().max())
        0.0
    """
    from torch.nn.utils import parametrize

    with torch.no_grad():
        if parametrize.is_parametrized(layer, "weight"):
            layer.parametrizations.weight.original0.zero_()
        else:
            layer.weight.zero_()
        bias = getattr(layer, "bias", None)
        if bias is not None:
            bias.zero_()
