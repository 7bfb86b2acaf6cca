"""The machine a loop runs on: device, autocast, seeding."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from sac.errors import ConfigError


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", f"{device!r} requested but CUDA is not available")
    return dev


def autocast(device: torch.device, amp: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (``amp`` auto/bf16), nothing on CPU or with ``amp="off"``."""
    if device.type == "cuda" and amp in {"auto", "bf16"}:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
