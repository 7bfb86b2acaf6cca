"""One registry: tuning strategy name → function that marks what trains.

A strategy function takes a :class:`~sac.models.SegmentationModel`, may inject modules (LoRA,
adapters), sets ``requires_grad`` on every parameter, and returns the model. It knows models only
through the public contract: their norm layers (found by type), their ``encoder``/``decoder`` parts,
and — for transformer-specific strategies — ``model.lora_targets()``. A strategy also declares which
BatchNorm statistics follow the batch while it trains (:class:`~sac.tuning.bn_policy.BnPolicy`); a tuned
model is switched between training and evaluation with :func:`train_mode`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from sac.errors import ConfigError, StrategyError
from sac.models import SegmentationModel
from sac.models.norms import is_batchnorm
from sac.tuning.bn_policy import BnPolicy, batch_stat_layers, follows_batch_stats

StrategyFn = Callable[[SegmentationModel], SegmentationModel]
Check = Callable[[SegmentationModel], "str | None"]


@dataclass(frozen=True)
class StrategyInfo:
    """A tuning strategy.

    Arguments:
        name: registry name.
        fn: ``fn(model) -> model``; sets requires_grad, may add modules.
        description: one line for ``sac models``.
        check: ``check(model) -> None | reason`` — a reason means the strategy does not apply.
        frozen_bn: which BatchNorm layers keep their running statistics fixed during training (they stay in eval
            mode): see :class:`BnPolicy`.
        paper: the paper's Table 5 row (``params``, ``pct``, ``label``) where it has one.
    """

    name: str
    fn: StrategyFn
    description: str
    check: Check | None = None
    frozen_bn: BnPolicy = BnPolicy.FROZEN_ONLY
    paper: dict[str, Any] | None = None


_STRATEGIES: dict[str, StrategyInfo] = {}


def register_strategy(
    name: str,
    *,
    description: str,
    check: Check | None = None,
    frozen_bn: BnPolicy | str = BnPolicy.FROZEN_ONLY,
    paper: dict[str, Any] | None = None,
) -> Callable[[StrategyFn], StrategyFn]:
    """Decorator registering ``fn`` as strategy ``name`` (the arguments are those of :class:`StrategyInfo`)."""

    def deco(fn: StrategyFn) -> StrategyFn:
        if name in _STRATEGIES:
            raise RuntimeError(f"strategy {name!r} registered twice")
        _STRATEGIES[name] = StrategyInfo(name, fn, description, check, BnPolicy(frozen_bn), paper)
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


def strategy_applies(model: SegmentationModel, name: str) -> str | None:
    """``None`` if ``name`` applies to ``model``, else the reason it does not."""
    info = strategy_info(name)
    return info.check(model) if info.check else None


def strategies_for(model: SegmentationModel) -> list[str]:
    return [s for s in list_strategies() if strategy_applies(model, s) is None]


def apply_strategy(model: SegmentationModel, name: str) -> SegmentationModel:
    """Mark what trains in ``model`` according to strategy ``name`` (may add modules). Returns the model.

    Raises StrategyError (with the reason) when the strategy does not apply to this model.
    """
    info = strategy_info(name)
    reason = info.check(model) if info.check else None
    if reason:
        raise StrategyError(model.origin.name or type(model).__name__, f"strategy {name!r}: {reason}")
    model = info.fn(model)
    model.origin.strategy = name
    return model


def strategy_bn_policy(model: nn.Module) -> BnPolicy:
    """The BatchNorm policy of the strategy applied to ``model`` (``full``'s when none was: as built, every
    parameter trains). ``model`` may also be a wrapper that forwards attributes (``torch.compile``), hence the
    lookup by name."""
    return strategy_info(getattr(model, "sac_strategy", None) or "full").frozen_bn


def train_mode(model: nn.Module, mode: bool = True) -> nn.Module:
    """Switch a tuned model between training (``True``) and evaluation (``False``) the way its strategy wants.

    The one way to set a tuned model's modes, also to come back to training after an evaluation:
    ``model.train()`` would put every BatchNorm in training mode, while here those that keep their statistics
    under the strategy's :class:`BnPolicy` (:func:`~sac.tuning.bn_policy.follows_batch_stats`) stay in eval
    mode. ``train_mode(model, False)`` is ``model.eval()``.

    Arguments:
        model: a model after :func:`apply_strategy` (none applied: every BatchNorm follows the batch).
        mode: training (``True``) or evaluation (``False``).
    """
    model.train(mode)
    if not mode:
        return model
    policy = strategy_bn_policy(model)
    for m in model.modules():
        if is_batchnorm(m) and not follows_batch_stats(m, policy):
            m.eval()
    return model


def bn_stats_update(model: nn.Module) -> bool:
    """True if training under the model's strategy changes any BatchNorm running statistics."""
    return any(True for _ in batch_stat_layers(model, strategy_bn_policy(model)))


__all__ = [
    "BnPolicy", "StrategyInfo", "apply_strategy", "bn_stats_update", "list_strategies",
    "register_strategy", "strategies_for", "strategy_applies", "strategy_bn_policy", "strategy_info", "train_mode",
]
