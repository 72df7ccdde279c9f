"""Camera-shake blur kernels (point spread functions).

The random kernels follow the trajectory model of Boracchi and Foi (2012, "Modeling
the performance of image restoration from motion blur"), the model DeblurGAN used to
synthesise its training pairs: the camera moves along a random trajectory sampled
at ``n_samples`` instants; the blur kernel is the time density of that trajectory
during the exposure, accumulated on a pixel grid with bilinear (sub-pixel) weights
and normalised to sum to one.

Trajectory dynamics (written here from the model description; step length
``s = max_length / (n_samples - 1)``, complex positions ``x_t = col + 1j * row``)::

    v_0     = s * exp(1j * phi),               phi ~ U[0, 2 pi)
    dv_t    = J_t + anxiety * s * (gaussian_gain * xi_t - inertia * x_t)
    v_{t+1} = s * (v_t + dv_t) / |v_t + dv_t|   # constant speed
    x_{t+1} = x_t + v_{t+1}

``anxiety``, ``gaussian_gain`` and ``inertia`` are drawn once per trajectory from their
ranges in :class:`TrajectoryConfig`. ``xi_t`` is a standard complex Gaussian (the smooth
tremor), ``-inertia * x_t`` pulls the camera back towards where it started, and ``J_t`` is an impulsive shake: with
probability ``shake_rate * anxiety`` per sample the velocity gets
``J_t = 2 |v_t| exp(1j * (arg v_t + pi + U[-shake_jitter, shake_jitter]))``, i.e. the
motion roughly reverses. Because the speed is constant the path length is exactly
``max_length`` pixels; the extent of the kernel is at most that. ``anxiety = 0``
gives a straight line. The dynamics are defined per sample, as in the original model, so
``n_samples`` changes the character of the paths (the pull-back acts like a spring whose
number of oscillations grows with ``sqrt(n_samples * anxiety * inertia * max_length)``):
keep the default 2000 unless you re-tune the gains.

Positions use image axes: real part = column (x, to the right), imaginary part =
row (y, downwards).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_EXPOSURE_RANGE",
    "TrajectoryConfig",
    "linear_motion_kernel",
    "random_motion_kernel",
    "random_trajectory",
    "trajectory_to_kernel",
]

#: Range of the exposure fraction drawn by :func:`random_motion_kernel` when none is given.
#: Boracchi and Foi integrate the same trajectory over growing exposures (1/25 .. 1 of it);
#: we draw uniformly in ``[0.25, 1]`` so that most kernels show a visible blur.
DEFAULT_EXPOSURE_RANGE: tuple[float, float] = (0.25, 1.0)

#: Largest distance (pixels) between two points splatted on the kernel grid when a
#: trajectory segment is subdivided; 1/8 px makes the rasterised PSF smooth.
DEFAULT_RASTER_STEP = 0.125


@dataclass(frozen=True)
class TrajectoryConfig:
    """Parameters of the Boracchi-Foi random camera trajectory.

    Attributes:
        canvas: side (pixels) of the square the trajectory is generated for. A
            trajectory whose bounding box exceeds ``canvas - 1`` is shrunk about its
            start to fit (only possible when ``max_length > canvas - 1``). Default 64.
        n_samples: number of time samples of the trajectory. Default 2000.
        max_length: path length in pixels (the speed is constant). Default 60.
        anxiety_range: the per-trajectory "anxiety" (how shaky the hand is) is drawn
            uniformly in this closed range; use ``(a, a)`` for a fixed value (likewise for
            the other ranges). Scales the tremor, the pull-back and the shake
            probability. Default ``(0, 0.005)``.
        gaussian_gain_range: the gain of the Gaussian velocity perturbation (tremor) is
            drawn uniformly in this range per trajectory. Default ``(0, 10)``.
        inertia_range: the gain of the pull back towards the starting point is drawn
            uniformly in this range per trajectory. Default ``(0, 0.7)``.
        shake_rate: impulsive shakes happen with probability ``shake_rate * anxiety``
            per sample (about one shake per trajectory at the largest anxiety). Default 0.1.
        shake_jitter: half-width (radians) of the random deviation of an impulsive
            shake from a full reversal. Default 0.5.

    Example:
        >>> cfg = TrajectoryConfig(max_length=30.0, anxiety_range=(0.002, 0.002))
    """

    canvas: int = 64
    n_samples: int = 2000
    max_length: float = 60.0
    anxiety_range: tuple[float, float] = (0.0, 0.005)
    gaussian_gain_range: tuple[float, float] = (0.0, 10.0)
    inertia_range: tuple[float, float] = (0.0, 0.7)
    shake_rate: float = 0.1
    shake_jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.canvas < 2:
            raise ValueError(f"canvas must be >= 2, got {self.canvas}")
        if self.n_samples < 2:
            raise ValueError(f"n_samples must be >= 2, got {self.n_samples}")
        if not self.max_length >= 0:
            raise ValueError(f"max_length must be >= 0, got {self.max_length}")
        for name in ("anxiety_range", "gaussian_gain_range", "inertia_range"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must satisfy 0 <= low <= high, got {getattr(self, name)}")
        for name in ("shake_rate", "shake_jitter"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def _draw(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Uniform draw in a closed range (always consumes one number, also when it is a point)."""
    lo, hi = bounds
    return float(lo + (hi - lo) * rng.random())


