"""The video pipeline (deblurkit.inference.video) and `deblurkit video`, on tiny synthetic clips.

Clips are 64x48, made here with PyAV: random block textures (sharp) and 9x9 box-blurred ones
(blurred), irregular (VFR) timestamps, and an AAC sine tone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from deblurkit.errors import OutputExistsError, UserError
from deblurkit.inference.video import pipeline as video_pipeline
from deblurkit.inference.selection import make_selector
from deblurkit.inference.video import EncodeOptions, restore_video, runtime_totals

W, H = 64, 48
TB = Fraction(1, 1000)
SAMPLE_RATE = 16000
BLURRED = frozenset({3, 4, 5, 6, 7, 8, 9, 10, 18, 19, 20, 27})


def _frames(n: int, blurred=BLURRED, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        tex = np.kron(rng.random((H // 4, W // 4, 3)), np.ones((4, 4, 1)))
        if i in blurred:
            tex = uniform_filter(tex, size=(9, 9, 1), mode="reflect")
        out.append((tex * 255).round().astype(np.uint8))
    return out


def make_clip(path: Path, n: int = 30, *, vfr: bool = True, audio: bool = True,
              video: bool = True, blurred=BLURRED, seed: int = 0) -> list[int]:
    """Write a clip; returns the video pts (time base 1/1000)."""
    rng = np.random.default_rng(seed + 100)
    steps = rng.choice([20, 40, 70], size=n) if vfr else np.full(n, 40)
    pts = [int(p) for p in np.concatenate([[0], np.cumsum(steps)[:-1]])]
    with av.open(str(path), "w") as out:
        if video:
            vs = out.add_stream("libx264", rate=25)
            vs.width, vs.height, vs.pix_fmt = W, H, "yuv420p"
            vs.codec_context.time_base = TB
            vs.codec_context.options = {"crf": "10"}
        if audio:
            aus = out.add_stream("aac", rate=SAMPLE_RATE)
            aus.layout = "mono"
        if video:
            for p, img in zip(pts, _frames(n, blurred, seed)):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = p, TB
                for packet in vs.encode(frame):
                    out.mux(packet)
            for packet in vs.encode(None):
                out.mux(packet)
        if audio:
            n_samples = int(SAMPLE_RATE * (pts[-1] + 100) / 1000)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n_samples) / SAMPLE_RATE))
            tone = tone.astype(np.float32)
            for k in range(0, n_samples, 1024):
                af = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="fltp",
                                                layout="mono")
                af.sample_rate, af.pts = SAMPLE_RATE, k
                for packet in aus.encode(af):
                    out.mux(packet)
            for packet in aus.encode(None):
                out.mux(packet)
    return pts


def decode(path: Path) -> list[tuple[Fraction, np.ndarray]]:
    """(presentation time as an exact Fraction, raw planes) of every video frame."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(f.pts * f.time_base, f.to_ndarray().copy()) for f in c.decode(s)]


def audio_packets(path: Path) -> list[tuple[Fraction | None, bytes]]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        s = c.streams.audio[0]
        return [(None if p.pts is None else p.pts * p.time_base, bytes(p))
                for p in c.demux(s) if p.size]


def cli(argv: list[str]) -> int:
    """``deblurkit ARGV`` in process (registers the video command if the CLI lacks it)."""
    from deblurkit.cli import COMMANDS, main

    COMMANDS.setdefault("video", "deblurkit.cli.video")
    return main(argv)


CLI_SCRIPT = ("import sys; from deblurkit.cli import COMMANDS, main; "
              "COMMANDS.setdefault('video', 'deblurkit.cli.video'); sys.exit(main(sys.argv[1:]))")


def invert(rgb: np.ndarray) -> np.ndarray:
    """A 'deblurring' that is easy to recognise in the output."""
    return 1.0 - rgb


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "in.mp4"
    make_clip(path)
    return path


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_identity_keeps_frames_timestamps_and_audio(clip, tmp_path):
    out = tmp_path / "out.mp4"
    result = restore_video(clip, out, selector=make_selector("all"), deblur=lambda x: x,
                           show_progress=False)
    src, dst = decode(clip), decode(out)
    assert len(dst) == len(src) == 30
    assert [t for t, _ in dst] == [t for t, _ in src], "VFR timestamps must be kept exactly"
    steps = {b - a for (a, _), (b, _) in zip(src, src[1:])}
    assert len(steps) > 1, "the test clip must be VFR"
    assert audio_packets(out) == audio_packets(clip) != []
    # identity model + x264 crf 18: no systematic shift (brightness/colour), small error
    for (_, a), (_, b) in zip(src, dst):
        diff = b.astype(int) - a.astype(int)
        assert abs(diff.mean()) < 0.5 and np.abs(diff).mean() < 4.0
    assert result.report["output"]["audio_copied"] is True
    assert result.report["input"]["width"] == W and result.report["input"]["height"] == H


