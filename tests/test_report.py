"""Reports from run folders: the paper's table layouts, '-' for not-applicable runs, † for random init,
mean ± std across zero-shot sets (population std, as the paper), figures as valid PNGs, a self-contained
HTML page. Run folders are written here as ``sac suite`` / ``sac train`` write them (no training)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from PIL import Image

from sac.errors import ConfigError
from sac.report import build_report, collect_runs
from sac.report.figures import _qualitative_columns, full_norm_groups
from sac.report.table import fmt_params
from sac.study.search import run_search
from sac.study.suite import zero_shot_summary

# The paper's Table 8 per-set numbers of two models (F1, IoU in %) on Road420 / Facade390 / Concrete3k.
TABLE8 = {"DeepCrackZ": [(56.73, 39.6), (64.47, 47.62), (68.85, 52.5)],
          "DeepLabv3+-ResNet101": [(51.68, 34.68), (58.88, 41.75), (74.53, 59.41)]}
SETS = ("Road420", "Facade390", "Concrete3k")


def _metrics(f1: float, iou: float, n: int = 10) -> dict:
    return {"precision": f1, "recall": f1, "f1": f1, "iou": iou, "n_images": n, "f1_mean": f1, "iou_mean": iou}


def _run(root: Path, name: str, model: str, strategy: str, *, label: str | None = None, weights="default",
         status: str = "done", reason: str | None = None, trainable: int = 1000, total: int = 10_000,
         spe: float = 12.5, test: tuple[float, float] | None = (0.5, 0.33), zs: list | None = None,
         record: bool = True) -> Path:
    d = root / name
    d.mkdir(parents=True)
    if record:
        (d / "run.json").write_text(json.dumps({"name": name, "label": label or model, "model": model,
                                                "strategy": strategy, "strategy_label": strategy, "weights": weights,
                                                "status": status, "reason": reason, "norm_kinds": ["BN"]}))
    if status != "done":
        return d
    (d / "config.yaml").write_text(yaml.safe_dump({"model": model, "strategy": strategy, "weights": weights,
                                                   "optim": {"epochs": 3},
                                                   "data": {"size": 128, "train": "shared:all@train"}}))
    (d / "summary.json").write_text(json.dumps({"model": model, "strategy": strategy, "weights": weights,
                                                "completed": True, "trainable_params": trainable,
                                                "total_params": total, "seconds_per_epoch": spe,
                                                "train_images": 256, "val_images": 64, "device": "cpu"}))
    (d / "metrics.csv").write_text("epoch,epoch_seconds,val_f1\n1,12.5,0.4\n")
    if test is not None:
        (d / "eval_test.json").write_text(json.dumps({"protocol": "native", "overall": _metrics(*test, n=128),
                                                      "datasets": {}, "key": {"specs": ["shared:all@test"]}}))
    if zs is not None:
        datasets = {s: _metrics(f1 / 100, iou / 100) for s, (f1, iou) in zip(SETS, zs, strict=False)}
        per_image = [{"dataset": s, "id": str(i), "f1": m["f1"] * (0.5 + i / 4), "iou": m["iou"],
                      "precision": 0.0, "recall": 0.0} for s, m in datasets.items() for i in range(3)]
        ev = {"protocol": "native", "datasets": datasets, "overall": _metrics(0.5, 0.3, n=3 * len(datasets)),
              "key": {"specs": [f"/data/{s}" for s in datasets]}, **zero_shot_summary(datasets, per_image)}
        (d / "eval_zeroshot.json").write_text(json.dumps(ev))
    return d


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    _run(root, "dcz_full", "deepcrack_zou", "full", label="DeepCrackZ", trainable=30_905_011, total=30_905_011,
         test=(0.5819, 0.4105), zs=TABLE8["DeepCrackZ"])
    _run(root, "dcz_norm", "deepcrack_zou", "norm", label="DeepCrackZ", status="not_applicable",
         reason="the model has no normalization layers")
    _run(root, "dl_full", "deeplabv3_r101", "full", label="DeepLabv3+-ResNet101", trainable=61_000_000,
         total=61_000_000, test=(0.5652, 0.3941), zs=TABLE8["DeepLabv3+-ResNet101"])
    _run(root, "dl_norm", "deeplabv3_r101", "norm", label="DeepLabv3+-ResNet101", trainable=110_000, total=61_000_000,
         spe=6.0, test=(0.5409, 0.3709), zs=TABLE8["DeepLabv3+-ResNet101"])
    _run(root, "seg_full", "segformer_b0", "full", label="SegFormer", weights=None, trainable=3_714_401,
         total=3_714_401, test=(0.5998, 0.4285), zs=[(58.36, 41.21)])
    _run(root, "plain_train", "unet_effnet_lite0", "norm", record=False, trainable=41_440, total=5_198_161,
         test=None)
    (root / "suite.json").write_text(json.dumps({"format": "sac-suite/1", "suites": {"cm": {
        "file": "cross_model.yaml", "runs": {n: "done" for n in ("dl_full", "dl_norm", "dcz_full", "dcz_norm",
                                                                  "seg_full")},
        "hardware": {"cpu_count": 2, "torch": "2.x", "platform": "Linux", "device": "cpu", "gpu": None},
        "definition": {"test": None, "zero_shot": []}, "scale": {"epochs": 3}, "wall_seconds": 60.0}}}))
    return root


def _png_ok(p: Path) -> None:
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(p) as im:
        im.verify()
        assert im.size[0] > 200 and im.size[1] > 200


def _row(md: str, first: str, title: str) -> list[str]:
    section = md.split(title, 1)[1].split("###", 1)[0]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].replace("*", "") == first:
            return cells
    raise AssertionError(f"no row {first!r} under {title!r}")


def test_fmt_params_as_the_paper_writes_them():
    assert [fmt_params(n) for n in (0, 999, 7_600, 30_700, 41_440, 197_000, 3_700_000, 61_000_000, None)] == \
        ["0", "999", "7.6K", "30.7K", "41.4K", "197K", "3.7M", "61.0M", "-"]


def test_collect_runs_reads_suite_and_plain_folders(runs):
    got = collect_runs(runs)
    assert [r.name for r in got] == ["dl_full", "dl_norm", "dcz_full", "dcz_norm", "seg_full", "plain_train"]
    plain = got[-1]
    assert plain.status == "done" and plain.strategy == "norm" and plain.label == "unet_effnet_lite0"
    assert plain.test("f1") is None and plain.trainable_params == 41_440
    seg = got[4]
    assert seg.random_init and seg.display == "SegFormer †"
    assert seg.zs_spread("f1")[2] == "images"  # one set: the per-image spread
    assert got[0].zs_spread("f1")[2] == "sets"


def test_report_tables_in_the_papers_layout(runs, tmp_path):
    html_path = build_report(runs, tmp_path / "rep", qualitative=False)
    md = (tmp_path / "rep" / "report.md").read_text()
    # Table 8: per-set columns and the paper's mean ± population std across the three sets
    t8, t9 = "Table 8 layout", "Table 9 layout"
    assert "| Road420 F1-Score (%) | Road420 IoU (%) | Facade390 F1-Score (%)" in md
    assert "F1-Score (avg ± std across sets)" in md.split(t9, 1)[1].split("###", 1)[0]
    seg = _row(md, "SegFormer †", t8)
    assert seg[2:8] == ["**58.36**", "**41.21**", "-", "-", "-", "-"]  # SegFormer: only one set ...
    assert seg[-1].endswith("(per image)")  # ... so its spread is over images, and marked so
    dcz = _row(md, "DeepCrackZ", t8)
    # the paper prints 46.57 ± 5.82 for the IoU, but the population std of its own 39.6 / 47.62 / 52.5 is 5.32
    # (its F1 std and every other row match the population std, e.g. DeepLabv3+-ResNet101 below)
    assert dcz[2:4] == ["56.73", "39.60"] and dcz[-2:] == ["**63.35 ± 5.01**", "**46.57 ± 5.32**"]
    dl = _row(md, "DeepLabv3+-ResNet101", t8)
    assert dl[-2:] == ["61.70 ± 9.54", "45.28 ± 10.40"]
    # Table 7: the not-applicable run is a row of '-' with the reason underneath
    t7 = "Table 7 layout"
    assert _row(md, "DeepCrackZ", t7) == ["DeepCrackZ"] + ["-"] * 7
    assert "not applicable — the model has no normalization layers" in md
    assert _row(md, "DeepLabv3+-ResNet101", t7)[1:4] == ["BN", "110K", "6.0"]
    # Table 6: params, time, P/R/F1/IoU; the best F1 in bold; random init marked †
    t6 = "Table 6 layout — full"
    assert _row(md, "DeepLabv3+-ResNet101", t6)[1:] == ["61.0M", "12.5", "56.52", "56.52", "56.52", "39.41"]
    assert _row(md, "SegFormer †", t6)[5] == "**59.98**"
    assert "† random initialisation" in md
    # Table 5 layout for a model run with two strategies, with its parameter share
    t5 = "Table 5 layout"
    assert _row(md, "norm", t5)[1:3] == ["110K", "0.18"]
    # every table states its scale
    assert md.count("Scale: 3 epoch(s), 256 training / 64 validation images") >= 4
    assert "2 CPU cores" in md
    # the suite's time is summed from the runs' own files (a suite resumes over several invocations)
    assert "4 of 5 runs done (1 not applicable), 0.8 min of training epochs + evaluation" in md
    assert _row(md, "DeepLabv3+-ResNet101", t9)[-2:] == ["61.70 ± 9.54", "45.28 ± 10.40"]
    html = html_path.read_text()
    assert html.count("<table>") == md.count("\n### ")  # every table is an HTML table too
    assert "<td>DeepCrackZ</td><td>-</td><td>-</td>" in html


def test_report_figures_and_self_contained_html(runs, tmp_path):
    html_path = build_report(runs, tmp_path / "rep")  # qualitative: no adapters here, so not drawn
    rep = tmp_path / "rep"
    for name in ("fig4_params_vs_f1.png", "fig6_full_vs_norm.png", "fig8_zero_shot_normals.png"):
        _png_ok(rep / name)
    assert not (rep / "fig7_qualitative.png").exists()
    md = (rep / "report.md").read_text()
    assert "Fig. 7 — qualitative comparison** — not drawn: no trained run with an adapter" in md
    assert "across sets where ≥ 2 sets, else per image" in md  # mixed: 3 sets for some runs, 1 for SegFormer
    html = html_path.read_text()
    imgs = re.findall(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'", html)
    assert len(imgs) == 3
    assert "src='fig" not in html  # nothing to fetch: the page is self-contained
    import base64

    assert base64.b64decode(imgs[0]) == (rep / "fig4_params_vs_f1.png").read_bytes()


def test_report_includes_search_results(tmp_path):
    def objective(cfg):
        return {"val_f1": 0.5 + cfg.optim.lr, "val_iou": 0.3}

    res = run_search([2, 3], out=tmp_path / "runs" / "search", n_trials=3, objective=objective, progress=False)
    html = build_report(tmp_path / "runs", qualitative=False)
    md = (html.parent / "report.md").read_text()
    assert "Table 4 layout" in md
    best3 = res.per_config[3]
    row = _row(md, "3", "Table 4 layout")
    assert [c.strip("*") for c in row[2:6]] == [f"{best3['lambda']:g}", f"{best3['lr']:g}", str(best3["batch_size"]),
                        f"{best3['val_f1']:.4f}"]
    assert row[-1] == "3 / 3" and "0.6696" in row  # the paper's best val F1 of config 3 beside ours
    # every trial, ranked: 6 trials, rank 1 is the chosen configuration
    first = _row(md, "1", "Search trials, ranked by validation F1")
    assert first[1] == "3" and first[6].strip("*") == f"{res.best['val_f1']:.4f}"
    assert len([ln for ln in md.split("Search trials", 1)[1].split("###", 1)[0].splitlines()
                if ln.startswith("| ") and ln[2].isdigit()]) == 6


def test_report_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no run folders"):
        build_report(tmp_path / "empty")


def test_fig6_groups_keep_pretrained_and_random_init_apart(tmp_path):
    root = tmp_path / "runs"
    _run(root, "dcl_full", "deepcrack_liu", "full", label="DeepCrackL", test=(0.2, 0.1))
    _run(root, "dcl_norm", "deepcrack_liu", "norm", label="DeepCrackL", test=(0.4, 0.25))
    _run(root, "dcl_full_rand", "deepcrack_liu", "full", label="DeepCrackL", weights=None, test=(0.6, 0.4))
    groups = full_norm_groups(collect_runs(root))
    got = {label: {k: (r.name if r else None) for k, r in pair.items()} for label, pair in groups}
    assert got == {"DeepCrackL": {"full": "dcl_full", "norm": "dcl_norm"},
                   "DeepCrackL †": {"full": "dcl_full_rand", "norm": None}}


def test_qualitative_columns_show_every_model_before_a_second_run_of_one(tmp_path):
    root = tmp_path / "runs"
    f1s = {("a", "full"): 0.7, ("a", "norm"): 0.1, ("a", "decoder"): 0.65, ("b", "full"): 0.3, ("b", "norm"): 0.35,
           ("c", "full"): 0.5}
    for (m, s), f1 in f1s.items():
        _run(root, f"{m}_{s}", {"a": "unet_effnet_lite0", "b": "hed", "c": "crackformer"}[m], s, test=(f1, f1 / 2))
    runs = collect_runs(root)
    assert [r.name for r in _qualitative_columns(runs, 4)] == ["a_full", "c_full", "b_norm", "a_decoder"]
    assert len(_qualitative_columns(runs, 10)) == 6  # all fit: all shown
