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
``out/suite.json``. Parsing lives in :mod:`sac.study.suite_file`, evaluation in
:mod:`sac.study.suite_eval`, the scale in :mod:`sac.study.scale`. A strategy that does not apply to a model (``norm`` on DeepCrackZ) is recorded as
not applicable with the reason, as the paper's Table 7 shows '-'. ``strategy: none`` runs are
evaluated without training (Table 5's "No Finetuning").
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from sac.data import samples_from
from sac.data.subset import seeded_subset
from sac.engine import DatasetCache, RunDir, RunStatus, TrainConfig, resolve_device, train
from sac.engine.config import flatten_config, parse_override
from sac.errors import ConfigError, SACError
from sac.files import atomic_write_json, output_dir
from sac.models import create_model, model_info, norm_kinds
from sac.study.fewshot import run_few_shot
from sac.study.scale import Scale
from sac.study.suite_eval import (
    EVAL_SEED,
    EvalData,
    evaluate_run,
    import_adapter,
    write_untrained,
    zero_shot_summary,
)
from sac.study.suite_file import RunSpec, Suite, load_suite, run_config
from sac.tuning import strategy_applies, strategy_info

__all__ = ["EVAL_SEED", "RunSpec", "Suite", "SuiteResult", "load_suite", "run_suite", "zero_shot_summary"]

SUITE_FORMAT = "sac-suite/1"
# where a run goes and how fast it gets there, not what it computes
_IGNORED_FOR_RESUME = {"out", "device", "threads", "data.cache_dir", "data.loader_workers", "compile"}


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


def _hardware(device: str) -> dict[str, Any]:
    dev = resolve_device(device)
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "device": str(dev),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def _resolve_samples(spec: str, limit: int | None) -> list:
    return seeded_subset(samples_from(spec), limit, EVAL_SEED)


def _config_diff(run: RunDir, cfg: TrainConfig) -> list[str]:
    try:
        old = run.read_config()
    except yaml.YAMLError:
        return [f"{run.config} is not valid YAML"]
    if old is None:
        return []
    # a key the run's config.yaml predates (a setting added since) had its default value then
    old = {**flatten_config(TrainConfig().to_dict()), **flatten_config(old)}
    new = flatten_config(cfg.to_dict())
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new))
            if k not in _IGNORED_FOR_RESUME and old.get(k) != new.get(k)]


