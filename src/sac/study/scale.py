"""The scale of a study: one path from command-line flags (or a suite's ``scale:`` section) to training settings.

A :class:`Scale` holds what a study may change about every run without changing what the run *is*: epochs,
seeded subsets of the data, image size, batch size, the device, and forcing pretrained or random weights.
``sac suite`` and ``sac search`` build it from the same flags (:func:`sac.cli.common.add_scale_arguments`),
a suite file's ``scale:`` section is read by :meth:`Scale.from_mapping`, the flags beat the file
(:meth:`Scale.over`), and :meth:`Scale.train_overrides` turns it into the dotted
:class:`~sac.engine.TrainConfig` keys that :func:`~sac.engine.load_config` applies — the only place the two
vocabularies meet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sac.engine.config import parse_weights
from sac.errors import ConfigError

__all__ = ["Scale"]

# Scale field → TrainConfig key (limit_test / limit_zeroshot concern evaluation, weights is parsed).
_TO_CONFIG = {"epochs": "optim.epochs", "limit_train": "data.limit_train", "limit_val": "data.limit_val",
              "size": "data.size", "batch_size": "optim.batch_size", "device": "device"}


@dataclass(frozen=True)
class Scale:
    """Study-wide training and evaluation scale; ``None`` = not set (the run's own setting stays).

    Arguments:
        epochs, limit_train, limit_val, size, batch_size, device: training settings of every run
            (``limit_*``: seeded subsets of N images; 0 = all).
        limit_test, limit_zeroshot: evaluate on seeded subsets of N images of each spec
            (``limit_zeroshot`` defaults to ``limit_test``).
        weights: ``"none"`` trains every run from random initialisation, ``"default"`` forces the
            registered pretrained weights.
    """

    epochs: int | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    limit_test: int | None = None
    limit_zeroshot: int | None = None
    size: int | None = None
    batch_size: int | None = None
    weights: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.weights is not None and parse_weights(self.weights) not in (None, "default"):
            raise ConfigError("weights", f"the scale option weights is 'none' or 'default', got {self.weights!r}")

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None, where: str = "scale") -> Scale:
        """A suite file's ``scale:`` section (unknown keys are a ConfigError naming ``where``)."""
        raw = dict(raw or {})
        unknown = set(raw) - set(cls.keys())
        if unknown:
            raise ConfigError(where, f"scale: unknown key(s) {', '.join(sorted(unknown))}; "
                                     f"allowed: {', '.join(sorted(cls.keys()))}")
        return cls(**raw)

    def over(self, base: Scale) -> Scale:
        """This scale's set values over ``base``'s (flags over a suite file)."""
        return replace(base, **{k: v for k, v in asdict(self).items() if v is not None})

    @property
    def zeroshot_limit(self) -> int | None:
        return self.limit_zeroshot if self.limit_zeroshot is not None else self.limit_test

    def train_overrides(self) -> dict[str, Any]:
        """Dotted TrainConfig keys of the set training values (``weights``: None = random init)."""
        out = {key: getattr(self, f) for f, key in _TO_CONFIG.items() if getattr(self, f) is not None}
        if self.weights is not None:
            out["weights"] = parse_weights(self.weights)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The set values only (as suite.json records them)."""
        return {k: v for k, v in asdict(self).items() if v is not None}
