"""The networks of the five systems, their discriminators, the frame classifier and the
feature extractors used by perceptual losses, built by name.

Example:
    >>> from deblurkit.models import create_model, list_models   # doctest: +SKIP
    >>> net = create_model("s1_msed")                             # doctest: +SKIP
"""

from deblurkit.models.base import RestorationNet, ValueRange, crop_to, pad_to_multiple
from deblurkit.models.registry import ModelEntry, create_model, get_entry, list_models, register_model

__all__ = ["ModelEntry", "RestorationNet", "ValueRange", "create_model", "crop_to", "get_entry",
           "list_models", "pad_to_multiple", "register_model"]
