"""Hyperparameter search of the paper's Table 2 (results in the layout of Table 4).

Each of the three configurations of Table 2 (:data:`sac.study.grids.PAPER_CONFIGS`) is a finite grid
loss spec × learning rate × batch size. The paper evaluates a random ``fraction`` of each grid
(20 %, 20 %, 5 %), trains every sampled combination for 4 epochs (SAM ViT-B, ``norm`` tuning) and
keeps the one with the best validation F1. :func:`run_search` does the same at any scale:

- ``sampler="random"`` (default, the paper's random search *without replacement*): the grid is
  enumerated, shuffled with ``random.Random(seed)`` and its first ``ceil(fraction · N)``
  combinations are enqueued as fixed optuna trials. The plan is a prefix of one seeded permutation,
  so a larger fraction with the same seed extends a finished search instead of redoing it.
- ``sampler="tpe"``: optuna's TPE (seeded) proposes combinations; a proposal that repeats one
  already trained is recorded as a pruned duplicate and costs nothing, until
  ``ceil(fraction · N)`` *distinct* combinations are trained.

Resumable: the optuna study lives in ``out/study.journal`` (``JournalStorage`` on a file) and each
combination trains in its own folder ``out/config<k>/<loss>_lr<lr>_bs<batch>/``. Running the same
command again skips finished trials; an interrupted trial is retried and its training continues from
its last checkpoint (``sac.engine.train(resume=True)``). One process per ``out`` folder.

Outputs (atomic, rewritten after every trial): ``out/trials.csv`` and ``out/trials.md`` (one row per
finished trial, ranked by validation F1) and ``out/best.json`` (the chosen configuration, per
configuration and overall, beside the paper's Table 4 row).
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from sac.engine import DatasetCache, TrainConfig, load_config, train
from sac.engine.config import flatten_config
from sac.errors import ConfigError
from sac.files import output_dir
from sac.study.grids import Combo, n_trials_of, paper_config, plan_trials, search_grid
from sac.study.scale import Scale
from sac.study.search_outputs import TRIAL_HEADER, SearchOutputs, SearchResult, trial_rows

__all__ = ["SAMPLERS", "TRIAL_HEADER", "SearchResult", "plan_trials", "run_search", "search_grid", "trial_rows"]

SAMPLERS = ("random", "tpe")
_MAX_DUPLICATES = 50  # consecutive TPE duplicates before a seeded unseen combination is enqueued

Objective = Callable[[Any], dict[str, Any]]


def _run_name(combo: Combo) -> str:
    loss, lr, bs = combo
    return re.sub(r"[^A-Za-z0-9.+_-]", "-", f"{loss.replace(':', '_')}_lr{lr:g}_bs{bs}")


# ------------------------------------------------------------------------------------------ configs
def _base_config(base_cfg: Any) -> dict[str, Any]:
    """Dotted overrides of the base training config (a TrainConfig, a mapping, a YAML path or None)."""
    if base_cfg is None:
        return flatten_config(load_config(None).to_dict())
    if isinstance(base_cfg, TrainConfig):
        return flatten_config(base_cfg.to_dict())
    if isinstance(base_cfg, (str, Path)):
        return flatten_config(load_config(base_cfg).to_dict())
    if isinstance(base_cfg, dict):
        return flatten_config(load_config(None, flatten_config(base_cfg)).to_dict())
    raise ConfigError("base_cfg", f"expected a TrainConfig, a mapping of overrides or a YAML path, "
                                  f"got {type(base_cfg).__name__}")


_TRIAL_KEYS = ("loss", "optim.lr", "optim.batch_size", "out")


def _trial_config(base: dict[str, Any], combo: Combo, out: Path) -> TrainConfig:
    loss, lr, bs = combo
    return load_config(None, {**base, "loss": loss, "optim.lr": lr, "optim.batch_size": bs, "out": str(out)})


def _settings(base: dict[str, Any]) -> dict[str, Any]:
    """What must not change between a search and its resumption (all but the searched keys)."""
    return {k: v for k, v in sorted(base.items()) if k not in _TRIAL_KEYS and k not in {"device", "threads"}}


# ---------------------------------------------------------------------------------------- objective
def _train_objective(progress: bool) -> Objective:
    """Train the trial's config (resuming its checkpoint if any); datasets decoded once per search."""
    cache = DatasetCache()

    def objective(cfg: TrainConfig) -> dict[str, Any]:
        summary = train(cfg, resume=True, progress=progress, datasets=cache.get(cfg))
        if not summary["completed"]:
            raise RuntimeError(f"{cfg.out}: training did not complete")
        best = next((r for r in summary["history"] if r.get("epoch") == summary["best_epoch"]), {})
        return {"val_f1": float(summary["best_val_f1"]), "val_iou": best.get("val_iou"),
                "best_epoch": summary["best_epoch"], "train_images": summary["train_images"],
                "val_images": summary["val_images"], "device": summary["device"],
                "total_params": summary["total_params"], "trainable_params": summary["trainable_params"]}

    return objective


