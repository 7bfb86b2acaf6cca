"""ONNX export (sac export) and ONNX Runtime inference (sac predict --engine onnx): same probabilities and
masks as PyTorch on real photos, resized and tiled, any size; fixed-size graphs refuse other sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sac.cli import main
from sac.data import read_image, read_mask
from sac.engine import load_model
from sac.engine.inference import predict_probability
from sac.engine.onnx import OnnxModel, export_onnx
from sac.errors import ConfigError

PHOTOS = sorted((Path(__file__).resolve().parents[1] / "examples" / "images").glob("*.jpg"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = load_model("default")
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "default.onnx")
    return model, OnnxModel(path), path


def test_parity_on_real_photos_resized_and_tiled(exported):
    model, onnx_model, _ = exported
    assert onnx_model.dynamic_size and onnx_model.origin.threshold == model.origin.threshold
    big = np.tile(read_image(PHOTOS[0]), (3, 4, 1))[:700, :900]  # tiled: 12 tiles of 256 px
    for img, mode in [(read_image(p), "resize") for p in PHOTOS] + [(big, "tiled")]:
        ref = predict_probability(model, img, mode=mode, device="cpu", progress=False, amp="off")  # float32
        got = predict_probability(onnx_model, img, mode=mode, device="cpu", progress=False)
        assert np.abs(ref - got).max() < 1e-4
        assert np.array_equal(ref >= 0.5, got >= 0.5) or np.mean((ref >= 0.5) != (got >= 0.5)) < 1e-5


def test_any_size_is_padded_by_the_runner(exported):
    model, onnx_model, _ = exported
    x = torch.rand(2, 3, 250, 300)  # not a multiple of 32
    with torch.no_grad():
        assert (model(x) - onnx_model(x)).abs().max() < 1e-3


def test_fixed_size_graphs_refuse_other_sizes(exported):
    _, _, path = exported
    fixed = OnnxModel(path)
    fixed.dynamic_size = False  # what export_onnx records for SAM's windowed encoders
    fixed(torch.rand(1, 3, 256, 256))
    with pytest.raises(ConfigError, match="runs at 256×256 only"):
        fixed(torch.rand(1, 3, 512, 512))


def test_cli_export_and_predict_engine_onnx(tmp_path, capsys):
    onnx_file = tmp_path / "m.onnx"
    assert main(["export", "--model", "default", "--onnx", str(onnx_file)]) == 0
    assert "any size" in capsys.readouterr().out
    photo = str(PHOTOS[1])
    assert main(["predict", photo, "--out", str(tmp_path / "torch"), "--quiet", "--amp", "off"]) == 0
    assert main(["predict", photo, "--model", str(onnx_file), "--out", str(tmp_path / "file"), "--quiet"]) == 0
    assert main(["predict", photo, "--engine", "onnx", "--out", str(tmp_path / "engine"), "--quiet"]) == 0
    stem = PHOTOS[1].stem
    ref = read_mask(tmp_path / "torch" / f"{stem}_mask.png")
    for run in ("file", "engine"):
        assert np.array_equal(ref, read_mask(tmp_path / run / f"{stem}_mask.png"))


def test_bad_onnx_files_are_named(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ConfigError, match="bad.onnx"):
        OnnxModel(bad)
    with pytest.raises(ConfigError, match="must end in .onnx"):
        export_onnx(load_model("default"), tmp_path / "m.bin")
