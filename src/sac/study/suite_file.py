"""Suite files (``configs/paper/*.yaml``): parsing, validation, and the training configuration of each run.

See :mod:`sac.study.suite` for the format and for running a suite.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sac.engine import BUNDLED, TrainConfig, load_config
from sac.engine.config import flatten_config, parse_weights, read_yaml_mapping
from sac.errors import AdapterError, ConfigError
from sac.models import model_info
from sac.study.fewshot import parse_few_shot
from sac.study.scale import Scale
from sac.tuning import read_adapter_metadata, strategy_info

__all__ = ["RunSpec", "Suite", "load_suite", "run_config"]

SUITE_KEYS = {"name", "description", "paper", "train", "scale", "evaluation", "runs", "runs_from", "train_runs",
              "notes", "few_shot"}
_RUN_KEYS = {"name", "model", "strategy", "weights", "label", "overrides", "note", "adapter"}
_EVAL_KEYS = {"test", "zero_shot", "protocol", "fast", "inference", "threshold"}


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


def _read_yaml(path: Path) -> dict[str, Any]:
    raw = read_yaml_mapping(path, "suite file", "a mapping with 'runs' (or 'runs_from')")
    unknown = set(raw) - SUITE_KEYS
    if unknown:
        raise ConfigError(path, f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; "
                                f"allowed: {', '.join(sorted(SUITE_KEYS))}")
    return raw


def _mapping(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    v = raw.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ConfigError(path, f"{key}: expected a mapping, got {v!r}")
    return v


def _parse_run(i: int, item: Any, path: Path) -> RunSpec:
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
                   weights=parse_weights(item.get("weights", "default")), label=item.get("label"), name=name,
                   overrides=flatten_config(overrides), note=item.get("note"), adapter=item.get("adapter"))


def adapter_path(adapter: str, suite_path: Path) -> Path:
    if adapter in BUNDLED:
        return BUNDLED[adapter]
    p = Path(adapter)
    return p if p.is_absolute() or p.is_file() else suite_path.parent / p


def _adapter_run(adapter: Any, item: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    """model / strategy / weights / training config of an ``adapter:`` run, from the file's metadata."""
    if not isinstance(adapter, str) or not adapter:
        raise ConfigError(path, f"{where}.adapter: expected a bundled model ({', '.join(BUNDLED)}) or an adapter "
                                f"file path, got {adapter!r}")
    try:
        meta = read_adapter_metadata(adapter_path(adapter, path))
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
    parents = [load_suite(p, (*_seen, path.resolve())) for p in _runs_from(raw, path)]
    items = raw.get("runs") or []
    if not isinstance(items, list):
        raise ConfigError(path, "runs: expected a list of {model, strategy, ...}")
    runs = [r for s in parents for r in s.runs] + [_parse_run(i, item, path) for i, item in enumerate(items)]
    if not runs:
        raise ConfigError(path, "the suite has no runs (give 'runs' or 'runs_from')")
    first = parents[0] if parents else None
    train = flatten_config(_mapping(raw, "train", path)) if "train" in raw else (dict(first.train) if first else {})
    scale = dict(_mapping(raw, "scale", path)) if "scale" in raw else (dict(first.scale) if first else {})
    Scale.from_mapping(scale, str(path))
    train_runs = raw.get("train_runs", True)
    if not isinstance(train_runs, bool):
        raise ConfigError(path, f"train_runs: expected true/false, got {train_runs!r}")
    notes = raw.get("notes") or []
    notes = [notes] if isinstance(notes, str) else list(notes)
    suite = Suite(name=str(raw.get("name") or path.stem), path=str(path), runs=runs, train=train, scale=scale,
                  train_runs=train_runs, description=str(raw.get("description") or ""),
                  paper=str(raw.get("paper") or ""), notes=[str(n) for n in notes],
                  **_evaluation(_mapping(raw, "evaluation", path), first, path))
    _check_runs(suite, path, Scale.from_mapping(scale, str(path)))
    if raw.get("few_shot") is not None:
        names = {r.folder(parse_weights(r.weights) if r.weights is not None else None) for r in suite.runs}
        suite.few_shot = parse_few_shot(raw["few_shot"], path, names)
    return suite


