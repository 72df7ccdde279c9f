"""Procedural sharp content: dead-leaves images and moving-layer scenes under a shaking camera.

* :func:`dead_leaves` paints random occluding shapes ("leaves") whose sizes follow a power
  law ``p(r) ~ r^-exponent`` (``exponent = 3`` gives the scale invariance of natural
  images, Lee, Mumford and Huang 2001): edges and occlusions at every scale, unlimited and
  free of copyright.
* :func:`render_scene` renders a high-frame-rate sequence (``n_frames`` frames) of a
  dead-leaves background and a few textured foreground layers with soft-edged masks, each
  moving with its own velocity, seen through a camera that translates along a
  Boracchi-Foi trajectory and rotates/zooms slightly. Averaging the frames
  (:func:`deblurkit.synth.averaging.average_frames`) gives spatially varying, GoPro-like blur;
  the middle frame is rendered without any resampling, so the sharp target stays sharp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from deblurkit.synth.kernels import TrajectoryConfig, random_trajectory

__all__ = [
    "COLOR_MODELS",
    "LAYER_SHAPES",
    "LEAF_SHAPES",
    "SceneConfig",
    "dead_leaves",
    "render_scene",
]

#: Leaf shapes understood by :func:`dead_leaves`.
LEAF_SHAPES = ("disc", "ellipse", "rectangle")
#: Colour models of :func:`dead_leaves`.
COLOR_MODELS = ("natural", "uniform", "gray")
#: Mask shapes of the foreground layers of :func:`render_scene`.
LAYER_SHAPES = ("ellipse", "rectangle", "blob")

#: Default smallest leaf radius in pixels.
DEFAULT_MIN_RADIUS = 3.0
#: Default largest leaf radius as a fraction of ``min(height, width)``.
DEFAULT_MAX_RADIUS_FRACTION = 0.5

_TEX_FLAT, _TEX_GRADIENT, _TEX_STRIPES = 0, 1, 2


def _power_law_radii(rng: np.random.Generator, n: int, r_min: float, r_max: float, exponent: float) -> np.ndarray:
    """Inverse-CDF samples of ``p(r) ~ r^-exponent`` on ``[r_min, r_max]``."""
    u = rng.random(n)
    if r_max <= r_min:
        return np.full(n, r_min)
    if abs(exponent - 1.0) < 1e-12:
        return r_min * (r_max / r_min) ** u
    a = 1.0 - exponent
    return (r_min**a + u * (r_max**a - r_min**a)) ** (1.0 / a)


def _power_integral(p: float, lo: float, hi: float) -> float:
    """``int_lo^hi r^p dr``."""
    if abs(p + 1.0) < 1e-12:
        return math.log(hi / lo)
    return (hi ** (p + 1.0) - lo ** (p + 1.0)) / (p + 1.0)


def _mean_r2(r_min: float, r_max: float, exponent: float) -> float:
    """``E[r^2]`` under the truncated power law (for choosing the number of leaves)."""
    if r_max <= r_min:
        return r_min**2
    return _power_integral(2.0 - exponent, r_min, r_max) / _power_integral(-exponent, r_min, r_max)


def _leaf_colors(rng: np.random.Generator, n: int, model: str, saturation: float) -> np.ndarray:
    if model == "uniform":
        return rng.random((n, 3))
    lum = rng.random(n)
    if model == "gray":
        return np.repeat(lum[:, None], 3, axis=1)
    chroma = rng.standard_normal((n, 3))
    chroma -= chroma.mean(axis=1, keepdims=True)
    sat = saturation * rng.random(n)
    return np.clip(lum[:, None] + sat[:, None] * chroma, 0.0, 1.0)


def dead_leaves(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    radius_range: tuple[float, float] | None = None,
    exponent: float = 3.0,
    shapes: tuple[str, ...] = LEAF_SHAPES,
    aspect_range: tuple[float, float] = (0.3, 1.0),
    density: float = 4.0,
    color_model: str = "natural",
    saturation: float = 0.3,
    texture_probability: float = 0.4,
    texture_amplitude: float = 0.25,
    stripe_frequency_range: tuple[float, float] = (0.03, 0.25),
    supersample: int = 1,
    max_leaves: int = 100_000,
) -> np.ndarray:
    """Dead-leaves image: random occluding shapes with power-law sizes.

    ``N`` leaves are drawn (centres uniform over the image, radii ``r ~ r^-exponent`` on
    ``radius_range``, random orientation) and painted back to front over a random
    background colour; ``N`` is chosen so that on average ``density`` leaves cover each
    pixel (about ``exp(-density)`` of the background stays visible). Each leaf gets a
    colour and, with ``texture_probability``, a texture: a linear ramp or sinusoidal
    stripes of random orientation added to its colour (amplitude up to
    ``texture_amplitude``), which puts fine detail inside the shapes too.

    Args:
        rng: random generator.
        height, width: output size.
        radius_range: ``(r_min, r_max)`` in pixels; default ``(3, 0.5 * min(height, width))``.
        exponent: power-law exponent of the radius density (3 = scale invariant).
        shapes: leaf shapes drawn uniformly from ``"disc"``, ``"ellipse"`` (semi-axes ``r`` and
            ``q r``) and ``"rectangle"`` (half-sides ``r`` and ``q r``).
        aspect_range: range of ``q`` for ellipses and rectangles.
        density: expected number of leaves over a pixel.
        color_model: ``"natural"`` (uniform luminance plus a grey-centred chroma of random
            saturation up to ``saturation``), ``"uniform"`` (uniform RGB) or ``"gray"``.
        saturation: largest chroma scale of the natural colour model.
        texture_probability: probability that a leaf is textured (half ramps, half stripes).
        texture_amplitude: largest amplitude of a texture (in ``[0, 1]`` units).
        stripe_frequency_range: stripe frequencies in cycles per output pixel.
        supersample: render at ``supersample`` times the resolution and box-average
            (anti-aliased edges; cost grows as its square).
        max_leaves: cap on ``N``.

    Returns:
        float32 image in ``[0, 1]``.

    Shape:
        ``(height, width, 3)``.

    Example:
        >>> img = dead_leaves(np.random.default_rng(0), 64, 96)
        >>> img.shape, img.dtype
        ((64, 96, 3), dtype('float32'))
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    if radius_range is None:
        radius_range = (DEFAULT_MIN_RADIUS, max(DEFAULT_MIN_RADIUS, DEFAULT_MAX_RADIUS_FRACTION * min(height, width)))
    r_min, r_max = (float(r) for r in radius_range)
    if not 0 < r_min <= r_max:
        raise ValueError(f"radius_range must satisfy 0 < r_min <= r_max, got {radius_range}")
    unknown = [s for s in shapes if s not in LEAF_SHAPES]
    if not shapes or unknown:
        raise ValueError(f"shapes must be a non-empty subset of {LEAF_SHAPES}, got {shapes}")
    if color_model not in COLOR_MODELS:
        raise ValueError(f"color_model must be one of {COLOR_MODELS}, got {color_model!r}")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    if density <= 0:
        raise ValueError(f"density must be > 0, got {density}")

    s = int(supersample)
    hh, ww = height * s, width * s
    r_min_s, r_max_s = r_min * s, r_max * s
    n = int(min(max_leaves, max(1, math.ceil(density * hh * ww / (math.pi * _mean_r2(r_min_s, r_max_s, exponent))))))

    # --- leaf parameters (fixed order of draws) ---
    radius = _power_law_radii(rng, n, r_min_s, r_max_s, exponent)
    cx = rng.uniform(-0.5, ww - 0.5, n)
    cy = rng.uniform(-0.5, hh - 0.5, n)
    theta = rng.uniform(0.0, math.pi, n)
    kind = rng.integers(0, len(shapes), n)
    aspect = rng.uniform(aspect_range[0], aspect_range[1], n)
    colors = _leaf_colors(rng, n + 1, color_model, saturation)  # row n = background
    textured = rng.random(n) < texture_probability
    tex_kind = np.where(textured, np.where(rng.random(n) < 0.5, _TEX_GRADIENT, _TEX_STRIPES), _TEX_FLAT)
    tex_amp = texture_amplitude * rng.random(n)
    tex_dir = rng.uniform(0.0, 2.0 * math.pi, n)
    f_lo, f_hi = stripe_frequency_range
    tex_freq = rng.uniform(f_lo, f_hi, n) / s
    tex_phase = rng.uniform(0.0, 2.0 * math.pi, n)

    shape_code = np.array([LEAF_SHAPES.index(sh) for sh in shapes])[kind]  # 0 disc, 1 ellipse, 2 rect
    reach = np.where(shape_code == 2, radius * np.sqrt(1.0 + aspect**2), radius)

    # --- enumerate every (leaf, pixel) pair of each leaf's clipped bounding box ---
    x0 = np.clip(np.ceil(cx - reach), 0, ww).astype(np.int64)
    x1 = np.clip(np.floor(cx + reach), -1, ww - 1).astype(np.int64)
    y0 = np.clip(np.ceil(cy - reach), 0, hh).astype(np.int64)
    y1 = np.clip(np.floor(cy + reach), -1, hh - 1).astype(np.int64)
    bw = np.maximum(0, x1 - x0 + 1)
    bh = np.maximum(0, y1 - y0 + 1)
    counts = bw * bh
    leaf = np.repeat(np.arange(n), counts)
    starts = np.cumsum(counts) - counts
    within = np.arange(leaf.size) - np.repeat(starts, counts)
    bw_l = bw[leaf]
    px = x0[leaf] + within % bw_l
    py = y0[leaf] + within // bw_l
    dx = px - cx[leaf]
    dy = py - cy[leaf]
    c = np.cos(theta)[leaf]
    sn = np.sin(theta)[leaf]
    u = dx * c + dy * sn
    v = dy * c - dx * sn
    r_l = radius[leaf]
    q_l = aspect[leaf]
    code = shape_code[leaf]
    inside = np.where(
        code == 0,
        dx * dx + dy * dy <= r_l * r_l,
        np.where(
            code == 1,
            u * u + (v / q_l) ** 2 <= r_l * r_l,
            (np.abs(u) <= r_l) & (np.abs(v) <= q_l * r_l),
        ),
    )
    label = np.full(hh * ww, -1, dtype=np.int64)
    np.maximum.at(label, (py * ww + px)[inside], leaf[inside])  # the last painted leaf wins
    label[label < 0] = n  # background

    # --- colour each pixel from its leaf, with the leaf's texture ---
    gy, gx = np.divmod(np.arange(hh * ww), ww)
    out = colors[label]
    visible = label < n
    lab = label[visible]
    kind_p = tex_kind[lab]
    tex_mask = kind_p != _TEX_FLAT
    if np.any(tex_mask):
        lab_t = lab[tex_mask]
        t = (gx[visible][tex_mask] - cx[lab_t]) * np.cos(tex_dir[lab_t]) + (gy[visible][tex_mask] - cy[lab_t]) * np.sin(
            tex_dir[lab_t]
        )
        modulation = np.where(
            kind_p[tex_mask] == _TEX_GRADIENT,
            np.clip(t / np.maximum(reach[lab_t], 1.0), -1.0, 1.0),
            np.sin(2.0 * math.pi * tex_freq[lab_t] * t + tex_phase[lab_t]),
        )
        idx = np.flatnonzero(visible)[tex_mask]
        out[idx] += (tex_amp[lab_t] * modulation)[:, None]
    img = np.clip(out, 0.0, 1.0).reshape(hh, ww, 3)
    if s > 1:
        img = img.reshape(height, s, width, s, 3).mean(axis=(1, 3))
    return img.astype(np.float32)


