"""One registry: tuning strategy name → function that marks what trains.

A strategy function takes a :class:`~sac.models.SegmentationModel`, may inject modules (LoRA,
adapters), sets ``requires_grad`` on every parameter, and returns the model. It knows models only
through the public contract: their norm layers (found by type), their ``encoder``/``decoder`` parts,
and — for transformer-specific strategies — ``model.transformer_blocks()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from sac.errors import ConfigError, StrategyError
from sac.models.norms import is_batchnorm

StrategyFn = Callable[[nn.Module], nn.Module]
Check = Callable[[nn.Module], "str | None"]


@dataclass(frozen=True)
class StrategyInfo:
    """A tuning strategy.

    Arguments:
        name: registry name.
        fn: ``fn(model) -> model``; sets requires_grad, may add modules.
        description: one line for ``sac models``.
        check: ``check(model) -> None | reason`` — a reason means the strategy does not apply.
        frozen_bn: keep BatchNorm running statistics fixed during training (BN layers in eval mode).
            ``"frozen_only"`` freezes the statistics of BN layers whose affine parameters do not train
            (the default everywhere), ``"all"`` freezes every BN layer, ``"none"`` updates every BN.
        paper: the paper's Table 5 row (``params``, ``pct``, ``label``) where it has one.
    """

    name: str
    fn: StrategyFn
    description: str
    check: Check | None = None
    frozen_bn: str = "frozen_only"
    paper: dict[str, Any] | None = None


_STRATEGIES: dict[str, StrategyInfo] = {}


def register_strategy(
    name: str,
    *,
    description: str,
    check: Check | None = None,
    frozen_bn: str = "frozen_only",
    paper: dict[str, Any] | None = None,
) -> Callable[[StrategyFn], StrategyFn]:
    def deco(fn: StrategyFn) -> StrategyFn:
        if name in _STRATEGIES:
            raise RuntimeError(f"strategy {name!r} registered twice")
        _STRATEGIES[name] = StrategyInfo(name, fn, description, check, frozen_bn, paper)
        return fn

    return deco


def freeze(model: nn.Module) -> None:
    """Every parameter of ``model`` stops training (strategies then switch on what they train)."""
    for p in model.parameters():
        p.requires_grad_(False)


def list_strategies() -> list[str]:
    return list(_STRATEGIES)


def strategy_info(name: str) -> StrategyInfo:
    if name not in _STRATEGIES:
        raise ConfigError("strategy", f"unknown tuning strategy {name!r}; known: {', '.join(_STRATEGIES)}")
    return _STRATEGIES[name]


def strategy_applies(model: nn.Module, name: str) -> str | None:
    """``None`` if ``name`` applies to ``model``, else the reason it does not."""
    info = strategy_info(name)
    return info.check(model) if info.check else None


def strategies_for(model: nn.Module) -> list[str]:
    return [s for s in list_strategies() if strategy_applies(model, s) is None]


def apply_strategy(model: nn.Module, name: str) -> nn.Module:
    """Mark what trains in ``model`` according to strategy ``name`` (may add modules). Returns the model.

    Raises StrategyError (with the reason) when the strategy does not apply to this model.
    """
    info = strategy_info(name)
    reason = info.check(model) if info.check else None
    if reason:
        raise StrategyError(getattr(model, "sac_name", type(model).__name__), f"strategy {name!r}: {reason}")
    model = info.fn(model)
    model.sac_strategy = name
    return model


def train_mode(model: nn.Module, mode: bool = True) -> nn.Module:
    """``model.train(mode)``, then put BatchNorm layers whose statistics the strategy keeps fixed
    back in eval mode. The engine calls this instead of ``model.train()``."""
    model.train(mode)
    if not mode:
        return model
    policy = strategy_info(getattr(model, "sac_strategy", "full")).frozen_bn
    for m in model.modules():
        if is_batchnorm(m) and (policy == "all" or (policy == "frozen_only" and not _affine_trains(m))):
            m.eval()
    return model


def _affine_trains(m: nn.Module) -> bool:
    return any(p.requires_grad for p in m.parameters(recurse=False))


def bn_stats_update(model: nn.Module) -> bool:
    """True if training under the model's strategy changes any BatchNorm running statistics."""
    policy = strategy_info(getattr(model, "sac_strategy", "full")).frozen_bn
    if policy == "all":
        return False
    return any(is_batchnorm(m) and (policy == "none" or _affine_trains(m)) for m in model.modules())


__all__ = [
    "StrategyInfo", "apply_strategy", "bn_stats_update", "list_strategies",
    "register_strategy", "strategies_for", "strategy_applies", "strategy_info", "train_mode",
]
