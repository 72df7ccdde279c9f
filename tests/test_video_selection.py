"""Frame selection (deblurkit.inference.selection): S4's modes and the Laplacian baseline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from deblurkit.inference.selection import (
    AllSelector,
    ClassifierSelector,
    LaplacianSelector,
    MiddleOfRunSelector,
    laplacian_variance,
    luma,
    make_selector,
)


def _run(selector, payloads):
    """Push every payload, flush, and check the selector's memory bound on the way."""
    out, held = [], 0
    for p in payloads:
        got = selector.push(p)
        held += 1 - len(got)
        assert held <= max(selector.max_pending, 0) or (held == 0)
        out += got
    out += selector.flush()
    assert [p for p, _ in out] == list(payloads), "frames must come out once, in order"
    return [d for _, d in out]


def _texture(rng, h=48, w=64):
    return np.kron(rng.random((h // 4, w // 4, 3)), np.ones((4, 4, 1))).astype(np.float32)


def _box_blur(img, size=9):
    return uniform_filter(img, size=(size, size, 1), mode="reflect").astype(np.float32)


def test_luma_and_laplacian_variance_exact():
    rgb = np.zeros((5, 5, 3), np.float32)
    rgb[2, 2] = 1.0
    y = luma(rgb)
    assert y[2, 2] == pytest.approx(1.0)
    # Laplacian of a unit impulse: -4 at the centre, +1 at its 4 neighbours, 0 elsewhere.
    lap = np.zeros((5, 5))
    lap[2, 2] = -4
    lap[1, 2] = lap[3, 2] = lap[2, 1] = lap[2, 3] = 1
    assert laplacian_variance(rgb) == pytest.approx(lap.var())
    # a linear ramp has zero Laplacian inside; edge replication leaves the border terms.
    assert laplacian_variance(np.zeros((6, 6, 3))) == 0.0
    # scaling intensities by a scales the variance by a^2
    rng = np.random.default_rng(1)
    img = rng.random((16, 16, 3))
    assert laplacian_variance(0.5 * img) == pytest.approx(0.25 * laplacian_variance(img))


def test_all_selects_everything_without_scoring():
    calls = []
    sel = AllSelector(to_rgb=lambda p: calls.append(p))
    decisions = _run(sel, list(range(5)))
    assert all(d.deblur and d.score is None and not d.classified for d in decisions)
    assert calls == []


def test_classifier_threshold_is_inclusive_and_scores_every_frame():
    probs = [0.1, 0.5, 0.49, 0.9, 1.0]
    sel = ClassifierSelector(lambda p: p, threshold=0.5)
    decisions = _run(sel, probs)
    assert [d.deblur for d in decisions] == [False, True, False, True, True]
    assert [d.score for d in decisions] == probs
    assert all(d.classified for d in decisions)


def test_classifier_rejects_nan():
    sel = ClassifierSelector(lambda p: float("nan"))
    with pytest.raises(ValueError, match="probability"):
        sel.push(0)


@pytest.mark.parametrize("n_frames", [1, 14, 15, 16, 40, 45])
def test_middle15_one_label_per_run_of_15(n_frames):
    rng = np.random.default_rng(n_frames)
    probs = rng.random(n_frames)
    seen = []

    def classify(p):
        seen.append(p)
        return probs[p]

    sel = MiddleOfRunSelector(classify, threshold=0.5)
    assert sel.max_pending == 15
    decisions = _run(sel, list(range(n_frames)))
    expected_middles = []
    for start in range(0, n_frames, 15):
        run = list(range(start, min(start + 15, n_frames)))
        middle = run[len(run) // 2]
        expected_middles.append(middle)
        for i in run:
            d = decisions[i]
            assert d.score == probs[middle]
            assert d.deblur == (probs[middle] >= 0.5)
            assert d.classified == (i == middle)
            assert (d.classify_seconds > 0) == (i == middle) or d.classify_seconds == 0
    assert seen == expected_middles, "only the middle frame of each run is classified"
    assert seen[:1] == ([7] if n_frames >= 15 else [n_frames // 2])


def test_laplacian_selects_heavily_blurred_frames():
    rng = np.random.default_rng(0)
    blurred = {3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 29}
    frames = [_box_blur(_texture(rng)) if i in blurred else _texture(rng) for i in range(30)]
    sel = LaplacianSelector()
    assert sel.max_pending == 8
    decisions = _run(sel, frames)
    assert {i for i, d in enumerate(decisions) if d.deblur} == blurred
    assert all(0.0 <= d.score <= 1.0 for d in decisions)
    # blurred frames score far higher than sharp ones
    assert min(decisions[i].score for i in blurred) > 0.8
    assert max(d.score for i, d in enumerate(decisions) if i not in blurred) < 0.35


def test_laplacian_scores_synthesized_motion_blur_higher():
    """Frame averaging of a moving procedural scene (S4's degradation) raises the score."""
    from deblurkit.synth.averaging import average_frames
    from deblurkit.synth.procedural import render_scene

    rng = np.random.default_rng(3)
    seq = render_scene(rng, 48, 64, 11)
    sharp = seq[5]
    blurred = average_frames(seq)
    assert laplacian_variance(blurred) < laplacian_variance(sharp)
    sel = LaplacianSelector(window=3)
    d = _run(sel, [sharp, blurred, sharp])
    assert d[1].score > d[0].score


def test_laplacian_absolute_reference_and_flat_clip():
    rng = np.random.default_rng(2)
    img = _texture(rng)
    s = laplacian_variance(img)
    sel = LaplacianSelector(reference=4 * s, threshold=0.5)
    assert sel.max_pending == 1
    (d,) = _run(sel, [img])
    assert d.score == pytest.approx(0.75) and d.deblur
    flat = [np.full((8, 8, 3), 0.3, np.float32)] * 4
    assert not any(d.deblur for d in _run(LaplacianSelector(window=3), flat))


def test_make_selector_validation():
    with pytest.raises(ValueError, match="classifier"):
        make_selector("middle15")
    with pytest.raises(ValueError, match="unknown selection mode"):
        make_selector("oracle")
    with pytest.raises(ValueError, match="odd"):
        LaplacianSelector(window=4)
    assert make_selector("classifier", classifier=lambda p: 0.0, threshold=0.3).threshold == 0.3


# ------------------------------------------------------------------------------- temporal
def _toy_model(window=5):
    from deblurkit.inference.selection import TemporalModel

    # blurred when the coarse-scale sharpness falls below the window's reference
    n = 12
    weights = [0.0] * n
    weights[1] = -4.0  # relative-to-quantile feature at scale 1
    return TemporalModel(mean=(0.0,) * n, scale=(1.0,) * n, weights=tuple(weights), bias=-2.0,
                         threshold=0.5, window=window)


def test_multiscale_sharpness_sees_blur_through_noise():
    from deblurkit.inference.selection import multiscale_sharpness

    rng = np.random.default_rng(3)
    sharp = _texture(rng, 64, 64)
    noisy_blur = np.clip(_box_blur(sharp, 9) + rng.normal(0, 0.03, sharp.shape), 0, 1)
    a, b = multiscale_sharpness(sharp), multiscale_sharpness(noisy_blur.astype(np.float32))
    assert a.shape == (4,)
    assert b[2] < a[2] - 1.0  # at 4x coarser the blur shows although noise adds fine energy
    # exact value of the finest scale: log of the mean squared 4-neighbour Laplacian
    y = luma(sharp)
    p = np.pad(y, 1, mode="edge")
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * y
    assert a[0] == pytest.approx(np.log(np.mean(lap ** 2) + 1e-10))


def test_temporal_streaming_equals_whole_clip_scoring_and_holds_few_frames():
    from deblurkit.inference.selection import TemporalSelector, clip_features

    rng = np.random.default_rng(4)
    frames = [_texture(rng) if i % 3 else _box_blur(_texture(rng), 11) for i in range(17)]
    model = _toy_model(window=5)
    sel = TemporalSelector(model)
    first = [len(sel.push(f)) for f in frames[:3]]
    assert first == [0, 0, 1]  # frame 0 is decided once window // 2 = 2 later frames are known
    sel = TemporalSelector(model)
    decisions = _run(sel, frames)
    assert sel.max_pending == 3
    expected = model.probability(clip_features(frames, model.window))
    np.testing.assert_allclose([d.score for d in decisions], expected, rtol=1e-12)
    assert [d.deblur for d in decisions] == [i % 3 == 0 for i in range(17)]


def test_temporal_clip_shorter_than_the_window_and_model_file(tmp_path):
    from deblurkit.inference.selection import TemporalModel, TemporalSelector

    rng = np.random.default_rng(5)
    frames = [_texture(rng), _box_blur(_texture(rng), 11)]
    model = _toy_model(window=15)
    decisions = _run(TemporalSelector(model), frames)
    assert len(decisions) == 2 and [d.deblur for d in decisions] == [False, True]
    model.save(tmp_path / "t.safetensors")
    assert TemporalModel.load(tmp_path / "t.safetensors") == model
    from safetensors.torch import save_file
    import torch

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a temporal frame-selector file"):
        TemporalModel.load(tmp_path / "other.safetensors")


def test_bundled_temporal_model_loads_and_streams_like_whole_clip_scoring():
    from deblurkit.inference.selection import clip_features
    from deblurkit.inference.selection import load_temporal_selector

    model = load_temporal_selector()
    assert model.window == 15 and 0.0 < model.threshold < 1.0 and len(model.weights) == 12
    rng = np.random.default_rng(6)
    frames = [_texture(rng) if i % 4 else _box_blur(_texture(rng), 9) for i in range(20)]
    decisions = _run(make_selector("temporal"), frames)
    np.testing.assert_allclose([d.score for d in decisions],
                               model.probability(clip_features(frames)), rtol=1e-12)
    assert make_selector("temporal", threshold=0.9).threshold == 0.9


def _pan(rng, n, blurred, size=(96, 128)):
    """A pan over one noisy texture of 2x2 blocks: frame i shifted by 4 i pixels (whole
    blocks, so that every sharp frame has the same sharpness at every scale); blurred frames
    averaged over 9 horizontal positions (motion blur), as S4's clips are made."""
    h, w = size
    scene = np.kron(rng.random((h // 2, (w + 4 * n + 16) // 2, 3)),
                    np.ones((2, 2, 1))).astype(np.float32)
    frames = []
    for i in range(n):
        x = 4 * i
        if blurred(i):
            frame = np.mean([scene[:h, x + d:x + d + w] for d in range(9)], axis=0)
        else:
            frame = scene[:h, x + 4:x + 4 + w]
        frames.append(np.clip(frame + rng.normal(0, 0.01, frame.shape), 0, 1).astype(np.float32))
    return frames


def test_default_selection_is_the_bundled_temporal_selector_and_decides_by_documented_rule():
    from deblurkit.inference.selection import DEFAULT_SELECT

    assert DEFAULT_SELECT == "temporal"
    rng = np.random.default_rng(11)
    # partially blurred: the blurred frames are found, the sharp ones left alone
    labels = [i % 3 == 1 or i in (10, 11, 12) for i in range(30)]
    decisions = _run(make_selector(DEFAULT_SELECT), _pan(rng, 30, lambda i: labels[i]))
    assert [d.deblur for d in decisions] == labels
    assert all(d.classified and d.reason.startswith("P(blurred)") for d in decisions)
    assert ">= threshold" in decisions[1].reason and "< threshold" in decisions[0].reason
    # the documented rule: a frame is deblurred when it is blurrier than its neighbours, so a
    # clip with no blurred frame and a clip blurred throughout both keep every frame as it is
    for everywhere in (False, True):
        decisions = _run(make_selector(DEFAULT_SELECT), _pan(rng, 30, lambda i: everywhere))
        assert not any(d.deblur for d in decisions)
    # a clip shorter than the window: decided from what there is
    decisions = _run(make_selector(DEFAULT_SELECT), _pan(rng, 4, lambda i: i == 2))
    assert [d.deblur for d in decisions] == [False, False, True, False]


def test_every_selector_says_why():
    frame = np.full((8, 8, 3), 0.5, np.float32)
    reasons = {mode: _run(make_selector(mode, classifier=lambda rgb: 0.75), [frame] * 3)[0].reason
               for mode in ("all", "classifier", "middle15", "laplacian", "temporal")}
    assert reasons["all"] == "--select all: every frame is deblurred"
    assert reasons["classifier"] == "P(blurred) 0.750 >= threshold 0.500"
    assert reasons["middle15"] == ("the middle frame of its run of 3: P(blurred) 0.750 >= "
                                   "threshold 0.500")
    assert reasons["laplacian"] == "featureless window; score 0.000 < threshold 0.500"
    assert reasons["temporal"].startswith("P(blurred) ") and "+0.00 +0.00 +0.00 +0.00" in \
        reasons["temporal"]
