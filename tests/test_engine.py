"""Engine: config validation, exact resume, adapters from training, evaluate / predict, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sac.cli import main as cli_main
from sac.engine import build_datasets, evaluate, load_config, load_model, predict, train
from sac.errors import ConfigError, WeightsError
from sac.models import create_model
from sac.models.checkpoints import find_known_weights
from sac.tuning import load_adapter

TINY = {
    "model": "unet_effnet_lite0", "weights": "default", "strategy": "norm", "loss": "bce+dice:0.65",
    "optim.epochs": 2, "optim.batch_size": 2, "optim.lr": 1e-3,
    "data.train": "shared:CFD@train", "data.val": "shared:CFD@val", "data.size": 64,
    "data.limit_train": 8, "data.limit_val": 4, "checkpoint_every_steps": 1000, "device": "cpu",
}


def test_config_defaults_and_overrides():
    cfg = load_config(None, {"optim.lr": "1e-4", "strategy": "full"})
    assert cfg.optim.lr == 1e-4 and cfg.strategy == "full" and cfg.optim.weight_decay == 5e-5


@pytest.mark.parametrize("override, needle", [
    ({"optim.lrr": 1}, "unknown key"),
    ({"optim.lr": "fast"}, "expected a number"),
    ({"optim.lr": -1}, "must be > 0"),
    ({"optim.batch_size": 2.5}, "expected an integer"),
    ({"model": "no_such_model"}, "unknown model"),
    ({"strategy": "no_such"}, "unknown tuning strategy"),
    ({"loss": "focal:2"}, "loss"),
    ({"data.mask_resize": "cubic"}, "not one of"),
])
def test_config_errors(override, needle):
    with pytest.raises(ConfigError, match=needle):
        load_config(None, override)


def test_config_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    shipped = sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml"))
    assert shipped
    for f in shipped:
        load_config(f)  # every shipped config validates


@pytest.fixture(scope="module")
def tiny_data(data_root):
    cfg = load_config(None, TINY)
    return build_datasets(cfg)


def test_resume_gives_identical_weights(tmp_path, tiny_data):
    """An interrupted run resumed from its checkpoint ends with exactly the weights of an uninterrupted one."""
    a = load_config(None, {**TINY, "out": str(tmp_path / "a")})
    b = load_config(None, {**TINY, "out": str(tmp_path / "b")})
    sa = train(a, progress=False, datasets=tiny_data)
    assert sa["completed"] and sa["epochs_done"] == 2
    sb = train(b, progress=False, datasets=tiny_data, stop_after_steps=3)  # killed mid-epoch 1
    assert not sb["completed"]
    sb = train(b, resume=True, progress=False, datasets=tiny_data)
    assert sb["completed"]
    ta = load_file(str(tmp_path / "a" / "adapter_last.safetensors"))
    tb = load_file(str(tmp_path / "b" / "adapter_last.safetensors"))
    assert ta.keys() == tb.keys() and len(ta) > 0
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    # the logs agree too (one row per epoch)
    rows_a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    rows_b = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    assert len(rows_a) == 3 and rows_a[0] == rows_b[0]
    assert [r.split(",")[:3] for r in rows_a] == [r.split(",")[:3] for r in rows_b]
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["trainable_params"] == summary["norm_params"] < summary["total_params"]


def test_step_batches_are_the_batches_the_loop_built_itself(tiny_data):
    """A loader's batch of (epoch, step, rank) equals the one built in the loop after the step's seeding (as the
    trainer did before the loader: each item's augmentation seed drawn from the global generator)."""
    from sac.engine.trainer import StepBatches, _collate, _epoch_order, _seed_step

    ds = tiny_data[0]
    assert ds.augment
    order = _epoch_order(len(ds), 0, 1)
    for rank in (0, 1):
        steps = StepBatches(ds, order, seed=0, epoch=1, batch_size=2, rank=rank, world=2, steps=2)
        for step in range(2):
            _seed_step(0, 1, step)
            start = step * 4 + rank * 2
            x_ref, y_ref = _collate([ds[i] for i in order[start: start + 2]])
            x, y = steps[step]
            assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    assert not torch.equal(StepBatches(ds, order, 0, 1, 2, 0, 2, 2)[0][0], StepBatches(ds, order, 0, 1, 2, 1, 2, 2)[0][0])


def test_loader_workers_train_the_same_weights(tmp_path, tiny_data):
    """Batches built ahead in two worker processes train exactly the weights of batches built in the loop."""
    a = load_config(None, {**TINY, "optim.epochs": 1, "out": str(tmp_path / "a")})
    b = load_config(None, {**TINY, "optim.epochs": 1, "data.loader_workers": 2, "out": str(tmp_path / "b")})
    train(a, progress=False, datasets=tiny_data)
    train(b, progress=False, datasets=tiny_data)
    ta = load_file(str(tmp_path / "a" / "adapter_last.safetensors"))
    tb = load_file(str(tmp_path / "b" / "adapter_last.safetensors"))
    assert ta.keys() == tb.keys() and len(ta) > 0
    assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_training_changes_only_the_strategy_params(tmp_path, tiny_data):
    cfg = load_config(None, {**TINY, "optim.epochs": 1, "out": str(tmp_path / "r")})
    train(cfg, progress=False, datasets=tiny_data)
    tuned = load_adapter(tmp_path / "r" / "adapter_best.safetensors")
    base = create_model("unet_effnet_lite0", weights="default")
    changed = {k for k, v in base.state_dict().items() if not torch.equal(v, tuned.state_dict()[k])}
    adapter_keys = set(load_file(str(tmp_path / "r" / "adapter_best.safetensors")))
    assert changed and changed <= adapter_keys
    x = torch.rand(1, 3, 64, 64)
    again = load_adapter(tmp_path / "r" / "adapter_best.safetensors")
    assert torch.allclose(tuned.eval()(x), again.eval()(x))


def test_data_initialised_tensors_travel_in_checkpoints_and_adapters(tmp_path, tiny_data):
    """HED-initialised DeepCrackL sets its BatchNorms from training images when training starts: with the
    ``decoder`` strategy those BN tensors are frozen yet differ from the base, so the checkpoint (exact resume)
    and the adapter (same predictions after loading) must carry them."""
    try:
        find_known_weights("hed_bsds500")
    except WeightsError as e:
        pytest.skip(f"HED weights not installed ({e})")
    over = {**TINY, "model": "deepcrack_liu", "strategy": "decoder", "optim.epochs": 1}
    a = load_config(None, {**over, "out": str(tmp_path / "a")})
    b = load_config(None, {**over, "out": str(tmp_path / "b")})
    train(a, progress=False, datasets=tiny_data)
    train(b, progress=False, datasets=tiny_data, stop_after_steps=2)
    train(b, resume=True, progress=False, datasets=tiny_data)
    ta = load_file(str(tmp_path / "a" / "adapter_last.safetensors"))
    tb = load_file(str(tmp_path / "b" / "adapter_last.safetensors"))
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
    bn = [k for k in ta if k.startswith("encoder.") and k.endswith(".running_var")]
    assert len(bn) == 13  # every BN of the VGG16 encoder, although the encoder is frozen
    tuned = load_adapter(tmp_path / "a" / "adapter_last.safetensors").eval()
    assert set(tuned.sac_data_init) >= set(bn)  # saved again, the adapter keeps them
    base = create_model("deepcrack_liu", "default").state_dict()
    assert not torch.allclose(base[bn[0]], tuned.state_dict()[bn[0]])  # not the fresh BN of the base


def test_evaluate_protocols(data_root):
    from sac.data import samples_from

    model = load_model("unet_effnet_lite0")
    samples = samples_from("shared:CFD@test")[:3] + samples_from("shared:Ceramic@test")[:2]
    for protocol in ("native", "paper"):
        res = evaluate(model, samples, protocol=protocol, size=64, device="cpu", progress=False)
        assert res["protocol"] == protocol
        assert set(res["datasets"]) == {"CFD", "Ceramic"}
        assert res["overall"]["n_images"] == 5
        for k in ("precision", "recall", "f1", "iou", "ods", "ois", "f1_tol", "cldice", "cl_iou"):
            assert 0.0 <= res["overall"][k] <= 1.0, k
    # per-image rows, in the order of the samples, agree with the per-image means and with one-image runs
    for inference in ("resize", "tiled"):
        res = evaluate(model, samples, size=64, device="cpu", progress=False, fast=True, per_image=True,
                       inference=inference)
        rows = res["per_image"]
        assert [(r["dataset"], r["id"]) for r in rows] == [(s.dataset, s.id) for s in samples]
        cfd = [r["f1"] for r in rows if r["dataset"] == "CFD"]
        assert np.mean(cfd) == pytest.approx(res["datasets"]["CFD"]["f1_mean"], abs=1e-6)
        one = evaluate(model, samples[3:4], size=64, device="cpu", progress=False, fast=True, inference=inference)
        assert rows[3]["f1"] == pytest.approx(one["overall"]["f1"], abs=1e-4)


def test_predict_writes_masks_and_overlays(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)).save(photos / "a.jpg")
    Image.fromarray(rng.integers(0, 255, (600, 700, 3), dtype=np.uint8)).save(photos / "b.png")
    model = load_model("unet_effnet_lite0")
    rows = predict(model, [photos], tmp_path / "out", tile=64, device="cpu", progress=False)
    assert [r["mode"] for r in rows] == ["resize", "tiled"]
    for stem, (h, w) in (("a", (70, 90)), ("b", (600, 700))):
        m = np.array(Image.open(tmp_path / "out" / f"{stem}_mask.png"))
        assert m.shape == (h, w) and set(np.unique(m)) <= {0, 255}
        assert (tmp_path / "out" / f"{stem}_overlay.png").is_file()
    assert (tmp_path / "out" / "summary.md").is_file()


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["evaluate", "--model", "no_such_model", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no_such_model" in err[0]
    assert cli_main(["predict", str(tmp_path / "missing.jpg"), "--model", "unet_effnet_lite0",
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.jpg" in err[0]
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "photo.png")
    bad = tmp_path / "adapter.safetensors"
    bad.write_bytes(b"not a safetensors file")
    assert cli_main(["predict", str(tmp_path / "photo.png"), "--model", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "adapter.safetensors" in err[0]


def test_cli_data_check_exit_codes(tmp_path, data_root, capsys):
    assert cli_main(["data", "check", str(data_root / "Ceramic"), "--quiet"]) == 0
    bad = tmp_path / "bad"
    (bad / "images").mkdir(parents=True)
    (bad / "masks").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(bad / "images" / "x.png")
    Image.fromarray(np.full((9, 8), 255, np.uint8)).save(bad / "masks" / "x.png")
    assert cli_main(["data", "check", str(bad), "--quiet"]) == 1
    assert "x.png" in capsys.readouterr().out


def test_compile_falls_back_to_eager_when_the_compiler_fails(monkeypatch, capsys):
    """``compiled``: a compiler failure at the first call (no C++ compiler, an unsupported op) prints one line
    and runs the same module eagerly from then on; the model's own errors still surface."""
    import sac.engine.runtime as runtime

    model = torch.nn.Linear(4, 2)

    def broken(m):
        def fn(*a, **k):
            raise RuntimeError("InductorError: CppCompileError: C++ compile error\n... long log ...")
        return fn

    monkeypatch.setattr(torch, "compile", broken)
    fwd = runtime.compiled(model)
    x = torch.rand(3, 4)
    assert torch.equal(fwd(x), model(x)) and fwd.eager()
    assert capsys.readouterr().err.count("torch.compile failed (RuntimeError: InductorError") == 1
    assert torch.equal(fwd(x), model(x)) and capsys.readouterr().err == ""  # no second attempt, no second line
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        fwd(torch.rand(3, 5))  # the model's own error, from the eager call
    assert runtime.compiled(model, enabled=False) is model


def test_training_with_compile_that_cannot_run_matches_eager(tmp_path, tiny_data, monkeypatch):
    """``compile: true`` where the compiler fails trains exactly as eager does (the fallback is the same module)."""
    def broken(m):
        def fn(*a, **k):
            raise RuntimeError("no working C++ compiler")
        return fn

    a = load_config(None, {**TINY, "optim.epochs": 1, "out": str(tmp_path / "a")})
    train(a, progress=False, datasets=tiny_data)
    monkeypatch.setattr(torch, "compile", broken)
    b = load_config(None, {**TINY, "optim.epochs": 1, "out": str(tmp_path / "b"), "compile": True})
    train(b, progress=False, datasets=tiny_data)
    ta = load_file(str(tmp_path / "a" / "adapter_last.safetensors"))
    tb = load_file(str(tmp_path / "b" / "adapter_last.safetensors"))
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
