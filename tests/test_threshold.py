"""Calibrated thresholds: chosen on validation data, stored in the adapter, used by evaluate / predict unless
given another; and ``adapter:`` runs in suites (a model trained elsewhere, evaluated like the others)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from sac.cli import main
from sac.data import samples_from
from sac.engine import calibrate_threshold, evaluate, load_model, model_threshold, predict
from sac.errors import AdapterError, ConfigError
from sac.models import create_model
from sac.study.scale import Scale
from sac.study.suite import load_suite, run_suite
from sac.tuning import (
    apply_strategy,
    load_adapter,
    read_adapter_metadata,
    save_adapter,
    set_adapter_threshold,
)


@pytest.fixture()
def adapter(tmp_path) -> Path:
    model = apply_strategy(create_model("unet_effnet_lite0", weights="default"), "decoder")
    return save_adapter(model, tmp_path / "a.safetensors")


def test_threshold_is_stored_read_and_overridden(adapter):
    assert read_adapter_metadata(adapter)["threshold"] is None
    assert model_threshold(load_adapter(adapter)) == 0.5
    before = load_adapter(adapter).state_dict()
    set_adapter_threshold(adapter, 0.27, "test")
    meta = read_adapter_metadata(adapter)
    assert meta["threshold"] == 0.27 and meta["threshold_source"] == "test"
    model = load_adapter(adapter)
    assert model_threshold(model) == 0.27 and model_threshold(model, 0.6) == 0.6
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # tensors untouched
    set_adapter_threshold(adapter, None)
    assert read_adapter_metadata(adapter)["threshold"] is None
    for bad in (0.0, 1.0, float("nan"), -3):
        with pytest.raises(AdapterError, match="threshold"):
            set_adapter_threshold(adapter, bad)
    with pytest.raises(ConfigError, match="threshold"):
        model_threshold(model, 1.5)


def test_evaluate_and_predict_use_the_stored_threshold(adapter, data_root, tmp_path):
    samples = samples_from("shared:CFD@test")[:2]
    r05 = evaluate(load_adapter(adapter), samples, device="cpu", progress=False, fast=True)
    set_adapter_threshold(adapter, 0.2)
    model = load_adapter(adapter)
    r02 = evaluate(model, samples, device="cpu", progress=False, fast=True)
    forced = evaluate(model, samples, device="cpu", progress=False, fast=True, threshold=0.5)
    assert r02["threshold"] == 0.2 and forced["threshold"] == 0.5 and r05["threshold"] == 0.5
    assert forced["overall"]["f1"] == pytest.approx(r05["overall"]["f1"])
    assert r02["overall"]["ods"] == pytest.approx(r05["overall"]["ods"])  # ODS does not depend on it
    low, high = tmp_path / "low", tmp_path / "high"
    images = [s.image for s in samples]
    a = predict(model, images, low, device="cpu", progress=False)
    b = predict(model, images, high, device="cpu", progress=False, threshold=0.9)
    assert all(x["crack_area_share"] >= y["crack_area_share"] for x, y in zip(a, b, strict=True))
    assert "threshold 0.20" in (low / "summary.md").read_text()


def test_calibrate_picks_the_validation_ods_threshold(adapter, data_root, capsys):
    model = load_adapter(adapter)
    val = samples_from("shared:CFD@val")[:3]
    res = calibrate_threshold(model, val, device="cpu", progress=False)
    ref = evaluate(model, val, device="cpu", progress=False, fast=True)["overall"]
    assert res["threshold"] == pytest.approx(min(max(ref["ods_threshold"], 0.01), 0.99))
    assert res["f1_at_threshold"] >= res["f1_at_0.5"] - 1e-12
    out = adapter.with_name("calibrated.safetensors")
    assert main(["calibrate", str(adapter), "--data", "shared:CFD@val", "--out", str(out), "--quiet", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert read_adapter_metadata(out)["threshold"] == pytest.approx(printed["threshold"])
    assert read_adapter_metadata(adapter)["threshold"] is None  # --out leaves the original alone
    for spec in ("shared:CFD@test", "shared:MCS@zeroshot"):
        assert main(["calibrate", str(adapter), "--data", spec, "--quiet"]) == 2
        assert "validation data only" in capsys.readouterr().err


def test_adapter_runs_in_a_suite(tmp_path, data_root):
    model = apply_strategy(create_model("unet_effnet_lite0", weights="default"), "decoder")
    path = save_adapter(model, tmp_path / "elsewhere.safetensors", config={
        "model": "unet_effnet_lite0", "weights": "default", "strategy": "decoder",
        "optim": {"lr": 1e-3, "epochs": 4, "batch_size": 8}, "data": {"size": 64, "train": "shared:CFD@train"}})
    suite = {"name": "imp", "train": {"optim": {"epochs": 1}}, "scale": {"limit_test": 2, "size": 128},
             "evaluation": {"test": "shared:CFD@test", "zero_shot": [], "fast": True},
             "runs": [{"adapter": str(path), "label": "elsewhere"}]}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(suite))
    s = load_suite(f)
    assert s.runs[0].model == "unet_effnet_lite0" and s.runs[0].strategy == "decoder"
    res = run_suite(f, out=tmp_path / "runs", progress=False, scale=Scale(device="cpu"))
    rec = res.runs[0]
    assert rec["status"] == "done" and rec["imported"] and rec["test_f1"] is not None
    run_dir = tmp_path / "runs" / rec["name"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["imported_from"] == str(path) and summary["trained"] is False
    ev = json.loads((run_dir / "eval_test.json").read_text())
    assert ev["size"] == 64  # the adapter's own size, not the suite's scale
    for bad, needle in (({"adapter": str(tmp_path / "nope.safetensors")}, "adapter"),
                        ({"adapter": str(path), "strategy": "full"}, "adapter holds 'decoder'"),
                        ({"adapter": str(path), "overrides": {"optim.lr": 1}}, "not trained")):
        f.write_text(yaml.safe_dump({**suite, "runs": [bad]}))
        with pytest.raises(ConfigError, match=needle):
            load_suite(f)
    f.write_text(yaml.safe_dump({**suite, "evaluation": {**suite["evaluation"], "threshold": 1.5}}))
    with pytest.raises(ConfigError, match="threshold"):
        load_suite(f)


def test_default_model_loads_with_its_threshold():
    from sac.engine import DEFAULT_ADAPTER

    meta = read_adapter_metadata(DEFAULT_ADAPTER)
    assert model_threshold(load_model("default")) == (meta["threshold"] or 0.5)
