"""Which model a user means: the bundled default, an adapter file or a registry name; its threshold and a
one-line description."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from sac.errors import ConfigError

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_ADAPTER = ASSETS / "default.safetensors"


def load_model(spec: str | os.PathLike, weights: str | None = None, **kwargs: Any) -> nn.Module:
    """A model from a user-facing spec.

    Arguments:
        spec: ``"default"`` (the bundled default model), a path to an adapter file
            (``.safetensors`` written by ``sac train``), or a registry name (then ``weights`` is passed to
            ``create_model``; ``None`` means the registered pretrained source if it needs no user file,
            else random initialisation — the model's ``sac_base`` says which).
    """
    from sac.models import create_model, list_models, model_info
    from sac.tuning import apply_strategy, load_adapter

    spec_s = str(spec)
    if spec_s == "default":
        if not DEFAULT_ADAPTER.is_file():
            raise ConfigError(DEFAULT_ADAPTER, "the bundled default model is missing from this installation")
        return load_adapter(DEFAULT_ADAPTER)
    p = Path(spec_s)
    if p.suffix == ".safetensors" or p.is_file():
        return load_adapter(p) if weights is None else load_adapter(p, weights=weights)
    if spec_s in list_models():
        if weights is None:
            weights = "default" if model_info(spec_s).default_available else None
        model = create_model(spec_s, weights=weights, **kwargs)
        return apply_strategy(model, "none")
    raise ConfigError("model", f"{spec_s!r} is neither 'default', an adapter file, nor a registered model "
                               f"(see `sac models`)")


DEFAULT_THRESHOLD = 0.5


def model_threshold(model: nn.Module, threshold: float | None = None) -> float:
    """The probability threshold to binarise ``model``'s output at: ``threshold`` if given, else the one stored
    in its adapter (chosen on validation data, ``sac calibrate``), else 0.5."""
    if threshold is not None:
        t = float(threshold)
        if not 0.0 <= t <= 1.0:
            raise ConfigError("threshold", f"must be in [0, 1], got {threshold!r}")
        return t
    return float(getattr(model, "sac_threshold", DEFAULT_THRESHOLD))


def describe_model(model: nn.Module) -> str:
    name = getattr(model, "sac_name", type(model).__name__)
    strategy = getattr(model, "sac_strategy", "?")
    base = getattr(model, "sac_base", {}).get("weights")
    src = "random init" if base is None else f"weights={base}"
    if getattr(model, "sac_adapter", None):
        t = getattr(model, "sac_threshold", None)
        return f"{name} [{strategy}] adapter on {src}" + (f", threshold {t:.2f}" if t is not None else "")
    return f"{name} [{strategy}] {src}" + (" — UNTRAINED for cracks" if strategy == "none" else "")
