#!/usr/bin/env python3
"""Make the samples `deblurkit demo` restores: ``src/deblurkit/demo_assets/``.

Run by hand from the repository root (deterministic: same seed, same pixels and labels; the
H.264 bitstream itself may differ slightly between runs, see :func:`write_clip`)::

    .venv/bin/python tools/make_demo_assets.py            # writes src/deblurkit/demo_assets/
    .venv/bin/python tools/make_demo_assets.py --out DIR  # somewhere else

What it writes (see the README.md it also writes there):

- ``photo_sharp.png`` / ``photo_blurred.png``: a 512 x 384 crop of scikit-image's
  ``astronaut`` and the same crop blurred with a Boracchi-Foi camera-shake kernel plus Gaussian
  noise (sigma 0.005), 8-bit. The sharp crop is the reference for the demo's PSNR / SSIM.
- ``clip.mp4``: 3 s, 480 x 270, 25 fps, H.264 (yuv420p, CRF 18) with an AAC stereo track
  (a synthesized C - Am - F - G chord sequence): a virtual camera pan over scikit-image's
  ``hubble_deep_field``, partially blurred with S4's protocol
  (:func:`deblurkit.synth.video.partial_blur_video`: 7-12 source frames per output frame,
  each averaged in linear light or kept sharp, at most 70% blurred).
- ``clip_labels.csv``: ``frame,blurred`` per output frame (0 = sharp, 1 = blurred).

Why these photos: the bundled default model is trained on ``deblurkit synth --seed 2026
--holdout 0.25`` (sources procedural + skimage), whose partition keeps
``astronaut`` and ``hubble_deep_field`` for the test split only (:func:`held_out_skimage`
recomputes it; the script refuses to run if that ever changes). Both are NASA pictures in the
public domain. ``astronaut`` is 512 x 512, so the photo is a 512 x 384 crop rather than an
upscaled 640 x 480; the clip is 480 x 270 to keep the assets small (< 3 MB together) and the
demo fast on a laptop CPU.

The seed :data:`ASSET_SEED` is used by no training run (they use ``SeedSequence(2026,
spawn_key=...)``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: Where the demo looks for its samples (shipped inside the package).
DEFAULT_OUT = REPO / "src" / "deblurkit" / "demo_assets"

#: Root seed of everything drawn here (no training run uses it).
ASSET_SEED = 60_606
#: How the default model's training data is made: its seed and hold-out fraction.
TRAINING_SEED = 2026
TRAINING_HOLDOUT = 0.25
TRAINING_SIZE = (256, 256)

#: The photo: a held-out scikit-image picture and the crop (top, left, height, width).
PHOTO_NAME = "astronaut"
PHOTO_CROP = (0, 0, 384, 512)
#: Camera shake of the photo: kernel side, trajectory length (pixels), exposure, noise.
KERNEL_SIZE = 31
TRAJECTORY_LENGTH = 25.0
KERNEL_EXPOSURE = 1.0
NOISE_SIGMA = 0.005

#: The clip: a held-out picture panned over, frame size (H, W), rate, length, encoding.
CLIP_SOURCE = "hubble_deep_field"
CLIP_SIZE = (270, 480)
CLIP_FPS = 25
CLIP_FRAMES = 75
CLIP_CODEC = "libx264"
CLIP_CRF = 18
#: Virtual camera pan: initial speed range and velocity jitter, pixels per source frame.
PAN_SPEED = (1.0, 1.5)
PAN_JITTER = 0.02

#: Audio: sample rate, AAC bit rate, chord sequence (MIDI notes), loudness.
AUDIO_RATE = 48_000
AUDIO_BITRATE = 128_000
CHORDS: tuple[tuple[int, ...], ...] = ((60, 64, 67), (57, 60, 64), (53, 57, 60), (55, 59, 62))
AUDIO_PEAK = 0.5
AAC_FRAME = 1024

PHOTO_SHARP = "photo_sharp.png"
PHOTO_BLURRED = "photo_blurred.png"
CLIP = "clip.mp4"
CLIP_LABELS = "clip_labels.csv"


def held_out_skimage(seed: int = TRAINING_SEED, holdout: float = TRAINING_HOLDOUT,
                     size: tuple[int, int] = TRAINING_SIZE) -> list[str]:
    """The scikit-image photos the default model's training split never sees.

    Recomputes the partition of ``deblurkit synth --seed SEED --holdout HOLDOUT`` with
    :func:`deblurkit.synth.job.build_sources` (writes nothing).

    Returns:
        Names such as ``"astronaut"`` (without the ``skimage.data.`` prefix).

    Example:
        >>> "astronaut" in held_out_skimage()    # doctest: +SKIP
        True
    """
    from deblurkit.synth.job import SynthConfig, build_sources

    cfg = SynthConfig(out=Path("unused"), n_train=3000, n_test=120, size=size, seed=seed,
                      holdout_fraction=holdout)
    _, descriptions, _, _ = build_sources(cfg)
    for d in descriptions:
        if d["name"] == "skimage":
            return [f.removeprefix("skimage.data.") for f in d["partition"]["test_files"]]
    return []


def make_photo(image: np.ndarray, rng: np.random.Generator,
               crop: tuple[int, int, int, int] | None = PHOTO_CROP,
               kernel_size: int = KERNEL_SIZE, trajectory_length: float = TRAJECTORY_LENGTH,
               noise_sigma: float = NOISE_SIGMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Crop ``image`` and blur it with a random camera-shake kernel plus noise.

    ``blurred = quantize8(clip(k * sharp + n))`` on the encoded values (as the training data's
    kernel kind), reflect borders.

    Args:
        image: ``H x W x 3`` uint8.
        rng: randomness (kernel, then noise).
        crop: (top, left, height, width), or None for the whole image.
        kernel_size: kernel side.
        trajectory_length: camera path length in pixels.
        noise_sigma: Gaussian noise standard deviation, ``[0, 1]`` units.

    Returns:
        (sharp uint8, blurred uint8, kernel float64).

    Shape:
        ``(H, W, 3)`` -> ``(h, w, 3)``, ``(h, w, 3)``, ``(kernel_size, kernel_size)``.
    """
    from deblurkit.io import from_float, to_float
    from deblurkit.synth.blur import blur_with_kernel
    from deblurkit.synth.kernels import TrajectoryConfig, random_motion_kernel

    if crop is not None:
        top, left, h, w = crop
        if top + h > image.shape[0] or left + w > image.shape[1]:
            raise ValueError(f"crop {crop} exceeds the {image.shape[1]}x{image.shape[0]} image")
        image = image[top:top + h, left:left + w]
    sharp = np.ascontiguousarray(image[..., :3])
    kernel_rng, noise_rng = rng.spawn(2)
    kernel = random_motion_kernel(kernel_rng, size=kernel_size,
                                  config=TrajectoryConfig(max_length=trajectory_length),
                                  exposure=KERNEL_EXPOSURE)
    blurred = blur_with_kernel(to_float(sharp), kernel, noise_sigma=noise_sigma, rng=noise_rng,
                               bits=8)
    return sharp, from_float(blurred, 8), kernel