def random_trajectory(rng: np.random.Generator, config: TrajectoryConfig = TrajectoryConfig()) -> np.ndarray:
    """Draw a random camera trajectory (Boracchi-Foi model, see the module docstring).

    Args:
        rng: random generator (the only source of randomness).
        config: model parameters.

    Returns:
        complex128 positions in pixels, starting at 0 (``real`` = column, ``imag`` = row).

    Shape:
        ``(config.n_samples,)``.

    Example:
        >>> traj = random_trajectory(np.random.default_rng(0))
        >>> traj.shape, traj.dtype
        ((2000,), dtype('complex128'))
    """
    n = config.n_samples
    step = config.max_length / (n - 1)
    anxiety = _draw(rng, config.anxiety_range)
    gaussian_gain = _draw(rng, config.gaussian_gain_range)
    inertia = _draw(rng, config.inertia_range)
    phi = float(rng.uniform(0.0, 2.0 * math.pi))
    # Draw every random number up front (fixed consumption of the generator), then run
    # the sequential recursion on Python scalars (fast for a few thousand samples).
    xi = rng.standard_normal((n - 1, 2))
    shake_u = rng.random(n - 1)
    shake_dev = rng.uniform(-config.shake_jitter, config.shake_jitter, n - 1)
    p_shake = config.shake_rate * anxiety
    tremor = (anxiety * step * gaussian_gain) * (xi[:, 0] + 1j * xi[:, 1])
    pull = anxiety * step * inertia
    reverse = np.exp(1j * (math.pi + shake_dev))

    positions = np.empty(n, dtype=np.complex128)
    x = 0j
    v = step * complex(math.cos(phi), math.sin(phi))
    positions[0] = x
    tremor_l = tremor.tolist()
    reverse_l = reverse.tolist()
    shakes = (shake_u < p_shake).tolist()
    for t in range(n - 1):
        dv = tremor_l[t] - pull * x
        if shakes[t]:
            dv += 2.0 * v * reverse_l[t]
        v = v + dv
        mag = abs(v)
        v = v * (step / mag) if mag > 0 else v
        x = x + v
        positions[t + 1] = x

    extent = max(np.ptp(positions.real), np.ptp(positions.imag))
    if extent > config.canvas - 1:
        positions *= (config.canvas - 1) / extent
    return positions


def _exposure_polyline(trajectory: np.ndarray, exposure: float) -> tuple[np.ndarray, float]:
    """Cut the trajectory at ``exposure`` (fraction of its duration).

    Returns the polyline vertices and the duration (in sample intervals) of its last segment,
    every other segment lasting one interval.
    """
    n = trajectory.shape[0]
    t_end = exposure * (n - 1)  # in sample intervals
    k = int(math.floor(t_end))
    frac = t_end - k
    if k >= n - 1:
        return trajectory, 1.0
    verts = trajectory[: k + 1]
    if frac > 0:
        end = trajectory[k] + frac * (trajectory[k + 1] - trajectory[k])
        verts = np.concatenate([verts, [end]])
        return verts, frac
    return verts, 1.0


