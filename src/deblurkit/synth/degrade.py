"""A realistic camera degradation model, composed of small, seeded, typed steps.

Every (blurred, sharp) pair is made from sharp real content the way a camera makes a blurred
picture (the order of the RSBlur analysis, Rim et al. 2022, whose ablation took a model from
30.12 to 32.06 dB on real blurred pairs with linear-light blur, camera response, noise and
saturation, noise mattering most)::

    encoded sharp content (a photo region, or N consecutive high-fps frames)
      -> linear light            inverse camera response (gamma drawn per sample, or sRGB)
      -> exposure / white balance a global gain and R, B gains (the scene: target too)
      -> saturation              bright regions pushed above 1 (the scene: target too)
      -> blur                    kernel | shake | average | none           (input only)
      -> Poisson-Gaussian noise  in linear light                             (input only)
      -> clip to [0, 1], camera response, 8-bit quantisation
      -> compression             JPEG (photos), H.264 (video frames)         (input only)

    target = quantize(response(clip(scene at the reference pose)))

Blur kinds (:data:`BLUR_KINDS`):

- ``kernel``: uniform camera shake, a Boracchi-Foi random trajectory rasterised into a kernel,
  path lengths from 0 up to ``KernelBlur.length_range[1]`` (96 px by default), centred on its
  centroid so the pair stays aligned;
- ``shake``: non-uniform camera shake, a 3-D camera rotation (yaw and pitch following a random
  trajectory, roll and zoom following smooth random paths) giving one homography
  ``K R(t) Z(t) K^-1`` per sub-exposure; the sub-exposures are averaged (a spatially varying
  blur: rotation blurs the corners more than the centre). The mean pose is the identity;
- ``average``: real motion, ``N = exposure * fps`` consecutive frames of a high-frame-rate
  sequence averaged in linear light, the middle frame is the target;
- ``objects``: layered motion from photographs (:mod:`deblurkit.synth.layers`): cut-out
  objects moving on their own paths over a background that may move with the camera, each
  sub-exposure composited, then averaged; blur that changes at the objects' outlines, with
  occlusion, as in real footage (not in the default mix: recipes ask for it);
- ``sharp`` (a share ``sharp_fraction`` of the samples): no blur at all, so a model learns to
  leave sharp content alone; the input differs from the target only by noise, compression
  (and the clipping both share).

Every step draws from its own child generator (``rng.spawn``), so a sample is a pure function
of the generator it is given, and changing one step's settings does not reshuffle the others.
Each step records what it drew in the sample's ``params`` (JSON-able).
"""

from __future__ import annotations

import io
from fractions import Fraction
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deblurkit.errors import UserError
from deblurkit.synth.response import CameraResponse, GammaResponse, SRGBResponse

__all__ = ["BLUR_KINDS", "CompressionConfig", "DegradationConfig", "ExposureJitter",
           "FrameAverage", "KernelBlur", "Noise", "ObjectMotion", "ResponseModel", "Sample",
           "Saturation", "ShakeBlur", "degrade_frames", "h264_roundtrip", "jpeg_roundtrip",
           "linear_mean", "make_sample", "poisson_gaussian", "shake_homographies",
           "warp_average"]

#: Blur kinds drawn by :func:`make_sample` (``sharp`` is decided first, by ``sharp_fraction``).
BLUR_KINDS = ("kernel", "shake", "average", "objects")
#: What an unblurred sample's target can be (``DegradationConfig.sharp_target``).
SHARP_TARGETS = ("clean", "input")
#: Kinds that need photographs / high-frame-rate sequences.
PHOTO_KINDS = ("kernel", "shake", "objects")
#: Output bit depth of every sample (the files people restore are 8-bit).
BITS = 8


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) if hi > lo else float(lo)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def _check_range(name: str, bounds: tuple[float, float], low: float = 0.0,
                 high: float = math.inf, positive: bool = False) -> None:
    lo, hi = bounds
    if not (low <= lo <= hi <= high) or (positive and lo <= 0):
        raise UserError(f"degradation: {name}={list(bounds)} must satisfy "
                        f"{'0 <' if positive else f'{low:g} <='} low <= high"
                        + (f" <= {high:g}" if math.isfinite(high) else ""))


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise UserError(f"degradation: {name}={p} must be in [0, 1]")


# ------------------------------------------------------------------------------------------
# camera response, exposure, saturation (the scene: applied to input and target alike)
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseModel:
    """The camera response ``g`` used to go to linear light and back.

    Args:
        kind: ``gamma`` (``g(x) = x ** (1/gamma)``, GoPro's model) or ``srgb``.
        gamma_range: the gamma of a ``gamma`` response is drawn uniformly here per sample
            (cameras differ; a single 2.2 would teach one curve).
    """

    kind: str = "gamma"
    gamma_range: tuple[float, float] = (2.0, 2.6)

    def __post_init__(self) -> None:
        if self.kind not in ("gamma", "srgb"):
            raise UserError(f"degradation: response.kind={self.kind!r}; choose gamma or srgb")
        _check_range("response.gamma_range", self.gamma_range, positive=True)

    def __call__(self, rng: np.random.Generator) -> tuple[CameraResponse, dict[str, Any]]:
        if self.kind == "srgb":
            return SRGBResponse(), {"response": "srgb"}
        gamma = _uniform(rng, self.gamma_range)
        return GammaResponse(gamma), {"response": "gamma", "gamma": gamma}


