"""What a search writes: ``trials.csv``, ``trials.md`` and ``best.json`` (atomically, after every trial), and the one
rendering of its ranked trials that ``trials.md`` and the report share."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from sac.files import atomic_write_json, atomic_write_text
from sac.losses import LOSS_FAMILIES, build_loss
from sac.study.grids import n_trials_of, paper_config

__all__ = ["TRIAL_HEADER", "SearchOutputs", "SearchResult", "fmt", "trial_rows"]


@dataclass
class SearchResult:
    """What :func:`run_search` found.

    Attributes:
        out: the output folder.
        trials: every finished trial (all configurations), ranked by validation F1 (best first);
            the rows of ``trials.csv``.
        best: the best trial overall (``None`` when nothing finished).
        per_config: the best trial of each configuration.
    """

    out: Path
    trials: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None
    per_config: dict[int, dict[str, Any]] = field(default_factory=dict)


def _lambda(spec: str) -> float | None:
    return build_loss(spec).lam


def _family(spec: str) -> str:
    return build_loss(spec).family


_COLUMNS = ("trial", "config", "loss", "lambda", "lr", "batch_size", "val_f1", "val_iou", "seconds", "run")
_TRIAL_EXTRAS = {"train_images", "val_images", "device", "trainable_params", "total_params"}


def _collect(storage: Any, configs: list[int]) -> list[dict[str, Any]]:
    rows = []
    names = {s.study_name for s in storage.get_all_studies()}
    for c in configs:
        if f"config{c}" not in names:
            continue
        study = optuna.load_study(study_name=f"config{c}", storage=storage)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            loss = t.params["loss"]
            rows.append({"trial": t.number, "config": c, "loss": loss, "lambda": _lambda(loss),
                         "lr": t.params["lr"], "batch_size": t.params["batch_size"], "val_f1": t.value,
                         "val_iou": t.user_attrs.get("val_iou"), "seconds": t.user_attrs.get("seconds"),
                         "run": t.user_attrs.get("run"),
                         **{k: v for k, v in t.user_attrs.items() if k in _TRIAL_EXTRAS}})
    rows.sort(key=lambda r: (-r["val_f1"], r["config"], r["trial"]))
    return rows


def fmt(v: Any, digits: int = 4) -> str:
    """A table cell: '-' for None, small floats in %g, others with ``digits`` decimals."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) >= 1e-3 or v == 0 else f"{v:g}"
    return str(v)


def _lam(v: Any) -> str:
    return "-" if v is None else f"{v:g}"


TRIAL_HEADER = ["rank", "config", "loss", "λ", "lr", "batch", "val F1", "val IoU", "seconds"]


def trial_rows(trials: list[dict[str, Any]]) -> list[list[str]]:
    """The ranked trials table (columns :data:`TRIAL_HEADER`), the one rendering of a search's trials:
    ``trials.md`` here and the report's trials table (:mod:`sac.report.tables`) use it."""
    def num(v: Any) -> float | None:  # rows from trials.csv hold strings
        return None if v in (None, "") else float(v)

    ranked = sorted(trials, key=lambda t: -1.0 if num(t.get("val_f1")) is None else num(t["val_f1"]), reverse=True)
    return [[str(i), str(int(t["config"])), str(t["loss"]), _lam(num(t.get("lambda"))), f"{float(t['lr']):g}",
             str(int(t["batch_size"])), fmt(num(t.get("val_f1"))), fmt(num(t.get("val_iou"))),
             fmt(num(t.get("seconds")), 0)] for i, t in enumerate(ranked, 1)]


