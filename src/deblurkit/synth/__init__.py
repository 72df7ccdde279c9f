"""Blur synthesis: camera-shake kernels, uniform blur, camera response, frame averaging,
procedural scenes, partially blurred videos (S4), and the ``synth`` dataset job.

Modules (imported lazily: ``from deblurkit.synth import X`` loads only X's module):

- :mod:`~deblurkit.synth.kernels` -- random camera-shake trajectories and kernels.
- :mod:`~deblurkit.synth.blur` -- ``b = quantize(k * l + n)``.
- :mod:`~deblurkit.synth.response` -- camera response curves (gamma, sRGB).
- :mod:`~deblurkit.synth.averaging` -- frame averaging in linear light (GoPro protocol).
- :mod:`~deblurkit.synth.procedural` -- dead leaves and rendered moving scenes.
- :mod:`~deblurkit.synth.video` -- S4 partially blurred videos with per-frame labels.
- :mod:`~deblurkit.synth.sources` -- sharp content: procedural, scikit-image, user files.
- :mod:`~deblurkit.synth.job` -- the ``deblurkit synth`` job (layout, manifest, workers).
"""

from __future__ import annotations

from deblurkit.utils.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    # S4 video protocol
    "PartialBlurConfig": "video",
    "Interval": "video",
    "VideoFrame": "video",
    "plan_intervals": "video",
    "partial_blur_video": "video",
    "iter_partial_blur_video": "video",
    "render_planned": "video",
    "blurred_cap": "video",
    # sources
    "ProceduralSource": "sources",
    "SkimageSource": "sources",
    "ImageFilesSource": "sources",
    "VideoFilesSource": "sources",
    "probe_video": "sources",
    "read_video_frames": "sources",
    # the job
    "SynthConfig": "job",
    "Manifest": "job",
    "run_synth": "job",
    # core synthesis
    "TrajectoryConfig": "kernels",
    "random_trajectory": "kernels",
    "trajectory_to_kernel": "kernels",
    "random_motion_kernel": "kernels",
    "linear_motion_kernel": "kernels",
    "convolve": "blur",
    "add_gaussian_noise": "blur",
    "quantize": "blur",
    "blur_with_kernel": "blur",
    "GammaResponse": "response",
    "SRGBResponse": "response",
    "LinearResponse": "response",
    "average_frames": "averaging",
    "frame_average_pair": "averaging",
    "GOPRO_FRAME_COUNTS": "averaging",
    "dead_leaves": "procedural",
    "SceneConfig": "procedural",
    "render_scene": "procedural",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(
    __name__, {name: f"deblurkit.synth.{module}" for name, module in _EXPORTS.items()})
