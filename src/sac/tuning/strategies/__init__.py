"""The built-in strategies, registered when this package is imported (by :mod:`sac.tuning`):
:mod:`~sac.tuning.strategies.lora` (the SAM LoRA variants), :mod:`~sac.tuning.strategies.cracksam` and
:mod:`~sac.tuning.strategies.basic` (none / full / decoder / norm / norm_frozen_stats).

The import order is the registration order, which is the order of ``list_strategies()`` (and of the rows of
``sac models``), hence the isort splits.
"""

from sac.tuning.strategies import lora

# isort: split
from sac.tuning.strategies import cracksam

# isort: split
from sac.tuning.strategies import basic

__all__ = ["basic", "cracksam", "lora"]