# ------------------------------------------------------------------------------------------- search
def run_search(
    config: int | Sequence[int],
    base_cfg: Any = None,
    *,
    fraction: float | None = None,
    n_trials: int | None = None,
    epochs: int = 4,
    seed: int = 0,
    out: str | Path = "runs/search",
    sampler: str = "random",
    model: str | None = None,
    strategy: str | None = None,
    scale: Scale | None = None,
    progress: bool = True,
    objective: Objective | None = None,
) -> SearchResult:
    """Run (or resume) the random search of Table 2 for one or several configurations.

    Arguments:
        config: 1, 2, 3 or a list of them (Table 2 rows, grids from :data:`sac.study.grids.PAPER_CONFIGS`).
        base_cfg: the training settings every trial shares (a ``TrainConfig``, a mapping of dotted
            overrides, a YAML path, or ``None`` for the defaults); loss, lr, batch size, epochs and
            the output folder are set per trial.
        fraction: share of each grid to train (default: the paper's 20 % / 20 % / 5 %);
            ``ceil(fraction · N)`` distinct combinations. ``n_trials`` sets the number directly.
        epochs: epochs per trial (paper: 4; beats ``scale.epochs``).
        seed: seeds the sampled combinations and every trial's training.
        sampler: ``"random"`` (without replacement, the paper's) or ``"tpe"``.
        model, strategy: what is searched on (paper: ``sam_vit_b`` + ``norm``, which needs the user's SAM
            checkpoint; default: the base config's, i.e. ``unet_effnet_lite0``, real pretrained weights everywhere).
        scale: size, data subsets, weights and device of every trial (:class:`~sac.study.scale.Scale`).
        objective: ``objective(TrainConfig) -> {"val_f1", "val_iou", ...}`` replacing training
            (for tests); default: train with :func:`sac.engine.train` and read its best val F1.

    Returns the ranked trials; writes ``out/trials.csv``, ``out/trials.md``, ``out/best.json``.
    """
    configs = _check_arguments(config, sampler, epochs)
    base = _base_config(base_cfg)
    base.update({k: v for k, v in (("model", model), ("strategy", strategy)) if v is not None})
    base.update({**(scale or Scale()).train_overrides(), "optim.epochs": epochs, "seed": seed})
    out = Path(out)
    _trial_config(base, search_grid(configs[0])[0], out / "check")  # validate once, before any study exists
    output_dir(out)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    obj = objective or _train_objective(progress)
    result = SearchResult(out=out)
    meta = {"sampler": sampler, "seed": seed, "epochs": epochs, "settings": _settings(base)}
    outputs = SearchOutputs(result, storage, configs, base, meta, fraction, n_trials)
    try:
        for c in configs:
            _search_config(c, base, out, storage, obj, meta, fraction, n_trials, progress, outputs.write)
    finally:
        outputs.write()
    return result


