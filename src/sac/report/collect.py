"""Reading run folders (``sac train`` / ``sac suite`` output) and search folders (``sac search``)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sac.engine.run_dir import RunDir
from sac.errors import ConfigError
from sac.models import model_info
from sac.tuning import strategy_info

__all__ = ["RunData", "SearchData", "collect_runs", "collect_searches", "read_suites"]

_SKIP_DIRS = {"checkpoints", "tb", "report", "__pycache__"}
_MAX_DEPTH = 3


def _mapping(path: Path, parse: Callable[[str], Any], errors: tuple[type[Exception], ...]) -> dict[str, Any] | None:
    """The mapping a file holds, or ``None`` when it is missing, unreadable, malformed or not a mapping.

    Arguments:
        path: the file; parse: text -> data; errors: what ``parse`` raises on malformed text.
    """
    try:
        data = parse(path.read_text())
    except (OSError, *errors):
        return None
    return data if isinstance(data, dict) else None


def _json(path: Path) -> dict[str, Any] | None:
    return _mapping(path, json.loads, (json.JSONDecodeError,))


def _yaml(path: Path) -> dict[str, Any] | None:
    return _mapping(path, yaml.safe_load, (yaml.YAMLError,))


def _csv(path: Path) -> list[dict[str, Any]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    out = []
    for r in rows:
        conv: dict[str, Any] = {}
        for k, v in r.items():
            try:
                conv[k] = float(v) if v not in (None, "") else None
            except ValueError:
                conv[k] = v
        out.append(conv)
    return out


@dataclass
class RunData:
    """Everything a run folder holds that the report uses."""

    dir: Path
    name: str
    label: str
    model: str
    strategy: str
    strategy_label: str
    weights: str | None
    status: str  # done | not_applicable | error | not_trained | incomplete
    reason: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    eval_test: dict[str, Any] | None = None
    eval_zeroshot: dict[str, Any] | None = None

    @property
    def random_init(self) -> bool:
        return self.weights is None

    @property
    def trained(self) -> bool:
        return self.status == "done"

    @property
    def display(self) -> str:
        """Label with the random-initialisation mark (†)."""
        return self.label + (" †" if self.random_init else "")

    @property
    def trainable_params(self) -> int | None:
        return self.summary.get("trainable_params") if self.summary else None

    @property
    def total_params(self) -> int | None:
        return self.summary.get("total_params") if self.summary else None

    @property
    def pct_params(self) -> float | None:
        t, n = self.trainable_params, self.total_params
        return 100.0 * t / n if t is not None and n else None

    @property
    def seconds_per_epoch(self) -> float | None:
        return self.summary.get("seconds_per_epoch") if self.summary else None

    @property
    def compute_seconds(self) -> float:
        """Time the run took, from its own files (so it survives resumed invocations): its training epochs
        (``metrics.csv``) plus its evaluations (``eval_*.json``)."""
        secs = sum(h.get("epoch_seconds") or 0 for h in self.history)
        for ev in (self.eval_test, self.eval_zeroshot):
            secs += (ev or {}).get("seconds") or 0
        return float(secs)

    @property
    def norm_kinds(self) -> list[str] | None:
        return self.record.get("norm_kinds")

    @property
    def size(self) -> int | None:
        return ((self.config or {}).get("data") or {}).get("size")

    @property
    def adapter(self) -> Path | None:
        p = RunDir(self.dir).adapter_best
        return p if p.is_file() else None

    def test(self, metric: str) -> float | None:
        if not self.trained or not self.eval_test:
            return None
        return self.eval_test.get("overall", {}).get(metric)

    @property
    def zs_sets(self) -> dict[str, dict[str, Any]]:
        if not self.trained or not self.eval_zeroshot:
            return {}
        return self.eval_zeroshot.get("datasets", {})

    def zs_spread(self, metric: str) -> tuple[float, float, str] | None:
        """``(mean, std, kind)`` of a zero-shot metric: across sets (``kind="sets"``, the paper's Tables
        8-9) when there are two or more sets, else the per-image distribution (``kind="images"``)."""
        z = self.eval_zeroshot if self.trained else None
        if not z:
            return None
        across = z.get("across_sets", {}).get(metric)
        if across and across.get("n", 0) >= 2:
            return across["mean"], across["std"], "sets"
        stats = z.get("per_image_stats", {})
        if len(stats) == 1:
            s = next(iter(stats.values())).get(metric)
            if s:
                return s["mean"], s["std"], "images"
        return None


def _weights(rec: dict[str, Any], summary: dict[str, Any] | None, config: dict[str, Any] | None) -> str | None:
    """The weights a run started from: its record's, else its summary's, else its config's (``default``)."""
    if "weights" in rec:
        return rec["weights"]
    if summary is not None and "weights" in summary:
        return summary["weights"]
    return (config or {}).get("weights", "default")