def test_identity_model_with_lossless_codec_is_bit_exact(clip, tmp_path):
    """YUV -> RGB -> model -> YUV loses nothing when the model changes nothing."""
    out = tmp_path / "out.mkv"
    restore_video(clip, out, selector=make_selector("all"), deblur=lambda x: x.copy(),
                  encode=EncodeOptions(codec="ffv1"), show_progress=False)
    for (ta, a), (tb, b) in zip(decode(clip), decode(out), strict=True):
        assert ta == tb and np.array_equal(a, b)


@pytest.mark.parametrize("suffix, codec", [(".mkv", "ffv1"), (".mov", "libx264")])
def test_lossless_passthrough_of_unselected_frames(clip, tmp_path, suffix, codec):
    """Lossless codecs (ffv1; x264 at CRF 0): unselected frames come out bit for bit."""
    out = tmp_path / f"out{suffix}"
    result = restore_video(clip, out, selector=make_selector("laplacian"), deblur=invert,
                           encode=EncodeOptions(codec=codec, crf=0), show_progress=False)
    frames = result.report["frames"]
    assert {f["index"] for f in frames if f["deblurred"]} == set(BLURRED)
    src, dst = decode(clip), decode(out)
    assert [t for t, _ in dst] == [t for t, _ in src]
    assert audio_packets(out) == audio_packets(clip)
    for i, ((_, a), (_, b)) in enumerate(zip(src, dst)):
        if i in BLURRED:  # inverted RGB: limited-range luma Y -> 16 + 235 - Y
            err = b[:H].astype(int) - (251 - a[:H].astype(int))
            assert np.abs(err).max() <= 2, i
        else:
            assert np.array_equal(a, b), f"frame {i} was not passed through untouched"
    assert result.report["output"]["crf"] == (None if codec == "ffv1" else 0)


def test_report_schema_and_totals(clip, tmp_path):
    out, rep = tmp_path / "out.mkv", tmp_path / "report.json"
    restore_video(clip, out, selector=make_selector("laplacian"), deblur=invert,
                  report_path=rep, model="invert", threshold=0.5, show_progress=False)
    report = json.loads(rep.read_text())
    assert {"input", "output", "select", "threshold", "model", "frames", "totals"} <= set(report)
    assert report["select"] == "laplacian" and report["model"] == "invert"
    frames, t = report["frames"], report["totals"]
    assert [f["index"] for f in frames] == list(range(30))
    for f in frames:
        assert set(f) == {"index", "pts", "time", "score", "deblurred", "classified", "seconds",
                          "reason"}
        assert f["reason"].startswith("sharpness ") and "x the window's reference; score " in \
            f["reason"]
        assert f["time"] == pytest.approx(f["pts"] * float(Fraction(report["input"]["time_base"])))
    assert t["N_a"] == 30 and t["N_b"] == len(BLURRED) == sum(f["deblurred"] for f in frames)
    assert t["N_c"] == 30
    assert t["T_run"] == pytest.approx(t["t_d"] * t["N_b"] + t["t_c"] * t["N_a"])
    # per-frame seconds are classify + deblur: their sum is the model of what ran
    assert sum(f["seconds"] for f in frames) == pytest.approx(t["T_run_classified"])
    assert t["speedup_vs_all"] == pytest.approx(t["t_d"] * t["N_a"] / t["wall_seconds"])
    assert t["wall_seconds"] > 0


def test_runtime_totals_arithmetic_exact():
    frames = ([{"classified": i % 15 == 7, "deblurred": i < 15,
                "classify_seconds": 0.5 if i % 15 == 7 else 0.0,
                "deblur_seconds": 2.0 if i < 15 else 0.0} for i in range(30)])
    t = runtime_totals(frames, wall_seconds=10.0)
    assert (t["N_a"], t["N_b"], t["N_c"]) == (30, 15, 2)
    assert (t["t_c"], t["t_d"]) == (0.5, 2.0)
    assert t["T_run"] == 2.0 * 15 + 0.5 * 30
    assert t["T_run_classified"] == 2.0 * 15 + 0.5 * 2
    assert t["speedup_vs_all"] == 2.0 * 30 / 10.0
    none = runtime_totals([{"classified": True, "deblurred": False, "classify_seconds": 1.0,
                            "deblur_seconds": 0.0}], wall_seconds=1.0)
    assert none["t_d"] is None and none["speedup_vs_all"] is None and none["T_run"] == 1.0


