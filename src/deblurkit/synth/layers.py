"""Moving objects over a background: layered motion blur rendered from still photographs.

Camera shake (``kernel``, ``shake``) moves the whole picture alike; in real footage things also
move on their own, in front of a background that moves differently, and the blur changes
abruptly at their outlines, where they cover and uncover what lies behind them. The
high-frame-rate clips record such motion, but there are few of them (12 train clips of 33
frames). This module makes it from photographs, so its variety is that of the photo corpus:
cut-out sprites (a region of a photo under a random smooth outline) move along their own
paths over a background region that may move with the camera; every sub-exposure is composited
(sprites in order, front last) and the sub-exposures are averaged in linear light. The sharp
target is the same composite with every layer at its mean pose.

All geometry is in output-pixel coordinates ``(x, y)``; paths are ``(T, 2)`` arrays of
displacements whose mean over ``T`` is zero (the target's pose), a rotation path is ``(T,)``
radians about the sprite's centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Sprite", "blob_alpha", "render_layers", "smooth_path"]


@dataclass
class Sprite:
    """One moving object.

    Args:
        rgb: (s, s, 3) float32 linear light.
        alpha: (s, s) float32 coverage in [0, 1].
        corner: (x, y) output position of the sprite's top-left pixel at its mean pose.
        path: (T, 2) float displacement per sub-exposure, mean zero.
        angle: (T,) rotation about the sprite's centre, radians, mean zero.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    corner: tuple[float, float]
    path: np.ndarray
    angle: np.ndarray


def smooth_path(rng: np.random.Generator, n: int, length: float, bend: float) -> np.ndarray:
    """A constant-direction path of ``length`` pixels with a sideways bend, mean zero.

    The path is ``v t + b (t^2 - mean)`` for ``t`` evenly in ``[-1/2, 1/2]``: ``v`` has the
    given length and a uniform direction, ``b`` is perpendicular to it with a magnitude up to
    ``bend * length`` (0: a straight line at constant speed).

    Returns:
        (n, 2) float64 ``(x, y)`` displacements.
    """
    theta = float(rng.uniform(0.0, 2.0 * math.pi))
    direction = np.array([math.cos(theta), math.sin(theta)])
    normal = np.array([-direction[1], direction[0]])
    curve = float(rng.uniform(-bend, bend)) * length
    t = np.linspace(-0.5, 0.5, n) if n > 1 else np.zeros(1)
    quad = t ** 2 - np.mean(t ** 2)
    return length * t[:, None] * direction + curve * quad[:, None] * normal


def blob_alpha(rng: np.random.Generator, side: int, roughness: float = 0.25) -> np.ndarray:
    """A random smooth outline filling a ``side x side`` square, anti-aliased over one pixel.

    The outline is ``r(phi) = R (1 + sum_k a_k cos(k phi + p_k))`` for ``k = 2..5`` with
    ``a_k`` up to ``roughness / k`` and ``R`` chosen so the largest radius just fits.

    Returns:
        (side, side) float32 in [0, 1].
    """
    ks = np.arange(2, 6)
    amps = rng.uniform(0.0, roughness, len(ks)) / ks
    phases = rng.uniform(0.0, 2.0 * math.pi, len(ks))
    c = (side - 1) / 2.0
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float64)
    phi = np.arctan2(ys - c, xs - c)
    wobble = 1.0 + np.sum(amps[:, None, None] * np.cos(ks[:, None, None] * phi + phases[:, None, None]),
                          axis=0)
    radius = (side / 2.0 - 1.0) * wobble / (1.0 + amps.sum())
    rho = np.hypot(ys - c, xs - c)
    return np.clip(radius - rho + 0.5, 0.0, 1.0).astype(np.float32)


def _premultiplied(sprite: Sprite):
    """(1, 4, s, s) float32 tensor: RGB times coverage, and the coverage (what bilinear
    sampling must interpolate so outlines blend without dark fringes)."""
    import torch

    rgba = np.concatenate([sprite.rgb * sprite.alpha[..., None], sprite.alpha[..., None]], axis=-1)
    return torch.from_numpy(np.ascontiguousarray(rgba.transpose(2, 0, 1), np.float32))[None]


def _sprite_frames(src, corner: tuple[float, float], path: np.ndarray, angle: np.ndarray,
                   box: tuple[int, int, int, int]):
    """(t, 4, h, w) premultiplied RGBA of a sprite (``src`` from :func:`_premultiplied`) over
    the output window ``box`` = (x0, y0, x1, y1), moved by each row of ``path`` and turned by
    ``angle`` (bilinear; transparent outside the sprite)."""
    import torch
    import torch.nn.functional as F

    x0, y0, x1, y1 = box
    side = src.shape[-1]
    path = torch.from_numpy(path.astype(np.float32))
    angle = torch.from_numpy(angle.astype(np.float32))
    xs = torch.arange(x0, x1, dtype=torch.float32)[None, None, :]
    ys = torch.arange(y0, y1, dtype=torch.float32)[None, :, None]
    half = (side - 1) / 2.0
    # position relative to the moved centre, turned back by the sprite's angle
    shape = (len(path), y1 - y0, x1 - x0)
    dx = (xs - (corner[0] + half) - path[:, 0, None, None]).expand(shape)
    dy = (ys - (corner[1] + half) - path[:, 1, None, None]).expand(shape)
    cos, sin = torch.cos(angle)[:, None, None], torch.sin(angle)[:, None, None]
    u = cos * dx + sin * dy + half
    v = -sin * dx + cos * dy + half
    grid = torch.stack([(2 * u + 1) / side - 1, (2 * v + 1) / side - 1], dim=-1)
    return F.grid_sample(src.expand(len(path), -1, -1, -1), grid, mode="bilinear",
                         padding_mode="zeros", align_corners=False)