def _check_arguments(config: int | Sequence[int], sampler: str, epochs: Any) -> list[int]:
    configs = [config] if isinstance(config, int) and not isinstance(config, bool) else list(config)
    if not configs:
        raise ConfigError("config", "no search configuration given")
    for c in configs:
        paper_config(c)
    if len(set(configs)) != len(configs):
        raise ConfigError("config", f"configuration listed twice: {configs}")
    if sampler not in SAMPLERS:
        raise ConfigError("sampler", f"{sampler!r} is not one of {', '.join(SAMPLERS)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError("epochs", f"must be a positive integer, got {epochs!r}")
    return configs


def _open_study(c: int, storage: Any, meta: dict[str, Any], out: Path) -> optuna.Study:
    """The optuna study of configuration ``c`` (created, or resumed when its settings are the same)."""
    seed = meta["seed"]
    sampler = optuna.samplers.RandomSampler(seed=seed) if meta["sampler"] == "random" \
        else optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(storage=storage, study_name=f"config{c}", direction="maximize",
                                sampler=sampler, load_if_exists=True)
    stored = study.user_attrs.get("meta")
    canon = json.loads(json.dumps(meta, default=str))
    if stored is None:
        study.set_user_attr("meta", canon)
    elif stored != canon:
        diff = sorted(k for k in set(stored) | set(canon) if stored.get(k) != canon.get(k))
        if "settings" in diff:
            s_old, s_new = stored.get("settings", {}), canon["settings"]
            diff += [f"{k}: {s_old.get(k)!r} → {s_new.get(k)!r}" for k in sorted(set(s_old) | set(s_new))
                     if s_old.get(k) != s_new.get(k)]
        raise ConfigError(out, f"holds a search of config {c} with other settings ({'; '.join(diff)}); "
                               "use another --out to start a new search")
    return study


def _combo_of(t: Any) -> Combo | None:
    p = t.params
    if set(p) != {"loss", "lr", "batch_size"}:
        return None
    return (p["loss"], p["lr"], p["batch_size"])


def _done_and_interrupted(study: optuna.Study) -> tuple[set[Combo | None], list[Combo]]:
    """The combinations already trained, and those of trials left RUNNING (interrupted: one process per
    folder), which are marked failed and retried first."""
    trials = study.get_trials(deepcopy=False)
    done = {_combo_of(t) for t in trials if t.state == TrialState.COMPLETE}
    retry: list[Combo] = []
    for t in trials:
        if t.state == TrialState.RUNNING:
            study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
            cb = _combo_of(t)
            if cb is not None and cb not in done and cb not in retry:
                retry.append(cb)
    return done, retry


def _run_trial(study: optuna.Study, trial: Any, combo: Combo, c: int, base: dict[str, Any], out: Path,
               obj: Objective, progress: bool) -> None:
    run_dir = out / f"config{c}" / _run_name(combo)
    trial.set_user_attr("run", str(run_dir))
    cfg = _trial_config(base, combo, run_dir)
    if progress:
        print(f"[search] config {c} trial {trial.number}: loss={combo[0]} lr={combo[1]:g} "
              f"batch={combo[2]} → {run_dir}", flush=True)
    t0 = time.perf_counter()
    try:
        res = obj(cfg)
    except BaseException as e:  # noqa: BLE001 — record the failure (also Ctrl-C), then stop
        trial.set_user_attr("error", f"{type(e).__name__}: {e}")
        study.tell(trial, state=TrialState.FAIL)
        raise
    for k, v in res.items():
        if k != "val_f1":
            trial.set_user_attr(k, v)
    trial.set_user_attr("seconds", time.perf_counter() - t0)
    study.tell(trial, float(res["val_f1"]))


def _search_config(c: int, base: dict[str, Any], out: Path, storage: Any, obj: Objective, meta: dict[str, Any],
                   fraction: float | None, n_trials: int | None, progress: bool,
                   written: Callable[[], None]) -> None:
    """Train the missing trials of configuration ``c`` (random: the seeded plan; TPE: until enough distinct)."""
    pc = paper_config(c)
    dists = {"loss": CategoricalDistribution(list(pc.loss_specs())),
             "lr": CategoricalDistribution(list(pc.learning_rates)),
             "batch_size": CategoricalDistribution(list(pc.batch_sizes))}
    study = _open_study(c, storage, meta, out)
    done, resume_first = _done_and_interrupted(study)
    n_target = n_trials_of(c, fraction, n_trials)
    plan = plan_trials(c, fraction, meta["seed"], n_trials) if meta["sampler"] == "random" else None
    rng = random.Random(f"sac-search-tpe:{c}:{meta['seed']}")
    duplicates = 0
    while True:
        if plan is not None:
            needed = [cb for cb in plan if cb not in done]
            if not needed:
                break
        else:
            if len(done) >= n_target:
                break
            needed = [cb for cb in resume_first if cb not in done]
        if needed and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            study.enqueue_trial({"loss": needed[0][0], "lr": needed[0][1], "batch_size": needed[0][2]})
        trial = study.ask(dists)
        combo = _combo_of(trial)
        if combo in done or (plan is not None and combo not in plan):
            # a repeat (TPE), or a stale queued trial from an earlier run: record it, train nothing
            study.tell(trial, state=TrialState.PRUNED)
            duplicates += 1
            if plan is None and duplicates >= _MAX_DUPLICATES:
                unseen = [cb for cb in search_grid(c) if cb not in done]
                resume_first.append(unseen[rng.randrange(len(unseen))])
                duplicates = 0
            continue
        duplicates = 0
        _run_trial(study, trial, combo, c, base, out, obj, progress)
        done.add(combo)
        written()