@dataclass
class ClipFrames:
    """A partially blurred clip in memory.

    Attributes:
        frames: ``N x H x W x 3`` uint8, what the camera recorded.
        labels: ``N`` ints, 1 = blurred.
    """

    frames: np.ndarray
    labels: list[int]


def make_clip_frames(image: np.ndarray, rng: np.random.Generator, n_frames: int = CLIP_FRAMES,
                     size: tuple[int, int] = CLIP_SIZE,
                     pan_speed: tuple[float, float] = PAN_SPEED,
                     pan_jitter: float = PAN_JITTER) -> ClipFrames:
    """A partially blurred clip (S4 protocol) from a virtual camera pan over ``image``.

    Plans ``n_frames`` intervals of 7-12 high-fps source frames
    (:func:`deblurkit.synth.video.plan_intervals`), pans a ``size`` window over the photo with
    integer shifts (:func:`deblurkit.synth.sources.pan_path`) and renders each interval as
    its linear-light average (blurred) or its middle frame (sharp).

    Args:
        image: ``H x W x 3`` uint8, larger than ``size``.
        rng: randomness (plan, then pan).
        n_frames: output frames.
        size: frame (height, width).
        pan_speed: initial pan speed range, pixels per source frame.
        pan_jitter: velocity random-walk step, pixels per source frame.

    Returns:
        :class:`ClipFrames`.
    """
    from deblurkit.io import from_float
    from deblurkit.synth.sources import pan_path
    from deblurkit.synth.video import PartialBlurConfig, plan_intervals, render_planned

    config = PartialBlurConfig()
    plan_rng, pan_rng = rng.spawn(2)
    plan = plan_intervals(n_frames * config.max_interval, plan_rng, config,
                          max_intervals=n_frames)
    needed = sum(iv.length for iv in plan)
    path = pan_path(pan_rng, needed, image.shape[:2], size, speed_range=pan_speed,
                    jitter=pan_jitter)
    h, w = size
    source = (image[t:t + h, l:l + w] for t, l in path)
    out = [(from_float(vf.blur, 8), int(vf.blurred))
           for vf in render_planned(source, plan, config.response)]
    return ClipFrames(np.stack([f for f, _ in out]), [b for _, b in out])


