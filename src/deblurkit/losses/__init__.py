"""Losses of the five systems, as functions and thin modules, named in a registry.

====================  ===========================================  ========================
registry name         class (function)                             used by
====================  ===========================================  ========================
``mse``               :class:`MSELoss` (:func:`mse_loss`)          S1 pixel term
``l1``                :class:`L1Loss` (:func:`l1_loss`)            S5 (weight 0.5)
``charbonnier``       :class:`CharbonnierLoss`                     common alternative
``huber``             :class:`HuberLoss`                           S4 (weight 100)
``multiscale_pixel``  :class:`MultiScalePixelLoss`                 S2
``perceptual``        :class:`PerceptualLoss`                      S1, S3 (100), S5
``contextual``        :class:`ContextualLoss` (feature maps)       S5 option (0.5)
``vgg_contextual``    :class:`VGGContextualLoss`                   S5 option (0.5)
``gan``               :class:`GANLoss` (:func:`gradient_penalty`)  S2 (1e-4), S3-S5 WGAN-GP
``relativistic_gan``  :class:`RelativisticAverageGANLoss`          option
``frame_bce``         :class:`FrameBCELoss`                        S4 frame classifier
====================  ===========================================  ========================

Formulas, defaults and the papers' weights: ``docs/losses.md``.

Example:
    >>> from deblurkit.losses import build_loss
    >>> build_loss("gan", gan_type="wgan").gan_type
    'wgan'
"""

from deblurkit.losses.adversarial import (GAN_TYPES, FrameBCELoss, GANLoss,
                                          RelativisticAverageGANLoss, frame_bce_loss, gan_loss,
                                          gradient_penalty, relativistic_average_loss)
from deblurkit.losses.base import (LOSSES, REDUCTIONS, build_loss, get_loss_class, list_losses,
                                   register_loss)
from deblurkit.losses.contextual import (ContextualLoss, VGGContextualLoss, contextual_loss,
                                         contextual_similarity)
from deblurkit.losses.perceptual import PERCEPTUAL_PRESETS, PerceptualLoss, perceptual_loss
from deblurkit.losses.pixel import (CharbonnierLoss, FrequencyL1Loss, HuberLoss, L1Loss,
                                    MSELoss, MultiScalePixelLoss, charbonnier_loss,
                                    frequency_l1_loss, huber_loss, l1_loss, mse_loss,
                                    multiscale_pixel_loss)

__all__ = ["GAN_TYPES", "LOSSES", "PERCEPTUAL_PRESETS", "REDUCTIONS", "CharbonnierLoss",
           "ContextualLoss", "FrameBCELoss", "FrequencyL1Loss", "GANLoss", "HuberLoss", "L1Loss",
           "MSELoss", "MultiScalePixelLoss", "PerceptualLoss", "RelativisticAverageGANLoss",
           "VGGContextualLoss", "build_loss", "charbonnier_loss", "contextual_loss",
           "contextual_similarity", "frame_bce_loss", "frequency_l1_loss", "gan_loss",
           "get_loss_class", "gradient_penalty", "huber_loss", "l1_loss", "list_losses",
           "mse_loss", "multiscale_pixel_loss", "perceptual_loss", "register_loss",
           "relativistic_average_loss"]