class _ModelCache:
    """The last random-init model built to check whether a strategy applies (runs of one model share it)."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.model: Any = None

    def check(self, cfg: TrainConfig) -> tuple[str | None, list[str]]:
        """(reason the strategy does not apply or None, norm kinds of the model)."""
        key = (cfg.model, cfg.init_seed, repr(sorted(cfg.model_kwargs.items())))
        if key != self.key:
            self.key, self.model = None, None
            self.model, self.key = create_model(cfg.model, weights=None, init_seed=cfg.init_seed, **cfg.model_kwargs), key
        return strategy_applies(self.model, cfg.strategy), list(norm_kinds(self.model))


def _record(run: RunSpec, cfg: TrainConfig, suite: Suite) -> dict[str, Any]:
    info = model_info(run.model)
    sinfo = strategy_info(run.strategy)
    label = run.label or (info.paper or {}).get("name") or run.model
    return {"name": Path(cfg.out).name, "label": label, "model": run.model, "strategy": run.strategy,
            "strategy_label": (sinfo.paper or {}).get("label") or run.strategy, "weights": cfg.weights,
            "random_init": cfg.weights is None, "pretrained": info.pretrained if cfg.weights is not None else None,
            "paper": info.paper, "note": run.note, "suite": suite.name, "status": RunStatus.PENDING.value,
            "reason": None, "imported": bool(run.adapter)}


def _write_suite_json(out: Path, suite: Suite, entry: dict[str, Any]) -> None:
    p = out / "suite.json"
    data = RunDir.read_json(p)
    if not isinstance(data, dict) or data.get("format") != SUITE_FORMAT:
        data = {"format": SUITE_FORMAT, "suites": {}}
    data["suites"][suite.name] = entry
    atomic_write_json(p, data)


def _select(runs: list[RunSpec], suite: Suite, models: list[str] | None, strategies: list[str] | None
            ) -> list[RunSpec]:
    for flt, attr in ((models, "model"), (strategies, "strategy")):
        if flt:
            have = sorted({getattr(r, attr) for r in runs})
            missing = [x for x in flt if x not in have]
            if missing:
                raise ConfigError(f"--{attr}", f"suite {suite.name} has no run with {attr} "
                                               f"{', '.join(missing)}; its {attr}s: {', '.join(have)}")
            runs = [r for r in runs if getattr(r, attr) in flt]
    return runs


@dataclass
class _Plan:
    """A suite resolved at a scale: its runs, their configs and the evaluation photos."""

    suite: Suite
    scale: Scale
    runs: list[RunSpec]
    cfgs: list[TrainConfig]
    extra: dict[str, Any]
    fast: bool
    out: Path

    def eval_data(self) -> EvalData:
        s, sc = self.suite, self.scale
        test = _resolve_samples(s.test, sc.limit_test) if s.test else None
        zs = [x for spec in s.zero_shot for x in _resolve_samples(spec, sc.zeroshot_limit)] if s.zero_shot else None
        return EvalData(test, zs, sc.limit_test, sc.zeroshot_limit)

    def scale_record(self) -> dict[str, Any]:
        """The scale as suite.json records it (the file's section, flags over it, the --set overrides)."""
        d = {**self.suite.scale, **self.scale.to_dict()}
        if d.get("limit_zeroshot") is None and d.get("limit_test") is not None:
            d["limit_zeroshot"] = d["limit_test"]
        return {**d, "overrides": self.extra or None}


def _plan(path: str | Path, out: Path, scale: Scale | None, fast: bool | None, models: list[str] | None,
          strategies: list[str] | None, overrides: dict[str, Any] | list[str] | None) -> _Plan:
    suite = load_suite(path)
    sc = (scale or Scale()).over(Scale.from_mapping(suite.scale, suite.path))
    runs = _select(suite.runs, suite, models, strategies)
    if isinstance(overrides, list):
        overrides = dict(parse_override(o) for o in overrides)
    extra = flatten_config(dict(overrides or {}))
    if "out" in extra:
        raise ConfigError("--set", "out is set per run; use --out for the runs folder")
    try:
        cfgs = [run_config(suite, r, sc, out, extra) for r in runs]
    except ConfigError as e:
        raise ConfigError(suite.path, f"with the given scale: {e.problem}") from None
    return _Plan(suite, sc, runs, cfgs, extra, suite.fast if fast is None else bool(fast), out)


def _train_or_import(plan: _Plan, spec: RunSpec, cfg: TrainConfig, run: RunDir, rec: dict[str, Any],
                     models: _ModelCache, datasets: DatasetCache, resume: bool, progress: bool) -> None:
    """Bring a run that is not complete to a state that evaluates (or record why it cannot)."""
    reason, rec["norm_kinds"] = models.check(cfg)
    if reason:
        rec.update(status=RunStatus.NOT_APPLICABLE.value, reason=reason)
    elif spec.adapter:
        import_adapter(spec, cfg, run, plan.suite)
    elif cfg.strategy == "none":
        write_untrained(cfg, run)
    elif not plan.suite.train_runs:
        rec.update(status=RunStatus.NOT_TRAINED.value,
                   reason=f"not trained in {plan.out}; run the suite it comes from into this folder first")
    elif not train(cfg, resume=resume, progress=progress, datasets=datasets.get(cfg))["completed"]:
        rec.update(status=RunStatus.ERROR.value, reason="training stopped before its last epoch")


def _run_one(plan: _Plan, spec: RunSpec, cfg: TrainConfig, data: EvalData, caches: tuple[_ModelCache, DatasetCache],
             resume: bool, progress: bool) -> dict[str, Any]:
    """Train (or take) and evaluate one run; returns its record (also written to its ``run.json``)."""
    run = RunDir(cfg.out)
    rec, old = _record(spec, cfg, plan.suite), run.record()
    diff = _config_diff(run, cfg)
    if diff and resume:
        raise ConfigError(run.path, f"was run with other settings ({'; '.join(diff)}); use another --out, "
                                    "or --restart to retrain it")
    if not resume:
        for f in run.results():
            f.unlink(missing_ok=True)
    done = run.completed()
    rec["norm_kinds"] = old.get("norm_kinds")
    t0 = time.perf_counter()
    try:
        if not done:
            _train_or_import(plan, spec, cfg, run, rec, *caches, resume, progress)
            rec["train_seconds"] = time.perf_counter() - t0
        else:
            rec["train_seconds"] = old.get("train_seconds")
            if rec["norm_kinds"] is None:
                rec["norm_kinds"] = caches[0].check(cfg)[1]
        if rec["status"] == RunStatus.PENDING:
            rec["eval_seconds"] = evaluate_run(run, cfg, plan.suite, data, plan.fast, progress)
            rec["status"] = RunStatus.DONE.value
    except SACError as e:
        rec.update(status=RunStatus.ERROR.value, reason=str(e))
        if progress:
            print(f"[suite {plan.suite.name}] {rec['name']}: error: {e}", file=sys.stderr, flush=True)
    if rec["status"] == RunStatus.NOT_APPLICABLE and progress:
        print(f"[suite {plan.suite.name}] {rec['name']}: not applicable: {rec['reason']}", file=sys.stderr)
    rec["suites"] = list(dict.fromkeys([*old.get("suites", []), plan.suite.name]))
    ok = rec["status"] == RunStatus.DONE
    ev_t, ev_z = RunDir.read_json(run.eval_test), RunDir.read_json(run.eval_zeroshot)
    rec["test_f1"] = ev_t["overall"]["f1"] if ok and ev_t else None
    rec["zero_shot_f1"] = ev_z["across_sets"]["f1"]["mean"] if ok and ev_z else None
    if rec["status"] != RunStatus.NOT_TRAINED or run.path.exists():
        run.write_record(rec)
    return rec


def _dry_run(plan: _Plan, t_start: float) -> SuiteResult:
    planned = []
    for spec, cfg in zip(plan.runs, plan.cfgs, strict=True):
        rec = _record(spec, cfg, plan.suite)
        rec["status"] = (RunStatus.DONE if RunDir(cfg.out).completed() else RunStatus.PLANNED).value
        rec["config"] = cfg.to_dict()
        planned.append(rec)
    return SuiteResult(out=plan.out, suite=plan.suite, runs=planned, wall_seconds=time.perf_counter() - t_start)


def run_suite(path: str | Path, *, out: str | Path = "runs/suite", scale: Scale | None = None,
              fast: bool | None = None, models: list[str] | None = None, strategies: list[str] | None = None,
              overrides: dict[str, Any] | list[str] | None = None, resume: bool = True, progress: bool = True,
              dry_run: bool = False) -> SuiteResult:
    """Run a suite file at a given scale into ``out`` (one sub-folder per run).

    Arguments:
        path: the suite YAML (``configs/paper/*.yaml``).
        out: the runs folder; several suites may share one (a run both list, e.g. SAM + norm, trains once).
        scale: epochs, data subsets, size, batch size, weights, device for every run (beats the suite's
            ``scale`` and ``train`` sections; see :class:`~sac.study.scale.Scale`).
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
    t_start = time.perf_counter()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    plan = _plan(path, Path(out), scale, fast, models, strategies, overrides)
    data = plan.eval_data()  # a bad evaluation spec fails before hours of training
    if dry_run:
        return _dry_run(plan, t_start)
    suite = plan.suite
    entry: dict[str, Any] = {"file": str(path), "definition": suite.to_dict(), "scale": plan.scale_record(),
                             "fast": plan.fast,
                             "hardware": _hardware(plan.scale.device or (plan.cfgs[0].device if plan.cfgs else "auto")),
                             "started": started, "finished": None, "wall_seconds": None,
                             "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "runs": {}}
    output_dir(plan.out)
    _write_suite_json(plan.out, suite, entry)
    records: list[dict[str, Any]] = []
    caches = (_ModelCache(), DatasetCache())
    try:
        for i, (spec, cfg) in enumerate(zip(plan.runs, plan.cfgs, strict=True), 1):
            if progress:
                print(f"[suite {suite.name}] {i}/{len(plan.runs)} {Path(cfg.out).name}", file=sys.stderr, flush=True)
            rec = _run_one(plan, spec, cfg, data, caches, resume, progress)
            records.append(rec)
            entry["runs"][rec["name"]] = rec["status"]
            _write_suite_json(plan.out, suite, entry)
        if suite.few_shot is not None and not models and not strategies:
            entry["few_shot_results"] = run_few_shot(suite.few_shot, Path(suite.path), plan.out,
                                                     device=plan.scale.device or "auto", progress=progress)
    finally:
        entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        entry["wall_seconds"] = time.perf_counter() - t_start
        _write_suite_json(plan.out, suite, entry)
    return SuiteResult(out=plan.out, suite=suite, runs=records, wall_seconds=entry["wall_seconds"])