def _sample_polyline(verts: np.ndarray, last_duration: float, raster_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint samples of a piecewise-linear, uniformly timed path and their time weights."""
    if verts.shape[0] == 1:
        return verts.copy(), np.ones(1)
    seg = np.diff(verts)
    durations = np.ones(seg.shape[0])
    durations[-1] = last_duration
    counts = np.maximum(1, np.ceil(np.abs(seg) / raster_step)).astype(np.int64)
    seg_index = np.repeat(np.arange(seg.shape[0]), counts)
    starts = np.cumsum(counts) - counts
    within = np.arange(seg_index.shape[0]) - np.repeat(starts, counts)
    u = (within + 0.5) / counts[seg_index]
    points = verts[seg_index] + u * seg[seg_index]
    weights = (durations / counts)[seg_index]
    return points, weights


def _splat_bilinear(points: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Accumulate weighted points (inside ``[0, size-1]^2``) with bilinear weights."""
    x = np.clip(points.real, 0.0, size - 1.0)
    y = np.clip(points.imag, 0.0, size - 1.0)
    x0 = np.minimum(np.floor(x).astype(np.int64), size - 2)
    y0 = np.minimum(np.floor(y).astype(np.int64), size - 2)
    fx = x - x0
    fy = y - y0
    idx = y0 * size + x0
    flat_idx = np.concatenate([idx, idx + 1, idx + size, idx + size + 1])
    flat_w = np.concatenate(
        [weights * (1 - fx) * (1 - fy), weights * fx * (1 - fy), weights * (1 - fx) * fy, weights * fx * fy]
    )
    return np.bincount(flat_idx, weights=flat_w, minlength=size * size).reshape(size, size)


def trajectory_to_kernel(
    trajectory: np.ndarray,
    size: int = 31,
    exposure: float = 1.0,
    *,
    center: bool = True,
    raster_step: float = DEFAULT_RASTER_STEP,
) -> np.ndarray:
    """Rasterise a camera trajectory into a blur kernel (PSF).

    The trajectory is taken as piecewise linear, its samples equally spaced in time.
    The part ``t in [0, exposure]`` (``t`` normalised to ``[0, 1]`` over the samples)
    is integrated: every segment is subdivided into pieces of at most ``raster_step``
    pixels whose midpoints are splatted with bilinear weights proportional to the time
    spent there. The result is normalised to sum to 1.

    Placement: with ``center=True`` the kernel's centroid (first moment) is put exactly
    at the centre ``((size-1)/2, (size-1)/2)``, so blurring does not shift the image on
    average (pairs stay aligned); with ``center=False`` the bounding box of the path is
    centred instead. If the placed path does not fit in ``[0, size-1]`` it is shrunk
    uniformly about that centre until it does (the kernel size caps the blur extent).
    Use odd sizes for a kernel with a centre pixel.

    Args:
        trajectory: complex positions in pixels (``real`` = column, ``imag`` = row).
        size: kernel side, ``>= 1``.
        exposure: fraction of the trajectory duration integrated, in ``[0, 1]``; ``0``
            gives a delta at the start point.
        center: centre the centroid (True) or the bounding box (False).
        raster_step: largest spacing (pixels) between splatted points.

    Returns:
        float64 kernel, ``>= 0``, summing to 1.

    Shape:
        trajectory ``(n,)`` -> kernel ``(size, size)``.

    Example:
        >>> line = np.linspace(0, 10, 50).astype(complex)
        >>> k = trajectory_to_kernel(line, size=15)
        >>> k.shape, round(float(k.sum()), 12)
        ((15, 15), 1.0)
    """
    traj = np.asarray(trajectory, dtype=np.complex128).ravel()
    if traj.size == 0:
        raise ValueError("trajectory is empty")
    if not np.all(np.isfinite(traj)):
        raise ValueError("trajectory contains non-finite positions")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if not 0.0 <= exposure <= 1.0:
        raise ValueError(f"exposure must be in [0, 1], got {exposure}")
    if not raster_step > 0:
        raise ValueError(f"raster_step must be > 0, got {raster_step}")
    if size == 1:
        return np.ones((1, 1))

    verts, last = _exposure_polyline(traj, exposure)
    points, weights = _sample_polyline(verts, last, raster_step)
    weights = weights / weights.sum()
    if center:
        origin = complex(np.sum(points.real * weights), np.sum(points.imag * weights))
    else:
        origin = complex(
            0.5 * (points.real.min() + points.real.max()), 0.5 * (points.imag.min() + points.imag.max())
        )
    rel = points - origin
    half = (size - 1) / 2.0
    reach = max(float(np.abs(rel.real).max()), float(np.abs(rel.imag).max()))
    if reach > half:
        rel = rel * (half / reach)
    kernel = _splat_bilinear(rel + complex(half, half), weights, size)
    np.maximum(kernel, 0.0, out=kernel)
    return kernel / kernel.sum()


def random_motion_kernel(
    rng: np.random.Generator,
    size: int = 31,
    config: TrajectoryConfig = TrajectoryConfig(),
    exposure: float | None = None,
    *,
    exposure_range: tuple[float, float] = DEFAULT_EXPOSURE_RANGE,
    center: bool = True,
) -> np.ndarray:
    """Draw a random camera-shake kernel: :func:`random_trajectory` then :func:`trajectory_to_kernel`.

    Trajectories are in pixels; one whose extent exceeds ``size`` is shrunk to fit
    (see :func:`trajectory_to_kernel`), so pick ``size`` >= ``config.max_length`` to keep
    the pixel lengths of ``config``.

    Args:
        rng: random generator.
        size: kernel side.
        config: trajectory parameters.
        exposure: fraction of the trajectory integrated; ``None`` draws it uniformly in
            ``exposure_range`` (default ``[0.25, 1]``).
        exposure_range: range used when ``exposure`` is None.
        center: centre the kernel's centroid (see :func:`trajectory_to_kernel`).

    Returns:
        float64 kernel ``>= 0`` summing to 1.

    Shape:
        ``(size, size)``.

    Example:
        >>> k = random_motion_kernel(np.random.default_rng(1), size=31)
        >>> k.shape, bool((k >= 0).all())
        ((31, 31), True)
    """
    trajectory = random_trajectory(rng, config)
    if exposure is None:
        lo, hi = exposure_range
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"exposure_range must satisfy 0 <= low <= high <= 1, got {exposure_range}")
        exposure = float(rng.uniform(lo, hi))
    return trajectory_to_kernel(trajectory, size, exposure, center=center)


