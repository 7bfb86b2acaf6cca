"""What the strategies that inject modules (LoRA, adapters) share.

They apply to models that expose ``lora_targets(kind, last_n) -> list[str]`` (dotted submodule paths;
:class:`sac.models.sam.SamSegmenter`). Modules are injected by the strategy function itself, so
:func:`sac.tuning.load_adapter` (create_model → apply_strategy → load tensors) rebuilds them.
Injection draws its random initial values from a private torch RNG seeded from the model's
``init_seed`` and the strategy name (:func:`injection_rng`), so it is deterministic and leaves the global RNG
untouched.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Iterator

import torch
from torch import nn

from sac.errors import StrategyError
from sac.models import SegmentationModel


@contextlib.contextmanager
def injection_rng(model: SegmentationModel, strategy: str) -> Iterator[None]:
    """A private torch RNG for the random initial values of injected modules."""
    seed = int(model.origin.base.get("init_seed", 0))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((seed * 1_000_003 + zlib.crc32(strategy.encode())) % (2**63))
        yield


def set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    """Replace the submodule at dotted ``path`` by ``module``."""
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def plain_linear(model: SegmentationModel, path: str, strategy: str) -> nn.Linear:
    """The ``nn.Linear`` at ``path``; a StrategyError when it is something else (e.g. already injected)."""
    m = model.get_submodule(path)
    if type(m) is not nn.Linear:
        raise StrategyError(model.origin.name or type(model).__name__,
                            f"strategy {strategy!r}: {path} is a {type(m).__name__}, not a plain Linear "
                            "(was a strategy already applied to this model?)")
    return m


def targets_check(*kinds: str, last_n: int | None = None, decoder: bool = False
                  ) -> Callable[[SegmentationModel], str | None]:
    """A strategy ``check``: the model has ``lora_targets`` of these kinds (in its last ``last_n`` blocks) and, with
    ``decoder``, a decoder part."""
    def check(model: SegmentationModel) -> str | None:
        if not callable(getattr(model, "lora_targets", None)):
            return ("the model exposes no transformer blocks for LoRA/adapters (lora_targets); these strategies "
                    "are for SAM (sam_vit_t/b/l/h)")
        for kind in kinds:
            try:
                model.lora_targets(kind, last_n)
            except ValueError as e:
                return str(e)
        if decoder and not model.decoder_names:
            return "the model does not name a decoder part"
        return None

    return check
