"""One registry: model name → builder. The CLI, configs, reports and tests all go through it.

A builder is ``builder(weights) -> SegmentationModel`` where ``weights`` is ``None`` (random
initialisation, reproducible with ``init_seed``), ``"default"`` (the pretrained source named in the
registry entry) or a path to a user-supplied checkpoint. Builders verify what they load and raise
:class:`sac.errors.WeightsError` naming the file and the problem.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from sac.errors import ConfigError
from sac.models.base import SegmentationModel

Builder = Callable[..., SegmentationModel]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model.

    Arguments:
        name: registry name (lowercase, underscores).
        builder: ``builder(weights, **kwargs) -> SegmentationModel``.
        family: file/family it comes from (``smp``, ``sam``, ``deepcrack``, ...).
        description: one line for ``sac models``.
        pretrained: what ``weights="default"`` loads, in words (``None``: no pretrained source).
        default_available: True when ``weights="default"`` needs no user-supplied file.
        paper: the paper's Table 3 row for this model, if any (``params``, ``norm_pct``, ``flops_g``, ``name``).
        input_size: native training/inference size (square).
        size_kwarg: the builder argument that builds the model for another input size (SAM: ``input_size``,
            its position embedding and prompt grid follow it), or None when any size runs as it is.
    """

    name: str
    builder: Builder
    family: str
    description: str
    pretrained: str | None = None
    default_available: bool = False
    paper: dict[str, Any] | None = None
    input_size: int = 256
    size_kwarg: str | None = None

    def size_kwargs(self, size: int) -> dict[str, int]:
        """Builder keyword arguments for a model that will run at ``size`` px ({} for most models)."""
        return {self.size_kwarg: int(size)} if self.size_kwarg else {}


_MODELS: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    family: str,
    description: str,
    pretrained: str | None = None,
    default_available: bool = False,
    paper: dict[str, Any] | None = None,
    input_size: int = 256,
    size_kwarg: str | None = None,
) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder`` under ``name``."""

    def deco(builder: Builder) -> Builder:
        if name in _MODELS:
            raise RuntimeError(f"model {name!r} registered twice")
        _MODELS[name] = ModelInfo(name, builder, family, description, pretrained, default_available,
                                  paper, input_size, size_kwarg)
        return builder

    return deco


def list_models() -> list[str]:
    _ensure_loaded()
    return sorted(_MODELS)


def model_info(name: str) -> ModelInfo:
    _ensure_loaded()
    if name not in _MODELS:
        raise ConfigError("model", f"unknown model {name!r}; known: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def create_model(
    name: str,
    weights: str | Path | None = None,
    *,
    init_seed: int = 0,
    **kwargs: Any,
) -> SegmentationModel:
    """Build a registered model.

    Arguments:
        name: registry name, see :func:`list_models`.
        weights: ``None`` = random init (seeded by ``init_seed``, so the same base can be rebuilt),
            ``"default"`` = the registered pretrained source, or a path to a checkpoint file.
        init_seed: seed of the random initialisation (used whatever ``weights`` is, for the parts
            a checkpoint does not cover, e.g. a fresh decoder on a pretrained encoder).
        kwargs: passed to the builder (e.g. ``input_size`` for SAM).
    """
    info = model_info(name)
    if weights is not None and weights != "default":
        weights = Path(weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = info.builder(weights, **kwargs)
    model.origin.name = name
    model.origin.base = {
        "weights": None if weights is None else str(weights),
        "init_seed": init_seed,
        "kwargs": {k: v for k, v in kwargs.items() if isinstance(v, (int, float, str, bool))},
        **(model.origin.weights_info or {}),
    }
    return model


_LOADED = False
_FAMILIES = ("smp_models", "hed", "deepcrack", "crackformer", "sam")


def _ensure_loaded() -> None:
    """Import every family module once so their ``@register_model`` decorators run. On first use rather than
    with ``sac.models``: the families import timm, smp, torchvision and segment-anything (seconds), which code
    that needs only the contract (``SegmentationModel``, norms) should not pay."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for mod in _FAMILIES:
        importlib.import_module(f"sac.models.{mod}")
