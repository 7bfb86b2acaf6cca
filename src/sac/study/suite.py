"""Experiment suites: the paper's experiments (Tables 5–9) as YAML files, run at any scale.

A suite file (``configs/paper/*.yaml``) lists runs and what they share::

    name: cross_model
    description: ...
    paper: "Tables 6-7, Fig. 6"
    train:                       # TrainConfig keys (nested or dotted), shared by every run
      loss: "bce+dice:0.65"
      optim: {lr: 5.0e-4, batch_size: 2, epochs: 10}
      data: {train: "shared:all@train", val: "shared:all@val", size: 256}
    scale: {}                    # default scale: epochs, limit_train, limit_val, limit_test,
                                 # limit_zeroshot, size, batch_size, weights (none|default), device
    evaluation:
      test: "shared:all@test"    # or null
      zero_shot: ["shared:MCS@zeroshot"]
      protocol: native           # native | paper
      fast: false                # skip tolerance / skeleton metrics
      threshold: 0.5             # binarisation for P/R/F1/IoU (the paper's; a stored adapter threshold is ignored)
    runs:
      - {model: deepcrack_zou, strategy: full}
      - {model: sam_vit_b, strategy: norm, weights: default, label: SAC,
         overrides: {model_kwargs: {input_size: 256}}}

Run keys: ``adapter`` (instead of training: an adapter file trained elsewhere, or ``default`` for the
bundled default model — it is copied into the run folder and evaluated like the others; ``model`` /
``strategy`` come from its metadata), ``model``, ``strategy`` (registry names), ``weights`` (``default`` = the registered
pretrained source, possibly a user-supplied file; ``none`` = random initialisation; or a checkpoint
path), ``label`` (display name), ``name`` (folder name; default ``<model>__<strategy>``, plus
``__random_init`` without weights), ``overrides`` (TrainConfig keys for this run) and ``note``.
``runs_from: [other.yaml]`` takes the runs (and train / scale / evaluation settings not given) of
other suites; with ``train_runs: false`` a suite only evaluates runs already trained in ``out``
(``zero_shot.yaml`` evaluates the cross-model runs on the zero-shot sets).

:func:`run_suite` trains each run into ``out/<name>/`` (skipping completed runs, resuming interrupted
ones), evaluates it on the test spec (``eval_test.json``) and on the zero-shot specs
(``eval_zeroshot.json``: per set, mean ± std across sets, and per-image F1/IoU), records it in
``out/<name>/run.json`` and the invocation (definition, scale, hardware, wall time) in
``out/suite.json``. A strategy that does not apply to a model (``norm`` on DeepCrackZ) is recorded as
not applicable with the reason, as the paper's Table 7 shows '-'. ``strategy: none`` runs are
evaluated without training (Table 5's "No Finetuning").
"""

from __future__ import annotations

import json
import os
import platform
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sac.engine.config import flatten_config
from sac.errors import ConfigError, SACError

__all__ = ["RunSpec", "Suite", "SuiteResult", "load_suite", "run_suite", "zero_shot_summary"]

SUITE_FORMAT = "sac-suite/1"
_SUITE_KEYS = {"name", "description", "paper", "train", "scale", "evaluation", "runs", "runs_from", "train_runs",
               "notes", "few_shot"}
_RUN_KEYS = {"name", "model", "strategy", "weights", "label", "overrides", "note", "adapter"}
_EVAL_KEYS = {"test", "zero_shot", "protocol", "fast", "inference", "threshold"}
_SCALE_KEYS = {"epochs", "limit_train", "limit_val", "limit_test", "limit_zeroshot", "size", "batch_size",
               "weights", "device"}
_SCALE_TO_CONFIG = {"epochs": "optim.epochs", "limit_train": "data.limit_train", "limit_val": "data.limit_val",
                    "size": "data.size", "batch_size": "optim.batch_size", "device": "device"}
_IGNORED_FOR_RESUME = {"out", "device", "threads", "data.cache_dir"}
EVAL_SEED = 0  # seeds the test / zero-shot subsets, so every run of a suite sees the same images


