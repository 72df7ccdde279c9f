"""Image files <-> numpy arrays (bit depth, alpha, EXIF, ICC), atomic writes, batch inputs.

Rules for each kind of input and output are in docs/io.md. torch is imported lazily (only by
:func:`image_to_tensor` / :func:`tensor_to_image`).
"""

from deblurkit.io.batch import BatchReport, folder_images, list_images
from deblurkit.io.convert import (
    convert_bit_depth,
    from_float,
    image_to_tensor,
    tensor_to_image,
    to_float,
)
from deblurkit.io.formats import IMAGE_SUFFIXES, SUFFIX_FORMATS
from deblurkit.io.image import Image, ImageInfo
from deblurkit.io.read import DEFAULT_MAX_PIXELS, apply_orientation, read_image
from deblurkit.io.write import output_format, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "SUFFIX_FORMATS",
    "BatchReport",
    "Image",
    "ImageInfo",
    "apply_orientation",
    "convert_bit_depth",
    "folder_images",
    "from_float",
    "image_to_tensor",
    "list_images",
    "output_format",
    "read_image",
    "tensor_to_image",
    "to_float",
    "write_image",
]
