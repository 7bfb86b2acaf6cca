"""``sac adapt``: few-shot tuning from a handful of labelled photos — end to end on a tiny folder (CPU,
seconds), its refusals, the merged adapter on the same base, and the cross-validated threshold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sac.cli import main
from sac.engine import load_model
from sac.engine.adapt import (
    CV_FOLDS,
    MIN_CRACK_PIXELS,
    THRESHOLDS,
    Recipe,
    adapt,
    cross_validated,
    make_folds,
    prepare,
)
from sac.errors import DataError, StrategyError
from sac.models import create_model
from sac.tuning import apply_strategy, load_adapter, read_adapter_metadata, save_adapter

FAST = Recipe(steps=2, batch_size=2, size=64, warmup_steps=0)


def _site(root: Path, n: int = 3, size: int = 80, crack: bool = True) -> Path:
    """A tiny site: grey concrete-like noise with a dark diagonal crack, masks 255 = crack."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        img = (rng.normal(150, 12, (size, size + 10, 3))).clip(0, 255).astype(np.uint8)
        mask = np.zeros((size, size + 10), np.uint8)
        if crack:
            for t in range(size):
                x = (t + 7 * i) % (size + 10)
                img[t, max(0, x - 1): x + 2] = 40
                mask[t, max(0, x - 1): x + 2] = 255
        Image.fromarray(img).save(root / "images" / f"p{i}.jpg", quality=95)
        Image.fromarray(mask).save(root / "masks" / f"p{i}.png")
    return root


@pytest.fixture(scope="module")
def base_adapter(tmp_path_factory) -> Path:
    """A small decoder-tuned U-Net adapter standing in for the bundled default (fast on the CPU)."""
    model = apply_strategy(create_model("unet_effnet_lite0", weights="default"), "decoder")
    return save_adapter(model, tmp_path_factory.mktemp("base") / "base.safetensors")


def test_adapt_end_to_end_and_the_adapter_works_everywhere(tmp_path, base_adapter, capsys):
    site = _site(tmp_path / "site")
    out = tmp_path / "site.safetensors"
    res = adapt(load_model(base_adapter), site, out, strategy="norm", recipe=FAST, device="cpu", progress=False)
    assert res.photos == 3 and res.folds == CV_FOLDS == 2 and res.after_cv is not None and out.is_file()
    assert 0 < res.threshold < 1 and "cross-validated" in res.threshold_source
    meta = read_adapter_metadata(out)
    assert meta["strategy"] == "norm" and meta["threshold"] == pytest.approx(res.threshold)
    assert meta["metrics"]["site_photos"] == 3 and "site_before" in meta["metrics"]
    # one merged file on the same base: the base adapter's decoder tensors travel with the new norm ones
    tuned = load_adapter(out)
    base_t = load_adapter(base_adapter)
    dec = "net.decoder.blocks.0.conv1.0.weight"
    own = dict(tuned.named_parameters())
    assert dec in tuned.sac_data_init
    torch.testing.assert_close(own[dec], dict(base_t.named_parameters())[dec])
    # usable wherever a model is named
    assert main(["predict", str(site / "images"), "--model", str(out), "--out", str(tmp_path / "pred"), "--quiet"]) == 0
    assert (tmp_path / "pred" / "p0_mask.png").is_file()
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(site), "--json", "--quiet", "--fast"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["threshold"] == pytest.approx(res.threshold)


def test_cli_adapt_reports_before_and_after(tmp_path, base_adapter, capsys):
    site = _site(tmp_path / "site", n=2)
    out = tmp_path / "a.safetensors"
    assert main(["adapt", str(site), "--model", str(base_adapter), "--out", str(out), "--steps", "2",
                 "--quiet", "--json", "--device", "cpu"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["photos"] == 2 and res["folds"] == 2 and res["adapter_bytes"] == out.stat().st_size
    assert set(res["before"]) >= {"f1", "iou", "threshold"} and res["after_cv"]["f1"] >= 0


def test_refusals(tmp_path, base_adapter, capsys):
    model = load_model(base_adapter)
    empty = _site(tmp_path / "nocrack", crack=False)
    with pytest.raises(DataError, match="too few to learn from"):
        adapt(model, empty, None, recipe=FAST, device="cpu", progress=False)
    broken = _site(tmp_path / "broken")
    (broken / "masks" / "p1.png").unlink()
    with pytest.raises(DataError, match="p1"):
        adapt(model, broken, None, recipe=FAST, device="cpu", progress=False)
    assert main(["adapt", str(empty), "--model", str(base_adapter), "--out", str(tmp_path / "x.safetensors"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "crack pixels" in err and "Traceback" not in err
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(Exception, match="learning rate"):
        adapt(model, _site(tmp_path / "ok"), None, strategy="cracksam_adapter", recipe=FAST, device="cpu",
              progress=False)
    lora = apply_strategy(create_model("sam_vit_t"), "lora_qkv_last2_r8")
    with pytest.raises(StrategyError, match="adds modules"):
        prepare(lora, "norm")
    assert MIN_CRACK_PIXELS > 0


def test_cross_validated_threshold_is_nested():
    """The fold score uses the threshold chosen on the *other* folds; the final threshold uses all."""
    rng = np.random.default_rng(0)
    masks = [rng.random((20, 20)) < 0.1 for _ in range(6)]
    probs = [np.clip(m * 0.3 + rng.random(m.shape) * 0.25, 0, 1).astype(np.float32) for m in masks]
    folds = make_folds(6, 3, seed=0)
    assert sorted(i for f in folds for i in f) == list(range(6))
    best, nested = cross_validated(probs, masks, folds)
    assert best in THRESHOLDS
    # with separable scores the chosen threshold lies between the two classes
    assert 0.2 < best <= 0.31
    assert 0.0 <= nested["f1"] <= 1.0
    one_fold_best, _ = cross_validated(probs, masks, [list(range(6))])
    assert one_fold_best == best
