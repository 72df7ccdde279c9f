"""Tests of the degradation models of deblurkit.synth (kernels, blur, response, averaging, procedural)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from deblurkit.synth.averaging import GOPRO_FRAME_COUNTS, average_frames, frame_average_pair
from deblurkit.synth.blur import BOUNDARY_MODES, add_gaussian_noise, blur_with_kernel, convolve, quantize
from deblurkit.synth.kernels import (
    TrajectoryConfig,
    linear_motion_kernel,
    random_motion_kernel,
    random_trajectory,
    trajectory_to_kernel,
)
from deblurkit.synth.procedural import SceneConfig, dead_leaves, render_scene
from deblurkit.synth.response import GammaResponse, LinearResponse, SRGBResponse

FAST = settings(max_examples=25, deadline=None)


def _centroid(kernel: np.ndarray) -> tuple[float, float]:
    rows, cols = np.mgrid[: kernel.shape[0], : kernel.shape[1]]
    return float((kernel * rows).sum()), float((kernel * cols).sum())


# ----------------------------------------------------------------------------- kernels


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.sampled_from([7, 15, 31, 32, 65]),
    exposure=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_random_kernel_is_a_valid_psf_with_centred_centroid(seed: int, size: int, exposure: float | None) -> None:
    kernel = random_motion_kernel(np.random.default_rng(seed), size=size, exposure=exposure)
    assert kernel.shape == (size, size)
    assert kernel.dtype == np.float64
    assert (kernel >= 0).all()
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    assert _centroid(kernel) == pytest.approx(((size - 1) / 2, (size - 1) / 2), abs=1e-9)


def test_random_kernel_same_seed_same_bytes_and_seeds_differ() -> None:
    a = random_motion_kernel(np.random.default_rng(7), size=31)
    b = random_motion_kernel(np.random.default_rng(7), size=31)
    c = random_motion_kernel(np.random.default_rng(8), size=31)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


@FAST
@given(seed=st.integers(0, 2**32 - 1), max_length=st.floats(1.0, 60.0))
def test_trajectory_has_constant_speed_and_the_configured_length(seed: int, max_length: float) -> None:
    cfg = TrajectoryConfig(n_samples=300, max_length=max_length)
    traj = random_trajectory(np.random.default_rng(seed), cfg)
    assert traj.dtype == np.complex128 and traj.shape == (300,)
    assert traj[0] == 0
    steps = np.abs(np.diff(traj))
    np.testing.assert_allclose(steps, max_length / 299, rtol=1e-9)


def test_zero_anxiety_gives_a_straight_line_of_full_length() -> None:
    cfg = TrajectoryConfig(n_samples=500, max_length=25.0, anxiety_range=(0.0, 0.0))
    traj = random_trajectory(np.random.default_rng(3), cfg)
    assert abs(traj[-1]) == pytest.approx(25.0, rel=1e-9)
    direction = traj[-1] / abs(traj[-1])
    np.testing.assert_allclose((traj / direction).imag, 0.0, atol=1e-9)


def test_anxiety_bends_and_inertia_pulls_back() -> None:
    def straightness(**ranges: tuple[float, float]) -> float:
        cfg = TrajectoryConfig(shake_rate=0.0, **ranges)
        ends = [abs(random_trajectory(np.random.default_rng(s), cfg)[-1]) for s in range(10)]
        return float(np.mean(ends)) / cfg.max_length

    no_pull = {"inertia_range": (0.0, 0.0), "gaussian_gain_range": (10.0, 10.0)}
    calm = straightness(anxiety_range=(0.0005, 0.0005), **no_pull)
    shaky = straightness(anxiety_range=(0.005, 0.005), **no_pull)
    assert calm > 0.9
    assert shaky < calm - 0.2
    # a pure pull-back (no tremor) turns the path back towards its start
    spring = straightness(anxiety_range=(0.005, 0.005), inertia_range=(0.7, 0.7), gaussian_gain_range=(0.0, 0.0))
    assert spring < 0.5


def test_linear_motion_kernel_hand_values() -> None:
    kernel = linear_motion_kernel(4.0, 0.0, 5)
    expected = np.zeros((5, 5))
    expected[2] = [0.125, 0.25, 0.25, 0.25, 0.125]
    np.testing.assert_allclose(kernel, expected, atol=1e-12)
    np.testing.assert_allclose(linear_motion_kernel(4.0, 90.0, 5), expected.T, atol=1e-12)
    delta = linear_motion_kernel(0.0, 30.0, 5)
    assert delta[2, 2] == pytest.approx(1.0)


@pytest.mark.parametrize(("length", "angle"), [(20.0, 0.0), (20.0, 30.0), (13.5, 117.0), (28.0, -45.0), (5.0, 200.0)])
def test_straight_trajectory_matches_linear_motion_kernel(length: float, angle: float) -> None:
    direction = np.exp(-1j * np.deg2rad(angle))  # rows grow downwards: counter-clockwise on screen
    for n in (2000, 2):  # a dense sampling and a bare segment (subdivided by the rasteriser)
        line = np.linspace(0.0, length, n) * direction + (3 + 4j)
        kernel = trajectory_to_kernel(line, size=31)
        reference = linear_motion_kernel(length, angle, 31)
        assert np.abs(kernel - reference).max() < 0.005 * reference.max()


def test_exposure_integrates_a_prefix_of_the_trajectory() -> None:
    line = np.linspace(0.0, 20.0, 2001).astype(complex)
    half = trajectory_to_kernel(line, size=31, exposure=0.5)
    np.testing.assert_allclose(half, linear_motion_kernel(10.0, 0.0, 31), atol=1e-4)
    delta = trajectory_to_kernel(line, size=31, exposure=0.0)
    assert delta[15, 15] == pytest.approx(1.0)


def test_uneven_time_sampling_weights_by_time_spent() -> None:
    # the camera spends 3/4 of the exposure on the first pixel of travel: the mass follows time
    traj = np.concatenate([np.linspace(0, 1, 301), np.linspace(1, 4, 101)[1:]]).astype(complex)
    kernel = trajectory_to_kernel(traj, size=9, center=False)
    row = kernel[4]
    assert row.sum() == pytest.approx(1.0)
    # bounding box centred: path [0, 4] -> columns 2..6
    assert row[2] + row[3] > 0.7


def test_kernel_too_large_is_shrunk_and_uncentred_placement_centres_the_box() -> None:
    line = np.linspace(0.0, 100.0, 500).astype(complex)
    kernel = trajectory_to_kernel(line, size=15)
    assert (kernel[7] > 0).all()  # shrunk to span the whole row
    assert kernel.sum() == pytest.approx(1.0)
    traj = np.concatenate([np.zeros(300), np.linspace(0, 6, 100)]).astype(complex)
    boxed = trajectory_to_kernel(traj, size=11, center=False)
    cols = np.flatnonzero(boxed.sum(axis=0) > 1e-12)
    assert (cols.min(), cols.max()) == (2, 8)
    centred = trajectory_to_kernel(traj, size=11, center=True)
    assert _centroid(centred) == pytest.approx((5.0, 5.0), abs=1e-9)


def test_kernel_argument_validation() -> None:
    with pytest.raises(ValueError):
        trajectory_to_kernel(np.zeros(3, complex), size=5, exposure=1.5)
    with pytest.raises(ValueError):
        linear_motion_kernel(30.0, 0.0, 11)
    with pytest.raises(ValueError):
        TrajectoryConfig(anxiety_range=(0.01, 0.0))


# ----------------------------------------------------------------------------- convolution and noise


def test_convolve_delta_is_identity() -> None:
    img = np.random.default_rng(0).random((20, 24, 3), dtype=np.float32)
    for size in (1, 3, 31):
        delta = np.zeros((size, size))
        delta[size // 2, size // 2] = 1.0
        np.testing.assert_allclose(convolve(img, delta), img, atol=1e-6)


def test_convolve_box_hand_values_and_orientation() -> None:
    img = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)[:, :, None]
    out = convolve(img, np.full((3, 3), 1.0 / 9.0))[:, :, 0]
    # reflect boundary: row/col -1 repeats row/col 0 and row/col 2 repeats row/col 1
    np.testing.assert_allclose(out, [[18 / 9, 21 / 9], [24 / 9, 27 / 9]], atol=1e-6)
    # true convolution (kernel flipped): a 1 at kernel[0, 0] reads the pixel down-right
    img = np.random.default_rng(1).random((6, 7), dtype=np.float32)
    corner = np.zeros((3, 3))
    corner[0, 0] = 1.0
    np.testing.assert_allclose(convolve(img, corner)[:-1, :-1], img[1:, 1:], atol=1e-6)


@pytest.mark.parametrize("boundary", sorted(BOUNDARY_MODES))
@pytest.mark.parametrize("shape", [(5, 5), (4, 6), (9, 2)])
def test_convolve_matches_scipy_ndimage(boundary: str, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    img = rng.random((23, 19, 3), dtype=np.float32)
    kernel = rng.random(shape)
    ref = np.stack([ndimage.convolve(img[:, :, c].astype(np.float64), kernel, mode=boundary) for c in range(3)], -1)
    np.testing.assert_allclose(convolve(img, kernel, boundary=boundary), ref, atol=2e-5)


def test_convolve_is_linear_and_keeps_2d_shape() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.random((2, 30, 30, 3), dtype=np.float32)
    kernel = random_motion_kernel(rng, size=15)
    lhs = convolve(0.3 * x + 0.7 * y, kernel)
    np.testing.assert_allclose(lhs, 0.3 * convolve(x, kernel) + 0.7 * convolve(y, kernel), atol=1e-5)
    assert convolve(x[:, :, 0], kernel).shape == (30, 30)
    with pytest.raises(ValueError):
        convolve(x, kernel, boundary="bogus")


def test_noise_statistics_before_quantisation() -> None:
    flat = np.full((128, 128, 3), 0.5, np.float32)
    delta = np.ones((1, 1))
    sigma = 0.02
    noisy = blur_with_kernel(flat, delta, noise_sigma=sigma, rng=np.random.default_rng(4), bits=None)
    assert noisy.std() == pytest.approx(sigma, rel=0.03)
    assert noisy.mean() == pytest.approx(0.5, abs=1e-3)
    raw = add_gaussian_noise(np.zeros(10_000, np.float32), 0.1, np.random.default_rng(5), clip=False)
    assert raw.std() == pytest.approx(0.1, rel=0.05)
    assert raw.min() < 0  # not clipped on request
    with pytest.raises(ValueError):
        blur_with_kernel(flat, delta, noise_sigma=0.01)  # no rng


def test_quantised_output_is_on_the_8bit_grid() -> None:
    rng = np.random.default_rng(6)
    sharp = rng.random((32, 32, 3), dtype=np.float32)
    out = blur_with_kernel(sharp, linear_motion_kernel(6, 20, 7), noise_sigma=0.05, rng=rng)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    codes = out.astype(np.float64) * 255
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-4)
    assert quantize(np.array([0.2, 0.7, 1.5, -1.0]), bits=1).tolist() == [0.0, 1.0, 1.0, 0.0]
    assert quantize(np.array([2.0 / 255 + 0.4 / 255])).tolist() == [np.float32(2.0 / 255)]


def test_blur_in_linear_light_uses_the_response() -> None:
    edge = np.zeros((16, 16, 3), np.float32)
    edge[:, 8:] = 1.0
    kernel = linear_motion_kernel(4, 0, 5)
    resp = GammaResponse(2.2)
    linear = blur_with_kernel(edge, kernel, bits=None, response=resp)
    expected = resp.from_linear(convolve(resp.to_linear(edge), kernel))
    np.testing.assert_allclose(linear, expected, atol=1e-6)
    encoded = blur_with_kernel(edge, kernel, bits=None)
    assert linear[8, 7, 0] > encoded[8, 7, 0] + 0.1  # linear-light blur brightens the dark side


# ----------------------------------------------------------------------------- responses and averaging


@FAST
@given(gamma=st.floats(0.3, 4.0), seed=st.integers(0, 1000))
def test_gamma_response_round_trips(gamma: float, seed: int) -> None:
    x = np.random.default_rng(seed).random(1000, dtype=np.float32)
    r = GammaResponse(gamma)
    np.testing.assert_allclose(r.from_linear(r.to_linear(x)), x, atol=2e-5)
    np.testing.assert_allclose(r.to_linear(x), x.astype(np.float64) ** gamma, rtol=1e-5, atol=1e-7)


def test_srgb_response_known_values_and_round_trip() -> None:
    r = SRGBResponse()
    assert float(r.to_linear(np.float32(0.5))) == pytest.approx(0.214041, abs=1e-5)
    assert float(r.from_linear(np.float32(0.214041))) == pytest.approx(0.5, abs=1e-5)
    assert float(r.to_linear(np.float32(0.02))) == pytest.approx(0.02 / 12.92, rel=1e-6)
    x = np.linspace(0, 1, 4001, dtype=np.float32)
    np.testing.assert_allclose(r.from_linear(r.to_linear(x)), x, atol=2e-5)
    np.testing.assert_allclose(r.to_linear(r.from_linear(x)), x, atol=2e-5)
    lin = r.to_linear(x)
    assert (np.diff(lin) >= 0).all()  # monotone, continuous at the threshold
    with pytest.raises(ValueError):
        GammaResponse(0.0)


def test_average_frames_is_the_mean_in_linear_light() -> None:
    frames = np.random.default_rng(8).random((9, 12, 10, 3), dtype=np.float32)
    by_hand = np.mean(frames.astype(np.float64) ** 2.2, axis=0) ** (1 / 2.2)
    np.testing.assert_allclose(average_frames(frames), by_hand, atol=1e-5)
    srgb = SRGBResponse()
    np.testing.assert_allclose(
        average_frames(frames, srgb), srgb.from_linear(np.mean(srgb.to_linear(frames), axis=0)), atol=1e-6
    )
    np.testing.assert_allclose(average_frames(frames, None), frames.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(average_frames(frames, LinearResponse()), frames.mean(axis=0), atol=1e-6)
    assert average_frames(frames).dtype == np.float32


def test_average_of_identical_frames_is_the_frame() -> None:
    frame = np.random.default_rng(9).random((8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(average_frames(np.stack([frame] * 7)), frame, atol=2e-6)
    as_uint8 = (np.stack([frame] * 3) * 255).round().astype(np.uint8)
    np.testing.assert_allclose(average_frames(as_uint8), as_uint8[0] / 255.0, atol=2e-6)


@pytest.mark.parametrize("m", GOPRO_FRAME_COUNTS)
def test_frame_average_pair_picks_the_middle_frame(m: int) -> None:
    frames = np.random.default_rng(m).random((m, 6, 5, 3), dtype=np.float32)
    blur, sharp = frame_average_pair(frames)
    assert np.array_equal(sharp, frames[m // 2])
    np.testing.assert_allclose(blur, average_frames(frames), atol=0)


@pytest.mark.parametrize("m", [2, 8, 12])
def test_frame_average_pair_refuses_even_counts(m: int) -> None:
    with pytest.raises(ValueError, match="odd"):
        frame_average_pair(np.zeros((m, 4, 4, 3), np.float32))


# ----------------------------------------------------------------------------- procedural content


def test_dead_leaves_shape_range_and_determinism() -> None:
    img = dead_leaves(np.random.default_rng(10), 48, 64)
    assert img.shape == (48, 64, 3) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1
    assert img.tobytes() == dead_leaves(np.random.default_rng(10), 48, 64).tobytes()
    assert not np.array_equal(img, dead_leaves(np.random.default_rng(11), 48, 64))
    smooth = dead_leaves(np.random.default_rng(10), 48, 64, supersample=2)
    assert smooth.shape == (48, 64, 3)


def test_dead_leaves_are_piecewise_constant_occluding_shapes_without_texture() -> None:
    img = dead_leaves(np.random.default_rng(12), 96, 96, texture_probability=0.0, color_model="gray")
    assert np.array_equal(img[:, :, 0], img[:, :, 1]) and np.array_equal(img[:, :, 0], img[:, :, 2])
    flat = np.mean(np.diff(img[:, :, 0], axis=1) == 0)
    assert 0.5 < flat < 0.99  # mostly flat leaves, with edges
    assert len(np.unique(img)) > 50  # many leaves of many sizes are visible
    textured = dead_leaves(np.random.default_rng(12), 96, 96, texture_probability=1.0)
    assert np.mean(np.diff(textured[:, :, 0], axis=1) == 0) < flat


def test_dead_leaves_size_distribution_follows_the_power_law() -> None:
    # with only small leaves the image has much more edge energy than with only large ones
    small = dead_leaves(np.random.default_rng(13), 96, 96, radius_range=(2, 4), texture_probability=0.0)
    large = dead_leaves(np.random.default_rng(13), 96, 96, radius_range=(20, 40), texture_probability=0.0)
    assert np.mean(np.diff(small, axis=1) != 0) > 3 * np.mean(np.diff(large, axis=1) != 0)


def test_render_scene_shape_range_and_determinism() -> None:
    frames = render_scene(np.random.default_rng(14), 64, 80, 7)
    assert frames.shape == (7, 64, 80, 3) and frames.dtype == np.float32
    assert frames.min() >= 0 and frames.max() <= 1
    assert frames.tobytes() == render_scene(np.random.default_rng(14), 64, 80, 7).tobytes()
    assert not np.array_equal(frames, render_scene(np.random.default_rng(15), 64, 80, 7))


def test_static_scene_renders_identical_frames() -> None:
    still = SceneConfig(
        n_layers_range=(2, 2), layer_speed_range=(0, 0), camera_path_range=(0, 0), rotation_range_deg=0, zoom_range=0
    )
    frames = render_scene(np.random.default_rng(16), 40, 40, 9, still)
    for frame in frames:
        assert np.array_equal(frame, frames[4])


def test_moving_layer_blurs_only_its_region() -> None:
    cfg = SceneConfig(
        n_layers_range=(1, 1),
        layer_speed_range=(2, 2),
        layer_size_range=(0.4, 0.4),
        camera_path_range=(0, 0),
        rotation_range_deg=0,
        zoom_range=0,
    )
    for seed in range(3):
        blur, sharp = frame_average_pair(render_scene(np.random.default_rng(seed), 96, 96, 11, cfg))
        unchanged = np.all(np.abs(blur - sharp) < 1e-4, axis=-1)
        assert 0.2 < unchanged.mean() < 0.98  # static background kept sharp, the layer's path blurred


def test_camera_rotation_blurs_corners_more_than_the_centre() -> None:
    cfg = SceneConfig(n_layers_range=(0, 0), camera_path_range=(0, 0), rotation_range_deg=0.5, zoom_range=0)
    for seed in range(3):
        blur, sharp = frame_average_pair(render_scene(np.random.default_rng(seed), 96, 96, 13, cfg))
        diff = np.abs(blur - sharp).mean(axis=-1)
        centre = diff[40:56, 40:56].mean()
        corners = np.mean([diff[:16, :16], diff[:16, -16:], diff[-16:, :16], diff[-16:, -16:]])
        assert corners > 3 * centre


def test_default_scene_is_blurred() -> None:
    frames = render_scene(np.random.default_rng(17), 96, 96, 13)
    blur, sharp = frame_average_pair(frames)
    assert np.abs(blur - sharp).mean() > 0.01
    assert np.abs(np.diff(blur, axis=1)).mean() < 0.8 * np.abs(np.diff(sharp, axis=1)).mean()
    # averaging in linear light (convex g^-1) is never darker than averaging encoded values
    assert (blur >= average_frames(frames, None) - 1e-6).all()