@dataclass(frozen=True)
class ExposureJitter:
    """Global exposure gain and white-balance gains on R and B, in linear light.

    Args:
        probability: share of samples jittered.
        gain_range: exposure gain, log-uniform.
        white_balance_range: independent gains of the red and blue channels, log-uniform.
    """

    probability: float = 0.5
    gain_range: tuple[float, float] = (0.7, 1.4)
    white_balance_range: tuple[float, float] = (0.9, 1.1)

    def __post_init__(self) -> None:
        _check_probability("exposure.probability", self.probability)
        _check_range("exposure.gain_range", self.gain_range, positive=True)
        _check_range("exposure.white_balance_range", self.white_balance_range, positive=True)

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
        """Per-channel gains (3,) to multiply linear RGB by."""
        use = rng.random() < self.probability
        gain = _log_uniform(rng, self.gain_range)
        red, blue = _log_uniform(rng, self.white_balance_range), _log_uniform(
            rng, self.white_balance_range)
        if not use:
            return np.ones(3, np.float32), {}
        gains = np.array([gain * red, gain, gain * blue], np.float32)
        return gains, {"exposure_gain": gain, "white_balance": [red, blue]}


@dataclass(frozen=True)
class Saturation:
    """Bright regions pushed above 1 in linear light before the blur (clipped after).

    A light source or a specular highlight is brighter than the sensor's white: its blurred
    streak stays white where a clipped-then-blurred one would turn grey. Pixels whose
    brightest linear channel is at least ``threshold`` are multiplied by ``gain``.

    Args:
        probability: share of samples with boosted highlights.
        threshold: linear-light level (brightest channel) above which a pixel is boosted.
        gain_range: the boost factor, log-uniform.
    """

    probability: float = 0.5
    threshold: float = 0.9
    gain_range: tuple[float, float] = (1.5, 6.0)

    def __post_init__(self) -> None:
        _check_probability("saturation.probability", self.probability)
        if not 0.0 < self.threshold <= 1.0:
            raise UserError(f"degradation: saturation.threshold={self.threshold} must be in (0, 1]")
        _check_range("saturation.gain_range", self.gain_range, low=1.0)

    def __call__(self, rng: np.random.Generator) -> tuple[float, dict[str, Any]]:
        use = rng.random() < self.probability
        gain = _log_uniform(rng, self.gain_range)
        return (gain, {"saturation_gain": gain, "saturation_threshold": self.threshold}
                ) if use else (1.0, {})


# ------------------------------------------------------------------------------------------
# blur
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelBlur:
    """Uniform camera shake: a Boracchi-Foi trajectory rasterised into one kernel.

    Args:
        length_range: path length of the trajectory in pixels (the blur extent is at most
            that, equal for a straight path); drawn as ``lo + (hi - lo) * u ** skew`` so small
            blurs, which real footage has most, are drawn more often.
        skew: the exponent above (1 = uniform).
        anxiety_range: how shaky the path is (0 = straight line); see
            :class:`~deblurkit.synth.kernels.TrajectoryConfig`.
    """

    length_range: tuple[float, float] = (2.0, 96.0)
    skew: float = 2.5
    anxiety_range: tuple[float, float] = (0.0, 0.005)

    def __post_init__(self) -> None:
        _check_range("kernel.length_range", self.length_range, high=255.0)
        _check_range("kernel.anxiety_range", self.anxiety_range)
        if not self.skew > 0:
            raise UserError(f"degradation: kernel.skew={self.skew} must be > 0")

    def margin(self) -> int:
        """Source pixels needed on each side of the output region."""
        return int(math.ceil(self.length_range[1] / 2)) + 2

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
        """A kernel (odd side, sums to 1, centroid at the centre)."""
        from deblurkit.synth.kernels import TrajectoryConfig, random_trajectory, trajectory_to_kernel

        lo, hi = self.length_range
        length = lo + (hi - lo) * float(rng.random()) ** self.skew
        size = 2 * int(math.ceil(length / 2)) + 3
        cfg = TrajectoryConfig(canvas=size, max_length=length, anxiety_range=self.anxiety_range)
        kernel = trajectory_to_kernel(random_trajectory(rng, cfg), size, 1.0, center=True)
        return kernel, {"length": length, "kernel_size": size}


def _smooth_path(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth random path of ``n`` samples with max |value| = 1 (a random walk's sum)."""
    walk = np.cumsum(np.cumsum(rng.standard_normal(n)))
    walk -= walk.mean()
    peak = np.abs(walk).max()
    return walk / peak if peak > 0 else walk


def shake_homographies(translations: np.ndarray, roll: np.ndarray, zoom: np.ndarray,
                       focal: float, center: tuple[float, float]) -> np.ndarray:
    """Homographies ``K Z(t) R(t) K^-1`` of a shaking camera (pixel coordinates x, y).

    Args:
        translations: (T,) complex displacement at the principal point in pixels
            (``real`` = x, ``imag`` = y), made by yaw / pitch rotations.
        roll: (T,) rotation about the optical axis, radians.
        zoom: (T,) magnification (1 = none).
        focal: focal length in pixels.
        center: principal point (x, y) in pixels.

    Returns:
        (T, 3, 3) float64; ``H[t] @ (x, y, 1)`` is where pixel (x, y) samples the scene.
    """
    cx, cy = center
    k = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1.0]])
    k_inv = np.linalg.inv(k)
    out = np.empty((len(roll), 3, 3))
    for t, (d, r, s) in enumerate(zip(translations, roll, zoom)):
        yaw, pitch = math.atan2(d.real, focal), math.atan2(d.imag, focal)
        cy_, sy = math.cos(yaw), math.sin(yaw)
        cp, sp = math.cos(pitch), math.sin(pitch)
        cr, sr = math.cos(r), math.sin(r)
        r_yaw = np.array([[cy_, 0, sy], [0, 1, 0], [-sy, 0, cy_]])
        r_pitch = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
        r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        z = np.diag([s, s, 1.0])
        out[t] = k @ z @ r_roll @ r_pitch @ r_yaw @ k_inv
    return out


