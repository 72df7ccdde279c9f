"""Weight-space interpolation between two trained models of one architecture.

A fine-tuned model and the model it started from can be blended in weight space,
``(1 - alpha) * start + alpha * end`` tensor by tensor (Wortsman et al., "Robust fine-tuning
of zero-shot models", CVPR 2022: WiSE-FT). For deblurkit it trades the two runs' behaviours
with one number fitted after training: the bundled default gains more on blurred pictures,
a fine-tune with more unblurred samples leaves clean pictures alone; a blend in between is
measured on the tuning set (``make realtune``), never on the validation set
(docs/default-model.md).

Only floating-point tensors are blended; integer buffers (batch-norm's
``num_batches_tracked``) are taken from ``end``. Both models must have been built with the
same registered name and arguments (``deblurkit_name`` / ``deblurkit_kwargs``, set by
:func:`~deblurkit.models.create_model`), so their tensors correspond one to one.

Example:
    >>> from deblurkit.models import create_model
    >>> a, b = create_model("s4_deblurnet"), create_model("s4_deblurnet")
    >>> mid = interpolate_weights(a, b, 0.5)
    >>> mid is not a and mid is not b
    True
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from deblurkit.errors import UserError

__all__ = ["interpolate_state", "interpolate_weights"]


@torch.no_grad()
def interpolate_state(start: dict[str, torch.Tensor], end: dict[str, torch.Tensor],
                      alpha: float) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * start + alpha * end`` for each floating-point tensor of two state dicts.

    Args:
        start: state dict at ``alpha = 0``.
        end: state dict at ``alpha = 1``, with the same keys and shapes.
        alpha: blend weight in [0, 1] (0 gives ``start``, 1 gives ``end`` exactly).

    Returns:
        A new state dict (fresh tensors, ``end``'s dtypes); non-floating tensors are copies of
        ``end``'s.

    Raises:
        UserError: ``alpha`` outside [0, 1], or the keys or shapes differ.
    """
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha must be in [0, 1], got {alpha}")
    if start.keys() != end.keys():
        only = sorted(set(start) ^ set(end))
        raise UserError(f"the two models' tensors differ: {', '.join(only[:5])}"
                        + (" ..." if len(only) > 5 else ""))
    out = {}
    for key, b in end.items():
        a = start[key]
        if a.shape != b.shape:
            raise UserError(f"tensor {key}: shape {tuple(a.shape)} against {tuple(b.shape)}")
        if not b.is_floating_point() or alpha == 1.0:   # counters, and the exact end point
            out[key] = b.clone()
        else:
            out[key] = torch.lerp(a.to(torch.float64), b.to(torch.float64), alpha).to(b.dtype)
    return out


def interpolate_weights(start: nn.Module, end: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``end`` whose weights are ``(1 - alpha) * start + alpha * end``.

    Args:
        start: the model at ``alpha = 0`` (for example the weights a fine-tune started from).
        end: the model at ``alpha = 1`` (the fine-tuned weights); the result is a deep copy of
            it, so it keeps its registered name, arguments and mode.
        alpha: blend weight in [0, 1].

    Returns:
        A new module; ``start`` and ``end`` are left unchanged.

    Raises:
        UserError: the two were built from different architectures (name or arguments), or
            ``alpha`` is outside [0, 1].

    Example:
        >>> from deblurkit.models import create_model
        >>> a = create_model("s4_frame_selector", stem_channels=4, widths=[4, 8, 8, 8])
        >>> same = interpolate_weights(a, a, 0.3)   # a blend of a model with itself is itself
        >>> all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
        ...                                        same.state_dict().values()))
        True
    """
    for attr in ("deblurkit_name", "deblurkit_kwargs"):
        if getattr(start, attr, None) != getattr(end, attr, None):
            raise UserError(f"different architectures: {getattr(start, attr, None)!r} against "
                            f"{getattr(end, attr, None)!r} ({attr})")
    blended = copy.deepcopy(end)
    blended.load_state_dict(interpolate_state(start.state_dict(), end.state_dict(), alpha))
    return blended