def _status(rec: dict[str, Any], summary: dict[str, Any] | None) -> str:
    """The record's status; ``done`` only when the summary says the training completed, else ``incomplete``."""
    completed = bool(summary and summary.get("completed"))
    status = rec.get("status")
    if status is None:
        status = "done" if completed else "incomplete"
    return "incomplete" if status == "done" and not completed else status


def _paper_labels(rec: dict[str, Any], model: str, strategy: str) -> tuple[str, str]:
    """The model's and the strategy's names as the paper writes them: the record's, else the registries'."""
    label, slabel = rec.get("label"), rec.get("strategy_label")
    if label is not None and slabel is not None:
        return label, slabel
    try:
        label = label or (model_info(model).paper or {}).get("name") or model
    except ConfigError:
        label = label or model
    try:
        slabel = slabel or (strategy_info(strategy).paper or {}).get("label") or strategy
    except ConfigError:
        slabel = slabel or strategy
    return label, slabel


def _run_from(d: Path) -> RunData | None:
    run = RunDir(d)
    rec = _json(run.record_json) or {}
    summary = _json(run.summary_json)
    config = _yaml(run.config)
    if not rec and summary is None:
        return None
    model = rec.get("model") or (summary or {}).get("model") or (config or {}).get("model") or "?"
    strategy = rec.get("strategy") or (summary or {}).get("strategy") or (config or {}).get("strategy") or "?"
    label, slabel = _paper_labels(rec, model, strategy)
    return RunData(dir=d, name=rec.get("name") or d.name, label=label, model=model, strategy=strategy,
                   strategy_label=slabel, weights=_weights(rec, summary, config), status=_status(rec, summary),
                   reason=rec.get("reason"), record=rec, summary=summary, config=config,
                   history=_csv(run.metrics_csv), eval_test=_json(run.eval_test),
                   eval_zeroshot=_json(run.eval_zeroshot))


def _walk(root: Path) -> list[Path]:
    """Folders under ``root`` (depth <= 3) holding run.json or summary.json, outside search folders."""
    found: list[Path] = []
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if "study.journal" in filenames:  # a search: its trials are reported as a search, not as runs
            dirnames[:] = []
            continue
        if RunDir(d).record_json.name in filenames or RunDir(d).summary_json.name in filenames:
            found.append(d)
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if n not in _SKIP_DIRS and not n.startswith("."))
        if len(d.parts) - root_depth >= _MAX_DEPTH:
            dirnames[:] = []
    return found


def read_suites(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """The suite invocations recorded in ``runs_dir/suite.json`` (name → entry), or ``{}``."""
    data = _json(Path(runs_dir) / "suite.json") or {}
    suites = data.get("suites")
    return suites if isinstance(suites, dict) else {}


def collect_runs(runs_dir: str | Path) -> list[RunData]:
    """Every run folder under ``runs_dir``, in the order the suites list them (then by name)."""
    root = Path(runs_dir)
    runs = [r for r in (_run_from(d) for d in _walk(root)) if r is not None]
    order: dict[str, int] = {}
    for entry in read_suites(root).values():
        for name in entry.get("runs", {}):
            order.setdefault(name, len(order))
    runs.sort(key=lambda r: (order.get(r.name, len(order)), r.name))
    return runs


@dataclass
class SearchData:
    """A ``sac search`` output folder."""

    dir: Path
    best: dict[str, Any]
    trials: list[dict[str, Any]]


def collect_searches(runs_dir: str | Path) -> list[SearchData]:
    out = []
    root = Path(runs_dir)
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if "best.json" in filenames and "trials.csv" in filenames:
            best = _json(d / "best.json")
            if best is not None:
                out.append(SearchData(dir=d, best=best, trials=_csv(d / "trials.csv")))
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if n not in _SKIP_DIRS and not n.startswith("."))
        if len(d.parts) - len(root.parts) >= 2:
            dirnames[:] = []
    return out
