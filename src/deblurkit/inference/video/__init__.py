"""Selective video deblurring with PyAV: decode, select, deblur, encode -- streaming.

One module per idea:

- :mod:`~deblurkit.inference.video.frames` -- a decoded frame <-> RGB arrays (colour
  conversion both ways, the lossless write-back of the model's changes);
- :mod:`~deblurkit.inference.video.containers` -- opening the input, choosing and setting up
  the output container, codec, pixel format and streams (:class:`EncodeOptions`);
- :mod:`~deblurkit.inference.video.pipeline` -- the three threads (decode, select and deblur,
  encode) and :func:`restore_video`;
- :mod:`~deblurkit.inference.video.cost` -- S4's run-time report (:func:`runtime_totals`).

The names below are the public ones, importable from here.

Example:
    >>> from deblurkit.inference.selection import make_selector
    >>> restore_video("in.mp4", "out.mp4", selector=make_selector("laplacian"),
    ...               deblur=my_deblur, report_path="report.json")  # doctest: +SKIP
"""

from deblurkit.inference.video.containers import (CONTAINERS, CRF_CODECS, DEFAULT_CODEC,
                                                  DEFAULT_CRF, STILL_IMAGE_FORMATS,
                                                  YUV420_CODECS, EncodeOptions, open_video)
from deblurkit.inference.video.cost import runtime_totals
from deblurkit.inference.video.frames import (frame_samples, frame_to_rgb, replace_rgb,
                                              rgb_to_frame)
from deblurkit.inference.video.pipeline import (DEFAULT_QUEUE_SIZE, Deblur, VideoResult,
                                                backend_deblur, frame_deblur, restore_video)

__all__ = ["CONTAINERS", "CRF_CODECS", "DEFAULT_CODEC", "DEFAULT_CRF", "DEFAULT_QUEUE_SIZE",
           "STILL_IMAGE_FORMATS", "YUV420_CODECS", "Deblur", "EncodeOptions", "VideoResult",
           "backend_deblur", "frame_deblur", "frame_samples", "frame_to_rgb", "open_video",
           "replace_rgb", "restore_video", "rgb_to_frame", "runtime_totals"]