@dataclass(frozen=True)
class SceneConfig:
    """Parameters of :func:`render_scene` (all motions are per frame of the high-rate sequence).

    Attributes:
        n_layers_range: inclusive range of the number of moving foreground layers.
        layer_size_range: side of a layer as a fraction of ``min(height, width)``.
        layer_speed_range: speed of a layer in pixels per frame (direction uniform).
        layer_shapes: mask shapes drawn from :data:`LAYER_SHAPES`.
        edge_softness: width in pixels of the anti-aliased mask edges.
        camera_path_range: length in pixels of the camera's translation path over the
            whole sequence (drawn uniformly); the path shape is a Boracchi-Foi trajectory.
        camera_trajectory: trajectory model of the camera path (its ``max_length`` is
            replaced by the drawn path length).
        rotation_range_deg: largest in-plane rotation speed of the camera, degrees per frame.
        zoom_range: largest relative zoom speed per frame (``0.002`` = 0.2 % per frame).
        texture_min_radius: smallest leaf radius of the dead-leaves textures.
        texture_exponent: power-law exponent of the dead-leaves textures.
        texture_probability: textured-leaf probability of the dead-leaves textures.

    Example:
        >>> cfg = SceneConfig(n_layers_range=(2, 2), camera_path_range=(0.0, 0.0))
    """

    n_layers_range: tuple[int, int] = (1, 4)
    layer_size_range: tuple[float, float] = (0.2, 0.6)
    layer_speed_range: tuple[float, float] = (0.0, 2.0)
    layer_shapes: tuple[str, ...] = LAYER_SHAPES
    edge_softness: float = 1.0
    camera_path_range: tuple[float, float] = (0.0, 20.0)
    camera_trajectory: TrajectoryConfig = field(default_factory=TrajectoryConfig)
    rotation_range_deg: float = 0.2
    zoom_range: float = 0.002
    texture_min_radius: float = DEFAULT_MIN_RADIUS
    texture_exponent: float = 3.0
    texture_probability: float = 0.4

    def __post_init__(self) -> None:
        lo, hi = self.n_layers_range
        if not 0 <= lo <= hi:
            raise ValueError(f"n_layers_range must satisfy 0 <= low <= high, got {self.n_layers_range}")
        for name in ("layer_size_range", "layer_speed_range", "camera_path_range"):
            a, b = getattr(self, name)
            if not 0 <= a <= b:
                raise ValueError(f"{name} must satisfy 0 <= low <= high, got {(a, b)}")
        if not self.layer_shapes or any(s not in LAYER_SHAPES for s in self.layer_shapes):
            raise ValueError(f"layer_shapes must be a non-empty subset of {LAYER_SHAPES}, got {self.layer_shapes}")
        if self.edge_softness <= 0:
            raise ValueError(f"edge_softness must be > 0, got {self.edge_softness}")


