"""What a suite does with a run besides training it: evaluation on the test and zero-shot specs (cached by the
adapter's sha256), the untrained model (``strategy: none``) and imported adapters (``adapter:`` runs)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from sac.data import Sample
from sac.engine import RunDir, RunSummary, TrainConfig, build_model, evaluate, resolve_device
from sac.engine.config import dump_config
from sac.files import atomic_path, atomic_write_json, atomic_write_text, sha256_file
from sac.models import count_parameters
from sac.study.suite_file import RunSpec, Suite, adapter_path
from sac.tuning import load_adapter, read_adapter_metadata, save_adapter

__all__ = ["EVAL_SEED", "EvalData", "evaluate_run", "import_adapter", "write_untrained", "zero_shot_summary"]

EVAL_SEED = 0  # seeds the test / zero-shot subsets, so every run of a suite sees the same images


class EvalData:
    """The evaluation photos of a suite at a scale (resolved once, before any training)."""

    def __init__(self, test: list[Sample] | None, zero_shot: list[Sample] | None,
                 limit_test: int | None, limit_zeroshot: int | None):
        self.test, self.zero_shot = test, zero_shot
        self.limit_test, self.limit_zeroshot = limit_test, limit_zeroshot


def _spread(values: list[float]) -> dict[str, float | int]:
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "std": float(a.std()), "n": int(a.size)}  # population std, as the paper


def zero_shot_summary(datasets: dict[str, dict[str, Any]], per_image: list[dict[str, Any]]) -> dict[str, Any]:
    """The zero-shot summary of ``eval_zeroshot.json`` (Tables 8-9): ``sets`` (names, in the order of
    the per-image rows, i.e. of the zero-shot specs), ``across_sets``
    (mean / population std / n over the per-set pooled P, R, F1, IoU, as the paper's "avg., std."),
    ``per_image`` (the rows given) and ``per_image_stats`` (per set: mean / std of the per-image F1, IoU —
    the only spread there is with a single zero-shot set)."""
    order = [d for d in dict.fromkeys(r["dataset"] for r in per_image) if d in datasets]
    return {
        "sets": order + sorted(d for d in datasets if d not in order),  # the order of the zero-shot specs
        "across_sets": {m: _spread([datasets[s][m] for s in datasets]) for m in ("precision", "recall", "f1", "iou")},
        "per_image": per_image,
        "per_image_stats": {s: {m: _spread([r[m] for r in per_image if r["dataset"] == s]) for m in ("f1", "iou")}
                            for s in datasets if any(r["dataset"] == s for r in per_image)},
    }


def evaluate_run(run: RunDir, cfg: TrainConfig, suite: Suite, data: EvalData, fast: bool, progress: bool) -> float:
    """Write ``eval_test.json`` / ``eval_zeroshot.json`` of a run unless up to date (same photos, protocol,
    threshold and adapter bytes); returns the seconds spent."""
    sha = sha256_file(run.adapter_best)
    kw = {"protocol": suite.protocol, "inference": suite.inference, "size": cfg.data.size, "device": cfg.device,
          "fast": fast, "progress": progress, "threshold": suite.threshold}
    jobs = []
    if data.test is not None:
        jobs.append((run.eval_test, [suite.test], data.limit_test, data.test, False))
    if data.zero_shot is not None:
        jobs.append((run.eval_zeroshot, suite.zero_shot, data.limit_zeroshot, data.zero_shot, True))
    model = None
    t0 = time.perf_counter()
    for path, specs, limit, samples, zero_shot in jobs:
        key = {"specs": specs, "limit": limit, "seed": EVAL_SEED, "protocol": suite.protocol,
               "inference": suite.inference, "size": cfg.data.size, "fast": fast, "adapter_sha256": sha}
        if suite.threshold != 0.5:  # (keys of results evaluated at 0.5 before thresholds existed stay valid)
            key["threshold"] = suite.threshold
        old = RunDir.read_json(path)
        if old is not None and old.get("key") == key:
            continue
        model = model or load_adapter(run.adapter_best)
        t1 = time.perf_counter()
        res = evaluate(model, samples, **kw, per_image=zero_shot)
        res["key"] = key
        if zero_shot:
            res.update(zero_shot_summary(res["datasets"], res.pop("per_image")))
        res["seconds"] = time.perf_counter() - t1
        atomic_write_json(path, res)
    return time.perf_counter() - t0


def _not_trained_summary(cfg: TrainConfig, model: Any, **fields: Any) -> RunSummary:
    counts = count_parameters(model)
    return RunSummary(model=cfg.model, strategy=cfg.strategy, weights=cfg.weights, total_params=counts["total"],
                      trainable_params=counts["trainable"], norm_params=counts["norm"],
                      device=str(resolve_device(cfg.device)), completed=True, trained=False, **fields)


def write_untrained(cfg: TrainConfig, run: RunDir) -> RunSummary:
    """``strategy: none``: the model as it is (Table 5 "No Finetuning"), saved as an adapter so that
    it evaluates and loads like any trained run."""
    model = build_model(cfg)
    run.path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.config, dump_config(cfg))
    save_adapter(model, run.adapter_best, config=cfg.to_dict(), metrics={})
    summary = _not_trained_summary(cfg, model, best_val_f1=None, best_epoch=None, seconds_per_epoch=None)
    run.write_summary(summary)
    return summary


def import_adapter(spec: RunSpec, cfg: TrainConfig, run: RunDir, suite: Suite) -> RunSummary:
    """An ``adapter:`` run: copy the file into the run folder (as its best adapter) and write a summary from
    its metadata, so that it evaluates and reports like a run trained here."""
    src = adapter_path(spec.adapter, Path(suite.path))
    run.path.mkdir(parents=True, exist_ok=True)
    if not run.adapter_best.is_file() or sha256_file(run.adapter_best) != sha256_file(src):
        with atomic_path(run.adapter_best) as tmp:
            shutil.copyfile(src, tmp)
    atomic_write_text(run.config, dump_config(cfg))
    m = read_adapter_metadata(run.adapter_best).get("metrics") or {}
    summary = _not_trained_summary(cfg, load_adapter(run.adapter_best), epochs_done=m.get("epoch"),
                                   global_step=None, best_val_f1=m.get("val_f1"), best_epoch=m.get("epoch"),
                                   train_images=None, val_images=None, imported_from=str(src))
    run.write_summary(summary)
    return summary
