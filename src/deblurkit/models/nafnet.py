"""NAFNet, the honest peer: a modern efficient restoration network, written from its paper.

Chen, Chu, Zhang, Sun, "Simple Baselines for Image Restoration", ECCV 2022 (arXiv
2204.04676). Not one of the five systems this toolkit implements; it is here so that their
CPU-sized variants can be compared with a current, efficient design trained on the same data
for the same CPU time (docs/models.md). Written from the paper's text and figures (Sec. 3,
Fig. 3c, Fig. 4), not from its code.

Blocks::

    NAFBlock(c):                                   (Fig. 3c, Sec. 3.3 - 3.4)
      y = x + beta  * Conv1x1(c->c)( SCA( SimpleGate( DWConv3x3(2c)( Conv1x1(c->2c)( LN(x) )))))
      z = y + gamma * Conv1x1(c->c)( SimpleGate( Conv1x1(c->2c)( LN(y) )))
    SimpleGate(x) = x1 * x2,  x split in two halves along the channels     (Eq. 3)
    SCA(x) = x * Conv1x1(c->c)( GlobalAvgPool(x) )  (simplified channel attention, Eq. 4)
    LN: layer normalisation over the channels of each pixel; beta, gamma: per-channel
    scales, initialised at zero (so each block starts as the identity).

Network (a U-Net of NAFBlocks, Sec. 3 and Fig. 2)::

    Conv3x3(3 -> w)                                                   H
    level l = 0..L-1:  enc_blocks[l] x NAFBlock(w 2^l),  Conv2x2 s2 (w 2^l -> w 2^(l+1))
    middle_blocks x NAFBlock(w 2^L)                                   H / 2^L
    level l = L-1..0:  Conv1x1(w 2^(l+1) -> w 2^(l+2)), PixelShuffle(2)  (-> w 2^l)
                       + encoder features of level l (added, not concatenated),
                       dec_blocks[l] x NAFBlock(w 2^l)
    Conv3x3(w -> 3) + input (global residual)

The paper's deblurring model (GoPro, Table 5) uses ``enc_blocks=(1, 1, 1, 28)``,
``middle_blocks=1``, ``dec_blocks=(1, 1, 1, 1)`` at widths 32 and 64; the variants registered
here keep those block counts at widths 16 and 32 (``nafnet_w16``, ``nafnet_w32``).
``nafnet_fast`` (:data:`FAST_BLOCKS`) is this toolkit's CPU variant: the same blocks on 2x2
pixel blocks (``unshuffle=2``), width 24, depth at the coarse levels, within the default
model's time and file-size budgets.

Choices where the paper is silent, or that this toolkit adds:

- *Dropout*: the paper's ablations train without it; none here.
- *Test-time local converter (TLC)*: a later paper of the same authors; not implemented.
- *Input range*: ``[0, 1]`` as given (``ValueRange.unit()``), output = input + residual.
- *Padding*: the input is padded by reflection to a multiple of ``2^L`` (the model's
  ``pad_multiple``) and cropped back.
- *Identity start*: ``residual_init="zero"`` zeroes the last convolution so the untrained
  network returns its input exactly (an option, for short CPU runs; default ``"default"``,
  PyTorch's initialisation, as the paper does not say otherwise).

Official checkpoints (megvii-research/NAFNet, ``basicsr/models/archs/NAFNet_arch.py``) have
the same parameters under other names; :func:`from_official_state_dict` renames them
(:data:`OFFICIAL_BLOCK_NAMES`, :data:`OFFICIAL_TOP_NAMES`, and the official ``ups`` /
``decoders`` lists run coarse -> fine where this module's run fine -> coarse), and
``deblurkit restore --model NAFNet-GoPro-width32.pth --arch nafnet_w32`` applies it by itself
(:meth:`NAFNet.from_foreign_state_dict`). What the names do not cover:

- the official ``dec_blk_nums`` lists the decoder levels coarse -> fine, ``dec_blocks`` here
  fine -> coarse: give it reversed (the GoPro ``[1, 1, 1, 1]`` reads the same);
- the official ``img_channel`` may differ from 3; here it is 3 (other files are refused by the
  shape check at ``intro.weight``);
- the official code pads the input with zeros at the bottom and right to a multiple of
  ``2^L``; this module reflects (outputs differ near those borders when a side is not a
  multiple of ``2^L``);
- the official GoPro test configuration runs ``NAFNetLocal`` (TLC: local average pooling in
  the channel attention for large inputs); here the attention always pools the whole image.

Example:
    >>> net = NAFNet(width=8, enc_blocks=(1, 1), middle_blocks=1, dec_blocks=(1, 1))
    >>> net(torch.rand(1, 3, 37, 53)).shape
    torch.Size([1, 3, 37, 53])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.models.base import (RestorationNet, ValueRange, check_residual_init,
                                   zero_init_output_layer_)
from deblurkit.models.registry import register_model

PAPER = "Peer: NAFNet (Chen et al., ECCV 2022), Sec. 3, Figs. 2-4"
#: Block counts of the paper's GoPro model (Table 5 setting): encoder levels, middle, decoder.
GOPRO_BLOCKS = {"enc_blocks": (1, 1, 1, 28), "middle_blocks": 1, "dec_blocks": (1, 1, 1, 1)}
#: ``nafnet_fast``: this toolkit's CPU variant, not the paper's. NAFBlocks on 2x2 pixel blocks
#: (``unshuffle=2``: nothing at full resolution, as ``s1_msed_fast``), width 24, and the depth
#: at the coarse levels (1-1-2-6 encoder blocks at 1/2 .. 1/16 of the resolution), the
#: paper's way of spending blocks where they are cheap: 3.93 M parameters (7.9 MB in float16),
#: 0.68 x the time of ``s1_msed_fast`` per 1280x720 frame (docs/models.md).
FAST_BLOCKS = {"width": 24, "enc_blocks": (1, 1, 2, 6), "middle_blocks": 1,
               "dec_blocks": (1, 1, 1, 1), "unshuffle": 2}
#: Expansion of the depthwise branch and of the feed-forward branch (Sec. 3.3: 2).
EXPANSION = 2
#: Epsilon of the layer normalisation.
LN_EPS = 1e-6


def layer_norm_2d(x: Tensor, weight: Tensor, bias: Tensor, eps: float = LN_EPS) -> Tensor:
    """Layer normalisation over the channels of every pixel.

    Args:
        x: ``(B, C, H, W)``.
        weight, bias: ``(C,)`` affine parameters.
        eps: added to the variance.

    Returns:
        ``(B, C, H, W)``: per pixel, the channels have mean 0 and variance 1, then
        ``* weight + bias``.

    Example:
        >>> y = layer_norm_2d(torch.rand(2, 4, 3, 3), torch.ones(4), torch.zeros(4))
        >>> bool(y.mean(1).abs().max() < 1e-5)
        True
    """
    # channels last: the normalised axis becomes the innermost one, where F.layer_norm works
    # (no copy when x is stored channels-last, the fast layout on CPUs)
    # (the normalised size is taken from the weight, a constant when the graph is exported)
    y = F.layer_norm(x.permute(0, 2, 3, 1), (weight.shape[0],), weight, bias, eps)
    return y.permute(0, 3, 1, 2)


def simple_gate(x: Tensor) -> Tensor:
    """SimpleGate (Eq. 3): the two channel halves multiplied, ``(B, 2C, H, W) -> (B, C, H, W)``.

    Raises:
        ValueError: an odd number of channels (the halves would silently broadcast).

    Example:
        >>> simple_gate(torch.arange(4.0).view(1, 4, 1, 1)).flatten().tolist()
        [0.0, 3.0]
    """
    if x.shape[1] % 2:
        raise ValueError(f"simple_gate needs an even number of channels, got {x.shape[1]}")
    a, b = x.chunk(2, dim=1)
    return a * b


class LayerNorm2d(nn.Module):
    """:func:`layer_norm_2d` with learnable ``weight`` (ones) and ``bias`` (zeros)."""

    def __init__(self, channels: int, eps: float = LN_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm_2d(x, self.weight, self.bias, self.eps)


class NAFBlock(nn.Module):
    """The nonlinear-activation-free block (Fig. 3c): a gated depthwise branch with simplified
    channel attention, then a gated feed-forward branch, each added back with a per-channel
    scale that starts at zero.

    Args:
        channels: ``c``, width in and out.
        scale_init: initial value of the two per-channel scales (the paper: 0, so a fresh
            block is the identity and the layers inside it get their first gradient only
            once the scales have moved).

    Shape:
        ``(B, c, H, W) -> (B, c, H, W)``.

    Example:
        >>> NAFBlock(8)(torch.rand(1, 8, 5, 5)).shape
        torch.Size([1, 8, 5, 5])
    """

    def __init__(self, channels: int, scale_init: float = 0.0) -> None:
        super().__init__()
        wide = channels * EXPANSION
        self.norm1 = LayerNorm2d(channels)
        self.expand = nn.Conv2d(channels, wide, 1)
        self.depthwise = nn.Conv2d(wide, wide, 3, padding=1, groups=wide)
        self.attention = nn.Conv2d(wide // 2, wide // 2, 1)
        self.project = nn.Conv2d(wide // 2, channels, 1)
        self.norm2 = LayerNorm2d(channels)
        self.ffn_expand = nn.Conv2d(channels, wide, 1)
        self.ffn_project = nn.Conv2d(wide // 2, channels, 1)
        self.beta = nn.Parameter(torch.full((1, channels, 1, 1), float(scale_init)))
        self.gamma = nn.Parameter(torch.full((1, channels, 1, 1), float(scale_init)))

    def forward(self, x: Tensor) -> Tensor:
        h = simple_gate(self.depthwise(self.expand(self.norm1(x))))
        h = h * self.attention(F.adaptive_avg_pool2d(h, 1))
        y = x + self.beta * self.project(h)
        h = simple_gate(self.ffn_expand(self.norm2(y)))
        return y + self.gamma * self.ffn_project(h)


#: Official NAFNet block parameter names (``NAFBlock`` of ``NAFNet_arch.py``) -> this module's.
OFFICIAL_BLOCK_NAMES = {"conv1": "expand", "conv2": "depthwise", "conv3": "project",
                        "sca.1": "attention", "conv4": "ffn_expand", "conv5": "ffn_project"}
#: Official top-level names -> this module's (``intro``, ``ending``, ``encoders``, ``downs``,
#: ``ups``, ``decoders``, ``norm1``, ``norm2``, ``beta``, ``gamma`` are the same).
OFFICIAL_TOP_NAMES = {"middle_blks": "middle"}
#: Top-level lists the official code indexes coarse -> fine and this module fine -> coarse
#: (official ``ups.k`` / ``decoders.k`` is ``ups.(L-1-k)`` / ``decoders.(L-1-k)`` here).
OFFICIAL_REVERSED_LISTS = ("ups", "decoders")
#: A block parameter key: ``<top>.<level>.<block>.<name>.<leaf>`` or ``middle*.<block>...``.
_BLOCK_KEY = re.compile(r"^(?P<block>(?:encoders|decoders)\.\d+\.\d+|(?:middle|middle_blks)\.\d+)"
                        r"\.(?P<name>.+)\.(?P<leaf>weight|bias)$")


def _levels(keys: Iterable[str]) -> int:
    """``L``: the number of downsamplings (``downs.<i>.*`` keys) a state dict holds."""
    return len({key.split(".")[1] for key in keys if key.startswith("downs.")})


def _rename(key: str, levels: int, tops: Mapping[str, str], blocks: Mapping[str, str]) -> str:
    parts = key.split(".")
    if parts[0] in OFFICIAL_REVERSED_LISTS and len(parts) > 1 and parts[1].isdigit():
        parts[1] = str(levels - 1 - int(parts[1]))
    parts[0] = tops.get(parts[0], parts[0])
    renamed = ".".join(parts)
    match = _BLOCK_KEY.match(renamed)
    if match and match["name"] in blocks:
        renamed = f"{match['block']}.{blocks[match['name']]}.{match['leaf']}"
    return renamed


def looks_official(keys: Iterable[str]) -> bool:
    """Whether state dict keys are in the official NAFNet naming (``middle_blks.*`` or a
    block's ``conv1`` ... ``conv5`` / ``sca.1``).

    Example:
        >>> looks_official(["middle_blks.0.conv1.weight"])
        True
        >>> looks_official(["middle.0.expand.weight"])
        False
    """
    for key in keys:
        match = _BLOCK_KEY.match(key)
        if key.startswith("middle_blks.") or (match and match["name"] in OFFICIAL_BLOCK_NAMES):
            return True
    return False


def from_official_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename an official NAFNet state dict to this module's keys (the tensors are not copied).

    Args:
        state: ``{key: tensor}`` in the official naming (:func:`looks_official`).

    Returns:
        The same tensors under this module's keys, in the same order.

    Example:
        >>> official = {"downs.0.weight": 0, "ups.0.0.weight": 1, "decoders.0.0.conv1.bias": 2}
        >>> list(from_official_state_dict(official))
        ['downs.0.weight', 'ups.0.0.weight', 'decoders.0.0.expand.bias']
    """
    levels = _levels(state)
    return {_rename(k, levels, OFFICIAL_TOP_NAMES, OFFICIAL_BLOCK_NAMES): v
            for k, v in state.items()}


def to_official_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`from_official_state_dict`: this module's keys in the official
    naming (a state dict the official ``NAFNet`` loads).

    Example:
        >>> list(to_official_state_dict({"downs.0.weight": 0, "downs.1.weight": 0,
        ...                              "ups.0.0.weight": 1, "middle.0.attention.bias": 2}))
        ['downs.0.weight', 'downs.1.weight', 'ups.1.0.weight', 'middle_blks.0.sca.1.bias']
    """
    levels = _levels(state)
    tops = {ours: official for official, ours in OFFICIAL_TOP_NAMES.items()}
    blocks = {ours: official for official, ours in OFFICIAL_BLOCK_NAMES.items()}
    return {_rename(k, levels, tops, blocks): v for k, v in state.items()}


def _blocks(count: int, channels: int, scale_init: float) -> nn.Sequential:
    return nn.Sequential(*(NAFBlock(channels, scale_init) for _ in range(count)))


@register_model("nafnet_w16", kind="generator", paper=PAPER + " (GoPro blocks, width 16)",
                width=16, **GOPRO_BLOCKS)
@register_model("nafnet_w32", kind="generator", paper=PAPER + " (GoPro blocks, width 32)",
                width=32, **GOPRO_BLOCKS)
@register_model("nafnet_fast", kind="generator",
                paper=PAPER + " (CPU variant: 2x2 pixel blocks, width 24, blocks 1-1-2-6 / 1)",
                **FAST_BLOCKS)
class NAFNet(RestorationNet):
    """NAFNet (see the module docstring for the blocks and the choices made).

    Args:
        width: channels at full resolution (paper: 32 or 64).
        enc_blocks: NAFBlocks per encoder level, fine -> coarse (its length is the number of
            downsamplings ``L``).
        middle_blocks: NAFBlocks at the coarsest resolution.
        dec_blocks: NAFBlocks per decoder level, fine -> coarse (same length as
            ``enc_blocks``).
        residual_init: ``"default"`` or ``"zero"`` (the untrained network is the identity).
        scale_init: initial value of every block's per-channel scales (paper: 0).
        unshuffle: ``r >= 1``; with ``r > 1`` the network works on ``r x r`` pixel blocks
            (``pixel_unshuffle`` before the first convolution, ``pixel_shuffle`` after the
            last; this toolkit's CPU option, not the paper's: no layer runs at full
            resolution). 1: the paper's network.

    Shape:
        - Input: ``(B, 3, H, W)`` in ``[0, 1]``, any H, W (padded to ``unshuffle * 2^L``,
          cropped back).
        - Output: ``(B, 3, H, W)``.

    Example:
        >>> net = NAFNet(width=8, enc_blocks=(1, 2), middle_blocks=1, dec_blocks=(1, 1),
        ...              residual_init="zero")
        >>> x = torch.rand(1, 3, 16, 16)
        >>> bool(torch.equal(net(x), x))
        True
    """

    def __init__(self, width: int = 32, enc_blocks: Sequence[int] = (1, 1, 1, 28),
                 middle_blocks: int = 1, dec_blocks: Sequence[int] = (1, 1, 1, 1),
                 residual_init: str = "default", scale_init: float = 0.0,
                 unshuffle: int = 1) -> None:
        super().__init__()
        self.residual_init = check_residual_init(residual_init, has_global_skip=True)
        enc, dec = [int(n) for n in enc_blocks], [int(n) for n in dec_blocks]
        if width < 1 or not enc or len(enc) != len(dec) or min(enc + dec + [middle_blocks]) < 0:
            raise ValueError(f"NAFNet: width >= 1 and as many encoder as decoder levels with "
                             f"counts >= 0 needed, got width={width}, enc_blocks={enc_blocks}, "
                             f"dec_blocks={dec_blocks}, middle_blocks={middle_blocks}")
        if isinstance(unshuffle, bool) or int(unshuffle) != unshuffle or unshuffle < 1:
            raise ValueError(f"NAFNet: unshuffle must be an integer >= 1, got {unshuffle!r}")
        self.unshuffle = int(unshuffle)
        self.value_range = ValueRange.unit()
        self.pad_multiple = self.unshuffle * 2 ** len(enc)
        pixels = 3 * self.unshuffle ** 2  # channels of one r x r block of RGB pixels
        widths = [width * 2 ** level for level in range(len(enc) + 1)]
        self.intro = nn.Conv2d(pixels, width, 3, padding=1)
        self.encoders = nn.ModuleList(_blocks(n, widths[i], scale_init) for i, n in enumerate(enc))
        self.downs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2)
                                   for i in range(len(enc)))
        self.middle = _blocks(middle_blocks, widths[-1], scale_init)
        self.ups = nn.ModuleList(nn.Sequential(nn.Conv2d(widths[i + 1], widths[i] * 4, 1,
                                                         bias=False), nn.PixelShuffle(2))
                                 for i in range(len(enc)))
        self.decoders = nn.ModuleList(_blocks(n, widths[i], scale_init) for i, n in enumerate(dec))
        self.ending = nn.Conv2d(width, pixels, 3, padding=1)
        if self.residual_init == "zero":
            zero_init_output_layer_(self.ending)

    @staticmethod
    def from_foreign_state_dict(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The hook :func:`deblurkit.models.weights.load_state_dict_model` calls
        (:data:`~deblurkit.models.weights.FOREIGN_KEYS_HOOK`): an official NAFNet state dict
        renamed by :func:`from_official_state_dict`; any other returned as it is.

        Example:
            >>> list(NAFNet.from_foreign_state_dict({"middle_blks.0.beta": torch.zeros(1)}))
            ['middle.0.beta']
        """
        return from_official_state_dict(state) if looks_official(state) else dict(state)

    def restore(self, x: Tensor) -> Tensor:
        r = self.unshuffle
        h = self.intro(F.pixel_unshuffle(x, r) if r > 1 else x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            h = encoder(h)
            skips.append(h)
            h = down(h)
        h = self.middle(h)
        for level in reversed(range(len(skips))):
            h = self.decoders[level](self.ups[level](h) + skips[level])
        out = self.ending(h)
        return x + (F.pixel_shuffle(out, r) if r > 1 else out)


__all__ = ["FAST_BLOCKS", "GOPRO_BLOCKS", "LayerNorm2d", "NAFBlock", "NAFNet", "OFFICIAL_BLOCK_NAMES",
           "OFFICIAL_REVERSED_LISTS", "OFFICIAL_TOP_NAMES", "from_official_state_dict",
           "layer_norm_2d", "looks_official", "simple_gate", "to_official_state_dict"]