def warp_average(image: np.ndarray, homographies: np.ndarray, out_size: int, margin: int
                 ) -> np.ndarray:
    """Mean over ``t`` of ``image`` sampled at ``H[t] @ p`` for every output pixel ``p``.

    Args:
        image: (S, S, 3) float32 linear light, ``S = out_size + 2 * margin``.
        homographies: (T, 3, 3) in output-pixel coordinates (the output region starts at
            ``(margin, margin)`` of ``image``).
        out_size: side of the output.
        margin: border of ``image`` around the output region.

    Returns:
        (out_size, out_size, 3) float32. Bilinear sampling, mirrored at the border.
    """
    import torch
    import torch.nn.functional as F

    side = image.shape[0]
    coords = torch.arange(out_size, dtype=torch.float32)
    ys, xs = coords[:, None], coords[None, :]
    src = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    total = torch.zeros((3, out_size, out_size), dtype=torch.float32)
    chunk = 8
    for first in range(0, len(homographies), chunk):
        # element-wise products (not a matmul): the same bits on any number of threads
        h = torch.from_numpy(homographies[first:first + chunk].astype(np.float32))
        h = h[:, :, :, None, None]
        w = h[:, 2, 0] * xs + h[:, 2, 1] * ys + h[:, 2, 2]
        x = (h[:, 0, 0] * xs + h[:, 0, 1] * ys + h[:, 0, 2]) / w + margin
        y = (h[:, 1, 0] * xs + h[:, 1, 1] * ys + h[:, 1, 2]) / w + margin
        grid = torch.stack([(2 * x + 1) / side - 1, (2 * y + 1) / side - 1], dim=-1)
        warped = F.grid_sample(src.expand(len(h), -1, -1, -1), grid, mode="bilinear",
                               padding_mode="reflection", align_corners=False)
        for one in warped:  # one add at a time: a fixed summation order
            total += one
    return (total / len(homographies)).permute(1, 2, 0).contiguous().numpy()


@dataclass(frozen=True)
class ShakeBlur:
    """Non-uniform camera shake: a homography per sub-exposure, averaged in linear light.

    The camera rotates during the exposure: yaw and pitch follow a Boracchi-Foi trajectory
    whose path length at the principal point is drawn from ``length_range`` (as
    :class:`KernelBlur`), roll and zoom follow smooth random paths of amplitude drawn from
    ``roll_deg_range`` and ``zoom_range``. With a principal point that may lie outside the
    crop (the crop is anywhere in the frame) and a finite focal length, the blur differs across
    the picture: rotation blurs far from the rotation centre, zoom radially.

    Args:
        length_range: yaw/pitch path length at the principal point, pixels.
        skew: as :class:`KernelBlur`.
        roll_deg_range: largest roll during the exposure, degrees.
        zoom_range: largest relative magnification change during the exposure.
        focal_range: focal length in units of the output side.
        center_offset: the principal point is the crop centre moved by up to this many output
            sides in x and y.
        max_sub_exposures: cap on the number of warps (one per 1.5 pixels of motion of the
            farthest corner, at least 8, are used; bilinear sampling fills the gaps).
    """

    length_range: tuple[float, float] = (2.0, 64.0)
    skew: float = 2.5
    roll_deg_range: tuple[float, float] = (0.0, 1.5)
    zoom_range: tuple[float, float] = (0.0, 0.03)
    focal_range: tuple[float, float] = (0.8, 2.5)
    center_offset: float = 1.0
    max_sub_exposures: int = 48

    def __post_init__(self) -> None:
        _check_range("shake.length_range", self.length_range, high=255.0)
        _check_range("shake.roll_deg_range", self.roll_deg_range, high=20.0)
        _check_range("shake.zoom_range", self.zoom_range, high=0.5)
        _check_range("shake.focal_range", self.focal_range, positive=True)
        if self.max_sub_exposures < 2:
            raise UserError("degradation: shake.max_sub_exposures must be >= 2")

    def __call__(self, rng: np.random.Generator, size: int
                 ) -> tuple[np.ndarray, int, dict[str, Any]]:
        """(homographies in output coordinates, margin needed, parameters)."""
        from deblurkit.synth.kernels import TrajectoryConfig, random_trajectory

        lo, hi = self.length_range
        length = lo + (hi - lo) * float(rng.random()) ** self.skew
        roll_max = math.radians(_uniform(rng, self.roll_deg_range))
        zoom_max = _uniform(rng, self.zoom_range)
        focal = _uniform(rng, self.focal_range) * size
        offset = rng.uniform(-self.center_offset, self.center_offset, 2) * size
        center = (size / 2 + float(offset[0]), size / 2 + float(offset[1]))
        traj = random_trajectory(rng, TrajectoryConfig(canvas=4 * size + 4, max_length=length))
        roll_path, zoom_path = _smooth_path(rng, 256), _smooth_path(rng, 256)
        # motion of the farthest corner bounds the number of sub-exposures needed
        radius = math.hypot(max(abs(center[0]), abs(center[0] - size)),
                            max(abs(center[1]), abs(center[1] - size)))
        motion = length + 2 * radius * (roll_max + zoom_max)
        n = int(min(self.max_sub_exposures, max(8, math.ceil(motion / 1.5) + 1)))
        pick = np.linspace(0, len(traj) - 1, n).round().astype(int)
        translations = traj[pick] - traj[pick].mean()
        t = np.linspace(0, len(roll_path) - 1, n).round().astype(int)
        roll = roll_max * roll_path[t]
        zoom = np.exp(zoom_max * zoom_path[t])
        roll, zoom = roll - roll.mean(), zoom / np.exp(np.log(zoom).mean())
        hs = shake_homographies(translations, roll, zoom, focal, center)
        corners = np.array([[0, 0, 1], [size - 1, 0, 1], [0, size - 1, 1], [size - 1, size - 1, 1.0]]).T
        mapped = hs @ corners
        reach = np.abs(mapped[:, :2] / mapped[:, 2:] - corners[None, :2]).max()
        margin = int(math.ceil(reach)) + 2
        return hs, margin, {"length": length, "roll_deg": math.degrees(roll_max),
                            "zoom": zoom_max, "focal": focal, "center": list(center),
                            "sub_exposures": n, "max_displacement": float(reach)}