@dataclass
class RunSpec:
    """One run of a suite: a model, a tuning strategy, base weights and config overrides."""

    model: str
    strategy: str
    weights: str | None = "default"
    label: str | None = None
    name: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    adapter: str | None = None  # evaluate this adapter file (trained elsewhere) instead of training

    def folder(self, weights: str | None) -> str:
        if self.name:
            return self.name
        if self.adapter:
            return f"{self.model}__{self.strategy}__{Path(self.adapter).stem}"
        return f"{self.model}__{self.strategy}" + ("__random_init" if weights is None else "")


@dataclass
class Suite:
    """A parsed, validated suite file (see the module docstring)."""

    name: str
    path: str
    runs: list[RunSpec]
    train: dict[str, Any] = field(default_factory=dict)
    scale: dict[str, Any] = field(default_factory=dict)
    test: str | None = None
    zero_shot: list[str] = field(default_factory=list)
    protocol: str = "native"
    fast: bool = False
    inference: str = "resize"
    threshold: float = 0.5
    train_runs: bool = True
    description: str = ""
    paper: str = ""
    notes: list[str] = field(default_factory=list)
    few_shot: Any = None  # sac.study.fewshot.FewShot: the few-shot experiment on the runs (base models)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SuiteResult:
    """What :func:`run_suite` did: one record per selected run (the content of its ``run.json``)."""

    out: Path
    suite: Suite
    runs: list[dict[str, Any]]
    wall_seconds: float

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] == "error"]

    def table(self) -> str:
        lines = ["| run | model | strategy | weights | status | test F1 | zero-shot F1 | note |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in self.runs:
            f1 = r.get("test_f1")
            zs = r.get("zero_shot_f1")
            lines.append(f"| {r['name']} | {r['model']} | {r['strategy']} | "
                         f"{'random init' if r['weights'] is None else r['weights']} | {r['status']} | "
                         f"{'-' if f1 is None else f'{100 * f1:.2f}'} | {'-' if zs is None else f'{100 * zs:.2f}'} | "
                         f"{r.get('reason') or ''} |")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------- parsing
def _weights(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in {"none", "null", "random", ""}):
        return None
    return str(value)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(path, "suite file does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(path, f"invalid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, "top level must be a mapping with 'runs' (or 'runs_from')")
    unknown = set(raw) - _SUITE_KEYS
    if unknown:
        raise ConfigError(path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                                f"allowed: {', '.join(sorted(_SUITE_KEYS))}")
    return raw


def _mapping(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    v = raw.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ConfigError(path, f"{key}: expected a mapping, got {v!r}")
    return v


def _parse_run(i: int, item: Any, path: Path) -> RunSpec:
    from sac.models import model_info
    from sac.tuning import strategy_info

    where = f"runs[{i}]"
    if not isinstance(item, dict):
        raise ConfigError(path, f"{where}: expected a mapping with model and strategy, got {item!r}")
    unknown = set(item) - _RUN_KEYS
    if unknown:
        raise ConfigError(path, f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                                f"allowed: {', '.join(sorted(_RUN_KEYS))}")
    adapter = item.get("adapter")
    if adapter is not None:
        item = {**item, **_adapter_run(adapter, item, path, where)}
    for key in ("model", "strategy"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise ConfigError(path, f"{where}: '{key}' is required (a registry name)")
    try:
        model_info(item["model"])
        strategy_info(item["strategy"])
    except ConfigError as e:
        raise ConfigError(path, f"{where}: {e.problem}") from None
    overrides = item.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(path, f"{where}.overrides: expected a mapping of TrainConfig keys")
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name or "/" in name or name.startswith(".")):
        raise ConfigError(path, f"{where}.name: {name!r} is not a usable folder name")
    return RunSpec(model=item["model"], strategy=item["strategy"],
                   weights=_weights(item.get("weights", "default")), label=item.get("label"), name=name,
                   overrides=flatten_config(overrides), note=item.get("note"), adapter=item.get("adapter"))


def _adapter_path(adapter: str, suite_path: Path) -> Path:
    from sac.engine import DEFAULT_ADAPTER

    if adapter == "default":
        return DEFAULT_ADAPTER
    p = Path(adapter)
    return p if p.is_absolute() or p.is_file() else suite_path.parent / p


def _adapter_run(adapter: Any, item: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    """model / strategy / weights / training config of an ``adapter:`` run, from the file's metadata."""
    from sac.errors import AdapterError
    from sac.tuning import read_adapter_metadata

    if not isinstance(adapter, str) or not adapter:
        raise ConfigError(path, f"{where}.adapter: expected 'default' or an adapter file path, got {adapter!r}")
    try:
        meta = read_adapter_metadata(_adapter_path(adapter, path))
    except AdapterError as e:
        raise ConfigError(path, f"{where}.adapter: {e}") from None
    for key in ("model", "strategy"):
        if item.get(key) not in (None, meta[key]):
            raise ConfigError(path, f"{where}: {key} {item[key]!r} but the adapter holds {meta[key]!r}")
    if "overrides" in item:
        raise ConfigError(path, f"{where}: an adapter run is evaluated, not trained: 'overrides' do not apply")
    cfg = {k: v for k, v in (meta.get("config") or {}).items() if k not in ("out", "device", "threads")}
    return {"model": meta["model"], "strategy": meta["strategy"], "weights": meta["base_weights"] or None,
            "overrides": cfg}


def load_suite(path: str | Path, _seen: tuple[Path, ...] = ()) -> Suite:
    """Read and validate a suite file. Raises ConfigError naming the file and the problem
    (unknown keys, unknown model or strategy, invalid training settings, duplicate run names, ...)."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(path, "runs_from loops back to itself")
    raw = _read_yaml(path)
    parents: list[Suite] = []
    rf = raw.get("runs_from") or []
    if isinstance(rf, str):
        rf = [rf]
    if not isinstance(rf, list) or not all(isinstance(x, str) for x in rf):
        raise ConfigError(path, "runs_from: expected a suite file or a list of them")
    for ref in rf:
        p = Path(ref) if Path(ref).is_absolute() else path.parent / ref
        if not p.is_file():
            raise ConfigError(path, f"runs_from: {ref} not found (looked at {p})")
        parents.append(load_suite(p, (*_seen, path.resolve())))

    runs: list[RunSpec] = [r for s in parents for r in s.runs]
    items = raw.get("runs") or []
    if not isinstance(items, list):
        raise ConfigError(path, "runs: expected a list of {model, strategy, ...}")
    runs += [_parse_run(i, item, path) for i, item in enumerate(items)]
    if not runs:
        raise ConfigError(path, "the suite has no runs (give 'runs' or 'runs_from')")

    first = parents[0] if parents else None
    train = flatten_config(_mapping(raw, "train", path)) if "train" in raw else (dict(first.train) if first else {})
    scale = dict(_mapping(raw, "scale", path)) if "scale" in raw else (dict(first.scale) if first else {})
    unknown = set(scale) - _SCALE_KEYS
    if unknown:
        raise ConfigError(path, f"scale: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(_SCALE_KEYS))}")
    ev = _mapping(raw, "evaluation", path)
    unknown = set(ev) - _EVAL_KEYS
    if unknown:
        raise ConfigError(path, f"evaluation: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(_EVAL_KEYS))}")
    test = ev["test"] if "test" in ev else (first.test if first else None)
    zs = ev["zero_shot"] if "zero_shot" in ev else (list(first.zero_shot) if first else [])
    zs = [zs] if isinstance(zs, str) else (zs or [])
    if test is not None and not isinstance(test, str):
        raise ConfigError(path, f"evaluation.test: expected a sample spec or null, got {test!r}")
    if not isinstance(zs, list) or not all(isinstance(z, str) for z in zs):
        raise ConfigError(path, "evaluation.zero_shot: expected a sample spec or a list of them")
    protocol = ev.get("protocol", first.protocol if first else "native")
    if protocol not in {"native", "paper"}:
        raise ConfigError(path, f"evaluation.protocol: {protocol!r} is not 'native' or 'paper'")
    inference = ev.get("inference", first.inference if first else "resize")
    if inference not in {"resize", "tiled"}:
        raise ConfigError(path, f"evaluation.inference: {inference!r} is not 'resize' or 'tiled'")
    fast = ev.get("fast", first.fast if first else False)
    if not isinstance(fast, bool):
        raise ConfigError(path, f"evaluation.fast: expected true/false, got {fast!r}")
    threshold = ev.get("threshold", first.threshold if first else 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold < 1:
        raise ConfigError(path, f"evaluation.threshold: expected a number in (0, 1), got {threshold!r}")
    train_runs = raw.get("train_runs", True)
    if not isinstance(train_runs, bool):
        raise ConfigError(path, f"train_runs: expected true/false, got {train_runs!r}")
    notes = raw.get("notes") or []
    notes = [notes] if isinstance(notes, str) else list(notes)

    suite = Suite(name=str(raw.get("name") or path.stem), path=str(path), runs=runs, train=train, scale=scale,
                  test=test, zero_shot=list(zs), protocol=protocol, fast=fast, inference=inference,
                  threshold=float(threshold),
                  train_runs=train_runs, description=str(raw.get("description") or ""),
                  paper=str(raw.get("paper") or ""), notes=[str(n) for n in notes])
    _check_runs(suite, path, dict(scale))
    if raw.get("few_shot") is not None:
        from sac.study.fewshot import parse_few_shot

        names = {r.folder(_weights(r.weights) if r.weights is not None else None) for r in suite.runs}
        suite.few_shot = parse_few_shot(raw["few_shot"], path, names)
    return suite


def _check_runs(suite: Suite, path: Path, scale: dict[str, Any]) -> None:
    """Every run resolves to a valid TrainConfig, run folders are unique."""
    seen: dict[str, RunSpec] = {}
    for i, run in enumerate(suite.runs):
        try:
            cfg = _run_config(suite, run, scale, Path("runs"))
        except ConfigError as e:
            raise ConfigError(path, f"run {run.model}/{run.strategy} (runs[{i}]): {e.problem}") from None
        folder = run.folder(cfg.weights)
        if folder in seen:
            if seen[folder] == run:
                continue  # the same run inherited twice
            raise ConfigError(path, f"two different runs use the folder name {folder!r}; give one a 'name'")
        seen[folder] = run
    uniq: list[RunSpec] = []
    for run in suite.runs:
        if run not in uniq:
            uniq.append(run)
    suite.runs = uniq


def _run_config(suite: Suite, run: RunSpec, scale: dict[str, Any], out: Path, extra: dict[str, Any] | None = None):
    """The TrainConfig of ``run`` at ``scale`` (``run.overrides`` beat the suite's ``train``; scale beats both)."""
    from sac.engine.config import load_config
    from sac.models import model_info

    ov: dict[str, Any] = {**suite.train, "model": run.model, "strategy": run.strategy, "weights": run.weights,
                          **run.overrides}
    if run.adapter:  # trained elsewhere: its own configuration, whatever the suite's scale
        ov = {**run.overrides, "model": run.model, "strategy": run.strategy, "weights": run.weights}
        if scale.get("device") is not None:
            ov["device"] = scale["device"]
        ov["out"] = str(out / run.folder(run.weights))
        return load_config(None, ov)
    for k, ck in _SCALE_TO_CONFIG.items():
        if scale.get(k) is not None:
            ov[ck] = scale[k]
    if scale.get("weights") is not None:
        w = _weights(scale["weights"])
        if w not in (None, "default"):
            raise ConfigError("weights", f"the scale option weights is 'none' or 'default', got {scale['weights']!r}")
        ov["weights"] = w
    ov.update(extra or {})
    if model_info(run.model).family == "sam":  # SAM's position embedding follows the training size
        mk = dict(ov.get("model_kwargs") or {})
        mk["input_size"] = int(ov.get("data.size", 256))
        ov["model_kwargs"] = mk
    name = run.folder(_weights(ov.get("weights")))
    ov["out"] = str(out / name)
    return load_config(None, ov)


# ------------------------------------------------------------------------------------------ running
def _hardware(device: str) -> dict[str, Any]:
    import torch

    from sac.engine import resolve_device

    dev = resolve_device(device)
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "device": str(dev),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def _subset(samples: list, limit: int | None, seed: int = EVAL_SEED) -> list:
    if not limit or limit >= len(samples):
        return samples
    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in keep]


def _resolve_samples(spec: str, limit: int | None) -> list:
    from sac.data import samples_from

    return _subset(samples_from(spec), limit)


def _config_diff(run_dir: Path, cfg) -> list[str]:
    p = run_dir / "config.yaml"
    if not p.is_file():
        return []
    try:
        old = flatten_config(yaml.safe_load(p.read_text()) or {})
    except yaml.YAMLError:
        return [f"{p} is not valid YAML"]
    new = flatten_config(cfg.to_dict())
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if k not in _IGNORED_FOR_RESUME and old.get(k) != new.get(k)]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


_RUN_FILES = ("summary.json", "eval_test.json", "eval_zeroshot.json", "adapter_best.safetensors",
              "adapter_last.safetensors", "metrics.csv", "checkpoints/last.safetensors")


def _evaluate_supports_per_image() -> bool:
    import inspect

    from sac.engine import evaluate

    return "per_image" in inspect.signature(evaluate).parameters


def _per_image(model, samples: list, res: dict[str, Any], kw: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-image P/R/F1/IoU (from ``evaluate(per_image=True)`` when the engine offers it, else one
    ``evaluate`` call per image — the same protocol, so the numbers agree up to the float rounding of
    batched vs single-image inference)."""
    from sac.engine import evaluate

    rows = res.pop("per_image", None)
    if rows is not None:
        return rows
    rows = []
    for s in samples:
        m = evaluate(model, [s], **{**kw, "progress": False})["overall"]
        rows.append({"dataset": s.dataset, "id": s.id, **{k: m[k] for k in ("precision", "recall", "f1", "iou")}})
    return rows


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


def _evaluate_run(run_dir: Path, cfg, suite: Suite, test_samples: list | None, zs_samples: list | None,
                  limits: dict[str, Any], fast: bool, progress: bool) -> float:
    """Write eval_test.json / eval_zeroshot.json unless up to date; returns seconds spent."""
    from sac.engine import evaluate
    from sac.files import atomic_write_json, sha256_file
    from sac.tuning import load_adapter

    adapter = run_dir / "adapter_best.safetensors"
    sha = sha256_file(adapter)
    kw = {"protocol": suite.protocol, "inference": suite.inference, "size": cfg.data.size, "device": cfg.device,
          "fast": fast, "progress": progress, "threshold": suite.threshold}
    jobs = []
    if test_samples is not None:
        jobs.append(("eval_test.json", [suite.test], limits.get("limit_test"), test_samples))
    if zs_samples is not None:
        jobs.append(("eval_zeroshot.json", suite.zero_shot, limits.get("limit_zeroshot"), zs_samples))
    model = None
    t0 = time.perf_counter()
    for fname, specs, limit, samples in jobs:
        key = {"specs": specs, "limit": limit, "seed": EVAL_SEED, "protocol": suite.protocol,
               "inference": suite.inference, "size": cfg.data.size, "fast": fast, "adapter_sha256": sha}
        if suite.threshold != 0.5:  # (keys of results evaluated at 0.5 before thresholds existed stay valid)
            key["threshold"] = suite.threshold
        old = _read_json(run_dir / fname)
        if old is not None and old.get("key") == key:
            continue
        if model is None:
            model = load_adapter(adapter)
        t1 = time.perf_counter()
        per_image_kw = {"per_image": True} if fname == "eval_zeroshot.json" and _evaluate_supports_per_image() else {}
        res = evaluate(model, samples, **kw, **per_image_kw)
        res["key"] = key
        if fname == "eval_zeroshot.json":
            res.update(zero_shot_summary(res["datasets"], _per_image(model, samples, res, kw)))
        res["seconds"] = time.perf_counter() - t1
        atomic_write_json(run_dir / fname, res)
    return time.perf_counter() - t0


def _write_untrained(cfg, run_dir: Path) -> dict[str, Any]:
    """``strategy: none``: the model as it is (Table 5 "No Finetuning"), saved as an adapter so that
    it evaluates and loads like any trained run."""
    from sac.engine import build_model, resolve_device
    from sac.engine.config import dump_config
    from sac.files import atomic_write_json, atomic_write_text
    from sac.models import count_parameters
    from sac.tuning import save_adapter

    model = build_model(cfg)
    counts = count_parameters(model)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    save_adapter(model, run_dir / "adapter_best.safetensors", config=cfg.to_dict(), metrics={})
    summary = {"model": cfg.model, "strategy": cfg.strategy, "weights": cfg.weights,
               "total_params": counts["total"], "trainable_params": counts["trainable"],
               "norm_params": counts["norm"], "epochs_done": 0, "global_step": 0, "best_val_f1": None,
               "best_epoch": None, "seconds_per_epoch": None, "train_images": 0, "val_images": 0,
               "device": str(resolve_device(cfg.device)), "world_size": 1, "completed": True, "trained": False,
               "history": []}
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


def _import_adapter(run: RunSpec, cfg, run_dir: Path, suite: Suite) -> dict[str, Any]:
    """An ``adapter:`` run: copy the file into the run folder (as its best adapter) and write a summary from
    its metadata, so that it evaluates and reports like a run trained here."""
    import shutil

    from sac.engine import resolve_device
    from sac.engine.config import dump_config
    from sac.files import atomic_path, atomic_write_json, atomic_write_text, sha256_file
    from sac.models import count_parameters
    from sac.tuning import load_adapter, read_adapter_metadata

    src = _adapter_path(run.adapter, Path(suite.path))
    dst = run_dir / "adapter_best.safetensors"
    run_dir.mkdir(parents=True, exist_ok=True)
    if not dst.is_file() or sha256_file(dst) != sha256_file(src):
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
    atomic_write_text(run_dir / "config.yaml", dump_config(cfg))
    meta = read_adapter_metadata(dst)
    counts = count_parameters(load_adapter(dst))
    m = meta.get("metrics") or {}
    summary = {"model": cfg.model, "strategy": cfg.strategy, "weights": cfg.weights,
               "total_params": counts["total"], "trainable_params": counts["trainable"], "norm_params": counts["norm"],
               "epochs_done": m.get("epoch"), "global_step": None, "best_val_f1": m.get("val_f1"),
               "best_epoch": m.get("epoch"), "seconds_per_epoch": None, "train_images": None, "val_images": None,
               "device": str(resolve_device(cfg.device)), "world_size": 1, "completed": True, "trained": False,
               "imported_from": str(src), "history": []}
    atomic_write_json(run_dir / "summary.json", summary)
    return summary


def _check_strategy(cfg, cache: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(reason the strategy does not apply or None, norm kinds of the model), from a random-init build."""
    from sac.models import create_model, norm_kinds
    from sac.tuning import strategy_applies

    key = json.dumps([cfg.model, cfg.init_seed, cfg.model_kwargs], sort_keys=True, default=str)
    if key not in cache:
        cache.clear()
        cache[key] = create_model(cfg.model, weights=None, init_seed=cfg.init_seed, **cfg.model_kwargs)
    model = cache[key]
    return strategy_applies(model, cfg.strategy), list(norm_kinds(model))


def _record(run: RunSpec, cfg, suite: Suite) -> dict[str, Any]:
    from sac.models import model_info
    from sac.tuning import strategy_info

    info = model_info(run.model)
    sinfo = strategy_info(run.strategy)
    label = run.label or (info.paper or {}).get("name") or run.model
    return {"name": Path(cfg.out).name, "label": label, "model": run.model, "strategy": run.strategy,
            "strategy_label": (sinfo.paper or {}).get("label") or run.strategy, "weights": cfg.weights,
            "random_init": cfg.weights is None, "pretrained": info.pretrained if cfg.weights is not None else None,
            "paper": info.paper, "note": run.note, "suite": suite.name, "status": "pending", "reason": None,
            "imported": bool(run.adapter)}


def _write_suite_json(out: Path, suite: Suite, entry: dict[str, Any]) -> None:
    from sac.files import atomic_write_json

    p = out / "suite.json"
    data = _read_json(p) if p.is_file() else None
    if not isinstance(data, dict) or data.get("format") != SUITE_FORMAT:
        data = {"format": SUITE_FORMAT, "suites": {}}
    data["suites"][suite.name] = entry
    atomic_write_json(p, data)


def run_suite(
    path: str | Path,
    *,
    out: str | Path = "runs/suite",
    epochs: int | None = None,
    limit_train: int | None = None,
    limit_val: int | None = None,
    limit_test: int | None = None,
    limit_zeroshot: int | None = None,
    size: int | None = None,
    batch_size: int | None = None,
    weights: str | None = None,
    device: str | None = None,
    fast: bool | None = None,
    models: list[str] | None = None,
    strategies: list[str] | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    resume: bool = True,
    progress: bool = True,
    dry_run: bool = False,
) -> SuiteResult:
    """Run a suite file at a given scale into ``out`` (one sub-folder per run).

    Arguments:
        path: the suite YAML (``configs/paper/*.yaml``).
        out: the runs folder; several suites may share one (a run both list, e.g. SAM + norm, trains once).
        epochs, limit_train, limit_val, size, batch_size, device: training scale (beat the suite's ``scale``
            and ``train`` sections); ``weights``: ``"none"`` trains every run from random initialisation,
            ``"default"`` forces the registered pretrained weights.
        limit_test, limit_zeroshot: evaluate on a seeded subset of N images of each spec
            (``limit_zeroshot`` defaults to ``limit_test``).
        fast: skip the tolerance / skeleton metrics in evaluation.
        models, strategies: only the runs with these models / strategies.
        overrides: TrainConfig keys for every run (``{"data.train": "omnicrack:/data/OmniCrack30k@train"}``
            or ``["key=value", ...]``), applied after the suite's and the run's settings.
        resume: skip completed runs and continue interrupted ones from their checkpoints (a run folder
            trained with other settings is an error); ``False`` retrains every selected run from scratch.
        dry_run: resolve and validate everything (configs, evaluation data), run and write nothing; the
            records have status ``planned`` (``done`` for runs already complete in ``out``) and ``config``.

    Returns a :class:`SuiteResult`; runs that fail with a user error (e.g. a missing weight file) are
    recorded with status ``error`` and the others still run.
    """
    from sac.engine import build_datasets, train
    from sac.files import atomic_write_json

    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    suite = load_suite(path)
    flags = {"epochs": epochs, "limit_train": limit_train, "limit_val": limit_val, "limit_test": limit_test,
             "limit_zeroshot": limit_zeroshot, "size": size, "batch_size": batch_size, "weights": weights,
             "device": device}
    scale = {**suite.scale, **{k: v for k, v in flags.items() if v is not None}}
    if scale.get("limit_zeroshot") is None and scale.get("limit_test") is not None:
        scale["limit_zeroshot"] = scale["limit_test"]
    eval_fast = suite.fast if fast is None else bool(fast)
    out = Path(out)

    runs = suite.runs
    for flt, attr, what in ((models, "model", "model"), (strategies, "strategy", "strategy")):
        if flt:
            have = sorted({getattr(r, attr) for r in runs})
            missing = [x for x in flt if x not in have]
            if missing:
                raise ConfigError(f"--{what}", f"suite {suite.name} has no run with {what} "
                                               f"{', '.join(missing)}; its {what}s: {', '.join(have)}")
            runs = [r for r in runs if getattr(r, attr) in flt]
    if isinstance(overrides, list):
        from sac.engine.config import parse_override

        overrides = dict(parse_override(o) for o in overrides)
    extra = flatten_config(dict(overrides or {}))
    if "out" in extra:
        raise ConfigError("--set", "out is set per run; use --out for the runs folder")
    scale["overrides"] = extra or None
    try:
        cfgs = [_run_config(suite, r, scale, out, extra) for r in runs]
    except ConfigError as e:
        raise ConfigError(suite.path, f"with the given scale: {e.problem}") from None

    # resolve the evaluation data first: a bad spec fails before hours of training
    test_samples = _resolve_samples(suite.test, scale.get("limit_test")) if suite.test else None
    zs_samples = None
    if suite.zero_shot:
        zs_samples = [s for spec in suite.zero_shot for s in _resolve_samples(spec, scale.get("limit_zeroshot"))]

    if dry_run:
        planned = []
        for run, cfg in zip(runs, cfgs, strict=True):
            rec = _record(run, cfg, suite)
            summary = _read_json(Path(cfg.out) / "summary.json")
            rec["status"] = "done" if summary and summary.get("completed") else "planned"
            rec["config"] = cfg.to_dict()
            planned.append(rec)
        return SuiteResult(out=out, suite=suite, runs=planned, wall_seconds=time.perf_counter() - t_start)

    hardware = _hardware(scale.get("device") or (cfgs[0].device if cfgs else "auto"))
    entry: dict[str, Any] = {"file": str(path), "definition": suite.to_dict(), "scale": scale, "fast": eval_fast,
                             "hardware": hardware, "started": started, "finished": None, "wall_seconds": None,
                             "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "runs": {}}
    out.mkdir(parents=True, exist_ok=True)
    _write_suite_json(out, suite, entry)

    records: list[dict[str, Any]] = []
    data_cache: dict[str, Any] = {}
    model_cache: dict[str, Any] = {}
    try:
        for i, (run, cfg) in enumerate(zip(runs, cfgs, strict=True), 1):
            run_dir = Path(cfg.out)
            rec = _record(run, cfg, suite)
            old_rec = _read_json(run_dir / "run.json") or {}
            if progress:
                print(f"[suite {suite.name}] {i}/{len(runs)} {rec['name']}", file=sys.stderr, flush=True)
            diff = _config_diff(run_dir, cfg)
            if diff and resume:
                raise ConfigError(run_dir, f"was run with other settings ({'; '.join(diff)}); use another --out, "
                                           "or --restart to retrain it")
            if not resume:
                for f in _RUN_FILES:
                    (run_dir / f).unlink(missing_ok=True)
            summary = _read_json(run_dir / "summary.json")
            done = bool(summary and summary.get("completed"))
            rec["norm_kinds"] = old_rec.get("norm_kinds")
            t0 = time.perf_counter()
            try:
                if not done:
                    reason, kinds = _check_strategy(cfg, model_cache)
                    rec["norm_kinds"] = kinds
                    if reason:
                        rec.update(status="not_applicable", reason=reason)
                    elif run.adapter:
                        summary = _import_adapter(run, cfg, run_dir, suite)
                    elif cfg.strategy == "none":
                        summary = _write_untrained(cfg, run_dir)
                    elif not suite.train_runs:
                        rec.update(status="not_trained",
                                   reason=f"not trained in {out}; run the suite it comes from into this folder first")
                    else:
                        key = json.dumps(cfg.to_dict()["data"], sort_keys=True) + f"|{cfg.seed}"
                        if key not in data_cache:
                            data_cache.clear()
                            data_cache[key] = build_datasets(cfg)
                        summary = train(cfg, resume=resume, progress=progress, datasets=data_cache[key])
                        if not summary["completed"]:
                            rec.update(status="error", reason="training stopped before its last epoch")
                    rec["train_seconds"] = time.perf_counter() - t0
                else:
                    rec["train_seconds"] = old_rec.get("train_seconds")
                    if rec["norm_kinds"] is None:
                        rec["norm_kinds"] = _check_strategy(cfg, model_cache)[1]
                if rec["status"] == "pending":
                    rec["eval_seconds"] = _evaluate_run(run_dir, cfg, suite, test_samples, zs_samples, scale,
                                                        eval_fast, progress)
                    rec["status"] = "done"
            except SACError as e:
                rec.update(status="error", reason=str(e))
                if progress:
                    print(f"[suite {suite.name}] {rec['name']}: error: {e}", file=sys.stderr, flush=True)
            if rec["status"] == "not_applicable" and progress:
                print(f"[suite {suite.name}] {rec['name']}: not applicable: {rec['reason']}", file=sys.stderr)
            suites = list(dict.fromkeys([*old_rec.get("suites", []), suite.name]))
            rec["suites"] = suites
            ev_t = _read_json(run_dir / "eval_test.json")
            ev_z = _read_json(run_dir / "eval_zeroshot.json")
            ok = rec["status"] == "done"
            rec["test_f1"] = ev_t["overall"]["f1"] if ok and ev_t else None
            rec["zero_shot_f1"] = ev_z["across_sets"]["f1"]["mean"] if ok and ev_z else None
            if rec["status"] != "not_trained" or run_dir.exists():
                atomic_write_json(run_dir / "run.json", rec)
            records.append(rec)
            entry["runs"][rec["name"]] = rec["status"]
            _write_suite_json(out, suite, entry)
        if suite.few_shot is not None and not models and not strategies:
            from sac.study.fewshot import run_few_shot

            entry["few_shot_results"] = run_few_shot(suite.few_shot, Path(suite.path), out,
                                                     device=scale.get("device") or "auto", progress=progress)
    finally:
        entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        entry["wall_seconds"] = time.perf_counter() - t_start
        _write_suite_json(out, suite, entry)
    return SuiteResult(out=out, suite=suite, runs=records, wall_seconds=entry["wall_seconds"])