def _tiny_classifier():
    import torch

    from deblurkit.models import create_model

    torch.manual_seed(0)
    model = create_model("s4_frame_selector", stem_channels=4, widths=[4, 4, 8, 8]).eval()

    def classify(rgb: np.ndarray) -> float:
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None]
        with torch.inference_mode():
            return float(model(x)[0])

    return classify


def test_middle15_labels_whole_runs_with_untrained_classifier(tmp_path):
    src = tmp_path / "in40.mkv"
    make_clip(src, n=40, audio=False)
    out = tmp_path / "out.mkv"
    # threshold 0: every run is selected, so the labels are known; scores come from the model
    result = restore_video(src, out, selector=make_selector(
        "middle15", classifier=_tiny_classifier(), threshold=0.0), deblur=invert,
        encode=EncodeOptions(codec="ffv1"), show_progress=False)
    frames = result.report["frames"]
    assert [f["index"] for f in frames if f["classified"]] == [7, 22, 35]
    for start, middle in ((0, 7), (15, 22), (30, 35)):
        run = frames[start:start + 15]
        assert {f["score"] for f in run} == {frames[middle]["score"]}
        assert all(f["deblurred"] for f in run)
    assert result.report["totals"]["N_c"] == 3
    assert len(decode(out)) == 40


def test_corrupt_input_is_one_line_error_and_leaves_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    out = tmp_path / "out.mp4"
    status = cli(["video", str(bad), "-o", str(out), "--select", "laplacian", "--model",
                  "s4_deblurnet"])
    err = capsys.readouterr().err.strip()
    assert status == 1
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert _leftovers(tmp_path, {"bad.mp4"}) == []


def test_audio_only_and_empty_inputs_are_errors(tmp_path):
    audio_only = tmp_path / "tone.mkv"
    make_clip(audio_only, video=False)
    with pytest.raises(UserError, match="no video stream"):
        restore_video(audio_only, tmp_path / "o.mkv", selector=make_selector("all"),
                      deblur=invert, show_progress=False)
    empty = tmp_path / "empty.mkv"
    with av.open(str(empty), "w") as c:  # a video stream without a single frame
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        c.start_encoding()
    with pytest.raises(UserError, match=r"empty\.mkv: .*(no decodable video frames|cannot)"):
        restore_video(empty, tmp_path / "o.mkv", selector=make_selector("all"),
                      deblur=invert, show_progress=False)
    assert _leftovers(tmp_path, {"tone.mkv", "empty.mkv"}) == []


def test_keyboard_interrupt_in_inference_leaves_no_output(clip, tmp_path):
    calls = []

    def deblur(rgb):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return rgb

    with pytest.raises(KeyboardInterrupt):
        restore_video(clip, tmp_path / "out.mp4", selector=make_selector("all"), deblur=deblur,
                      report_path=tmp_path / "r.json", show_progress=False)
    assert _leftovers(tmp_path, set()) == []


def test_failure_in_encode_thread_stops_pipeline_and_cleans_up(clip, tmp_path, monkeypatch):
    real = video_pipeline.to_output_format
    count = []

    def flaky(frame, pix_fmt):
        count.append(1)
        if len(count) == 5:
            raise KeyboardInterrupt
        return real(frame, pix_fmt)

    monkeypatch.setattr(video_pipeline, "to_output_format", flaky)
    with pytest.raises(KeyboardInterrupt):
        restore_video(clip, tmp_path / "out.mkv", selector=make_selector("all"), deblur=invert,
                      queue_size=2, show_progress=False)
    assert _leftovers(tmp_path, set()) == []