def linear_motion_kernel(
    length: float, angle_deg: float, size: int, *, samples_per_pixel: int = 16
) -> np.ndarray:
    """Uniform straight-line motion kernel, centred on the kernel centre.

    The segment of ``length`` pixels through ``((size-1)/2, (size-1)/2)`` makes
    ``angle_deg`` degrees counter-clockwise with the x axis *as seen on screen* (rows
    grow downwards, so a positive angle goes up-right). The kernel value of a pixel is
    the average over the segment of the bilinear hat function centred on that pixel,
    computed as a matrix product of per-axis hat weights (independent of the splatting
    code used by :func:`trajectory_to_kernel`, which makes it a reference for tests).

    Args:
        length: segment length in pixels, ``>= 0``; 0 gives a delta (odd ``size``).
        angle_deg: direction in degrees.
        size: kernel side; the segment must fit in ``[0, size-1]``.
        samples_per_pixel: quadrature density along the segment.

    Returns:
        float64 kernel ``>= 0`` summing to 1.

    Shape:
        ``(size, size)``.

    Example:
        >>> k = linear_motion_kernel(4.0, 0.0, 5)
        >>> k[2].round(3).tolist()
        [0.125, 0.25, 0.25, 0.25, 0.125]
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    theta = math.radians(angle_deg)
    dx, dy = math.cos(theta), -math.sin(theta)
    half = (size - 1) / 2.0
    if max(abs(dx), abs(dy)) * length / 2 > half + 1e-9:
        raise ValueError(f"a line of length {length} at {angle_deg} degrees does not fit in a {size}x{size} kernel")
    n = max(1, int(math.ceil(length * samples_per_pixel)))
    s = (np.arange(n) + 0.5) / n - 0.5  # midpoints of n equal pieces of [-1/2, 1/2]
    xs = half + s * length * dx
    ys = half + s * length * dy
    grid = np.arange(size, dtype=np.float64)
    hat_x = np.maximum(0.0, 1.0 - np.abs(xs[:, None] - grid[None, :]))  # (n, size)
    hat_y = np.maximum(0.0, 1.0 - np.abs(ys[:, None] - grid[None, :]))
    kernel = hat_y.T @ hat_x
    return kernel / kernel.sum()