def synth_chords(duration: float, rate: int = AUDIO_RATE,
                 chords: Sequence[Sequence[int]] = CHORDS, peak: float = AUDIO_PEAK
                 ) -> np.ndarray:
    """A soft electric-piano chord sequence: stereo float32, ``2 x samples``.

    Each chord lasts ``duration / len(chords)``; every note is a few decaying harmonics with
    a 10 ms attack; the voices are spread slightly left/right and the end fades out over
    50 ms. Peak-normalized to ``peak``.

    Example:
        >>> synth_chords(1.0, rate=8000).shape
        (2, 8000)
    """
    n = int(round(duration * rate))
    t = np.arange(n) / rate
    out = np.zeros((2, n), np.float64)
    seg = n / len(chords)
    attack, tau = 0.010, 0.45
    for c, notes in enumerate(chords):
        start, stop = int(round(c * seg)), int(round((c + 1) * seg))
        tt = t[start:stop] - t[start]
        env = np.minimum(tt / attack, 1.0) * np.exp(-tt / tau)
        release = np.clip((tt[-1] - tt) / 0.02, 0.0, 1.0)   # no click at the chord change
        for v, note in enumerate(notes):
            f0 = 440.0 * 2.0 ** ((note - 69) / 12)
            tone = sum(a * np.sin(2 * math.pi * k * f0 * tt)
                       for k, a in ((1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05)))
            pan = 0.5 + 0.25 * (v - (len(notes) - 1) / 2)
            out[0, start:stop] += (1 - pan) * env * release * tone
            out[1, start:stop] += pan * env * release * tone
    fade = int(0.05 * rate)
    out[:, n - fade:] *= np.linspace(1.0, 0.0, fade)
    top = np.abs(out).max()
    return (out * (peak / top if top > 0 else 1.0)).astype(np.float32)


