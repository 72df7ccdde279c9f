"""One way to name a model (deblurkit.models.files) and one way in for a video frame
(deblurkit.inference.classifier): the suffix table, the untrained warning, the metadata that
exporters write and backends read, and the frame classifier's inputs, device and dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deblurkit.errors import UserError
from deblurkit.inference.classifier import FrameClassifier, frame_batch, load_classifier
from deblurkit.inference.resolve import BACKEND_LOADERS, load_backend
from deblurkit.models import create_model
from deblurkit.models.files import (MODEL_FILE_SUFFIXES, NETWORK_LOADERS, SOURCES,
                                    STATE_DICT_SUFFIXES, ModelFileInfo, load_network,
                                    parse_model_spec)
from deblurkit.models.weights import save_model
from deblurkit.pretrained import BUNDLED


def _tiny_classifier_file(tmp_path):
    torch.manual_seed(0)
    net = create_model("s4_frame_selector", stem_channels=4, widths=[4, 4, 8, 8])
    return save_model(net.eval(), tmp_path / "clf.safetensors")


def test_one_table_says_what_every_specification_is(tmp_path):
    assert {parse_model_spec(name).source for name in BUNDLED} == {"bundled"}
    assert parse_model_spec("default").name == "default"
    assert parse_model_spec("default", kind="classifier").name == "default_selector"
    assert parse_model_spec("s1_msed").source == "registered"
    for suffix, source in MODEL_FILE_SUFFIXES.items():
        path = tmp_path / f"net{suffix}"
        path.write_bytes(b"x")
        assert parse_model_spec(path) == parse_model_spec(str(path))
        assert parse_model_spec(path).source == source
    assert MODEL_FILE_SUFFIXES[".pt"] == "torchscript"   # .pt means one thing everywhere
    # every source has a backend; the three that hold a PyTorch network can be built
    assert set(BACKEND_LOADERS) == set(SOURCES) and set(MODEL_FILE_SUFFIXES.values()) < set(SOURCES)
    assert set(NETWORK_LOADERS) == set(SOURCES) - {"onnx", "torchscript"}
    assert ".pth" in STATE_DICT_SUFFIXES and ".pt" not in STATE_DICT_SUFFIXES
    state = tmp_path / "net.pth"
    torch.save({"w": torch.zeros(1)}, state)
    with pytest.raises(UserError, match=r"net\.pth: a \.pth file is a state dict without its "
                                        r"architecture; add --arch NAME"):
        parse_model_spec(state)
    spec = parse_model_spec(state, arch="s1_msed", arch_kwargs={"base_width": 4})
    assert (spec.source, spec.name, spec.arch, spec.arch_kwargs) == (
        "state_dict", "s1_msed", "s1_msed", {"base_width": 4})
    with pytest.raises(UserError, match="model file not found"):
        parse_model_spec(tmp_path / "missing.onnx")


def test_untrained_weights_warn_once_and_kinds_are_checked(tmp_path, capsys):
    net = load_network("s4_frame_selector")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "UNTRAINED" in err and "untrained weights" in err
    assert not net.training
    with pytest.raises(UserError, match="is a classifier, not a generator"):
        load_network("s4_frame_selector", kind="generator")
    with pytest.raises(UserError, match="is a classifier, not a generator"):
        load_backend("default_selector")        # a bundled classifier is no deblurring model
    with pytest.raises(UserError, match="is a classifier, not a generator"):
        load_backend(_tiny_classifier_file(tmp_path), device="cpu")
    assert capsys.readouterr().err == ""        # refused before anything is built
    exported = tmp_path / "net.onnx"
    exported.write_bytes(b"x")
    with pytest.raises(UserError, match="holds no PyTorch network"):
        load_network(exported)


def test_file_info_round_trips_and_reads_foreign_files():
    info = ModelFileInfo(name="s4_deblurnet", kwargs={"num_blocks": 1}, kind="generator",
                         format="onnx", pad_multiple=4, min_size=4, example_size=(65, 97),
                         receptive_field=41, deblurkit_version="0.1.0",
                         extra={"opset": "17"})
    stored = info.to_strings()
    assert all(isinstance(v, str) for v in stored.values())
    assert stored["output_clamped"] == "true" and stored["example_size"] == "65x97"
    assert ModelFileInfo.from_strings(stored) == info
    foreign = ModelFileInfo.from_strings({"producer": "someone"})
    assert (foreign.kind, foreign.pad_multiple, foreign.receptive_field) == ("generator", 1, None)
    assert foreign.extra == {"producer": "someone"}
    with pytest.raises(UserError, match="x.onnx: metadata pad_multiple='four'"):
        ModelFileInfo.from_strings({"pad_multiple": "four"}, source="x.onnx")


def test_frame_classifier_takes_every_frame_type_and_its_dtype(tmp_path, capsys):
    path = _tiny_classifier_file(tmp_path)
    rng = np.random.default_rng(0)
    frame8 = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    classifier = FrameClassifier(path, device="cpu")
    p8 = classifier.probability(frame8)
    assert isinstance(p8, float) and 0.0 <= p8 <= 1.0
    assert classifier.probability(frame8.astype(np.float32) / 255) == pytest.approx(p8, abs=1e-6)
    assert classifier.probability(frame8.astype(np.uint16) * 257) == pytest.approx(p8, abs=1e-6)
    batch = frame_batch(frame8)
    assert batch.shape == (1, 3, 24, 40) and batch.dtype == torch.float32
    assert float(classifier(batch)[0]) == pytest.approx(p8, abs=1e-6)
    half = load_classifier(path, device="cpu", dtype="bf16")
    assert half.dtype == "bf16" and half.backend.compute_dtype == torch.bfloat16
    assert half.probability(frame8) == pytest.approx(p8, abs=0.05)
    with pytest.raises(UserError, match="fp16 needs a CUDA device"):
        FrameClassifier(path, device="cpu", dtype="fp16")
    with pytest.raises(ValueError, match="H x W x 3"):
        classifier.probability(frame8[:, :, 0])
    assert capsys.readouterr().err == ""


def test_an_exported_classifier_is_a_frame_classifier_too(tmp_path):
    pytest.importorskip("onnxruntime")
    from deblurkit.export import export_onnx, export_torchscript
    from deblurkit.models.weights import load_model

    path = _tiny_classifier_file(tmp_path)
    net = load_model(path)
    onnx_file = export_onnx(net, tmp_path / "clf.onnx", verify=False, receptive_field=False)
    ts_file = export_torchscript(net, tmp_path / "clf.pt", verify=False, receptive_field=False)
    frame = np.random.default_rng(1).integers(0, 256, (33, 47, 3), dtype=np.uint8)
    expected = FrameClassifier(path, device="cpu").probability(frame)
    for exported in (onnx_file, ts_file):
        classifier = FrameClassifier(exported, device="cpu")
        assert classifier.backend.info.kind == "classifier"
        assert classifier.probability(frame) == pytest.approx(expected, abs=1e-5)
    with pytest.raises(UserError, match="is a classifier, not a generator"):
        load_backend(onnx_file)
