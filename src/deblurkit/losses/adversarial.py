"""Adversarial losses (vanilla, non-saturating, LSGAN, WGAN, hinge), the WGAN-GP gradient
penalty, the relativistic average GAN loss, and the frame classifier's binary cross-entropy.

Discriminators return **logits** / critic scores (no sigmoid), as in
:mod:`deblurkit.models.discriminators`. Which paper uses what:

- S2: vanilla (log) GAN, generator term weight ``lambda = 1e-4``;
- S3, S4, S5: WGAN-GP critics (gradient penalty weight 10), generator term ``-D(G(x))``
  (S3 and S4 weigh the content loss 100; S5 weighs the adversarial term 0.01 and scales the
  discriminator loss by 0.01 too: ``disc_weight``);
- S4's frame classifier: binary cross-entropy on logits, label 1 = blurred.

Example:
    >>> gan = GANLoss("wgan")
    >>> gan(torch.tensor([2.0, 4.0]), target_is_real=True, is_disc=False)   # -mean(D(G(x)))
    tensor(-3.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deblurkit.losses.base import (check_reduction, check_same_shape, check_weight, reduce_loss,
                                   register_loss)

#: Accepted ``gan_type`` values of :func:`gan_loss` / :class:`GANLoss`.
GAN_TYPES: tuple[str, ...] = ("vanilla", "nsgan", "lsgan", "wgan", "hinge")
#: Default weight of the WGAN-GP gradient penalty (Gulrajani et al. 2017; S3-S5).
GRADIENT_PENALTY_WEIGHT = 10.0
#: The gradient norm the penalty pulls towards (1-Lipschitz critic).
GRADIENT_PENALTY_TARGET = 1.0


def gan_loss(pred: Tensor, target_is_real: bool, is_disc: bool, gan_type: str = "vanilla",
             real_label: float = 1.0, fake_label: float = 0.0,
             reduction: str = "mean") -> Tensor:
    """One adversarial term on discriminator outputs ``pred`` (logits or critic scores).

    ``target_is_real`` is the class the term pushes ``pred`` towards: ``True`` for the
    discriminator on real samples and for the generator on its fakes, ``False`` for the
    discriminator on fakes. With ``y`` the label of that class (``real_label`` /
    ``fake_label``, used by the BCE and least-squares types only), ``y'`` the other one and
    ``s = sigmoid``:

    - ``vanilla``: critic ``BCE(s(pred), y)``; generator ``-BCE(s(pred), y')``, the minimax
      ``E[log(1 - D(G(z)))]`` of Goodfellow et al. 2014;
    - ``nsgan``: critic ``BCE(s(pred), y)``; generator ``BCE(s(pred), y)``, i.e.
      ``-E[log D(G(z))]`` (non-saturating);
    - ``lsgan``: ``(pred - y)^2`` for both (mean, no 1/2 factor);
    - ``wgan``: ``-pred`` (towards real) or ``pred`` (towards fake) for both; the generator's
      ``-D(G(x))`` of S3, S4, S5;
    - ``hinge``: critic ``relu(1 - pred)`` (real) / ``relu(1 + pred)`` (fake); generator
      ``-pred``.

    The minimax ``vanilla`` generator loss saturates (vanishing gradient when D wins); most
    GAN code calls its non-saturating variant "vanilla": that is ``nsgan`` here.

    Args:
        pred: discriminator output, any shape (``(B, 1)`` or a PatchGAN map).
        target_is_real: see above.
        is_disc: whether the term trains the discriminator.
        gan_type: one of :data:`GAN_TYPES`.
        real_label, fake_label: BCE / least-squares targets (e.g. 0.9 for one-sided smoothing).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (element-wise).

    Returns:
        0-d tensor, or ``pred``'s shape for ``"none"``.

    Example:
        >>> gan_loss(torch.zeros(3), target_is_real=True, is_disc=True)   # log 2
        tensor(0.6931)
    """
    check_reduction(reduction)
    if gan_type not in GAN_TYPES:
        raise ValueError(f"gan_type must be one of {GAN_TYPES}, got {gan_type!r}")
    label = real_label if target_is_real else fake_label
    other = fake_label if target_is_real else real_label
    if gan_type in ("vanilla", "nsgan"):
        if gan_type == "vanilla" and not is_disc:
            loss = -F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, other),
                                                       reduction="none")
        else:
            loss = F.binary_cross_entropy_with_logits(pred, torch.full_like(pred, label),
                                                      reduction="none")
    elif gan_type == "lsgan":
        loss = (pred - label).square()
    elif gan_type == "wgan" or not is_disc:            # hinge generator is -pred too
        loss = -pred if target_is_real else pred
    else:                                              # hinge discriminator
        loss = F.relu(1.0 - pred) if target_is_real else F.relu(1.0 + pred)
    return reduce_loss(loss, reduction)


@register_loss("gan")
class GANLoss(nn.Module):
    """Adversarial loss of any :data:`GAN_TYPES`, one object for both players (:func:`gan_loss`).

    Args:
        gan_type: ``"vanilla"`` (default), ``"nsgan"``, ``"lsgan"``, ``"wgan"`` or ``"hinge"``.
        real_label, fake_label: targets of the BCE / least-squares types (default 1 and 0).
        weight: multiplies the generator terms (S2: 1e-4, S5: 0.01).
        disc_weight: multiplies the discriminator terms (default 1; S5: 0.01).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Shape:
        - pred: any shape. Output: scalar, or ``pred``'s shape for ``"none"``.

    Example:
        >>> gan = GANLoss("lsgan", weight=0.5)
        >>> gan(torch.tensor([0.0, 2.0]), target_is_real=True, is_disc=False)  # 0.5 * mean(1, 1)
        tensor(0.5000)
    """

    def __init__(self, gan_type: str = "vanilla", real_label: float = 1.0,
                 fake_label: float = 0.0, weight: float = 1.0, disc_weight: float = 1.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"gan_type must be one of {GAN_TYPES}, got {gan_type!r}")
        self.gan_type = gan_type
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)
        self.weight = check_weight(weight)
        self.disc_weight = check_weight(disc_weight)
        self.reduction = check_reduction(reduction)

    def forward(self, pred: Tensor, target_is_real: bool, is_disc: bool = False) -> Tensor:
        loss = gan_loss(pred, target_is_real, is_disc, self.gan_type, self.real_label,
                        self.fake_label, self.reduction)
        return (self.disc_weight if is_disc else self.weight) * loss

    def extra_repr(self) -> str:
        return (f"gan_type={self.gan_type!r}, real_label={self.real_label}, "
                f"fake_label={self.fake_label}, weight={self.weight}, "
                f"disc_weight={self.disc_weight}, reduction={self.reduction!r}")


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     weight: float = GRADIENT_PENALTY_WEIGHT, *,
                     rng: np.random.Generator | None = None, alpha: Tensor | None = None,
                     target_norm: float = GRADIENT_PENALTY_TARGET,
                     reduction: str = "mean") -> Tensor:
    """WGAN-GP gradient penalty (Gulrajani et al. 2017) ``weight * E[(||grad D(x^)||_2 - 1)^2]``.

    For every sample ``b`` one coefficient ``alpha_b ~ U[0, 1)`` mixes
    ``x^_b = alpha_b real_b + (1 - alpha_b) fake_b``; the gradient of ``critic(x^).sum()``
    (a PatchGAN map is summed) with respect to ``x^`` is flattened per sample and its L2 norm
    is taken over all of ``C x H x W`` -- one norm per sample, not per pixel. The graph is kept
    (``create_graph=True``) so the penalty trains the critic. ``real`` and ``fake`` are
    detached: the penalty never reaches the generator.

    Args:
        critic: the discriminator (any callable ``(B, ...) -> (B, ...)``).
        real: ``(B, C, H, W)`` real samples.
        fake: same shape, generated samples.
        weight: ``lambda`` (default 10).
        rng: numpy Generator drawing ``alpha`` (``B`` values); required unless ``alpha`` is given.
        alpha: explicit mixing coefficients ``(B,)`` or ``(B, 1, 1, 1)`` in ``[0, 1]``.
        target_norm: the norm the penalty pulls towards (default 1).
        reduction: ``"mean"`` over the batch (default), ``"sum"`` or ``"none"`` (``(B,)``).

    Returns:
        0-d tensor (or ``(B,)``), already multiplied by ``weight``.

    Example:
        >>> w = torch.full((1, 1, 2, 2), 0.5)           # linear critic, ||w|| = 1
        >>> gp = gradient_penalty(lambda x: (w * x).flatten(1).sum(1), torch.rand(3, 1, 2, 2),
        ...                       torch.rand(3, 1, 2, 2), rng=np.random.default_rng(0))
        >>> float(gp) < 1e-12
        True
    """
    check_reduction(reduction)
    check_same_shape(real, fake, "real and fake")
    if real.ndim < 2:
        raise ValueError(f"real and fake must be batched (B, ...), got {tuple(real.shape)}")
    batch = real.shape[0]
    mix_shape = (batch,) + (1,) * (real.ndim - 1)
    if alpha is None:
        if rng is None:
            raise ValueError("gradient_penalty needs rng=numpy.random.default_rng(seed) "
                             "(or explicit alpha)")
        alpha = torch.from_numpy(rng.random(batch))
    if alpha.numel() != batch:
        raise ValueError(f"alpha needs one value per sample ({batch}), got {alpha.numel()}")
    alpha = alpha.reshape(mix_shape).to(dtype=real.dtype, device=real.device)
    mixed = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    with torch.enable_grad():
        scores = critic(mixed)
        (gradients,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = gradients.flatten(1).norm(p=2, dim=1)
    return check_weight(weight) * reduce_loss((norms - target_norm).square(), reduction)


def relativistic_average_loss(real_pred: Tensor, fake_pred: Tensor, is_disc: bool,
                              reduction: str = "mean") -> Tensor:
    """Relativistic average GAN loss, RaSGAN (Jolicoeur-Martineau 2018), on logits.

    With ``C`` the critic logits and ``BCE`` on logits:

    - discriminator: ``BCE(C(real) - mean C(fake), 1) + BCE(C(fake) - mean C(real), 0)``;
    - generator: ``BCE(C(real) - mean C(fake), 0) + BCE(C(fake) - mean C(real), 1)``.

    The means are over all elements of the batch. The two terms are summed (as in the paper;
    ESRGAN halves them). For the generator, pass ``real_pred.detach()`` if the real branch must
    not be differentiated (only the critic's parameters connect it to the graph anyway).

    Args:
        real_pred: critic logits of real samples, any shape.
        fake_pred: critic logits of generated samples, same shape.
        is_disc: discriminator (True) or generator (False) loss.
        reduction: ``"mean"`` (default), ``"sum"``, or ``"none"`` (element-wise sum of the two
            terms, ``real_pred``'s shape).

    Example:
        >>> relativistic_average_loss(torch.zeros(2), torch.zeros(2), is_disc=True)  # 2 log 2
        tensor(1.3863)
    """
    check_reduction(reduction)
    check_same_shape(real_pred, fake_pred, "real_pred and fake_pred")
    real_rel = real_pred - fake_pred.mean()
    fake_rel = fake_pred - real_pred.mean()
    real_target = 1.0 if is_disc else 0.0
    real_term = F.binary_cross_entropy_with_logits(
        real_rel, torch.full_like(real_rel, real_target), reduction="none")
    fake_term = F.binary_cross_entropy_with_logits(
        fake_rel, torch.full_like(fake_rel, 1.0 - real_target), reduction="none")
    return reduce_loss(real_term + fake_term, reduction)


@register_loss("relativistic_gan")
class RelativisticAverageGANLoss(nn.Module):
    """``weight * relativistic_average_loss(...)`` for the generator, ``disc_weight *`` for D.

    Args:
        weight: multiplies the generator loss (default 1).
        disc_weight: multiplies the discriminator loss (default 1).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> RelativisticAverageGANLoss()(torch.zeros(2), torch.zeros(2), is_disc=False)
        tensor(1.3863)
    """

    def __init__(self, weight: float = 1.0, disc_weight: float = 1.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.weight = check_weight(weight)
        self.disc_weight = check_weight(disc_weight)
        self.reduction = check_reduction(reduction)

    def forward(self, real_pred: Tensor, fake_pred: Tensor, is_disc: bool) -> Tensor:
        loss = relativistic_average_loss(real_pred, fake_pred, is_disc, self.reduction)
        return (self.disc_weight if is_disc else self.weight) * loss

    def extra_repr(self) -> str:
        return (f"weight={self.weight}, disc_weight={self.disc_weight}, "
                f"reduction={self.reduction!r}")


def frame_bce_loss(logits: Tensor, labels: Tensor, pos_weight: float | Tensor | None = None,
                   reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on logits for S4's frame classifier (label 1 = blurred).

    ``-(p * y log s(z) + (1 - y) log(1 - s(z)))`` with ``p = pos_weight`` (default 1):
    ``pos_weight = n_sharp / n_blurred`` balances a training set that has fewer blurred frames.

    Args:
        logits: ``(B,)`` (``FrameClassifier.forward_logits``), or any shape.
        labels: same shape, in ``[0, 1]`` (float; bool / int labels are converted).
        pos_weight: weight of the positive (blurred) class, ``> 0``; ``None`` for 1.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> frame_bce_loss(torch.zeros(2), torch.tensor([1.0, 0.0]), pos_weight=3.0)  # 2 log 2
        tensor(1.3863)
    """
    check_reduction(reduction)
    labels = labels.to(logits.dtype)
    check_same_shape(logits, labels, "logits and labels")
    weight_tensor = None
    if pos_weight is not None:
        if not isinstance(pos_weight, Tensor) and not float(pos_weight) > 0:
            raise ValueError(f"pos_weight must be > 0, got {pos_weight!r}")
        weight_tensor = torch.as_tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight_tensor,
                                              reduction=reduction)


@register_loss("frame_bce")
class FrameBCELoss(nn.Module):
    """``weight * frame_bce_loss(logits, labels, pos_weight, reduction)`` (S4 classifier).

    Args:
        pos_weight: weight of the blurred class (``None``: 1).
        weight: multiplies the result (default 1).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> FrameBCELoss()(torch.zeros(2), torch.tensor([1, 0]))
        tensor(0.6931)
    """

    def __init__(self, pos_weight: float | None = None, weight: float = 1.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        if pos_weight is not None and not float(pos_weight) > 0:
            raise ValueError(f"pos_weight must be > 0, got {pos_weight!r}")
        self.pos_weight = None if pos_weight is None else float(pos_weight)
        self.weight = check_weight(weight)
        self.reduction = check_reduction(reduction)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        return self.weight * frame_bce_loss(logits, labels, self.pos_weight, self.reduction)

    def extra_repr(self) -> str:
        return f"pos_weight={self.pos_weight}, weight={self.weight}, reduction={self.reduction!r}"


__all__ = ["GAN_TYPES", "GRADIENT_PENALTY_TARGET", "GRADIENT_PENALTY_WEIGHT", "FrameBCELoss",
           "GANLoss", "RelativisticAverageGANLoss", "frame_bce_loss", "gan_loss",
           "gradient_penalty", "relativistic_average_loss"]