def _layer_alpha(rng: np.random.Generator, h: int, w: int, shape: str, softness: float) -> np.ndarray:
    """Soft mask in ``[0, 1]`` of a layer, zero on the patch border."""
    yy = (np.arange(h) - (h - 1) / 2.0)[:, None]
    xx = (np.arange(w) - (w - 1) / 2.0)[None, :]
    a, b = 0.5 * (w - 3), 0.5 * (h - 3)  # semi-axes leaving a border of at least one pixel
    if shape == "ellipse":
        rho = np.sqrt((xx / a) ** 2 + (yy / b) ** 2)
        dist = (rho - 1.0) * min(a, b)  # approximate signed distance to the outline
    elif shape == "rectangle":
        dist = np.maximum(np.abs(xx) - a, np.abs(yy) - b)
    else:  # blob: a smooth random field inside a bump, outline = zero level set
        grid = rng.standard_normal((6, 6))
        noise = ndimage.zoom(grid, (h / 6.0, w / 6.0), order=3, mode="nearest")[:h, :w]
        noise /= max(float(np.abs(noise).max()), 1e-6)
        field_ = (1.0 - (xx / a) ** 2 - (yy / b) ** 2) + 0.45 * noise
        gy, gx = np.gradient(field_)
        dist = -field_ / np.maximum(np.hypot(gx, gy), 1e-6)
    alpha = np.clip(0.5 - dist / softness, 0.0, 1.0)
    alpha[[0, -1], :] = 0.0
    alpha[:, [0, -1]] = 0.0
    return alpha