def test_refuses_existing_output_and_the_input_itself(clip, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        restore_video(clip, out, selector=make_selector("all"), deblur=invert,
                      show_progress=False)
    assert out.read_bytes() == b"keep me"
    restore_video(clip, out, selector=make_selector("all"), deblur=invert, overwrite=True,
                  show_progress=False)
    assert len(decode(out)) == 30
    with pytest.raises(UserError, match="is the input"):
        restore_video(out, out, selector=make_selector("all"), deblur=invert, overwrite=True,
                      show_progress=False)
    with pytest.raises(UserError, match="suffix"):
        restore_video(clip, tmp_path / "out.xyz", selector=make_selector("all"),
                      deblur=invert, show_progress=False)


def _tiny_weights(tmp_path: Path) -> tuple[Path, Path]:
    import torch

    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    torch.manual_seed(0)
    gen = create_model("s4_deblurnet", stem_channels=4, body_channels=8, num_blocks=1)
    clf = create_model("s4_frame_selector", stem_channels=4, widths=[4, 4, 8, 8])
    g, c = tmp_path / "gen.safetensors", tmp_path / "clf.safetensors"
    save_model(gen.eval(), g)
    save_model(clf.eval(), c)
    return g, c


def test_cli_end_to_end_classifier_mode(clip, tmp_path):
    gen, clf = _tiny_weights(tmp_path)
    out, rep = tmp_path / "out.mp4", tmp_path / "rep.json"
    status = cli(["video", str(clip), "-o", str(out), "--model", str(gen), "--select",
                   "classifier", "--classifier", str(clf), "--threshold", "0", "--report",
                   str(rep), "--crf", "23", "--preset", "ultrafast", "--tile", "32",
                  "--overlap", "8"])
    assert status == 0
    report = json.loads(rep.read_text())
    assert report["totals"]["N_a"] == report["totals"]["N_b"] == 30
    assert report["totals"]["N_c"] == 30
    assert report["output"]["crf"] == 23 and report["output"]["preset"] == "ultrafast"
    assert [t for t, _ in decode(out)] == [t for t, _ in decode(clip)]
    assert audio_packets(out) == audio_packets(clip)
    assert cli(["video", str(clip), "-o", str(out), "--model", str(gen)]) == 1  # exists


def test_cli_dtype_and_device_reach_the_frame_classifier(clip, tmp_path, monkeypatch):
    import torch

    from deblurkit.inference import classifier as classifier_mod

    built = []

    class Spy(classifier_mod.FrameClassifier):
        def __init__(self, model, **options):
            super().__init__(model, **options)
            built.append(self)

    monkeypatch.setattr(classifier_mod, "FrameClassifier", Spy)
    gen, clf = _tiny_weights(tmp_path)
    status = cli(["video", str(clip), "-o", str(tmp_path / "out.mkv"), "--model", str(gen),
                  "--select", "middle15", "--classifier", str(clf), "--dtype", "bf16",
                  "--device", "cpu", "--codec", "ffv1", "--tile", "0"])
    assert status == 0
    (classifier,) = built
    assert classifier.dtype == "bf16" and classifier.backend.compute_dtype == torch.bfloat16
    assert classifier.device == torch.device("cpu")


def test_a_frame_scored_and_deblurred_is_converted_to_rgb_once(clip, tmp_path, monkeypatch):
    calls = []
    real = video_pipeline.frame_samples

    def counting(frame):
        calls.append(frame.pts)
        return real(frame)

    monkeypatch.setattr(video_pipeline, "frame_samples", counting)
    seen = []

    def score(rgb: np.ndarray) -> float:
        seen.append(rgb)
        return 1.0  # every frame is blurred: scored, then deblurred

    result = restore_video(clip, tmp_path / "out.mkv",
                           selector=make_selector("classifier", classifier=score),
                           deblur=invert, encode=EncodeOptions(codec="ffv1"),
                           show_progress=False)
    frames = result.report["frames"]
    assert all(f["classified"] and f["deblurred"] for f in frames)
    assert len(calls) == len(set(calls)) == len(frames) == len(seen)
    assert seen[0].dtype == np.float32 and 0.0 <= seen[0].min() <= seen[0].max() <= 1.0


def test_sharded_two_process_run(tmp_path):
    """Two ranks (torchrun's environment) split two inputs; each rank writes its own."""
    gen, _ = _tiny_weights(tmp_path)
    inputs = []
    for k in range(2):
        path = tmp_path / f"clip{k}.mkv"
        make_clip(path, n=12, audio=k == 0, seed=k)
        inputs.append(path)
    outdir, repdir = tmp_path / "out", tmp_path / "reports"
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                   LOCAL_WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT="29555",
                   DEBLURKIT_PROGRESS="0", OMP_NUM_THREADS="1")
        cmd = [sys.executable, "-c", CLI_SCRIPT, "video", *map(str, inputs), "-o",
               str(outdir), "--model", str(gen), "--select", "laplacian", "--codec", "ffv1",
               "--report", str(repdir), "--device", "cpu"]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    logs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    for path in inputs:
        produced = outdir / path.name
        assert len(decode(produced)) == 12
        assert json.loads((repdir / f"{path.name}.json").read_text())["totals"]["N_a"] == 12
    # each video was processed by exactly one rank
    assert sum(err.count(" -> ") for _, err in logs) == 2


