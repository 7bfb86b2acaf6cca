"""Experiment suites: parsing / validation errors, the shipped paper suites, and a tiny real suite end to
end (train, evaluate, resume, not-applicable runs) followed by its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from sac.cli import main
from sac.errors import ConfigError
from sac.study.scale import Scale
from sac.study.suite import load_suite, run_suite

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper"

GOOD = {
    "name": "tiny",
    "train": {"loss": "bce+dice:0.65", "optim": {"lr": 1e-3, "batch_size": 2, "epochs": 1},
              "data": {"train": "shared:CFD@train", "val": "shared:CFD@val", "size": 64},
              "device": "cpu", "checkpoint_every_steps": 1000},
    "scale": {"limit_train": 8, "limit_val": 4, "limit_test": 4},
    "evaluation": {"test": "shared:all@test", "zero_shot": ["shared:MCS@zeroshot"], "fast": True},
    "runs": [{"model": "unet_effnet_lite0", "strategy": "full", "label": "U-Net lite"},
             {"model": "unet_effnet_lite0", "strategy": "norm", "label": "U-Net lite"},
             {"model": "unet_effnet_lite0", "strategy": "none", "label": "U-Net lite"},
             {"model": "deepcrack_zou", "strategy": "norm", "label": "DeepCrackZ"}],
}


def _write(tmp_path: Path, data: dict, name: str = "suite.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def _with(**changes) -> dict:
    d = json.loads(json.dumps(GOOD))
    d.update(changes)
    return d


@pytest.mark.parametrize("changes, needle", [
    ({"runs": [{"model": "no_such_model", "strategy": "norm"}]}, "unknown model 'no_such_model'"),
    ({"runs": [{"model": "unet_effnet_lite0", "strategy": "no_such"}]}, "unknown tuning strategy 'no_such'"),
    ({"runs": [{"model": "unet_effnet_lite0"}]}, "'strategy' is required"),
    ({"runs": [{"model": "unet_effnet_lite0", "strategy": "norm", "lr": 1}]}, r"runs\[0\]: unknown key"),
    ({"runs": [{"model": "unet_effnet_lite0", "strategy": "norm", "overrides": {"optim.lrr": 1}}]}, "optim.lrr"),
    ({"runs": []}, "has no runs"),
    ({"runs": [{"model": "unet_effnet_lite0", "strategy": "norm"}, {"model": "hed", "strategy": "full",
                                                                      "name": "unet_effnet_lite0__norm"}]},
     "folder name"),
    ({"train": {"optim": {"lr": -1}}}, "optim.lr"),
    ({"train": {"loss": "focal:2"}}, "loss"),
    ({"evaluation": {"protocol": "other"}}, "protocol"),
    ({"evaluation": {"zero_shot": [1]}}, "zero_shot"),
    ({"scale": {"epoch": 1}}, "scale: unknown key"),
    ({"runs_from": "missing.yaml"}, "missing.yaml not found"),
    ({"model": "x"}, "unknown key"),
])
def test_suite_validation_errors_name_the_file(tmp_path, changes, needle):
    p = _write(tmp_path, _with(**changes))
    with pytest.raises(ConfigError, match=needle) as e:
        load_suite(p)
    assert e.value.where == str(p)


def test_suite_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_suite(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("runs: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_suite(bad)
    loop = _write(tmp_path, {"runs_from": "loop.yaml"}, "loop.yaml")
    with pytest.raises(ConfigError, match="loops back"):
        load_suite(loop)


def test_shipped_paper_suites_load_and_resolve(tmp_path):
    files = sorted(PAPER.glob("*.yaml"))
    assert {f.stem for f in files} >= {"ablation", "cross_model", "zero_shot", "here"}
    suites = {f.stem: load_suite(f) for f in files}
    from sac.tuning import list_strategies

    abl = suites["ablation"]
    sam_strategies = {r.strategy for r in abl.runs}
    assert {r.model for r in abl.runs} == {"sam_vit_b"}
    assert sam_strategies == {"none", "decoder", "cracksam", "norm"} | {s for s in list_strategies()
                                                                        if s.startswith("lora_")}
    cm = suites["cross_model"]
    assert {(r.model, r.strategy) for r in cm.runs} >= {("deepcrack_zou", "full"), ("deepcrack_zou", "norm"),
                                                        ("sam_vit_b", "norm"), ("deeplabv3_r101", "full")}
    zs = suites["zero_shot"]
    assert not zs.train_runs and zs.test is None and zs.zero_shot and len(zs.runs) == len(cm.runs)
    here = suites["here"]
    assert {r.model for r in here.runs if r.weights is None} == {"segformer_b0", "unet_r50", "deeplabv3_r50",
                                                                 "deepcrack_zou", "deepcrack_liu", "crackformer"}
    vgg = {"deepcrack_zou", "deepcrack_liu", "crackformer"}  # HED-initialised and random-initialised, both
    assert {r.model for r in here.runs if r.weights == "default" and r.strategy == "full"} >= vgg
    real = suites["sam_vit_t"]  # SAC on the real SAM: every strategy family, the previous default, HED
    assert {r.strategy for r in real.runs if r.model == "sam_vit_t"} >= {"none", "norm", "norm_frozen_stats", "decoder",
                                                                         "full", "cracksam"}
    assert any(r.strategy.startswith("lora_") for r in real.runs)
    assert any(r.adapter for r in real.runs) and any(r.model == "hed" for r in real.runs)
    assert {r.overrides.get("data.size") for r in real.runs} >= {None, 512}
    lr = suites["sam_vit_t_lr"]
    assert lr.test is None and len({r.strategy for r in lr.runs}) >= 6
    # scale options resolve without running anything; --weights none makes every run random-init
    res = run_suite(PAPER / "ablation.yaml", out=tmp_path, scale=Scale(weights="none", size=64, epochs=1), dry_run=True,
                    strategies=["norm", "none"])
    assert [r["status"] for r in res.runs] == ["planned", "planned"]
    for r in res.runs:
        assert r["weights"] is None and r["name"].endswith("__random_init")
        assert r["config"]["model_kwargs"]["input_size"] == 64 and r["config"]["optim"]["epochs"] == 1
    with pytest.raises(ConfigError, match="no run with model"):
        run_suite(PAPER / "ablation.yaml", out=tmp_path, models=["hed"], dry_run=True)
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def _png_ok(p: Path) -> None:
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(p) as im:
        im.verify()


def test_tiny_suite_end_to_end_then_report(tmp_path, data_root):
    suite_file = _write(tmp_path, GOOD)
    out = tmp_path / "runs"
    res = run_suite(suite_file, out=out, progress=False)
    status = {r["name"]: r["status"] for r in res.runs}
    assert status == {"unet_effnet_lite0__full": "done", "unet_effnet_lite0__norm": "done",
                      "unet_effnet_lite0__none": "done", "deepcrack_zou__norm": "not_applicable"}
    assert not res.failed

    na = json.loads((out / "deepcrack_zou__norm" / "run.json").read_text())
    assert "normalization" in na["reason"] and not (out / "deepcrack_zou__norm" / "summary.json").exists()
    for name in ("unet_effnet_lite0__full", "unet_effnet_lite0__norm"):
        d = out / name
        summary = json.loads((d / "summary.json").read_text())
        assert summary["completed"] and summary["train_images"] == 8 and summary["epochs_done"] == 1
        ev = json.loads((d / "eval_test.json").read_text())
        assert ev["overall"]["n_images"] == 4 and ev["protocol"] == "native"
        zs = json.loads((d / "eval_zeroshot.json").read_text())
        assert zs["sets"] == ["MCS"] and zs["overall"]["n_images"] == 4 and len(zs["per_image"]) == 4
        assert zs["across_sets"]["f1"]["n"] == 1 and zs["across_sets"]["f1"]["std"] == 0.0
        import numpy as np

        f1s = [r["f1"] for r in zs["per_image"]]
        assert zs["per_image_stats"]["MCS"]["f1"]["mean"] == pytest.approx(np.mean(f1s))
        assert zs["per_image_stats"]["MCS"]["f1"]["mean"] == pytest.approx(zs["overall"]["f1_mean"], rel=1e-4)
    s_full = json.loads((out / "unet_effnet_lite0__full" / "summary.json").read_text())
    s_norm = json.loads((out / "unet_effnet_lite0__norm" / "summary.json").read_text())
    s_none = json.loads((out / "unet_effnet_lite0__none" / "summary.json").read_text())
    assert s_full["trainable_params"] == s_full["total_params"] > s_norm["trainable_params"] > 0
    assert s_none["trainable_params"] == 0 and s_none["trained"] is False
    meta = json.loads((out / "suite.json").read_text())["suites"]["tiny"]
    assert meta["hardware"]["cpu_count"] and meta["hardware"]["torch"] and meta["hardware"]["device"] == "cpu"
    assert meta["scale"]["limit_test"] == 4 and meta["scale"]["limit_zeroshot"] == 4 and meta["wall_seconds"] > 0
    assert meta["definition"]["runs"][0]["model"] == "unet_effnet_lite0"

    # a second call trains and evaluates nothing again
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.suffix in {".json", ".safetensors", ".csv"}
              and p.name not in {"suite.json", "run.json"}}
    res2 = run_suite(suite_file, out=out, progress=False)
    assert [r["status"] for r in res2.runs] == [r["status"] for r in res.runs]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert main(["suite", str(suite_file), "--out", str(out), "--quiet"]) == 0  # the CLI: nothing to do either
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # a run folder written before a setting existed (its config.yaml lacks the key) counts as that setting's
    # default, not as other settings
    import yaml

    cfg_file = out / "unet_effnet_lite0__norm" / "config.yaml"
    old_cfg = yaml.safe_load(cfg_file.read_text())
    old_cfg.pop("compile")
    cfg_file.write_text(yaml.safe_dump(old_cfg))
    run_suite(suite_file, out=out, progress=False)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # other training settings in the same folder are refused
    with pytest.raises(ConfigError, match="other settings"):
        run_suite(suite_file, out=out, scale=Scale(epochs=2), strategies=["full"], progress=False)

    assert main(["report", str(out), "--rows", "3"]) == 0
    html_path = out / "report" / "report.html"
    rep = html_path.parent
    md = (rep / "report.md").read_text()
    assert "Table 6 layout" in md and "Table 7 layout" in md and "Table 5 layout" in md and "Table 9 layout" in md
    assert md.count("| U-Net lite |") >= 2
    assert "| DeepCrackZ | - | - | - | - | - | - | - |" in md  # Table 7: not applicable shown as '-'
    assert "not applicable" in md and "1 epoch(s), 8 training / 4 validation images" in md
    assert "per-image" in md  # one zero-shot set: the spread is over images, and says so
    pngs = ["fig4_params_vs_f1.png", "fig6_full_vs_norm.png", "fig8_zero_shot_normals.png", "fig7_qualitative.png"]
    for name in pngs:
        _png_ok(rep / name)
        assert f"]({name})" in md
    html = html_path.read_text()
    assert html.count("data:image/png;base64,") == 4 and "<table>" in html and "DeepCrackZ" in html
    for name in pngs:
        assert f"data-file='{name}'" in html
