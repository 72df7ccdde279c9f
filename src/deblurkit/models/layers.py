"""Small building blocks shared by several model families.

* :func:`make_norm` -- a normalization layer by name (``"batch"``, ``"instance"``, ``"none"``),
  with the conventions of the pix2pix / DeblurGAN code base that S3, S4 and S5 descend from.
* :class:`ResnetBlock` -- the residual block of Johnson et al. (2016) as used by the DeblurGAN
  generator (S4, S5): ``pad -> conv3x3 -> norm -> ReLU -> [dropout] -> pad -> conv3x3 -> norm``
  plus the identity.
* :func:`ptelu` / :class:`PTELU` -- the Parametric Tan Hyperbolic Linear Unit of Gupta and
  Duggal (ICCV Workshops 2017), the activation that S3 calls "TPReLU".
* :func:`set_inference_dropout` -- keep dropout (and batch statistics) active in eval mode, the
  pix2pix habit that S4 reports.
* :func:`gaussian_kernel1d` / :func:`gaussian_blur` -- a separable Gaussian blur that exports to
  ONNX with dynamic shapes (S2's input pyramid, the low-pass guard of
  :mod:`deblurkit.models.guard`).

Example:
    >>> block = ResnetBlock(8, norm="instance", dropout=0.5)
    >>> block(torch.zeros(1, 8, 16, 16)).shape
    torch.Size([1, 8, 16, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NORM_KINDS: tuple[str, ...] = ("batch", "instance", "none")
PADDING_KINDS: tuple[str, ...] = ("reflect", "replicate", "zeros")


def make_norm(kind: str, channels: int, *, affine: bool | None = None) -> nn.Module:
    """A 2-D normalization layer chosen by name.

    Follows the pix2pix / DeblurGAN conventions: ``"batch"`` is ``BatchNorm2d`` with learnable
    scale/shift and running statistics; ``"instance"`` is ``InstanceNorm2d`` *without* affine
    parameters and without running statistics (so it behaves identically in train and eval
    mode); ``"none"`` is the identity.

    Args:
        kind: ``"batch"``, ``"instance"`` or ``"none"``.
        channels: number of channels ``C`` normalized.
        affine: override the learnable scale/shift (default: ``True`` for batch norm, ``False``
            for instance norm).

    Returns:
        The normalization module.

    Raises:
        ValueError: for an unknown ``kind``.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.

    Example:
        >>> norm = make_norm("instance", 16)
        >>> type(norm).__name__, norm.affine
        ('InstanceNorm2d', False)
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True if affine is None else affine)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False if affine is None else affine,
                                 track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORM_KINDS}, got {kind!r}")


def conv_bias_for(norm: str) -> bool:
    """Whether a convolution followed by ``norm`` should carry a bias.

    A bias before batch norm is cancelled by the mean subtraction and duplicated by the norm's
    own shift, so it is dropped; instance norm without affine parameters and ``"none"`` keep it
    (the pix2pix rule).
    """
    return norm != "batch"


def _padded_conv3x3(channels: int, padding: str, bias: bool) -> list[nn.Module]:
    if padding not in PADDING_KINDS:
        raise ValueError(f"padding must be one of {PADDING_KINDS}, got {padding!r}")
    if padding == "zeros":
        return [nn.Conv2d(channels, channels, 3, padding=1, bias=bias)]
    pad = nn.ReflectionPad2d(1) if padding == "reflect" else nn.ReplicationPad2d(1)
    return [pad, nn.Conv2d(channels, channels, 3, padding=0, bias=bias)]