def test_a_truncated_video_is_an_error_unless_allowed(tmp_path):
    # a "fast start" MP4 (index first) cut in the middle of its frame data: the container still
    # states every frame, only the first ones decode
    src = tmp_path / "whole.mp4"
    frames = _frames(40)
    with av.open(str(src), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18", "g": "5"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    cut = tmp_path / "cut.mp4"
    data = src.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    with av.open(str(cut)) as c:
        stated = c.streams.video[0].frames
    assert stated == 40
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError, match=r"cut.mp4: decoded \d+ of the 40 frames its container "
                                        r"states"):
        restore_video(cut, out, selector=make_selector("all"), deblur=lambda x: x)
    assert not out.exists() and not list(tmp_path.glob(".out.mp4*"))
    result = restore_video(cut, out, selector=make_selector("all"), deblur=lambda x: x,
                           allow_truncated=True)
    assert result.report["truncated"] is True and 0 < len(result.report["frames"]) < 40
    whole = restore_video(src, tmp_path / "w.mp4", selector=make_selector("all"),
                          deblur=lambda x: x)
    assert whole.report["truncated"] is False and len(whole.report["frames"]) == 40


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_a_still_image_is_refused_as_a_video(tmp_path, suffix):
    from PIL import Image

    still = tmp_path / f"photo{suffix}"
    Image.fromarray(_frames(1)[0]).save(still)
    out = tmp_path / "out.mp4"
    with pytest.raises(UserError, match=f"photo{suffix}: a still image, not a video"):
        restore_video(still, out, selector=make_selector("all"), deblur=lambda x: x)
    assert not out.exists()


def _write_ffv1(path: Path, frames: list[np.ndarray], rgb_format: str, pix_fmt: str, *,
                display_matrix: tuple[int, ...] | None = None,
                metadata: dict[str, str] | None = None,
                sample_aspect_ratio: Fraction | None = None) -> None:
    """A lossless clip of ``frames`` (RGB arrays of ``rgb_format``) stored as ``pix_fmt``,
    with the stream's display matrix, metadata tags and pixel aspect ratio when given."""
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if display_matrix is not None:
            stream.set_display_matrix(display_matrix)
        stream.metadata.update(metadata or {})
        if sample_aspect_ratio is not None:
            stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
        for f in frames:
            vf = av.VideoFrame.from_ndarray(f, format=rgb_format).reformat(format=pix_fmt)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_odd_sized_video_keeps_its_size_or_names_the_fix(tmp_path):
    src = tmp_path / "odd.mkv"
    frames = [np.random.default_rng(i).integers(0, 256, (21, 33, 3), dtype=np.uint8)
              for i in range(4)]
    _write_ffv1(src, frames, "rgb24", "bgr0")
    out = tmp_path / "out.mp4"
    restore_video(src, out, selector=make_selector("all"), deblur=lambda x: x)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.width, s.height, s.codec_context.pix_fmt) == (33, 21, "yuv444p")
        assert sum(1 for _ in c.decode(video=0)) == 4
    with pytest.raises(UserError, match="33x21 has an odd side, which yuv420p cannot hold; use "
                                        "--pix-fmt yuv444p or --codec ffv1"):
        restore_video(src, tmp_path / "o2.mp4", selector=make_selector("all"),
                      deblur=lambda x: x, encode=EncodeOptions(pix_fmt="yuv420p"))


