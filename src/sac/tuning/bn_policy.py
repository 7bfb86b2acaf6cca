"""Which BatchNorm layers follow batch statistics while a strategy trains: the one rule.

A BatchNorm that follows batch statistics normalises with the statistics of each training batch and updates its
running statistics (it is in training mode while the model trains); the others stay in eval mode and keep their
running statistics. The rule, :func:`follows_batch_stats`, decides it from the strategy's :class:`BnPolicy` and
whether the layer's own γ/β train. :func:`sac.tuning.train_mode` (the modes), :func:`sac.tuning.bn_stats_update`
and the adapter files (which running statistics travel) all ask it.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from torch import nn

from sac.models.norms import is_batchnorm


class BnPolicy(str, Enum):
    """Which BatchNorm layers keep their running statistics fixed (stay in eval mode) while a strategy trains.

    ``FROZEN_ONLY`` (the default): those whose affine γ/β do not train — a frozen part keeps its statistics.
    ``FREEZE_ALL``: every one (``norm_frozen_stats``). ``UPDATE_ALL``: none, every BatchNorm follows the batch
    (``full``, and ``norm`` as the paper's Eq. 1 does). The values are the strings strategies were declared with.
    """

    FROZEN_ONLY = "frozen_only"
    FREEZE_ALL = "all"
    UPDATE_ALL = "none"


def follows_batch_stats(bn: nn.Module, policy: BnPolicy) -> bool:
    """Whether BatchNorm ``bn`` normalises with batch statistics (and updates its running statistics) while a
    strategy with ``policy`` trains.

    Arguments:
        bn: a BatchNorm layer.
        policy: the strategy's policy.
    """
    if policy == BnPolicy.FREEZE_ALL:
        return False
    if policy == BnPolicy.UPDATE_ALL:
        return True
    return any(p.requires_grad for p in bn.parameters(recurse=False))


def batch_stat_layers(model: nn.Module, policy: BnPolicy) -> Iterator[tuple[str, nn.Module]]:
    """``(name, layer)`` of every BatchNorm of ``model`` that follows batch statistics under ``policy``, in module
    order.

    Arguments:
        model: the tuned model (its ``requires_grad`` flags set by the strategy).
        policy: the strategy's policy.
    """
    for name, m in model.named_modules():
        if is_batchnorm(m) and follows_batch_stats(m, policy):
            yield name, m
