"""Tuning strategies (one registry) and adapter files."""

from sac.tuning.adapter import load_adapter, read_adapter_metadata, save_adapter, set_adapter_threshold
from sac.tuning.norms import is_norm, norm_kinds, norm_parameter_names
from sac.tuning.registry import (
    StrategyInfo,
    apply_strategy,
    bn_stats_update,
    count_parameters,
    list_strategies,
    register_strategy,
    strategies_for,
    strategy_applies,
    strategy_info,
    train_mode,
)

__all__ = [
    "StrategyInfo", "apply_strategy", "bn_stats_update", "count_parameters", "is_norm", "list_strategies",
    "load_adapter", "norm_kinds", "norm_parameter_names", "read_adapter_metadata", "register_strategy",
    "save_adapter", "set_adapter_threshold", "strategies_for", "strategy_applies", "strategy_info", "train_mode",
]
