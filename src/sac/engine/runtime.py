"""The machine a loop runs on: device, autocast, seeding, torch.distributed."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from sac.errors import ConfigError


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", f"{device!r} requested but CUDA is not available")
    return dev


def autocast(device: torch.device, amp: str | bool | None = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (``amp`` "auto" / "bf16" / True / None), nothing on the CPU or with ``amp`` "off" /
    False. The one autocast of training, evaluation and inference."""
    if device.type == "cuda" and amp not in ("off", False):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


# ------------------------------------------------------------------------------------ distributed
def dist_info() -> tuple[int, int, int]:
    """``(rank, world size, local rank)``; ``(0, 1, 0)`` outside ``torchrun``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def maybe_init_distributed(device_pref: str) -> None:
    """Initialise torch.distributed when launched by torchrun (``WORLD_SIZE`` > 1): NCCL on GPUs, gloo on CPUs."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device_pref != "cpu" else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))


def mean_over_ranks(value: float, device: torch.device) -> float:
    """The mean of a float over every rank (the value itself in one process)."""
    world = dist_info()[1]
    if world == 1:
        return value
    t = torch.tensor([value], device=device)
    dist.all_reduce(t)
    return float(t) / world


def merge_over_ranks(acc: Any) -> Any:
    """A metrics accumulator (``state_dict`` / ``from_state`` / ``merge``) summed over every rank."""
    if dist_info()[1] == 1:
        return acc
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, acc.state_dict())
    out = type(acc).from_state(gathered[0])
    for s in gathered[1:]:
        out.merge(type(acc).from_state(s))
    return out