#: BT.601 luma weights (R, G, B) and the limited ("TV") range of 8-bit Y'CbCr.
BT601 = (0.299, 0.587, 0.114)
Y_RANGE, C_RANGE = (16.0, 219.0), (128.0, 224.0)


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB -> 8-bit BT.601 limited-range 4:2:0 Y'CbCr, in numpy (bit-exact everywhere).

    Chroma is subsampled with MPEG-2/H.264's default siting ("left"): the two rows of a pair
    are averaged, and columns are filtered ``[1, 2, 1] / 4`` centred on the even columns
    (edges replicated). Done here, explicitly, so the encoder's input does not depend on
    the FFmpeg build's swscale.

    Args:
        rgb: ``H x W x 3`` uint8 with even ``H`` and ``W``.

    Returns:
        ``(3 H / 2) x W`` uint8: the Y plane followed by the U and V planes, the layout of
        ``av.VideoFrame.from_ndarray(..., format="yuv420p")``.

    Example:
        >>> rgb_to_yuv420p(np.zeros((2, 2, 3), np.uint8))[:2].tolist()
        [[16, 16], [16, 16]]
    """
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {w}x{h}")
    x = rgb.astype(np.float64) / 255.0
    y = x @ np.asarray(BT601)
    cb = (x[..., 2] - y) / (2.0 * (1.0 - BT601[2]))
    cr = (x[..., 0] - y) / (2.0 * (1.0 - BT601[0]))

    def subsample(c: np.ndarray) -> np.ndarray:
        rows = 0.5 * (c[0::2] + c[1::2])
        padded = np.concatenate([rows[:, :1], rows, rows[:, -1:]], axis=1)
        return 0.25 * padded[:, 0:-2:2] + 0.5 * padded[:, 1:-1:2] + 0.25 * padded[:, 2::2]

    def to_u8(v: np.ndarray, offset: float, scale: float) -> np.ndarray:
        return np.clip(np.rint(offset + scale * v), 0, 255).astype(np.uint8)

    planes = [to_u8(y, *Y_RANGE).ravel(), to_u8(subsample(cb), *C_RANGE).ravel(),
              to_u8(subsample(cr), *C_RANGE).ravel()]
    return np.concatenate(planes).reshape(h * 3 // 2, w)


def write_clip(path: Path, frames: np.ndarray, audio: np.ndarray | None, fps: int = CLIP_FPS,
               crf: int = CLIP_CRF, audio_rate: int = AUDIO_RATE) -> None:
    """Encode ``frames`` (``N x H x W x 3`` uint8) as H.264 yuv420p (+ AAC ``audio``) in MP4.

    The YUV conversion is BT.601 limited range (:func:`rgb_to_yuv420p`) and the stream is
    tagged so (smpte170m). One x264 thread. Note: the pixels handed to the encoder are
    deterministic, but this PyAV/x264 build does not always produce the same bitstream twice
    (the decoded frames then differ within CRF-18 coding noise); the labels never change.
    """
    import av

    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream(CLIP_CODEC, rate=fps)
        video.width, video.height = frames.shape[2], frames.shape[1]
        video.pix_fmt = "yuv420p"
        video.codec_context.options = {"crf": str(crf)}
        video.codec_context.thread_count = 1
        cc = video.codec_context
        cc.color_range, cc.colorspace, cc.color_primaries, cc.color_trc = 1, 6, 6, 6
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=audio_rate, layout="stereo")
            astream.bit_rate = AUDIO_BITRATE
        _mux_all(container, video, (_video_frame(av, rgb, i, fps) for i, rgb in enumerate(frames)))
        if astream is not None:
            _mux_all(container, astream,
                     (_audio_frame(av, audio, start, audio_rate)
                      for start in range(0, audio.shape[1], AAC_FRAME)))


def _video_frame(av, rgb: np.ndarray, index: int, fps: int):
    frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(rgb), format="yuv420p")
    frame.pts, frame.time_base = index, Fraction(1, fps)
    return frame


def _audio_frame(av, audio: np.ndarray, start: int, rate: int):
    chunk = np.ascontiguousarray(audio[:, start:start + AAC_FRAME])
    frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
    return frame


def _mux_all(container, stream, frames) -> None:
    """Encode every frame of ``frames`` on ``stream``, then flush it, muxing each packet."""
    for frame in [*frames, None]:
        for packet in stream.encode(frame):
            container.mux(packet)


def labels_csv(labels: Sequence[int]) -> str:
    """``frame,blurred`` lines, one per frame (index from 0)."""
    return "frame,blurred\n" + "".join(f"{i},{int(b)}\n" for i, b in enumerate(labels))


README = """\
# Demo samples