def test_ten_bit_video_stays_ten_bit_or_is_warned_about(tmp_path, capsys):
    src = tmp_path / "deep.mkv"
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 65536, (32, 48, 3), dtype=np.uint16) for _ in range(3)]
    _write_ffv1(src, frames, "rgb48le", "yuv420p10le")
    out = tmp_path / "out.mp4"                       # libx264 keeps 10 bits
    restore_video(src, out, selector=make_selector("all"), deblur=lambda x: x)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
        assert sum(1 for _ in c.decode(video=0)) == 3
    assert "bits per sample" not in capsys.readouterr().err
    # a codec without a 10-bit format writes 8 bits and says so
    restore_video(src, tmp_path / "out.mkv", selector=make_selector("all"), deblur=lambda x: x,
                  encode=EncodeOptions(codec="mpeg4"))
    err = capsys.readouterr().err
    assert "has 10 bits per sample (yuv420p10le)" in err and "--codec ffv1" in err


#: FFmpeg display matrices (16.16 fixed point, last entry 2.30): a phone held upright records
#: its sensor's landscape pixels with "rotation of -90.00 degrees" (ffprobe), and a mirror.
PORTRAIT = (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
MIRRORED = (-65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30)


def _display(path: Path) -> tuple[tuple[int, int], tuple[int, ...] | None, int]:
    """(stored width and height, display matrix, rotation in degrees) of a video's frames."""
    import struct

    from av.sidedata.sidedata import Type

    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        matrix = next((struct.unpack("=9i", bytes(sd)) for sd in frame.side_data
                       if sd.type == Type.DISPLAYMATRIX), None)
        return (frame.width, frame.height), matrix, frame.rotation


def _small_frames(n: int = 3) -> list[np.ndarray]:
    return [np.random.default_rng(i).integers(0, 256, (16, 32, 3), dtype=np.uint8)
            for i in range(n)]


@pytest.mark.parametrize("suffix, matrix, rotation", [(".mp4", PORTRAIT, -90),
                                                       (".mkv", PORTRAIT, -90),
                                                       (".mov", MIRRORED, None)])
def test_display_matrix_of_a_phone_video_is_kept(tmp_path, suffix, matrix, rotation):
    """Issue 14: a -90 degree phone video came out sideways. The display matrix (rotation and
    flips) is copied as it is; the pixels are not rotated."""
    src = tmp_path / "phone.mp4"
    _write_ffv1(src, _small_frames(), "rgb24", "yuv420p", display_matrix=matrix)
    assert _display(src)[1] == matrix
    out = tmp_path / f"out{suffix}"
    result = restore_video(src, out, selector=make_selector("all"), deblur=invert,
                           show_progress=False)
    assert _display(out)[:2] == ((32, 16), matrix)
    if rotation is not None:
        assert _display(out)[2] == rotation
    for side in ("input", "output"):
        assert result.report[side]["display_matrix"] == list(matrix)
        assert result.report[side]["rotation"] == (rotation if rotation is not None else
                                                   result.report["input"]["rotation"])


def test_upright_video_gets_no_display_matrix(clip, tmp_path):
    result = restore_video(clip, tmp_path / "out.mp4", selector=make_selector("all"),
                           deblur=invert, show_progress=False)
    assert _display(tmp_path / "out.mp4")[1:] == (None, 0)
    assert result.report["input"]["rotation"] == result.report["output"]["rotation"] == 0
    assert result.report["output"]["display_matrix"] is None


def test_legacy_rotate_tag_becomes_a_display_matrix(tmp_path):
    """Files of older muxers carry `rotate` = 90 (clockwise) as a tag instead of a matrix."""
    src = tmp_path / "old.mkv"
    _write_ffv1(src, _small_frames(), "rgb24", "yuv420p", metadata={"rotate": "90"})
    assert _display(src)[1] is None
    out = tmp_path / "out.mp4"
    result = restore_video(src, out, selector=make_selector("all"), deblur=invert,
                           show_progress=False)
    assert _display(out)[1:] == (PORTRAIT, -90)
    assert result.report["input"]["rotation"] == -90


def test_a_container_without_display_matrix_warns(tmp_path, capsys):
    src = tmp_path / "phone.mp4"
    _write_ffv1(src, _small_frames(), "rgb24", "yuv420p", display_matrix=PORTRAIT)
    out = tmp_path / "out.avi"
    result = restore_video(src, out, selector=make_selector("all"), deblur=invert,
                           encode=EncodeOptions(codec="mpeg4"), show_progress=False)
    err = capsys.readouterr().err
    assert "out.avi: avi cannot store the input's display rotation (-90 degrees)" in err
    assert ".mp4, .mov or .mkv" in err
    assert result.report["output"]["display_matrix"] is None
    assert result.report["output"]["rotation"] == 0


def test_cli_keeps_rotation_aspect_and_language_and_says_so(tmp_path, capsys):
    gen, _ = _tiny_weights(tmp_path)
    src = tmp_path / "phone.mp4"
    _write_ffv1(src, _small_frames(2), "rgb24", "yuv420p", display_matrix=PORTRAIT,
                metadata={"language": "fra"}, sample_aspect_ratio=Fraction(4, 3))
    with av.open(str(src)) as c:
        assert c.streams.video[0].language == "fra"
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)
    out = tmp_path / "out.mp4"
    assert cli(["video", str(src), "-o", str(out), "--model", str(gen), "--tile", "0",
                "--preset", "ultrafast"]) == 0
    assert "display rotation -90 degrees kept" in capsys.readouterr().err
    assert _display(out)[1:] == (PORTRAIT, -90)
    with av.open(str(out)) as c:
        assert c.streams.video[0].language == "fra"
        assert c.streams.video[0].sample_aspect_ratio == Fraction(4, 3)


