"""Training configuration: YAML files under ``configs/``, validated, with CLI overrides.

A config is a nested mapping; :class:`TrainConfig` is its validated form. Unknown keys, wrong
types and out-of-range values are :class:`sac.errors.ConfigError` naming the file and the key.
Overrides use dotted keys: ``optim.lr=1e-4``, ``data.train=shared:CFD@train``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from sac.errors import ConfigError
from sac.losses import build_loss
from sac.models import model_info
from sac.tuning import strategy_info


@dataclass
class DataConfig:
    train: str = "shared:all@train"  # sample spec, see sac.data.samples_from
    val: str = "shared:all@val"
    size: int = 256
    augment: bool = True
    mask_resize: str = "nearest"
    cache_dir: str | None = None
    limit_train: int | None = None  # use a seeded random subset of N training samples (quick runs)
    limit_val: int | None = None
    loader_workers: int | None = None  # batch-building processes (None: 0 on the CPU, up to 8 per GPU)


@dataclass
class OptimConfig:
    lr: float = 5e-4
    weight_decay: float = 5e-5
    batch_size: int = 2
    epochs: int = 10
    warmup_steps: int = 0
    grad_clip: float | None = None


@dataclass
class TrainConfig:
    model: str = "unet_effnet_lite0"
    weights: str | None = "default"  # None = random init, "default", or a checkpoint path
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    strategy: str = "norm"
    init_seed: int = 0
    loss: str = "bce+dice:0.65"
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "auto"  # auto (bf16 on CUDA) | bf16 | off
    compile: bool = False  # torch.compile the training forward (eager where it cannot compile)
    val_every: int = 1
    checkpoint_every_steps: int = 200  # also checkpoints at each epoch end
    out: str = "runs/train"
    threads: int | None = None  # torch CPU threads (None: torch default)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_CHOICES = {
    "data.mask_resize": {"nearest", "area"},
    "amp": {"auto", "bf16", "off"},
}
_POSITIVE = {"data.size", "optim.batch_size", "optim.epochs", "val_every", "checkpoint_every_steps"}


NO_WEIGHTS = frozenset({"none", "null", "random", ""})


def parse_weights(value: Any) -> str | None:
    """The one reading of a ``weights`` setting: ``None`` (random initialisation) for None / "none" / "null" /
    "random" / "", else the string ("default" or a checkpoint path)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in NO_WEIGHTS):
        return None
    return str(value)


def _coerce(value: Any, typ: Any, where: str) -> Any:
    origin = getattr(typ, "__origin__", None)
    args = getattr(typ, "__args__", ())
    if typ is Any:
        return value
    if type(None) in args:  # Optional[...]
        if value is None or (isinstance(value, str) and value.lower() in {"none", "null", ""}):
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is dict or typ is dict:
        if not isinstance(value, dict):
            raise ConfigError(where, f"expected a mapping, got {value!r}")
        return dict(value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.lower() in {"true", "1", "yes"}
        raise ConfigError(where, f"expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(where, f"expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(where, f"expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(where, f"expected an integer, got {value!r}")
        return int(f)
    if typ is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(where, f"expected a number, got {value!r}") from None
    if typ is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(where, f"expected a string, got {value!r}")
        return str(value)
    raise ConfigError(where, f"unsupported type {typ}")


def _build(cls: type, raw: dict[str, Any], prefix: str, source: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(source, f"unknown key(s) {', '.join(sorted(prefix + k for k in unknown))}; "
                                  f"allowed: {', '.join(sorted(prefix + n for n in names))}")
    kwargs = {}
    for name, value in raw.items():
        typ = hints[name]
        key = prefix + name
        if key == "weights":
            kwargs[name] = parse_weights(value)
        elif dataclasses.is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(source, f"{key}: expected a mapping")
            kwargs[name] = _build(typ, value, key + ".", source)
        else:
            try:
                kwargs[name] = _coerce(value, typ, key)
            except ConfigError as e:
                raise ConfigError(source, f"{key}: {e.problem}") from None
    return cls(**kwargs)


def _validate(cfg: TrainConfig, source: str) -> None:
    flat = flatten_config(cfg.to_dict())
    for key, allowed in _CHOICES.items():
        if flat[key] not in allowed:
            raise ConfigError(source, f"{key}: {flat[key]!r} is not one of {sorted(allowed)}")
    for key in _POSITIVE:
        if flat[key] is None or flat[key] <= 0:
            raise ConfigError(source, f"{key}: must be > 0, got {flat[key]!r}")
    if cfg.optim.lr <= 0:
        raise ConfigError(source, f"optim.lr: must be > 0, got {cfg.optim.lr}")
    if cfg.optim.weight_decay < 0:
        raise ConfigError(source, "optim.weight_decay: must be >= 0")
    # names must exist in the registries; the loss spec must parse
    for check in (lambda: model_info(cfg.model), lambda: strategy_info(cfg.strategy), lambda: build_loss(cfg.loss)):
        try:
            check()
        except ConfigError as e:
            raise ConfigError(source, e.problem) from None


def flatten_config(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config mapping → dotted keys (``{"optim": {"lr": 1}}`` → ``{"optim.lr": 1}``);
    ``model_kwargs`` stays one value (its keys are the builder's, not config keys)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "model_kwargs":
            out.update(flatten_config(v, prefix + str(k) + "."))
        else:
            out[prefix + str(k)] = v
    return out


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError("override", f"{key}: {p} is not a section")
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError("override", f"{text!r}: expected key=value")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value) if value.strip() else None


def read_yaml_mapping(path: Path, what: str, expected: str = "a mapping", allow_empty: bool = False
                      ) -> dict[str, Any]:
    """The top-level mapping of a YAML file; ConfigError naming the file when it is missing, not YAML or not a
    mapping (``what``: "config file", "suite file"; an empty file is ``{}`` when ``allow_empty``)."""
    if not path.is_file():
        raise ConfigError(path, f"{what} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(path, f"invalid YAML ({str(e).splitlines()[0]})") from None
    if loaded is None and allow_empty:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(path, f"top level must be {expected}")
    return loaded


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | list[str] | None = None) -> TrainConfig:
    """Read a YAML config (or start from defaults), apply dotted overrides, validate."""
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        raw = read_yaml_mapping(Path(path), "config file", allow_empty=True)
    if isinstance(overrides, list):
        overrides = dict(parse_override(o) for o in overrides)
    for k, v in (overrides or {}).items():
        _set_dotted(raw, k, v)
    cfg = _build(TrainConfig, raw, "", source)
    _validate(cfg, source)
    return cfg


def dump_config(cfg: TrainConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