Restored by `deblurkit demo` (`make demo`); made by `tools/make_demo_assets.py` (run it from
the repository root: `.venv/bin/python tools/make_demo_assets.py`; deterministic, seed {seed}).

| file | what it is |
| --- | --- |
| `{sharp}` | {pw} x {ph} crop of scikit-image's `{photo}` (NASA, public domain): the sharp reference |
| `{blurred}` | the same crop blurred by a camera-shake kernel ({ks} px, trajectory {tl:g} px) + Gaussian noise sigma {sigma:g}, 8-bit |
| `{clip}` | {cw} x {ch}, {fps} fps, {nf} frames ({dur:.1f} s), H.264 yuv420p CRF {crf} + AAC stereo chords: a camera pan over `{video}` (NASA/ESA, public domain), partially blurred by S4's protocol ({nb} of {nf} frames blurred) |
| `{labels}` | `frame,blurred` per frame of the clip (1 = blurred) |

Both pictures are held out of the default model's training data (`deblurkit synth --seed
{tseed} --holdout {thold:g}` keeps them for the test split), so the demo shows the model on
images it did not see.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)

    from deblurkit.io import write_image
    from deblurkit.synth.sources import load_skimage_image
    from deblurkit.utils.atomic import atomic_path, write_text_atomic

    held = held_out_skimage()
    for name in (PHOTO_NAME, CLIP_SOURCE):
        if name not in held:
            print(f"error: {name} is no longer held out of the default training data "
                  f"(held out: {held}); choose another picture", file=sys.stderr)
            return 1
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    photo_rng, clip_rng = np.random.default_rng(np.random.SeedSequence(ASSET_SEED)).spawn(2)

    sharp, blurred, _ = make_photo(load_skimage_image(PHOTO_NAME), photo_rng)
    write_image(out / PHOTO_SHARP, sharp, overwrite=True)
    write_image(out / PHOTO_BLURRED, blurred, overwrite=True)

    clip = make_clip_frames(load_skimage_image(CLIP_SOURCE), clip_rng)
    duration = len(clip.frames) / CLIP_FPS
    with atomic_path(out / CLIP, overwrite=True) as tmp:   # tmp keeps the .mp4 suffix
        write_clip(tmp, clip.frames, synth_chords(duration))
    write_text_atomic(out / CLIP_LABELS, labels_csv(clip.labels), overwrite=True)
    ph, pw = sharp.shape[:2]
    write_text_atomic(out / "README.md", README.format(
        seed=ASSET_SEED, sharp=PHOTO_SHARP, blurred=PHOTO_BLURRED, clip=CLIP,
        labels=CLIP_LABELS, photo=PHOTO_NAME, video=CLIP_SOURCE, pw=pw, ph=ph,
        ks=KERNEL_SIZE, tl=TRAJECTORY_LENGTH, sigma=NOISE_SIGMA, cw=CLIP_SIZE[1],
        ch=CLIP_SIZE[0], fps=CLIP_FPS, nf=len(clip.labels), dur=duration, crf=CLIP_CRF,
        nb=sum(clip.labels), tseed=TRAINING_SEED, thold=TRAINING_HOLDOUT), overwrite=True)
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    for p in sorted(out.iterdir()):
        if p.is_file():
            print(f"{p}  {p.stat().st_size / 1024:.0f} KiB")
    print(f"total {total / 1024**2:.2f} MiB; {sum(clip.labels)}/{len(clip.labels)} clip frames "
          "blurred")
    return 0


if __name__ == "__main__":
    sys.exit(main())
