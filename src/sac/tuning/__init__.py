"""Tuning strategies (one registry), the BatchNorm-statistics policy, adapter files and parameter tables.

Importing the package registers the built-in strategies (:mod:`sac.tuning.strategies`), as timm's model modules
register themselves.
"""

from sac.tuning import strategies  # noqa: F401  (registration)
from sac.tuning.adapter import load_adapter, read_adapter_metadata, save_adapter, set_adapter_threshold
from sac.tuning.bn_policy import BnPolicy
from sac.tuning.registry import (
    StrategyInfo,
    apply_strategy,
    bn_stats_update,
    list_strategies,
    register_strategy,
    strategies_for,
    strategy_applies,
    strategy_info,
    train_mode,
)
from sac.tuning.table import parameter_table, weightless_model

__all__ = [
    "BnPolicy", "StrategyInfo", "apply_strategy", "bn_stats_update", "list_strategies",
    "load_adapter", "parameter_table", "read_adapter_metadata", "register_strategy",
    "save_adapter", "set_adapter_threshold", "strategies_for", "strategy_applies", "strategy_info", "train_mode",
    "weightless_model",
]