@dataclass(frozen=True)
class ObjectMotion:
    """Objects moving over a background: layered motion blur from photographs.

    Each sample has 1 to ``max_objects`` sprites (regions of random photographs under a random
    smooth outline, :func:`~deblurkit.synth.layers.blob_alpha`) whose diameters are drawn from
    ``size_range`` (fractions of the output side). Each moves along a bent line
    (:func:`~deblurkit.synth.layers.smooth_path`) of a length drawn like :class:`KernelBlur`'s,
    and turns by up to ``turn_deg`` degrees; with probability ``camera_probability`` the
    background moves too (a path up to ``camera_length`` pixels). Sub-exposures are one pixel
    of the fastest motion apart (at least 8, at most ``max_sub_exposures``).

    Args:
        max_objects: most sprites per sample (drawn uniformly from 1).
        size_range: sprite diameter as a fraction of the output side.
        length_range: sprite path length in pixels.
        skew: as :class:`KernelBlur` (short paths are more frequent for larger values).
        bend: sideways bend of a path, as a fraction of its length.
        turn_deg: largest rotation of a sprite over the exposure, degrees.
        camera_probability: share of samples whose background moves.
        camera_length: largest background path length in pixels.
        max_sub_exposures: cap on the sub-exposures rendered.
    """

    max_objects: int = 3
    size_range: tuple[float, float] = (0.15, 0.6)
    length_range: tuple[float, float] = (3.0, 64.0)
    skew: float = 1.5
    bend: float = 0.3
    turn_deg: float = 10.0
    camera_probability: float = 0.5
    camera_length: float = 16.0
    max_sub_exposures: int = 48

    def __post_init__(self) -> None:
        if self.max_objects < 1:
            raise UserError("degradation: objects.max_objects must be >= 1")
        _check_range("objects.size_range", self.size_range, high=1.0, positive=True)
        _check_range("objects.length_range", self.length_range, high=255.0)
        _check_probability("objects.camera_probability", self.camera_probability)
        if not 0 <= self.camera_length <= 255 or not 0 <= self.turn_deg <= 90:
            raise UserError("degradation: objects.camera_length must be in [0, 255] and "
                            "objects.turn_deg in [0, 90]")
        if self.max_sub_exposures < 2:
            raise UserError("degradation: objects.max_sub_exposures must be >= 2")

    def __call__(self, rng: np.random.Generator, size: int) -> tuple[dict[str, Any], int]:
        """The motion plan (sprite sizes, positions, paths, turns; camera path) and the
        background margin it needs. Sprite content is drawn by the caller."""
        from deblurkit.synth.layers import smooth_path

        count = int(rng.integers(1, self.max_objects + 1))
        lo, hi = self.length_range
        lengths = [lo + (hi - lo) * float(rng.random()) ** self.skew for _ in range(count)]
        moves = rng.random() < self.camera_probability
        camera_len = float(rng.uniform(0.0, self.camera_length)) if moves else 0.0
        turns = [math.radians(float(rng.uniform(-self.turn_deg, self.turn_deg)))
                 for _ in range(count)]
        sides = [max(8, int(round(_uniform(rng, self.size_range) * size))) for _ in range(count)]
        fastest = max(lengths + [camera_len] + [abs(a) * s / 2 for a, s in zip(turns, sides)])
        n = int(min(self.max_sub_exposures, max(8, math.ceil(fastest) + 1)))
        camera = smooth_path(rng, n, camera_len, self.bend)
        t = np.linspace(-0.5, 0.5, n)
        sprites = []
        for length, turn, side in zip(lengths, turns, sides):
            corner = rng.uniform(-side / 2, size - side / 2, 2)
            sprites.append({"side": side, "corner": [float(corner[0]), float(corner[1])],
                            "path": smooth_path(rng, n, length, self.bend),
                            "angle": turn * t, "length": length,
                            "turn_deg": math.degrees(turn)})
        margin = int(math.ceil(np.abs(camera).max(initial=0.0))) + 2
        return {"camera": camera, "camera_length": camera_len, "sprites": sprites,
                "sub_exposures": n}, margin