def _runs_from(raw: dict[str, Any], path: Path) -> list[Path]:
    """The suite files named by ``runs_from`` (relative to ``path``'s folder)."""
    rf = raw.get("runs_from") or []
    if isinstance(rf, str):
        rf = [rf]
    if not isinstance(rf, list) or not all(isinstance(x, str) for x in rf):
        raise ConfigError(path, "runs_from: expected a suite file or a list of them")
    out = []
    for ref in rf:
        p = Path(ref) if Path(ref).is_absolute() else path.parent / ref
        if not p.is_file():
            raise ConfigError(path, f"runs_from: {ref} not found (looked at {p})")
        out.append(p)
    return out


def _evaluation(ev: dict[str, Any], first: Suite | None, path: Path) -> dict[str, Any]:
    """The validated ``evaluation:`` section (values not given come from the first ``runs_from`` suite)."""
    unknown = set(ev) - _EVAL_KEYS
    if unknown:
        raise ConfigError(path, f"evaluation: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(_EVAL_KEYS))}")
    inherited = {"test": first.test, "zero_shot": list(first.zero_shot), "protocol": first.protocol,
                 "inference": first.inference, "fast": first.fast, "threshold": first.threshold} if first else \
        {"test": None, "zero_shot": [], "protocol": "native", "inference": "resize", "fast": False, "threshold": 0.5}
    e = {**inherited, **ev}
    zs = [e["zero_shot"]] if isinstance(e["zero_shot"], str) else (e["zero_shot"] or [])
    if e["test"] is not None and not isinstance(e["test"], str):
        raise ConfigError(path, f"evaluation.test: expected a sample spec or null, got {e['test']!r}")
    if not isinstance(zs, list) or not all(isinstance(z, str) for z in zs):
        raise ConfigError(path, "evaluation.zero_shot: expected a sample spec or a list of them")
    for key, allowed in (("protocol", ("native", "paper")), ("inference", ("resize", "tiled"))):
        if e[key] not in allowed:
            raise ConfigError(path, f"evaluation.{key}: {e[key]!r} is not '{allowed[0]}' or '{allowed[1]}'")
    if not isinstance(e["fast"], bool):
        raise ConfigError(path, f"evaluation.fast: expected true/false, got {e['fast']!r}")
    t = e["threshold"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1:
        raise ConfigError(path, f"evaluation.threshold: expected a number in (0, 1), got {t!r}")
    return {"test": e["test"], "zero_shot": list(zs), "protocol": e["protocol"], "inference": e["inference"],
            "fast": e["fast"], "threshold": float(t)}


def _check_runs(suite: Suite, path: Path, scale: Scale) -> None:
    """Every run resolves to a valid TrainConfig, run folders are unique."""
    seen: dict[str, RunSpec] = {}
    for i, run in enumerate(suite.runs):
        try:
            cfg = run_config(suite, run, scale, Path("runs"))
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


def run_config(suite: Suite, run: RunSpec, scale: Scale, out: Path, extra: dict[str, Any] | None = None
               ) -> TrainConfig:
    """The TrainConfig of ``run`` at ``scale``: ``run.overrides`` beat the suite's ``train``, the scale beats
    both, ``extra`` (``--set`` for every run) beats everything; an ``adapter:`` run keeps its own configuration."""
    if run.adapter:  # trained elsewhere: its own configuration, whatever the suite's scale
        ov = {**run.overrides, "model": run.model, "strategy": run.strategy, "weights": run.weights}
        if scale.device is not None:
            ov["device"] = scale.device
        ov["out"] = str(out / run.folder(run.weights))
        return load_config(None, ov)
    ov: dict[str, Any] = {**suite.train, "model": run.model, "strategy": run.strategy, "weights": run.weights,
                          **run.overrides, **scale.train_overrides(), **(extra or {})}
    # the model is built for its training size (SAM: position embedding and prompt grid)
    sized = model_info(run.model).size_kwargs(int(ov.get("data.size", 256)))
    if sized:
        ov["model_kwargs"] = {**dict(ov.get("model_kwargs") or {}), **sized}
    ov["out"] = str(out / run.folder(parse_weights(ov.get("weights"))))
    return load_config(None, ov)
