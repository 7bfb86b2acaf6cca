"""Tuning strategies (one registry) and adapter files.

Importing the package registers the built-in strategies (``strategies``: none / full / decoder / norm /
norm_frozen_stats; ``lora``: the SAM LoRA variants and CrackSAM), as timm's model modules register themselves.
"""

from sac.tuning import lora, strategies  # noqa: F401  (registration)
from sac.tuning.adapter import load_adapter, read_adapter_metadata, save_adapter, set_adapter_threshold
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

__all__ = [
    "StrategyInfo", "apply_strategy", "bn_stats_update", "list_strategies",
    "load_adapter", "read_adapter_metadata", "register_strategy",
    "save_adapter", "set_adapter_threshold", "strategies_for", "strategy_applies", "strategy_info", "train_mode",
]