@dataclass(frozen=True)
class FrameAverage:
    """Real motion: consecutive frames of a high-frame-rate sequence, averaged in linear light.

    Args:
        exposure_ms_range: exposure time in milliseconds; ``N = exposure * fps / 1000`` frames
            (odd, at least 3) of the sequence at its declared rate are averaged.
        scale_range: the frames are downscaled by a factor drawn log-uniformly here (a smaller
            factor shrinks the motion and the sensor noise of the source, like a wider lens).
    """

    exposure_ms_range: tuple[float, float] = (8.0, 33.0)
    scale_range: tuple[float, float] = (0.5, 1.0)

    def __post_init__(self) -> None:
        _check_range("average.exposure_ms_range", self.exposure_ms_range, positive=True)
        _check_range("average.scale_range", self.scale_range, high=1.0, positive=True)

    def __call__(self, rng: np.random.Generator) -> float:
        """The exposure time in ms."""
        return _uniform(rng, self.exposure_ms_range)


# ------------------------------------------------------------------------------------------
# sensor noise and compression (the input only)
# ------------------------------------------------------------------------------------------
def poisson_gaussian(linear: np.ndarray, shot: float, read: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent sensor noise: ``y = shot * Poisson(x / shot) + N(0, read^2)``.

    The variance is ``shot * x + read^2`` (Foi et al. 2008's Poisson-Gaussian model).

    Args:
        linear: linear-light values (>= 0; values above 1 are allowed, they clip later).
        shot: the Poisson gain (variance per unit of signal); 0 gives none.
        read: standard deviation of the signal-independent Gaussian part.
        rng: randomness.

    Returns:
        float32 array of the same shape (not clipped).
    """
    x = np.maximum(np.asarray(linear, dtype=np.float64), 0.0)
    y = shot * rng.poisson(x / shot) if shot > 0 else x
    y = y + read * rng.standard_normal(x.shape)
    return y.astype(np.float32)


@dataclass(frozen=True)
class Noise:
    """Poisson-Gaussian noise in linear light, after the blur and before the camera response.

    Args:
        probability: share of samples with noise (the rest are noise-free).
        shot_range: Poisson gain, log-uniform (1e-4: a bright daylight shot, 1e-2: high ISO).
        read_range: Gaussian standard deviation, log-uniform.
    """

    probability: float = 0.9
    shot_range: tuple[float, float] = (1e-4, 1e-2)
    read_range: tuple[float, float] = (5e-4, 1e-2)

    def __post_init__(self) -> None:
        _check_probability("noise.probability", self.probability)
        _check_range("noise.shot_range", self.shot_range, positive=True)
        _check_range("noise.read_range", self.read_range, positive=True)

    def __call__(self, linear: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, dict[str, Any]]:
        use = rng.random() < self.probability
        shot, read = _log_uniform(rng, self.shot_range), _log_uniform(rng, self.read_range)
        if not use:
            return linear, {}
        return poisson_gaussian(linear, shot, read, rng), {"shot": shot, "read": read}


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode HxWx3 uint8 as JPEG (Pillow, 4:2:0) and decode it again."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality), subsampling=2)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded.convert("RGB"))


def h264_roundtrip(frames: list[np.ndarray], crf: int, preset: str = "veryfast",
                   gop: int = 12) -> list[np.ndarray]:
    """Encode HxWx3 uint8 frames with libx264 (yuv420p, one thread) and decode them again.

    Odd sizes are edge-padded to even for 4:2:0 and cropped back. One thread keeps the bytes
    the same on every machine.
    """
    import av

    h, w = frames[0].shape[:2]
    ph, pw = h + h % 2, w + w % 2
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = pw, ph, "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.framerate = Fraction(25, 1)
    enc.options = {"crf": str(int(crf)), "preset": preset, "threads": "1", "g": str(gop),
                   "bf": "0"}
    packets = []
    for i, f in enumerate(frames):
        padded = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(padded), format="rgb24")
        vf = vf.reformat(format="yuv420p")
        vf.pts = i
        packets += enc.encode(vf)
    packets += enc.encode(None)
    dec = av.CodecContext.create("h264", "r")
    out = []
    for p in packets:
        out += [fr.to_ndarray(format="rgb24")[:h, :w] for fr in dec.decode(p)]
    out += [fr.to_ndarray(format="rgb24")[:h, :w] for fr in dec.decode(None)]
    if len(out) != len(frames):
        raise RuntimeError(f"H.264 round trip returned {len(out)} of {len(frames)} frames")
    return out


@dataclass(frozen=True)
class CompressionConfig:
    """Lossy compression of the input: JPEG for photos, H.264 for video frames.

    Args:
        jpeg_probability: share of photo samples saved as JPEG.
        jpeg_quality_range: JPEG quality, uniform integer.
        h264_probability: share of video-frame samples passed through H.264 (the rest get
            JPEG with ``jpeg_probability``). S1's setting: a receiver restores decoded streams.
        h264_crf_range: x264 constant rate factor, uniform integer (18: near transparent,
            35: a low bit-rate stream).
        h264_preset: x264 preset.
    """

    jpeg_probability: float = 0.6
    jpeg_quality_range: tuple[int, int] = (50, 95)
    h264_probability: float = 0.6
    h264_crf_range: tuple[int, int] = (18, 33)
    h264_preset: str = "veryfast"

    def __post_init__(self) -> None:
        _check_probability("compression.jpeg_probability", self.jpeg_probability)
        _check_probability("compression.h264_probability", self.h264_probability)
        _check_range("compression.jpeg_quality_range", self.jpeg_quality_range, low=1, high=100)
        _check_range("compression.h264_crf_range", self.h264_crf_range, high=51)

    def draw(self, rng: np.random.Generator, video: bool) -> dict[str, Any]:
        """Which codec (if any) and its setting, for a photo or a video-frame sample."""
        u_h264, u_jpeg = rng.random(), rng.random()
        quality = int(rng.integers(self.jpeg_quality_range[0], self.jpeg_quality_range[1] + 1))
        crf = int(rng.integers(self.h264_crf_range[0], self.h264_crf_range[1] + 1))
        if video and u_h264 < self.h264_probability:
            return {"codec": "h264", "crf": crf, "preset": self.h264_preset}
        if u_jpeg < self.jpeg_probability:
            return {"codec": "jpeg", "quality": quality}
        return {}

    @staticmethod
    def apply(frames: list[np.ndarray], params: dict[str, Any]) -> list[np.ndarray]:
        """Apply a drawn compression to 8-bit frames (all in one H.264 stream)."""
        codec = params.get("codec")
        if codec == "h264":
            return h264_roundtrip(frames, params["crf"], params["preset"])
        if codec == "jpeg":
            return [jpeg_roundtrip(f, params["quality"]) for f in frames]
        return frames


# ------------------------------------------------------------------------------------------
# the whole model
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DegradationConfig:
    """Every setting of the realistic degradation model (a YAML mapping, typed).

    Args:
        kind_weights: relative frequency of the blur kinds among blurred samples (kinds whose
            content is missing, e.g. ``average`` without high-fps sources, are left out).
        sharp_fraction: share of samples that are not blurred at all.
        sharp_target: the target of an unblurred sample: ``"clean"`` (the picture before noise
            and compression: the model also learns to denoise sharp pictures) or ``"input"``
            (the degraded input itself: the model learns to leave a picture without blur
            alone, the do-no-harm behaviour a deblurring tool owes its users).
        photo_scale_range: photographs are downscaled by a factor drawn log-uniformly here (never
            below what the crop needs), so big photographs give views of normal detail.
        response, exposure, saturation, kernel, shake, objects, average, noise, compression:
            the steps.

    Example:
        >>> from deblurkit.utils.typed import from_dict
        >>> cfg = from_dict(DegradationConfig, {"sharp_fraction": 0.2, "noise": {"probability": 1}})
        >>> cfg.sharp_fraction, cfg.noise.probability
        (0.2, 1.0)
    """

    kind_weights: dict[str, float] = field(
        default_factory=lambda: {"kernel": 0.35, "shake": 0.25, "average": 0.4})
    sharp_fraction: float = 0.1
    sharp_target: str = "clean"
    photo_scale_range: tuple[float, float] = (0.3, 1.0)
    response: ResponseModel = field(default_factory=ResponseModel)
    exposure: ExposureJitter = field(default_factory=ExposureJitter)
    saturation: Saturation = field(default_factory=Saturation)
    kernel: KernelBlur = field(default_factory=KernelBlur)
    shake: ShakeBlur = field(default_factory=ShakeBlur)
    objects: ObjectMotion = field(default_factory=ObjectMotion)
    average: FrameAverage = field(default_factory=FrameAverage)
    noise: Noise = field(default_factory=Noise)
    compression: CompressionConfig = field(default_factory=CompressionConfig)

    def __post_init__(self) -> None:
        bad = [k for k in self.kind_weights if k not in BLUR_KINDS]
        if bad:
            raise UserError(f"degradation: kind_weights has unknown kind {bad[0]!r} "
                            f"(choose from {', '.join(BLUR_KINDS)})")
        if any(not (w >= 0 and math.isfinite(w)) for w in self.kind_weights.values()):
            raise UserError("degradation: kind_weights must be >= 0")
        _check_probability("sharp_fraction", self.sharp_fraction)
        if self.sharp_target not in SHARP_TARGETS:
            raise UserError(f"degradation: sharp_target={self.sharp_target!r}; choose "
                            f"{' or '.join(SHARP_TARGETS)}")
        _check_range("photo_scale_range", self.photo_scale_range, high=1.0, positive=True)

    def kinds_for(self, has_photos: bool, has_sequences: bool) -> dict[str, float]:
        """Normalised weights of the blur kinds the available content allows."""
        weights = {k: float(w) for k, w in self.kind_weights.items() if w > 0 and (
            (k in PHOTO_KINDS and has_photos) or (k == "average" and has_sequences))}
        total = sum(weights.values())
        if total <= 0:
            raise UserError("degradation: no blur kind can be made from these sources "
                            f"(kind_weights {self.kind_weights}; photos: {has_photos}, "
                            f"high-fps sequences: {has_sequences})")
        return {k: w / total for k, w in weights.items()}


@dataclass
class Sample:
    """One (blurred, sharp) pair: HxWx3 float32 arrays on the 8-bit grid, and what made it.

    ``kernel`` is the true blur kernel of a ``kernel`` sample in the pair's own orientation
    (applied in linear light, before noise, response and compression: what a non-blind
    baseline may be given), ``None`` for the other kinds.
    """

    blur: np.ndarray
    sharp: np.ndarray
    kind: str
    params: dict[str, Any]
    kernel: np.ndarray | None = None


def blur_psnr(blurred: np.ndarray, reference: np.ndarray) -> float | None:
    """How visible a blur is: PSNR in dB of the picture as blurred, before noise and
    compression, against its sharp reference (both encoded values in ``[0, 1]``), rounded to
    0.01 dB; None when the two are identical.

    S4's protocol labels every averaged interval blurred; an interval over a nearly static
    scene averages to its own reference (40 dB and more), a blur no one can see or remove.
    Recorded per frame in the synth manifest (``clips[i].blur_psnr``, None for sharp frames)
    and per on-the-fly sample (``Sample.params["blur_psnr"]``) so that labels can tell such
    frames apart (:func:`deblurkit.data.video.visible_blur_labels`).

    Example:
        >>> a = np.zeros((4, 4, 3), np.float32)
        >>> blur_psnr(a + 0.1, a), blur_psnr(a, a)
        (20.0, None)
    """
    mse = float(np.mean((np.asarray(blurred, np.float64) - np.asarray(reference, np.float64)) ** 2))
    return None if mse == 0.0 else round(10.0 * math.log10(1.0 / mse), 2)


def linear_mean(frames: np.ndarray, response: CameraResponse, gains: np.ndarray | None = None,
                saturation_gain: float = 1.0, threshold: float = 1.0) -> np.ndarray:
    """Mean in linear light of encoded frames, exposed and with boosted highlights.

    For every frame: inverse camera response, times the per-channel ``gains``, then pixels
    whose brightest channel is at least ``threshold`` times ``saturation_gain``; then the mean
    over frames. Nothing is clipped (values above 1 are the point of saturation). One frame
    gives that frame in linear light.

    Integer frames go through one lookup table per channel (exact, and far cheaper than a power
    function per pixel); the work runs on channel planes, which numpy streams fastest.

    Args:
        frames: (N, H, W, 3) uint8 / uint16, or floats in [0, 1].
        response: the camera response whose inverse is applied.
        gains: (3,) factors of R, G, B (exposure and white balance); None: 1.
        saturation_gain: the highlight boost (1: none).
        threshold: linear level of the brightest channel from which a pixel is boosted.

    Returns:
        (H, W, 3) float32.

    Shape:
        ``(N, H, W, 3)`` -> ``(H, W, 3)``.

    Example:
        >>> frames = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1).repeat(3, axis=3)
        >>> float(linear_mean(frames, GammaResponse(2.2))[0, 0, 0])
        0.5
    """
    g = np.ones(3, np.float32) if gains is None else np.asarray(gains, np.float32)
    planes = np.ascontiguousarray(np.moveaxis(np.asarray(frames), -1, 0))  # (3, N, H, W)
    if planes.dtype.kind == "u":
        levels = np.iinfo(planes.dtype).max
        table = response.to_linear(np.arange(levels + 1, dtype=np.float32) / np.float32(levels))
        linear = [(table * g[c])[planes[c]] for c in range(3)]
    else:
        linear = [response.to_linear(planes[c]) * g[c] for c in range(3)]
    if saturation_gain != 1.0:
        bright = np.maximum(np.maximum(linear[0], linear[1]), linear[2]) >= np.float32(threshold)
        factor = np.where(bright, np.float32(saturation_gain), np.float32(1.0))
        linear = [plane * factor for plane in linear]
    n = np.float32(planes.shape[1])
    return np.stack([np.add.reduce(plane, axis=0) / n for plane in linear], axis=-1)


def _center(image: np.ndarray, margin: int, size: int) -> np.ndarray:
    return image[..., margin:margin + size, margin:margin + size, :]


def _encode(linear: np.ndarray, response: CameraResponse) -> np.ndarray:
    """Linear light -> 8-bit encoded values (uint8): clip, response, round."""
    from deblurkit.io import from_float

    return from_float(response.from_linear(np.clip(linear, 0.0, 1.0)), BITS)


def _geometry(rng: np.random.Generator, *images: np.ndarray
              ) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The same random flip and 90-degree rotation of every HxWxC image."""
    k, flip = int(rng.integers(4)), bool(rng.integers(2))
    return [_turn(image, k, flip) for image in images], {"rot90": k, "flip": flip}


def _turn(image: np.ndarray, k: int, flip: bool) -> np.ndarray:
    """``image`` rotated by ``k`` quarter turns, then mirrored left-right if ``flip``."""
    turned = np.rot90(image, k, axes=(0, 1))
    return np.ascontiguousarray(turned[:, ::-1] if flip else turned)


def degrade_frames(blur_linear: list[np.ndarray], sharp_linear: list[np.ndarray],
                   response: CameraResponse, cfg: DegradationConfig, video: bool,
                   noise_rng: np.random.Generator, codec_rng: np.random.Generator
                   ) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, Any]]:
    """The camera's back end on linear frames: noise, response, 8 bits, compression.

    ``blur_linear`` frames get noise and (all in one stream) compression; ``sharp_linear``
    frames are only clipped, encoded and quantised. Returns uint8 frames and the parameters.
    """
    noisy, params = [], {}
    for frame in blur_linear:
        out, noise_params = cfg.noise(frame, noise_rng)
        noisy.append(out)
        params.update(noise_params)
    coded = [_encode(f, response) for f in noisy]
    codec = cfg.compression.draw(codec_rng, video)
    params.update(codec)
    coded = cfg.compression.apply(coded, codec)
    return coded, [_encode(f, response) for f in sharp_linear], params