def _reach(sprite: Sprite, size: int) -> tuple[int, int, int, int] | None:
    """The output window a sprite can touch over its path (None: outside the output)."""
    side = sprite.alpha.shape[0]
    half = side / 2.0
    radius = half * math.sqrt(2.0)   # any turn stays within the circumscribed circle
    cx, cy = sprite.corner[0] + (side - 1) / 2.0, sprite.corner[1] + (side - 1) / 2.0
    x0 = int(math.floor(cx + sprite.path[:, 0].min() - radius)) - 1
    x1 = int(math.ceil(cx + sprite.path[:, 0].max() + radius)) + 2
    y0 = int(math.floor(cy + sprite.path[:, 1].min() - radius)) - 1
    y1 = int(math.ceil(cy + sprite.path[:, 1].max() + radius)) + 2
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(size, x1), min(size, y1)
    return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)


def render_layers(background: np.ndarray, camera: np.ndarray, sprites: list[Sprite],
                  size: int, margin: int, chunk: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The blurred picture and its sharp target of a layered scene, in linear light.

    Every sub-exposure ``t`` samples the background at ``p + camera[t]`` (bilinear, mirrored at
    the border), then lays the sprites over it in order (``out = a F + (1 - a) out``, each
    sprite moved by ``path[t]`` and turned by ``angle[t]``); the blurred picture is the mean of
    the sub-exposures. The target is the sub-exposure at displacement and angle zero.

    Args:
        background: (S, S, 3) float32 linear light, ``S = size + 2 * margin``.
        camera: (T, 2) background displacement per sub-exposure, mean zero; every
            ``|camera| <= margin - 1``.
        sprites: the moving objects, back to front; each path has ``T`` rows.
        size: output side.
        margin: border of ``background`` around the output.
        chunk: sub-exposures rendered at once (memory only; the result does not depend on it).

    Returns:
        (blurred, target), each (size, size, 3) float32.

    Example:
        >>> bg = np.zeros((20, 20, 3), np.float32)
        >>> s = Sprite(np.ones((4, 4, 3), np.float32), np.ones((4, 4), np.float32), (4, 4),
        ...            np.array([[-2.0, 0], [2.0, 0]]), np.zeros(2))
        >>> blurred, target = render_layers(bg, np.zeros((2, 2)), [s], 16, 2)
        >>> # covered at rest; covered in one of the two sub-exposures; in neither
        >>> float(target[5, 5, 0]), float(blurred[5, 5, 0]), float(blurred[5, 11, 0])
        (1.0, 0.5, 0.0)
    """
    import torch
    import torch.nn.functional as F

    n = len(camera)
    if any(len(s.path) != n or len(s.angle) != n for s in sprites):
        raise ValueError("every sprite needs one displacement and angle per sub-exposure")
    side = background.shape[0]
    src = torch.from_numpy(np.ascontiguousarray(background.transpose(2, 0, 1), np.float32))[None]
    coords = torch.arange(size, dtype=torch.float32) + margin
    # the sprites that reach the output, each converted once; the window a sprite can touch
    # over its path also holds it at rest (the path's mean, zero, lies within its range)
    layers = [(s, _premultiplied(s), box) for s in sprites
              if (box := _reach(s, size)) is not None]

    def frames(cam: np.ndarray, part: slice | None) -> torch.Tensor:
        """Sub-exposures ``part`` (None: every layer at rest) over camera offsets ``cam``."""
        if not cam.any():   # a still camera: the background's centre, exactly, every time
            centre = src[:, :, margin:margin + size, margin:margin + size]
            canvas = centre.expand(len(cam), -1, -1, -1).clone()
        else:
            d = torch.from_numpy(cam.astype(np.float32))
            x = (coords[None, None, :] + d[:, 0, None, None]).expand(len(d), size, size)
            y = (coords[None, :, None] + d[:, 1, None, None]).expand(len(d), size, size)
            grid = torch.stack([(2 * x + 1) / side - 1, (2 * y + 1) / side - 1], dim=-1)
            canvas = F.grid_sample(src.expand(len(d), -1, -1, -1), grid, mode="bilinear",
                                   padding_mode="reflection", align_corners=False)
        for sprite, rgba_src, box in layers:
            x0, y0, x1, y1 = box
            path, angle = ((np.zeros((1, 2)), np.zeros(1)) if part is None else
                           (sprite.path[part], sprite.angle[part]))
            rgba = _sprite_frames(rgba_src, sprite.corner, path, angle, box)
            window = canvas[:, :, y0:y1, x0:x1]
            canvas[:, :, y0:y1, x0:x1] = rgba[:, :3] + (1 - rgba[:, 3:]) * window
        return canvas

    total = torch.zeros((3, size, size), dtype=torch.float32)
    for first in range(0, n, chunk):
        part = slice(first, min(n, first + chunk))
        for one in frames(camera[part], part):  # a fixed summation order
            total += one
    target = frames(np.zeros((1, 2)), None)[0]
    return ((total / n).permute(1, 2, 0).contiguous().numpy(),
            target.permute(1, 2, 0).contiguous().numpy())