class ResnetBlock(nn.Module):
    """Johnson-style residual block: ``x + F(x)`` with
    ``F = pad, conv3x3, norm, ReLU, dropout, pad, conv3x3, norm``.

    Args:
        channels: input = output channels.
        norm: ``"instance"`` (default, DeblurGAN), ``"batch"`` or ``"none"``
            (see :func:`make_norm`).
        dropout: dropout probability after the first ReLU (0 disables it; S4 uses 0.5).
        padding: ``"reflect"`` (default, as DeblurGAN), ``"replicate"`` or ``"zeros"``.

    Attributes:
        body: the residual branch ``F`` as an ``nn.Sequential``.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``; any ``H, W >= 2`` (reflect padding needs 2).

    Example:
        >>> ResnetBlock(4)(torch.ones(2, 4, 5, 7)).shape
        torch.Size([2, 4, 5, 7])
    """

    def __init__(self, channels: int, norm: str = "instance", dropout: float = 0.0,
                 padding: str = "reflect") -> None:
        super().__init__()
        bias = conv_bias_for(norm)
        layers: list[nn.Module] = [*_padded_conv3x3(channels, padding, bias),
                                   make_norm(norm, channels), nn.ReLU(inplace=True)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [*_padded_conv3x3(channels, padding, bias), make_norm(norm, channels)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def ptelu(x: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
    """Parametric Tan Hyperbolic Linear Unit (Gupta and Duggal, 2017).

    ``f(x) = x`` for ``x >= 0`` and ``alpha * tanh(beta * x)`` for ``x < 0``.

    Args:
        x: input tensor ``(B, C, ...)``.
        alpha: per-channel scale of the negative branch, shape ``(C,)``.
        beta: per-channel slope of the negative branch, shape ``(C,)``.

    Returns:
        Tensor of the shape of ``x``.

    Example:
        >>> ptelu(torch.tensor([[-1.0, 2.0]]).view(1, 1, 2), torch.ones(1), torch.ones(1))
        tensor([[[-0.7616,  2.0000]]])
    """
    shape = (1, -1) + (1,) * (x.dim() - 2)
    negative = alpha.view(shape) * torch.tanh(beta.view(shape) * x)
    return torch.where(x >= 0, x, negative)


class PTELU(nn.Module):
    """P-TELU activation with learnable per-channel ``alpha`` and ``beta`` (S3's "TPReLU").

    ``f(x) = x`` for ``x >= 0``, ``alpha * tanh(beta * x)`` for ``x < 0``.

    The paper of Gupta and Duggal constrains neither parameter in a way that this text could
    recover; we initialise ``alpha = beta = 1`` (``alpha_init``, ``beta_init``), so that the
    slope just left of zero (``alpha * beta``) equals the slope right of zero (1): the
    activation starts continuously differentiable and saturates at ``-alpha`` for very negative
    inputs, like an ELU.

    Args:
        channels: number of channels ``C`` (one ``alpha`` and one ``beta`` per channel).
        alpha_init: initial value of every ``alpha``.
        beta_init: initial value of every ``beta``.

    Shape:
        ``(B, C, ...) -> (B, C, ...)``.

    Example:
        >>> act = PTELU(3)
        >>> act(torch.zeros(1, 3, 2, 2)).shape
        torch.Size([1, 3, 2, 2])
    """

    def __init__(self, channels: int, alpha_init: float = 1.0, beta_init: float = 1.0) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((channels,), float(alpha_init)))
        self.beta = nn.Parameter(torch.full((channels,), float(beta_init)))

    def forward(self, x: Tensor) -> Tensor:
        return ptelu(x, self.alpha, self.beta)

    def extra_repr(self) -> str:
        return f"{self.alpha.numel()}"


def set_inference_dropout(module: nn.Module, enabled: bool) -> None:
    """Keep the dropout and batch-norm layers of ``module`` in training behaviour in eval mode.

    This is the pix2pix habit (its test script never calls ``eval()``), which S4 reports using.
    Call it after ``module.eval()``; call it again with ``enabled=False`` before training
    (:class:`~deblurkit.models.s4_deblurnet.FrameDeblurNet` does both in its ``train``).
    Batch-norm layers then normalize with the statistics of the current batch but do *not*
    update their running averages (their momentum is 0 until ``enabled=False`` restores it;
    ``num_batches_tracked`` still counts). Instance norm (``track_running_stats=False``)
    behaves the same in both modes, so only dropout changes there.

    Args:
        module: the network (already in eval mode).
        enabled: ``True`` to keep dropout / batch statistics active, ``False`` to restore the
            layers' ordinary eval behaviour (when the module is in eval mode).

    Example:
        >>> net = nn.Sequential(nn.Dropout(0.5)).eval()
        >>> set_inference_dropout(net, True); net[0].training
        True
    """
    for layer in module.modules():
        if isinstance(layer, nn.modules.dropout._DropoutNd):
            layer.training = enabled or module.training
        elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
            if enabled and not module.training:
                if not hasattr(layer, "_deblurkit_momentum"):
                    layer._deblurkit_momentum = layer.momentum
                layer.momentum = 0.0
                layer.training = True
            elif hasattr(layer, "_deblurkit_momentum"):
                layer.momentum = layer._deblurkit_momentum
                del layer._deblurkit_momentum
                layer.training = module.training


def adaptive_avg_pool2d(x: Tensor, bins: int) -> Tensor:
    """Adaptive average pooling to ``bins x bins``, written with slices so it exports.

    Bin ``i`` of a side of length ``L`` averages ``[floor(i L / b), ceil((i + 1) L / b))``,
    exactly :func:`torch.nn.functional.adaptive_avg_pool2d`; unlike it, the graph traces with
    dynamic height and width (ONNX has no adaptive pooling operator).

    Args:
        x: input ``(B, C, H, W)`` with ``H, W >= bins``.
        bins: output side.

    Shape: ``(B, C, H, W) -> (B, C, bins, bins)``.

    Example:
        >>> x = torch.rand(1, 2, 7, 9)
        >>> torch.allclose(adaptive_avg_pool2d(x, 3), torch.nn.functional.adaptive_avg_pool2d(x, 3))
        True
    """
    height, width = x.shape[-2], x.shape[-1]

    def bounds(i: int, length):
        return (i * length) // bins, ((i + 1) * length + bins - 1) // bins

    rows = []
    for i in range(bins):
        top, bottom = bounds(i, height)
        cells = []
        for j in range(bins):
            left, right = bounds(j, width)
            cells.append(x[..., top:bottom, left:right].mean(dim=(-2, -1), keepdim=True))
        rows.append(torch.cat(cells, dim=-1))
    return torch.cat(rows, dim=-2)


def gaussian_kernel1d(kernel_size: int, sigma: float, *,
                      dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None) -> Tensor:
    """Normalised 1-D Gaussian taps ``exp(-t^2 / (2 sigma^2))``, ``t`` centred on 0.

    Example:
        >>> gaussian_kernel1d(3, 1.0).sum()
        tensor(1.)
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    t = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    taps = torch.exp(-(t ** 2) / (2 * sigma ** 2))
    return (taps / taps.sum()).to(dtype=dtype, device=device)


def gaussian_blur(x: Tensor, kernel_size: int, sigma: float) -> Tensor:
    """Separable Gaussian blur of every channel with reflect padding (replicate for tiny inputs).

    Shape: ``(B, C, H, W) -> (B, C, H, W)``.
    """
    batch, channels, height, width = x.shape
    taps = gaussian_kernel1d(kernel_size, sigma, dtype=x.dtype, device=x.device)
    radius = kernel_size // 2
    mode = "reflect" if min(height, width) > radius else "replicate"
    # every channel blurred as its own one-channel image: a fixed-shape kernel, so the graph
    # exports to ONNX with dynamic batch, channels and size
    y = F.pad(x.reshape(batch * channels, 1, height, width), (radius, radius, radius, radius),
              mode=mode)
    y = F.conv2d(y, taps.view(1, 1, 1, -1))
    y = F.conv2d(y, taps.view(1, 1, -1, 1))
    return y.reshape(batch, channels, height, width)