def _objects(sources: Any, plan: dict[str, Any], background: np.ndarray, size: int, margin: int,
             rng: np.random.Generator, scale_range: tuple[float, float], scene: Any
             ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Render an ``objects`` plan: each sprite's content is a region of a random photo (in
    linear light like the background, by ``scene``) under a random outline."""
    from deblurkit.synth.layers import Sprite, blob_alpha, render_layers

    sprites, records = [], []
    for spec in plan["sprites"]:
        region, src = sources.photos.region(rng, spec["side"], scale_range)
        sprites.append(Sprite(scene(region, spec["side"]), blob_alpha(rng, spec["side"]),
                              tuple(spec["corner"]), spec["path"], spec["angle"]))
        records.append({"file": src["file"], "side": spec["side"], "corner": spec["corner"],
                        "length": spec["length"], "turn_deg": spec["turn_deg"]})
    blurred, target = render_layers(background, plan["camera"], sprites, size, margin)
    return blurred, target, {"sprites": records, "camera_length": plan["camera_length"],
                             "sub_exposures": plan["sub_exposures"]}


def make_sample(sources: Any, cfg: DegradationConfig, size: int, rng: np.random.Generator
                ) -> Sample:
    """One fresh (blurred, sharp) pair of ``size x size`` from real sharp content.

    Args:
        sources: a :class:`~deblurkit.synth.corpus.SharpSources` (photos and/or sequences).
        cfg: the degradation model.
        size: output side in pixels.
        rng: the sample's generator; the pair is a pure function of it.

    Returns:
        A :class:`Sample` with float32 arrays in [0, 1] on the 8-bit grid.

    Example:
        >>> s = make_sample(open_sources(["photos/"]), DegradationConfig(), 256,
        ...                 np.random.default_rng(0))                        # doctest: +SKIP
        >>> s.blur.shape, s.kind                                             # doctest: +SKIP
        ((256, 256, 3), 'kernel')
    """
    from deblurkit.io import to_float
    from deblurkit.synth.corpus import resize_square

    (kind_rng, content_rng, geo_rng, resp_rng, scene_rng, blur_rng, noise_rng,
     codec_rng) = rng.spawn(8)
    has_photos, has_seqs = len(sources.photos) > 0, len(sources.sequences) > 0
    weights = cfg.kinds_for(has_photos, has_seqs)
    sharp_only = kind_rng.random() < cfg.sharp_fraction
    names = sorted(weights)
    blur_kind = names[int(np.searchsorted(np.cumsum([weights[k] for k in names]),
                                          kind_rng.random() * (1 - 1e-12), side="right"))]
    kind = "sharp" if sharp_only else blur_kind
    video = blur_kind == "average"

    response, params = cfg.response(resp_rng)
    gains, p = cfg.exposure(scene_rng)
    params.update(p)
    sat_gain, p = cfg.saturation(scene_rng)
    params.update(p)

    def scene(native: np.ndarray, side: int) -> np.ndarray:
        """Native-dtype source pixels (a picture, or a stack to average over its first axis)
        -> linear light at ``side``, exposed and saturated frame by frame (these and the mean
        commute with resizing, which is linear)."""
        stack = native if native.ndim == 4 else native[None]
        return resize_square(linear_mean(stack, response, gains, sat_gain,
                                         cfg.saturation.threshold), side)

    if video:
        exposure = cfg.average(blur_rng) if not sharp_only else 1.0
        stack, src = sources.sequences.window(content_rng, exposure, size,
                                              cfg.average.scale_range)
        middle = scene(stack[len(stack) // 2], size)
        blurred = middle if sharp_only else scene(stack, size)
        params.update(source=src)
    else:
        margin, blur_params = 0, {}
        if not sharp_only and blur_kind == "kernel":
            kernel, blur_params = cfg.kernel(blur_rng)
            margin = kernel.shape[0] // 2 + 1
        elif not sharp_only and blur_kind == "objects":
            plan, margin = cfg.objects(blur_rng, size)
        elif not sharp_only:
            homographies, margin, blur_params = cfg.shake(blur_rng, size)
        region, src = sources.photos.region(content_rng, size + 2 * margin, cfg.photo_scale_range)
        linear = scene(region, size + 2 * margin)
        middle = _center(linear, margin, size)
        if sharp_only:
            blurred = middle
        elif blur_kind == "kernel":
            from deblurkit.synth.blur import convolve

            blurred = _center(convolve(linear, kernel, boundary="reflect"), margin, size)
        elif blur_kind == "objects":
            blurred, middle, blur_params = _objects(sources, plan, linear, size, margin,
                                                    content_rng, cfg.photo_scale_range, scene)
        else:
            blurred = warp_average(linear, homographies, size, margin)
        params.update(source=src, blur=blur_params)
    # flips and rotations last: blur directions are random anyway, and two small arrays are
    # cheaper to turn than a stack of source frames
    (blurred, middle), params["geometry"] = _geometry(geo_rng, blurred, middle)

    params["blur_psnr"] = None if sharp_only else blur_psnr(
        response.from_linear(np.clip(blurred, 0.0, 1.0)),
        response.from_linear(np.clip(middle, 0.0, 1.0)))
    (coded,), (target,), p = degrade_frames([blurred], [middle], response, cfg, video,
                                            noise_rng, codec_rng)
    params.update(p)
    if sharp_only and cfg.sharp_target == "input":
        target = coded
    true_kernel = None
    if kind == "kernel":   # the blur commutes with the turn when the kernel turns alike
        true_kernel = _turn(kernel, params["geometry"]["rot90"], params["geometry"]["flip"])
    return Sample(blur=np.asarray(to_float(coded), np.float32),
                  sharp=np.asarray(to_float(target), np.float32), kind=kind, params=params,
                  kernel=true_kernel)
