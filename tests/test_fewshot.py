"""The few-shot experiment of a suite (``few_shot:``): base runs, then k-shot adaptation per target, resumable,
and its report section (table + F1-vs-k figure). Tiny scale: CPU, seconds per step."""

from __future__ import annotations

import json

import pytest
import yaml

from sac.errors import ConfigError
from sac.report import build_report
from sac.study.fewshot import collect_few_shot, draw_photos, summarise
from sac.study.suite import load_suite, run_suite

SUITE = {
    "name": "fs",
    "train": {"loss": "bce+dice:0.65", "optim": {"lr": 1e-3, "batch_size": 2, "epochs": 1},
              "data": {"train": "shared:AigleRN_LMM@train", "val": "shared:AigleRN_LMM@val", "size": 64},
              "device": "cpu", "checkpoint_every_steps": 1000},
    "scale": {"limit_train": 4, "limit_val": 2},
    "evaluation": {"test": None, "zero_shot": []},
    "runs": [{"model": "unet_effnet_lite0", "strategy": "decoder", "name": "base_without_cfd"}],
    "few_shot": {
        "k": [0, 1, 2], "draws": 2, "strategies": ["norm", "decoder"],
        "recipe": {"steps": 2, "batch_size": 2, "size": 64, "warmup_steps": 0},
        "recipes": {"k": 1, "strategies": ["norm"], "variants": [{"steps": 1}, {"steps": 2, "lr_scale": 2.0}]},
        "targets": [{"name": "CFD", "base": "base_without_cfd", "pool": {"spec": "shared:CFD@train", "first": 6},
                     "val": {"spec": "shared:CFD@val", "first": 2}, "test": {"spec": "shared:CFD@test", "first": 3}}],
    },
}


def test_few_shot_suite_end_to_end_then_report(tmp_path, data_root):
    f = tmp_path / "fs.yaml"
    f.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    out = tmp_path / "runs"
    run_suite(f, out=out, progress=False)
    rows = collect_few_shot(out)
    main = [r for r in rows if r["grid"] == "main"]
    assert len(main) == 1 + 2 * 2 * 2  # base at k=0, then 2 k × 2 draws × 2 strategies
    assert {r["k"] for r in main} == {0, 1, 2} and all(r["eval_images"] == 3 for r in main)
    assert all(0 <= r["score"]["f1"] <= 1 and r["seconds"] >= 0 for r in main)
    k1 = [r for r in main if r["k"] == 1 and r["strategy"] == "norm"]
    assert k1[0]["photos"] != k1[1]["photos"]  # seeded draws differ
    search = [r for r in rows if r["grid"] == "recipes"]
    assert len(search) == 2 * 2 and all(r["eval_images"] == 2 for r in search)  # 2 variants × 2 draws, on val
    stamp = {p: p.stat().st_mtime_ns for p in (out / "few_shot").rglob("*.json")}
    run_suite(f, out=out, progress=False)  # resumes: nothing recomputed
    assert {p: p.stat().st_mtime_ns for p in (out / "few_shot").rglob("*.json")} == stamp
    summary = summarise(rows)
    assert {(r["strategy"], r["k"]) for r in summary} == {(s, k) for s in ("norm", "decoder") for k in (0, 1, 2)}
    variants = summarise(rows, "recipes")
    assert {(r["variant"], r["n"]) for r in variants} == {("steps1", 2), ("steps2_lrx2", 2)}  # not pooled
    report = build_report(out, out / "report", qualitative=False)
    md = (out / "report" / "report.md").read_text()
    assert "Few-shot — CFD" in md and "recipe search" in md and "| steps2_lrx2 |" in md and (out / "report" / "fig_few_shot.png").is_file()
    assert report.is_file()


def test_few_shot_validation(tmp_path):
    def bad(**change):
        d = json.loads(json.dumps(SUITE))
        d["few_shot"].update(change)
        f = tmp_path / "bad.yaml"
        f.write_text(yaml.safe_dump(d))
        return f

    for change, needle in (({"k": [-1]}, "few_shot.k"), ({"strategies": ["nope"]}, "nope"),
                           ({"recipe": {"stepz": 1}}, "stepz"),
                           ({"targets": [{"name": "X", "base": "missing", "pool": "a", "test": "b"}]}, "not a run"),
                           ({"targets": []}, "at least one target"), ({"foo": 1}, "unknown key")):
        with pytest.raises(ConfigError, match=needle):
            load_suite(bad(**change))


def test_draws_have_enough_crack():
    import numpy as np

    from sac.engine.adapt import MIN_CRACK_PIXELS, Photo

    pool = [Photo(f"p{i}", np.zeros((30, 30, 3), np.uint8), np.zeros((30, 30), bool)) for i in range(5)]
    for i, p in enumerate(pool):
        p.mask[: i + 1, :] = True  # 30 … 150 crack pixels each
    picked = draw_photos(pool, 2, "seed")
    assert sum(int(p.mask.sum()) for p in picked) >= MIN_CRACK_PIXELS
    assert [p.name for p in draw_photos(pool, 2, "seed")] == [p.name for p in picked]
    with pytest.raises(ConfigError, match="pool has"):
        draw_photos(pool, 6, "seed")
