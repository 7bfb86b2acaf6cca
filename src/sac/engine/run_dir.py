"""A run folder: every file name in one place, typed readers and writers.

Layout (written by :class:`sac.engine.Trainer`, the suites and the evaluations)::

    config.yaml                    resolved training configuration
    command.txt                    the command lines that started / resumed the run
    metrics.csv                    one row per epoch (train loss, val P/R/F1/IoU, lr, seconds)
    tb/                            TensorBoard events
    checkpoints/last.safetensors   resumable state (atomic)
    adapter_best.safetensors       adapter with the best validation F1
    adapter_last.safetensors       adapter at the end of training
    summary.json                   :class:`RunSummary`
    run.json                       the suite's record of the run (status, labels, times)
    eval_test.json                 evaluation on the suite's test spec
    eval_zeroshot.json             evaluation on the zero-shot specs
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from sac.files import atomic_write_json

__all__ = ["RunDir", "RunStatus", "RunSummary", "read_json"]


class RunStatus(str, Enum):
    """The state of a run in a suite (a ``str``, so records stay plain JSON)."""

    PENDING = "pending"
    PLANNED = "planned"
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    NOT_TRAINED = "not_trained"
    ERROR = "error"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


@dataclass
class RunSummary:
    """What a training run did (``summary.json``)."""

    model: str
    strategy: str
    weights: str | None
    total_params: int
    trainable_params: int
    norm_params: int
    epochs_done: int | None = 0
    global_step: int | None = 0
    best_val_f1: float | None = -1.0  # None: never validated (untrained or imported)
    best_epoch: int | None = -1
    seconds_per_epoch: float | None = None
    train_images: int | None = 0
    val_images: int | None = 0
    device: str = "cpu"
    world_size: int = 1
    completed: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    trained: bool = True  # False: the model as it is (strategy none) or an adapter trained elsewhere
    imported_from: str | None = None  # the adapter file of an imported run

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` object (``trained`` / ``imported_from`` only where they say something)."""
        d = asdict(self)
        if d["trained"]:
            del d["trained"]
        if d["imported_from"] is None:
            del d["imported_from"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSummary:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class RunDir:
    """The files of one run folder (nothing is created until written)."""

    read_json = staticmethod(read_json)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    config = property(lambda self: self.path / "config.yaml")
    command = property(lambda self: self.path / "command.txt")
    metrics_csv = property(lambda self: self.path / "metrics.csv")
    tensorboard = property(lambda self: self.path / "tb")
    checkpoint = property(lambda self: self.path / "checkpoints" / "last.safetensors")
    adapter_best = property(lambda self: self.path / "adapter_best.safetensors")
    adapter_last = property(lambda self: self.path / "adapter_last.safetensors")
    summary_json = property(lambda self: self.path / "summary.json")
    record_json = property(lambda self: self.path / "run.json")
    eval_test = property(lambda self: self.path / "eval_test.json")
    eval_zeroshot = property(lambda self: self.path / "eval_zeroshot.json")

    def results(self) -> list[Path]:
        """The files a retrained run replaces (``--restart`` deletes them)."""
        return [self.summary_json, self.eval_test, self.eval_zeroshot, self.adapter_best, self.adapter_last,
                self.metrics_csv, self.checkpoint]

    def summary(self) -> RunSummary | None:
        d = read_json(self.summary_json)
        return RunSummary.from_dict(d) if d is not None else None

    def completed(self) -> bool:
        s = self.summary()
        return bool(s and s.completed)

    def write_summary(self, summary: RunSummary) -> None:
        atomic_write_json(self.summary_json, summary.to_dict())

    def record(self) -> dict[str, Any]:
        return read_json(self.record_json) or {}

    def write_record(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.record_json, record)

    def read_config(self) -> dict[str, Any] | None:
        """The run's saved configuration (a mapping), None when missing; a YAML error propagates."""
        if not self.config.is_file():
            return None
        return yaml.safe_load(self.config.read_text()) or {}
