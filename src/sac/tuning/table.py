"""Parameter counts of every model × tuning strategy (``sac models``), without allocating any weights.

Each model is built once on PyTorch's meta device (tensors with shapes and no storage, so even SAM ViT-H costs
no memory), each applicable strategy is applied to a copy of it, and the parameters are counted: the same
numbers as on real weights, since a strategy decides what trains from the model's structure alone. A model whose
constructor computes with tensor values cannot be built there and is built for real (smp's MiT encoder of
``segformer_b0``, 3.7 M parameters, reads ``torch.linspace(...).item()``).
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from sac.models import SegmentationModel, count_parameters, create_model, list_models, model_info, norm_kinds
from sac.models.profile import count_flops
from sac.tuning.registry import apply_strategy, list_strategies, strategy_applies


def parameter_table(models: list[str] | None = None, strategies: list[str] | None = None, size: int = 256, *,
                    flops: bool = False) -> list[dict[str, Any]]:
    """One row per model × applicable strategy: ``model``, ``strategy``, ``total_params``, ``trainable_params``,
    ``norm_params``, ``trainable_pct``, ``norm_kinds`` (``BN+LN``, ``-`` when none), ``pretrained``,
    ``default_available``, and with ``flops`` also ``gflops`` / ``gmacs`` of one forward at ``size``.

    Arguments:
        models: registry names (``None``: every model), in the order of the rows.
        strategies: strategy names (``None``: every strategy, in registration order); those that do not apply
            to a model are left out.
        size: input size of SAM models (it sets their position-embedding grid) and of the FLOP count.
        flops: also count FLOPs; that one forward needs the real (randomly initialised) model.
    """
    rows = []
    for name in models or list_models():
        info = model_info(name)
        kwargs: dict[str, Any] = info.size_kwargs(size)
        base = weightless_model(name, **kwargs)
        kinds = "+".join(norm_kinds(base)) or "-"
        cost = None
        if flops:
            gflops = count_flops(create_model(name, weights=None, **kwargs), size=size)
            cost = {"gflops": gflops, "gmacs": gflops / 2}
        for s, c in _strategy_counts(base, strategies or list_strategies()):
            row = {"model": name, "strategy": s, "total_params": c["total"], "trainable_params": c["trainable"],
                   "norm_params": c["norm"], "trainable_pct": 100.0 * c["trainable"] / c["total"],
                   "norm_kinds": kinds, "pretrained": info.pretrained or "none",
                   "default_available": info.default_available}
            if cost is not None:
                row.update(cost)
            rows.append(row)
    return rows


def _strategy_counts(base: SegmentationModel, strategies: list[str]) -> list[tuple[str, dict[str, int]]]:
    """``(strategy, count_parameters)`` for each strategy that applies to ``base``, each applied to the model as
    built. ``base`` is left as it is. Copying a model is the slow part, so one copy serves the strategies in turn,
    its ``requires_grad`` flags put back after each, until a strategy adds modules (LoRA, adapters)."""
    flags = [p.requires_grad for p in base.parameters()]
    names = [n for n, _ in base.named_parameters()]
    out, work = [], None
    for s in strategies:
        if strategy_applies(base, s):
            continue
        if work is None or [n for n, _ in work.named_parameters()] != names:
            work = copy.deepcopy(base)
        for p, flag in zip(work.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        with torch.device("meta"):
            out.append((s, count_parameters(apply_strategy(work, s))))
    return out


def weightless_model(name: str, **kwargs: Any) -> SegmentationModel:
    """Registered model ``name`` (random init) on the meta device, or a real one when its constructor needs
    tensor values (``Tensor.item()`` is a RuntimeError on the meta device)."""
    try:
        with torch.device("meta"):
            return create_model(name, weights=None, **kwargs)
    except RuntimeError:
        return create_model(name, weights=None, **kwargs)