def _composite_shifted(canvas: np.ndarray, premult: np.ndarray, top: float, left: float) -> None:
    """Alpha-composite a premultiplied RGBA patch onto ``canvas`` at a sub-pixel position (in place).

    The patch is shifted with bilinear interpolation of its premultiplied values; an
    integer position copies it exactly.
    """
    iy, ix = math.floor(top), math.floor(left)
    fy, fx = top - iy, left - ix
    p = np.pad(premult, ((1, 1), (1, 1), (0, 0)))
    if fy == 0.0 and fx == 0.0:
        shifted = p[1:, 1:]
    else:
        shifted = (
            ((1 - fy) * (1 - fx)) * p[1:, 1:]
            + ((1 - fy) * fx) * p[1:, :-1]
            + (fy * (1 - fx)) * p[:-1, 1:]
            + (fy * fx) * p[:-1, :-1]
        )
    ch, cw = canvas.shape[:2]
    sh, sw = shifted.shape[:2]
    y0, x0 = max(iy, 0), max(ix, 0)
    y1, x1 = min(iy + sh, ch), min(ix + sw, cw)
    if y1 <= y0 or x1 <= x0:
        return
    patch = shifted[y0 - iy : y1 - iy, x0 - ix : x1 - ix]
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - patch[:, :, 3:4]
    region += patch[:, :, :3]


