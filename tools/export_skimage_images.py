"""Write photographs that ship with scikit-image to a folder, for ``deblurkit synth --source DIR``.

The default frame selector's training clips (configs/default/frame_selector.yaml) need more
varied sharp content than the 7 colour photographs the deblurring recipe trains on: a
single-frame classifier that has seen 7 photographs learns their textures. This writes those 7
plus the natural greyscale photographs scikit-image ships (no download), *without* the two
held out for the default model's test split (``astronaut``, ``hubble_deep_field``):

    python tools/export_skimage_images.py -o data/selector_photos

Greyscale photographs are written as greyscale PNGs (synth reads them as RGB with equal
channels). Pictures that are blurred already (``clock``: motion blur), binary or synthetic
(``horse``, ``chessboard``, ``phantom``) or smaller than 256 pixels on a side (``page``,
``text``, ``microaneurysms``) are not offered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

#: Colour photographs of the default recipe's training split (deblurkit.synth.sources).
COLOUR = ("chelsea", "coffee", "rocket", "immunohistochemistry", "colorwheel", "retina",
          "motorcycle_left")
#: Natural greyscale photographs shipped inside scikit-image, at least 256 px on each side.
GREY = ("camera", "brick", "coins", "grass", "gravel", "moon", "cell")
#: Held out for the default model's test split: never written.
HELD_OUT = ("astronaut", "hubble_deep_field")


def load(name: str) -> np.ndarray:
    """One scikit-image picture as uint8 (HxW or HxWx3)."""
    from deblurkit.synth.sources import load_skimage_image

    if name in COLOUR:
        return load_skimage_image(name)
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.dtype != np.uint8:
        from skimage.util import img_as_ubyte

        image = img_as_ubyte(image)
    return image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    from deblurkit.io import write_image

    args.out.mkdir(parents=True, exist_ok=True)
    for name in COLOUR + GREY:
        assert name not in HELD_OUT
        image = load(name)
        write_image(args.out / f"{name}.png", image, overwrite=True)
        print(f"{name}: {image.shape[1]}x{image.shape[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