def test_audio_language_is_kept(tmp_path):
    src = tmp_path / "dubbed.mp4"
    with av.open(str(src), "w") as container:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 32, 16, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout, audio.metadata["language"] = "mono", "deu"
        for i, img in enumerate(_small_frames(2)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        silence = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                             layout="mono")
        silence.sample_rate, silence.pts = SAMPLE_RATE, 0
        container.mux(audio.encode(silence))
        container.mux(audio.encode(None))
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"out{suffix}"
        restore_video(src, out, selector=make_selector("all"), deblur=invert,
                      show_progress=False)
        with av.open(str(out)) as c:
            assert c.streams.audio[0].language == "deu", suffix


def test_server_previews_of_a_phone_video_are_upright(tmp_path):
    from deblurkit.io import read_image
    from deblurkit.serve.preview import _frame_png

    src = tmp_path / "phone.mkv"
    frames = _small_frames()
    _write_ffv1(src, frames, "rgb24", "yuv444p", display_matrix=PORTRAIT)  # rotation -90
    target = tmp_path / "preview.png"
    _frame_png(src, 1, target)
    shown = read_image(target).pixels
    assert shown.shape == (32, 16, 3)  # stored 32 wide x 16 high, shown turned a quarter
    # display rotation -90 = a quarter turn clockwise: the stored bottom-left pixel is top-left
    np.testing.assert_allclose(shown.astype(int), np.rot90(frames[1], k=-1).astype(int), atol=3)


def test_cli_default_selection_deblurs_the_blurred_frames_and_says_why(clip, tmp_path, capsys):
    gen, _ = _tiny_weights(tmp_path)
    out, rep = tmp_path / "out.mp4", tmp_path / "rep.json"
    assert cli(["video", str(clip), "-o", str(out), "--model", str(gen), "--report",
                str(rep)]) == 0
    report = json.loads(rep.read_text())
    assert report["select"] == "temporal"
    # every blurred frame is found; of the 18 sharp ones (each an independent random texture
    # at 64x48, whose coarsest scale, 8x6 pixels, varies from frame to frame) at most 2 are not
    # left alone
    deblurred = {f["index"] for f in report["frames"] if f["deblurred"]}
    assert BLURRED <= deblurred and len(deblurred - BLURRED) <= 2
    assert all(f["reason"].startswith("P(blurred) ") for f in report["frames"])
    assert "no frame was blurrier" not in capsys.readouterr().err
    # a pan blurred throughout: no frame is blurrier than its neighbours; the line says what
    # to do
    rng = np.random.default_rng(7)
    scene = np.kron(rng.random((H // 2, W // 2 + 40, 3)), np.ones((2, 2, 1)))
    scene = uniform_filter(scene, size=(1, 9, 1), mode="reflect")
    uniform = tmp_path / "uniform.mkv"
    _write_ffv1(uniform, [(scene[:, 2 * i:2 * i + W] * 255).round().astype(np.uint8)
                          for i in range(30)], "rgb24", "yuv420p")
    rep = tmp_path / "uniform.json"
    assert cli(["video", str(uniform), "-o", str(tmp_path / "u.mkv"), "--model", str(gen),
                "--report", str(rep)]) == 0
    assert json.loads(rep.read_text())["totals"]["N_b"] == 0
    err = capsys.readouterr().err
    assert "0/30 frames deblurred" in err
    assert "no frame was blurrier than its neighbours (for footage blurred throughout use " \
           "--select all)" in err