def _bilinear_sample(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of an ``H x W x C`` image at float positions (clamped to the image)."""
    h, w, c = image.shape
    rows = np.clip(rows, 0.0, h - 1.0)
    cols = np.clip(cols, 0.0, w - 1.0)
    r0 = np.minimum(rows.astype(np.int64), max(h - 2, 0))
    c0 = np.minimum(cols.astype(np.int64), max(w - 2, 0))
    fr = (rows - r0).astype(np.float32)[..., None]
    fc = (cols - c0).astype(np.float32)[..., None]
    flat = image.reshape(h * w, c)
    idx = r0 * w + c0
    top = flat[idx] * (1 - fc) + flat[idx + 1] * fc
    bottom = flat[idx + w] * (1 - fc) + flat[idx + w + 1] * fc
    return top * (1 - fr) + bottom * fr


def render_scene(
    rng: np.random.Generator,
    height: int,
    width: int,
    n_frames: int,
    config: SceneConfig = SceneConfig(),
) -> np.ndarray:
    """Render a high-frame-rate sequence of moving textured layers under a shaking camera.

    World: a dead-leaves background (static) and ``K`` foreground layers (dead-leaves
    textures cut by soft ellipse/rectangle/blob masks), layer ``l`` at
    ``P_l + v_l * tau`` with ``tau = t - (n_frames - 1) // 2`` frames from the middle frame.
    Camera at frame ``t``: output pixel ``p`` sees world point
    ``c + z_tau R(theta_tau) (p - c) + T_tau`` with ``c`` the frame centre, ``T_tau`` a
    Boracchi-Foi path (length drawn from ``camera_path_range``) sampled at the frames,
    ``theta_tau = omega tau`` and ``z_tau = 1 + zeta tau``. All poses are relative to the
    middle frame, which therefore is an exact, unresampled crop (a sharp target); the
    other frames are resampled bilinearly. The world canvas is padded so that no border
    ever shows. Layers are composited with premultiplied alpha in the encoded space.

    Args:
        rng: random generator (the only source of randomness).
        height, width: frame size.
        n_frames: number of frames, ``>= 1`` (odd for :func:`frame_average_pair`).
        config: scene parameters.

    Returns:
        float32 encoded frames in ``[0, 1]``.

    Shape:
        ``(n_frames, height, width, 3)``.

    Example:
        >>> frames = render_scene(np.random.default_rng(0), 64, 64, 7)
        >>> frames.shape
        (7, 64, 64, 3)
    """
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be >= 1, got {height}x{width}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    mid = (n_frames - 1) // 2
    tau = np.arange(n_frames, dtype=np.float64) - mid

    # --- camera poses relative to the middle frame ---
    path_len = float(rng.uniform(*config.camera_path_range))
    traj_cfg = config.camera_trajectory
    traj = random_trajectory(
        rng,
        TrajectoryConfig(
            canvas=max(traj_cfg.canvas, int(math.ceil(path_len)) + 2),
            n_samples=traj_cfg.n_samples,
            max_length=path_len,
            anxiety_range=traj_cfg.anxiety_range,
            gaussian_gain_range=traj_cfg.gaussian_gain_range,
            inertia_range=traj_cfg.inertia_range,
            shake_rate=traj_cfg.shake_rate,
            shake_jitter=traj_cfg.shake_jitter,
        ),
    )
    t_dense = np.linspace(0.0, 1.0, traj.size)
    t_frames = np.linspace(0.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    cam = np.interp(t_frames, t_dense, traj.real) + 1j * np.interp(t_frames, t_dense, traj.imag)
    cam = cam - cam[mid]
    omega = math.radians(rng.uniform(-config.rotation_range_deg, config.rotation_range_deg))
    zeta = float(rng.uniform(-config.zoom_range, config.zoom_range))
    angles = omega * tau
    zooms = 1.0 + zeta * tau

    # world bounds seen by any frame (frame corners), for the canvas margins
    cyf, cxf = (height - 1) / 2.0, (width - 1) / 2.0
    corners = np.array([[-cxf, -cyf], [cxf, -cyf], [-cxf, cyf], [cxf, cyf]])
    cos_a, sin_a = zooms * np.cos(angles), zooms * np.sin(angles)
    wx = cxf + cos_a[:, None] * corners[None, :, 0] - sin_a[:, None] * corners[None, :, 1] + cam.real[:, None]
    wy = cyf + sin_a[:, None] * corners[None, :, 0] + cos_a[:, None] * corners[None, :, 1] + cam.imag[:, None]
    mx = int(math.ceil(max(0.0, -wx.min(), wx.max() - (width - 1)))) + 2
    my = int(math.ceil(max(0.0, -wy.min(), wy.max() - (height - 1)))) + 2
    ch, cw = height + 2 * my, width + 2 * mx

    def texture(h: int, w: int) -> np.ndarray:
        r_min = config.texture_min_radius
        return dead_leaves(
            rng,
            h,
            w,
            radius_range=(r_min, max(r_min, DEFAULT_MAX_RADIUS_FRACTION * min(h, w))),
            exponent=config.texture_exponent,
            texture_probability=config.texture_probability,
        )

    background = texture(ch, cw)

    # --- foreground layers ---
    n_layers = int(rng.integers(config.n_layers_range[0], config.n_layers_range[1] + 1))
    side = min(height, width)
    layers = []
    for _ in range(n_layers):
        lh = max(4, int(round(side * rng.uniform(*config.layer_size_range) * rng.uniform(0.7, 1.3))))
        lw = max(4, int(round(side * rng.uniform(*config.layer_size_range) * rng.uniform(0.7, 1.3))))
        shape = config.layer_shapes[int(rng.integers(len(config.layer_shapes)))]
        alpha = _layer_alpha(rng, lh, lw, shape, config.edge_softness)
        content = texture(lh, lw)
        premult = np.concatenate([content * alpha[:, :, None], alpha[:, :, None]], axis=2).astype(np.float32)
        top = my + int(rng.integers(0, height)) - lh // 2  # integer at the middle frame
        left = mx + int(rng.integers(0, width)) - lw // 2
        speed = rng.uniform(*config.layer_speed_range)
        direction = rng.uniform(0.0, 2.0 * math.pi)
        layers.append((premult, top, left, speed * math.sin(direction), speed * math.cos(direction)))

    # --- render every frame ---
    frames = np.empty((n_frames, height, width, 3), dtype=np.float32)
    ys_c = (np.arange(height, dtype=np.float64) - cyf)[:, None]
    xs_c = (np.arange(width, dtype=np.float64) - cxf)[None, :]
    for t in range(n_frames):
        world = background.copy()
        for premult, top, left, vy, vx in layers:
            _composite_shifted(world, premult, top + vy * tau[t], left + vx * tau[t])
        if t == mid:
            frames[t] = world[my : my + height, mx : mx + width]
            continue
        # output pixel (y, x) -> world (row, col), rotation/zoom about the frame centre:
        #   col = cxf + mx + T_x + ca (x - cxf) - sa (y - cyf)
        #   row = cyf + my + T_y + sa (x - cxf) + ca (y - cyf)
        ca, sa = cos_a[t], sin_a[t]
        cols = (cxf + mx + cam.real[t]) + ca * xs_c - sa * ys_c
        rows = (cyf + my + cam.imag[t]) + sa * xs_c + ca * ys_c
        frames[t] = _bilinear_sample(world, rows, cols)
    return np.clip(frames, 0.0, 1.0, out=frames)