class SearchOutputs:
    """Writes ``trials.csv``, ``trials.md`` and ``best.json`` of a search (atomically, after every trial)."""

    def __init__(self, result: SearchResult, storage: Any, configs: list[int], base: dict[str, Any],
                 meta: dict[str, Any], fraction: float | None, n_trials: int | None):
        self.result, self.storage, self.configs, self.base, self.meta = result, storage, configs, base, meta
        self.fraction, self.n_trials = fraction, n_trials

    def write(self) -> None:
        rows = _collect(self.storage, self.configs)
        r = self.result
        r.trials, r.per_config = rows, {}
        for row in rows:  # rows are ranked, so the first of each config is its best
            r.per_config.setdefault(row["config"], row)
        r.best = rows[0] if rows else None
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(_COLUMNS), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        atomic_write_text(r.out / "trials.csv", buf.getvalue())
        atomic_write_text(r.out / "trials.md", self._markdown(rows))
        atomic_write_json(r.out / "best.json", self._best())

    def _markdown(self, rows: list[dict[str, Any]]) -> str:
        base, meta, first = self.base, self.meta, (rows[0] if rows else {})
        lines = ["# Hyperparameter search (the paper's Table 2, results as Table 4)", "",
                 f"Scale: model **{base.get('model')}**, strategy **{base.get('strategy')}**, weights "
                 f"{'random init' if base.get('weights') is None else base.get('weights')}, "
                 f"{meta['epochs']} epoch(s) per trial, {base.get('data.size')} px, "
                 f"train `{base.get('data.train')}` ({first.get('train_images', '?')} images), "
                 f"val `{base.get('data.val')}` ({first.get('val_images', '?')} images), "
                 f"device {first.get('device', '?')}; sampler {meta['sampler']}, seed {meta['seed']}. "
                 f"Paper: SAM ViT-B, norm tuning, 4 epochs on OmniCrack30k (22,158 train / 13,277 val), 256 px.", "",
                 "| config | loss | grid | trials (done / planned) | best λ | best lr | best batch | best val F1 "
                 "| paper best (λ, lr, batch, val F1) |", "|---|---|---|---|---|---|---|---|---|"]
        for c in self.configs:
            pc, b, pb = paper_config(c), self.result.per_config.get(c), paper_config(c).best
            n_done = sum(1 for r in rows if r["config"] == c)
            lines.append(f"| {c} | {LOSS_FAMILIES[pc.family].formula} | {pc.grid_size()} | {n_done} / "
                         f"{n_trials_of(c, self.fraction, self.n_trials)} | {_lam(b and b['lambda'])} | "
                         f"{fmt(b['lr']) if b else '-'} | {fmt(b and b['batch_size'])} | {fmt(b and b['val_f1'])} | "
                         f"{pb.get('lambda', '-')}, {pb['lr']:g}, {pb['batch_size']}, {pb['val_f1']:.4f} |")
        lines += ["", "## Trials, ranked by validation F1", "", "| " + " | ".join(TRIAL_HEADER) + " |",
                  "|" + "---|" * len(TRIAL_HEADER)]
        lines += ["| " + " | ".join(cells) + " |" for cells in trial_rows(rows)]
        notes = [f"- config {c}: {paper_config(c).note}" for c in self.configs if paper_config(c).note]
        if notes:
            lines += ["", "Notes on the paper's grids:", *notes]
        return "\n".join(lines) + "\n"

    def _best(self) -> dict[str, Any]:
        r, configs = self.result, self.configs
        best = None
        if r.best is not None:
            best = {k: r.best[k] for k in ("config", "loss", "lambda", "lr", "batch_size", "val_f1", "val_iou", "run")}
            best["family"] = _family(r.best["loss"])
        return {
            "best": best,
            "per_config": {str(c): {k: row[k] for k in ("loss", "lambda", "lr", "batch_size", "val_f1", "val_iou",
                                                        "trial", "run")}
                           for c, row in sorted(r.per_config.items())},
            "paper_best": {str(c): paper_config(c).best for c in configs},
            "planned": {str(c): n_trials_of(c, self.fraction, self.n_trials) for c in configs},
            "sampler": self.meta["sampler"], "seed": self.meta["seed"], "epochs": self.meta["epochs"],
            "settings": self.meta["settings"],
        }
