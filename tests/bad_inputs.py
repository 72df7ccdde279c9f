"""The bad-input corpus: every kind of bad input found by probing the commands, made by code.

Each case is one command line over files this module writes (corrupt and hostile images,
weight files, videos, recipes, tile settings), with what a user must see: its exit status, the
one line on stderr that explains it (naming the file where there is one), and exactly which
files are left afterwards. Cases that were defects once (issue 14) sit beside cases that have
always passed, so that neither kind can regress. ``tests/test_bad_inputs.py`` runs every case
in ``make test``; to look at the corpus by hand::

    .venv/bin/python tests/bad_inputs.py /tmp/corpus      # writes it, prints each command
    .venv/bin/python tests/bad_inputs.py /tmp/corpus --run  # and runs them, one line each

Every input is tiny (at most 64x48 pixels, a few video frames, a 4-channel model) so the whole
corpus runs in seconds.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Width and height of the small pictures and video frames of the corpus.
W, H = 64, 48
#: The tiny restoration model every case runs (``s1_msed`` with these arguments).
TINY_KWARGS = {"base_width": 4, "depth": 2, "num_scales": 1}


@dataclass(frozen=True)
class Case:
    """One command line and what it must do.

    Attributes:
        name: identifier (also the case's input and output folder name).
        argv: the command line after ``deblurkit``.
        exit_code: the expected exit status.
        says: text the stderr must contain (the reason).
        names: the bad file's name, which the message must contain ("" when none).
        lines: number of non-empty stderr lines expected (one reason per bad file, plus the
            batch summary for batches).
        leaves: files (relative to the case's output folder) that must exist afterwards; any
            other file there, hidden temporary files included, is a failure.
        absent: paths that must not exist afterwards (run folders of failed trainings).
        check: an extra check of the outputs (returns a problem, or "" when fine).
    """

    name: str
    argv: tuple[str, ...]
    exit_code: int
    says: str
    names: str = ""
    lines: int = 1
    leaves: tuple[str, ...] = ()
    absent: tuple[Path, ...] = ()
    check: Callable[[Path], str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Corpus:
    """Paths shared by the cases: ``root/in/<case>`` holds a case's inputs, ``root/out/<case>``
    its outputs; ``model`` is a tiny 4-channel restoration model."""

    root: Path
    model: Path

    def inputs(self, name: str) -> Path:
        folder = self.root / "in" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def outputs(self, name: str) -> Path:
        return self.root / "out" / name


#: Case name -> builder (in definition order).
BUILDERS: dict[str, Callable[[Corpus], Case]] = {}


def case(builder: Callable[[Corpus], Case]) -> Callable[[Corpus], Case]:
    """Register a case builder under its function name (minus ``case_``)."""
    name = builder.__name__.removeprefix("case_")
    if name in BUILDERS:
        raise ValueError(f"duplicate case {name}")
    BUILDERS[name] = builder
    return builder


# ---------------------------------------------------------------------------------- helpers


def _picture(seed: int = 0, shape: tuple[int, ...] = (H, W, 3), dtype=np.uint8) -> np.ndarray:
    high = np.iinfo(dtype).max + 1
    return np.random.default_rng(seed).integers(0, high, shape, dtype=dtype)


def _png(path: Path, seed: int = 0, **kwargs) -> Path:
    from deblurkit.io import write_image

    write_image(path, _picture(seed, **kwargs))
    return path


def _png_header(path: Path, width: int, height: int) -> Path:
    """A PNG that declares ``width x height`` pixels and holds almost none (a bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))
    return path


def _video(path: Path, frames: int = 6, size: tuple[int, int] = (W, H), *,
           faststart: bool = False, rotation: float = 0.0) -> Path:
    """A small H.264 (MP4) or FFV1 (MKV) clip of moving noise (``rotation``: the display
    rotation in degrees counter-clockwise that a phone writes, 0 for none)."""
    import av

    options = {"movflags": "faststart"} if faststart else {}
    codec = "ffv1" if path.suffix == ".mkv" else "libx264"
    width, height = size
    pix_fmt = "yuv444p" if (width % 2 or height % 2) else "yuv420p"
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "18", "g": "2"}
        if rotation:
            stream.set_display_rotation(rotation, False, False)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(_picture(i, (height, width, 3)), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def _forged_model(corpus: Corpus, path: Path, **kwargs_changes) -> Path:
    """The tiny model's tensors under metadata whose constructor arguments are changed."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(corpus.model), "pt") as f:
        meta = f.metadata()
    stored = json.loads(meta["deblurkit_kwargs"])
    text = kwargs_changes.pop("_raw", None)
    meta["deblurkit_kwargs"] = text if text is not None else json.dumps({**stored,
                                                                          **kwargs_changes})
    save_file(load_file(str(corpus.model)), str(path), metadata=meta)
    return path


def _restore(c: Corpus, name: str, src: Path, *extra: str, model: Path | str | None = None
             ) -> tuple[str, ...]:
    return ("restore", str(src), "-o", str(c.outputs(name)),
            "--model", str(model or c.model), "--device", "cpu", *extra)


def _video_cmd(c: Corpus, name: str, src: Path, out_name: str = "out.mp4", *extra: str
               ) -> tuple[str, ...]:
    return ("video", str(src), "-o", str(c.outputs(name) / out_name), "--model", str(c.model),
            "--device", "cpu", "--select", "all", *extra)


def _readable_like_any_file(*names: str) -> Callable[[Path], str]:
    """Outputs get ``0o666`` less the umask, like any file a program creates (not ``0o600``)."""
    def check(out: Path) -> str:
        from deblurkit.utils.atomic import current_umask

        wanted = 0o666 & ~current_umask()
        for name in names:
            mode = (out / name).stat().st_mode & 0o777
            if mode != wanted:
                return f"{name} has mode {mode:o}, expected {wanted:o} (umask)"
        return ""

    return check


def _valid_json(path: Path) -> str:
    try:
        json.loads(path.read_text(), parse_constant=lambda token: 1 / 0)
    except (ValueError, ZeroDivisionError, OSError) as exc:
        return f"{path.name} is not strict JSON ({exc})"
    return ""


# ------------------------------------------------------------------------- pictures: restore


@case
def case_good_picture(c: Corpus) -> Case:
    src = _png(c.inputs("good_picture") / "photo.png")
    return Case("good_picture", _restore(c, "good_picture", src), 0, "1 succeeded, 0 failed",
                leaves=("photo.png",), check=_readable_like_any_file("photo.png"))


@case
def case_not_an_image(c: Corpus) -> Case:
    src = c.inputs("not_an_image") / "notes.png"
    src.write_text("these are notes, not a picture\n")
    return Case("not_an_image", _restore(c, "not_an_image", src), 1, "not an image file",
                names="notes.png", lines=2)


@case
def case_empty_file(c: Corpus) -> Case:
    src = c.inputs("empty_file") / "empty.jpg"
    src.write_bytes(b"")
    return Case("empty_file", _restore(c, "empty_file", src), 1, "empty file (0 bytes)",
                names="empty.jpg", lines=2)


@case
def case_truncated_png(c: Corpus) -> Case:
    src = _png(c.inputs("truncated_png") / "cut.png")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    return Case("truncated_png", _restore(c, "truncated_png", src), 1, "cut.png",
                names="cut.png", lines=2)


@case
def case_decompression_bomb(c: Corpus) -> Case:
    src = _png_header(c.inputs("decompression_bomb") / "bomb.png", 60000, 60000)
    return Case("decompression_bomb", _restore(c, "decompression_bomb", src), 1,
                "--max-pixels", names="bomb.png", lines=2)


@case
def case_batch_goes_on_past_a_bad_file(c: Corpus) -> Case:
    folder = c.inputs("batch_goes_on_past_a_bad_file")
    _png(folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    _png(folder / "c.png", seed=1)
    return Case("batch_goes_on_past_a_bad_file",
                _restore(c, "batch_goes_on_past_a_bad_file", folder), 1,
                "2 succeeded, 1 failed", names="b.png", lines=2, leaves=("a.png", "c.png"))


@case
def case_missing_input(c: Corpus) -> Case:
    src = c.inputs("missing_input") / "nowhere.png"
    return Case("missing_input", _restore(c, "missing_input", src), 1, "no such file",
                names="nowhere.png")


@case
def case_output_onto_input(c: Corpus) -> Case:
    folder = c.inputs("output_onto_input")
    _png(folder / "photo.png")
    argv = ("restore", str(folder), "-o", str(folder), "--model", str(c.model))
    return Case("output_onto_input", argv, 1, "input", names="output_onto_input")


@case
def case_sixteen_bit_with_alpha(c: Corpus) -> Case:
    from deblurkit.io import write_image

    src = c.inputs("sixteen_bit_with_alpha") / "deep.png"
    write_image(src, _picture(0, dtype=np.uint16), alpha=_picture(1, (H, W), np.uint16))

    def check(out: Path) -> str:
        from deblurkit.io import read_image

        image = read_image(out / "deep.png")
        return "" if image.pixels.dtype == np.uint16 else "16-bit picture came out 8-bit"

    return Case("sixteen_bit_with_alpha", _restore(c, "sixteen_bit_with_alpha", src), 0,
                "1 succeeded", leaves=("deep.png",), check=check)


# ------------------------------------------------------------------------------ tile settings


@case
def case_tile_too_small(c: Corpus) -> Case:
    src = _png(c.inputs("tile_too_small") / "photo.png")
    return Case("tile_too_small", _restore(c, "tile_too_small", src, "--tile", "7"), 1,
                "tile 7 px is too small")


@case
def case_overlap_half_the_tile(c: Corpus) -> Case:
    src = _png(c.inputs("overlap_half_the_tile") / "photo.png")
    return Case("overlap_half_the_tile",
                _restore(c, "overlap_half_the_tile", src, "--tile", "64", "--overlap", "32"), 1,
                "overlap 32 px must be less than half the tile")


@case
def case_zero_overlap(c: Corpus) -> Case:
    src = _png(c.inputs("zero_overlap") / "photo.png")
    return Case("zero_overlap",
                _restore(c, "zero_overlap", src, "--tile", "32", "--overlap", "0"), 0,
                "1 succeeded", leaves=("photo.png",))


@case
def case_eval_tile_too_small(c: Corpus) -> Case:
    folder = c.inputs("eval_tile_too_small")
    _png(folder / "blur" / "a.png")
    _png(folder / "sharp" / "a.png", seed=1)
    argv = ("eval", "--blur", str(folder / "blur"), "--sharp", str(folder / "sharp"),
            "--model", str(c.model), "--tile", "7")
    return Case("eval_tile_too_small", argv, 1, "tile 7 px is too small")


@case
def case_video_tile_too_small(c: Corpus) -> Case:
    src = _video(c.inputs("video_tile_too_small") / "clip.mp4")
    return Case("video_tile_too_small",
                _video_cmd(c, "video_tile_too_small", src, "out.mp4", "--tile", "7"), 1,
                "tile 7 px is too small")


# ------------------------------------------------------------------------------ weight files


def _forged_weights_case(c: Corpus, name: str, file: str, reason: str, **stored) -> Case:
    """``restore`` with a weight file whose stored arguments are ``stored``: status 1, one
    line giving ``reason`` and naming ``file``."""
    folder = c.inputs(name)
    model = _forged_model(c, folder / file, **stored)
    return Case(name, _restore(c, name, _png(folder / "photo.png"), model=model), 1, reason,
                names=file)


@case
def case_weights_ask_for_a_huge_network(c: Corpus) -> Case:
    return _forged_weights_case(c, "weights_ask_for_a_huge_network", "huge.safetensors",
                                "shape mismatch", base_width=4000)


@case
def case_weights_arguments_of_the_wrong_type(c: Corpus) -> Case:
    return _forged_weights_case(c, "weights_arguments_of_the_wrong_type", "strarg.safetensors",
                                "must be an integer, got a string", depth="2")


@case
def case_weights_arguments_not_an_object(c: Corpus) -> Case:
    return _forged_weights_case(c, "weights_arguments_not_an_object", "list.safetensors",
                                "must be a JSON object", _raw="[1, 2]")


@case
def case_weights_truncated(c: Corpus) -> Case:
    folder = c.inputs("weights_truncated")
    model = folder / "cut.safetensors"
    data = c.model.read_bytes()
    model.write_bytes(data[: len(data) // 2])
    src = _png(folder / "photo.png")
    return Case("weights_truncated", _restore(c, "weights_truncated", src, model=model), 1,
                "cut.safetensors", names="cut.safetensors")


def _pickle_payload(folder: Path) -> tuple[Path, Path]:
    """A ``.pth`` whose pickle would create ``pwned`` when unpickled without ``weights_only``
    (and the path it would create)."""
    import pickle

    marker = folder / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    model = folder / "evil.pth"
    model.write_bytes(pickle.dumps({"params": Payload()}))
    return model, marker


def _never_ran(marker: Path) -> Callable[[Path], str]:
    return lambda out: "the pickle ran code" if marker.exists() else ""


@case
def case_state_dict_without_arch(c: Corpus) -> Case:
    folder = c.inputs("state_dict_without_arch")
    model, marker = _pickle_payload(folder)
    src = _png(folder / "photo.png")
    return Case("state_dict_without_arch", _restore(c, "state_dict_without_arch", src,
                                                    model=model),
                1, "--arch", names="evil.pth", check=_never_ran(marker))


@case
def case_state_dict_with_a_pickle_payload(c: Corpus) -> Case:
    folder = c.inputs("state_dict_with_a_pickle_payload")
    model, marker = _pickle_payload(folder)
    src = _png(folder / "photo.png")
    argv = _restore(c, "state_dict_with_a_pickle_payload", src, "--arch", "s1_msed",
                    model=model)
    return Case("state_dict_with_a_pickle_payload", argv, 1, "weights_only", names="evil.pth",
                check=_never_ran(marker))


@case
def case_basicsr_state_dict(c: Corpus) -> Case:
    import torch
    from safetensors.torch import load_file

    folder = c.inputs("basicsr_state_dict")
    model = folder / "net_g_latest.pth"
    weights = load_file(str(c.model))
    torch.save({"params": weights, "params_ema": weights}, model)
    src = _png(folder / "photo.png")
    argv = _restore(c, "basicsr_state_dict", src, "--arch", "s1_msed", "--arch-kwargs",
                    json.dumps(TINY_KWARGS), model=model)
    return Case("basicsr_state_dict", argv, 0, "1 succeeded", leaves=("photo.png",))


@case
def case_garbage_onnx(c: Corpus) -> Case:
    folder = c.inputs("garbage_onnx")
    model = folder / "model.onnx"
    model.write_bytes(b"this is not a protobuf" * 10)
    src = _png(folder / "photo.png")
    return Case("garbage_onnx", _restore(c, "garbage_onnx", src, model=model), 1, "model.onnx",
                names="model.onnx")


@case
def case_unknown_model_name(c: Corpus) -> Case:
    src = _png(c.inputs("unknown_model_name") / "photo.png")
    return Case("unknown_model_name",
                _restore(c, "unknown_model_name", src, model="no_such_model"), 1,
                "no_such_model")


@case
def case_classifier_as_restoration_model(c: Corpus) -> Case:
    src = _png(c.inputs("classifier_as_restoration_model") / "photo.png")
    return Case("classifier_as_restoration_model",
                _restore(c, "classifier_as_restoration_model", src, model="default_selector"), 1,
                "classifier")


@case
def case_model_returns_nan(c: Corpus) -> Case:
    import torch

    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    folder = c.inputs("model_returns_nan")
    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    with torch.no_grad():
        net.scales[0].decoder[-1].out.bias.fill_(float("nan"))
    model = save_model(net, folder / "nan.safetensors")
    _png(folder / "pictures" / "a.png")
    _png(folder / "pictures" / "b.png", seed=1)
    return Case("model_returns_nan",
                _restore(c, "model_returns_nan", folder / "pictures", model=model), 1,
                "NaN or infinite", names="a.png", lines=3)


@case
def case_eval_json_with_nan(c: Corpus) -> Case:
    import torch

    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    folder = c.inputs("eval_json_with_nan")
    torch.manual_seed(0)
    net = create_model("s1_msed", base_width=4, depth=2, num_scales=1)
    with torch.no_grad():
        net.scales[0].decoder[-1].out.bias.fill_(float("nan"))
    model = save_model(net, folder / "nan.safetensors")
    _png(folder / "blur" / "a.png")
    _png(folder / "sharp" / "a.png", seed=1)
    report = c.outputs("eval_json_with_nan") / "report.json"
    argv = ("eval", "--blur", str(folder / "blur"), "--sharp", str(folder / "sharp"),
            "--model", str(model), "--json", str(report))
    return Case("eval_json_with_nan", argv, 1, "NaN or infinite", leaves=("report.json",),
                lines=3, check=lambda out: _valid_json(out / "report.json"))


# ------------------------------------------------------------------------------------ video


@case
def case_good_video(c: Corpus) -> Case:
    src = _video(c.inputs("good_video") / "clip.mp4")
    return Case("good_video", _video_cmd(c, "good_video", src), 0, "6/6 frames deblurred",
                leaves=("out.mp4",), check=_readable_like_any_file("out.mp4"))


@case
def case_phone_video_turned_a_quarter(c: Corpus) -> Case:
    src = _video(c.inputs("phone_video_turned_a_quarter") / "phone.mp4", rotation=-90)

    def check(out: Path) -> str:
        from deblurkit.inference.video.containers import display_rotation, read_display_matrix

        turned = display_rotation(read_display_matrix(out / "out.mp4", 0))
        return "" if turned == -90 else f"output display rotation {turned}, expected -90"

    return Case("phone_video_turned_a_quarter",
                _video_cmd(c, "phone_video_turned_a_quarter", src), 0,
                "display rotation -90 degrees kept", leaves=("out.mp4",), check=check)


@case
def case_odd_sized_video(c: Corpus) -> Case:
    src = _video(c.inputs("odd_sized_video") / "odd.mkv", size=(33, 17))
    return Case("odd_sized_video", _video_cmd(c, "odd_sized_video", src), 0,
                "6/6 frames deblurred", names="odd.mkv", leaves=("out.mp4",))


@case
def case_truncated_video(c: Corpus) -> Case:
    src = _video(c.inputs("truncated_video") / "whole.mp4", frames=20, faststart=True)
    cut = src.with_name("cut.mp4")
    data = src.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    src.unlink()
    return Case("truncated_video", _video_cmd(c, "truncated_video", cut), 1,
                "--allow-truncated", names="cut.mp4")


@case
def case_truncated_video_allowed(c: Corpus) -> Case:
    src = _video(c.inputs("truncated_video_allowed") / "whole.mp4", frames=20, faststart=True)
    cut = src.with_name("cut.mp4")
    data = src.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    src.unlink()
    return Case("truncated_video_allowed",
                _video_cmd(c, "truncated_video_allowed", cut, "out.mp4", "--allow-truncated"),
                0, "decoded 10 of the 20 frames", names="cut.mp4", leaves=("out.mp4",))


@case
def case_video_that_is_noise(c: Corpus) -> Case:
    src = c.inputs("video_that_is_noise") / "noise.mp4"
    src.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    return Case("video_that_is_noise", _video_cmd(c, "video_that_is_noise", src), 1,
                "noise.mp4", names="noise.mp4")


@case
def case_still_image_as_video(c: Corpus) -> Case:
    src = _png(c.inputs("still_image_as_video") / "photo.png")
    return Case("still_image_as_video", _video_cmd(c, "still_image_as_video", src), 1,
                "a still image, not a video", names="photo.png")


@case
def case_video_without_frames(c: Corpus) -> Case:
    import av

    src = c.inputs("video_without_frames") / "silence.m4a"
    with av.open(str(src), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return Case("video_without_frames", _video_cmd(c, "video_without_frames", src), 1,
                "silence.m4a", names="silence.m4a")


# ------------------------------------------------------------------------------- training


def _train(c: Corpus, name: str, recipe: Path, *sets: str) -> tuple[str, ...]:
    run = c.outputs(name) / "run"
    argv = ["train", str(recipe), "--no-tensorboard", "--set", f"train.out_dir={run}"]
    for item in sets:
        argv += ["--set", item]
    return tuple(argv)


def _recipe(folder: Path, text: str | None = None) -> Path:
    path = folder / "recipe.yaml"
    if text is None:
        repo = Path(__file__).resolve().parents[1]
        text = (repo / "configs" / "small" / "s1_han.yaml").read_text()
    path.write_text(text)
    return path


@case
def case_recipe_with_a_python_tag(c: Corpus) -> Case:
    folder = c.inputs("recipe_with_a_python_tag")
    recipe = _recipe(folder, "name: x\nmodel: !!python/object/apply:os.system ['true']\n")
    return Case("recipe_with_a_python_tag", _train(c, "recipe_with_a_python_tag", recipe), 1,
                "recipe.yaml", names="recipe.yaml",
                absent=(c.outputs("recipe_with_a_python_tag"),))


@case
def case_recipe_with_an_unknown_key(c: Corpus) -> Case:
    recipe = _recipe(c.inputs("recipe_with_an_unknown_key"))
    return Case("recipe_with_an_unknown_key",
                _train(c, "recipe_with_an_unknown_key", recipe, "train.stpes=3"), 1, "stpes",
                absent=(c.outputs("recipe_with_an_unknown_key"),))


@case
def case_recipe_with_missing_data(c: Corpus) -> Case:
    folder = c.inputs("recipe_with_missing_data")
    recipe = _recipe(folder)
    missing = folder / "no_data"
    return Case("recipe_with_missing_data",
                _train(c, "recipe_with_missing_data", recipe, f"data.train.args.root={missing}",
                       f"data.val.args.root={missing}", "train.steps=2"), 1, "no_data",
                absent=(c.outputs("recipe_with_missing_data"),))


@case
def case_recipe_that_is_not_a_mapping(c: Corpus) -> Case:
    recipe = _recipe(c.inputs("recipe_that_is_not_a_mapping"), "- just\n- a list\n")
    return Case("recipe_that_is_not_a_mapping",
                _train(c, "recipe_that_is_not_a_mapping", recipe), 1, "recipe.yaml",
                names="recipe.yaml", absent=(c.outputs("recipe_that_is_not_a_mapping"),))


# -------------------------------------------------------------------------------- export


@case
def case_export_to_an_unknown_format(c: Corpus) -> Case:
    out = c.outputs("export_to_an_unknown_format") / "model.xyz"
    argv = ("export", str(c.model), "-o", str(out))
    return Case("export_to_an_unknown_format", argv, 1, "model.xyz", names="model.xyz")


# ---------------------------------------------------------------------------------- corpus


def build(root: str | Path, names: list[str] | None = None) -> dict[str, Case]:
    """Write the corpus under ``root`` (the tiny model first) and return its cases by name."""
    import torch

    from deblurkit.models import create_model
    from deblurkit.models.weights import save_model

    root = Path(root)
    (root / "in").mkdir(parents=True, exist_ok=True)
    model = root / "in" / "tiny.safetensors"
    if not model.exists():
        torch.manual_seed(0)
        save_model(create_model("s1_msed", **TINY_KWARGS), model)
    corpus = Corpus(root, model)
    return {name: BUILDERS[name](corpus) for name in (names or BUILDERS)}


def files_left(folder: Path) -> set[str]:
    """Every file under ``folder`` (hidden ones too), relative to it."""
    if not folder.exists():
        return set()
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir()}


def problems(item: Case, status: int, stderr: str, root: Path,
             warned: list[str] | None = None) -> list[str]:
    """What is wrong with one run of a case (empty when it behaved). ``warned``: the Python
    warnings the run raised, when run in-process (each would be two more lines on stderr)."""
    found = [f"a Python warning on stderr: {w}" for w in warned or []]
    lines = [line for line in stderr.splitlines() if line.strip()]
    if status != item.exit_code:
        found.append(f"exit status {status}, expected {item.exit_code}")
    if "Traceback" in stderr:
        found.append("a traceback on stderr")
    if item.lines >= 0 and len(lines) != item.lines:
        found.append(f"{len(lines)} lines on stderr, expected {item.lines}")
    if item.says not in stderr:
        found.append(f"stderr does not say {item.says!r}")
    if item.names and item.names not in stderr:
        found.append(f"stderr does not name {item.names}")
    out = root / "out" / item.name
    left = files_left(out)
    if left != set(item.leaves):
        found.append(f"files left {sorted(left)}, expected {sorted(item.leaves)}")
    found += [f"{path} exists" for path in item.absent if path.exists()]
    if item.check is not None and not found:
        problem = item.check(out)
        if problem:
            found.append(problem)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder to write the corpus into")
    parser.add_argument("--run", action="store_true",
                        help="run every case in a fresh process and report each in one line")
    args = parser.parse_args(argv)
    cases = build(args.root)
    failed = 0
    for item in cases.values():
        if not args.run:
            print(f"{item.name}: deblurkit {' '.join(item.argv)}  -> exit {item.exit_code}")
            continue
        import subprocess

        done = subprocess.run([sys.executable, "-m", "deblurkit", *item.argv],
                              capture_output=True, text=True)
        found = problems(item, done.returncode, done.stderr, args.root)
        failed += bool(found)
        print(f"{'FAIL' if found else 'ok  '} {item.name}: {'; '.join(found) or 'as expected'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
