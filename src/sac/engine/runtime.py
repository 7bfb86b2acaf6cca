"""The machine a loop runs on: device, autocast, seeding, torch.distributed."""

from __future__ import annotations

import contextlib
import functools
import os
import random
import sys
from collections.abc import Callable
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


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AMX tiles or AVX-512 BF16). There bf16 convolutions and matrix
    products run about twice as fast as float32; elsewhere oneDNN emulates bf16 and it is no faster."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - a torch without these probes
        return False


def autocast(device: torch.device, amp: str | bool | None = "auto", *,
             cpu_auto: bool = False) -> contextlib.AbstractContextManager:
    """The one autocast of training, evaluation and inference.

    ``amp`` "auto" / True / None: bf16 on CUDA; on the CPU float32, unless ``cpu_auto`` (inference: ``sac predict``,
    the web page) and the CPU has native bf16 (:func:`cpu_has_native_bf16`). "bf16": bf16 on CUDA and CPU alike.
    "off" / False: float32 everywhere (then CPU and GPU agree to float32 tolerance)."""
    if amp in ("off", False):
        return contextlib.nullcontext()
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if device.type == "cpu" and (amp == "bf16" or (cpu_auto and cpu_has_native_bf16())):
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compiled(model: torch.nn.Module, enabled: bool = True) -> Callable[..., Any]:
    """``model``'s forward through ``torch.compile`` (inductor), falling back to eager where it cannot run.

    Compilation is lazy (it happens at the first call), and on a machine without a C++ compiler, or for an
    operation the compiler does not support, it fails there: the first failure prints one line naming the
    reason and every later call runs the eager model (the same module: parameters, state dict and adapters are
    shared, nothing to convert back). A genuine error of the model itself is raised again by the eager call.
    ``enabled=False`` returns the model."""
    if not enabled:
        return model
    state: dict[str, Any] = {"fn": None}
    try:
        state["fn"] = torch.compile(model)
    except Exception as e:  # noqa: BLE001 - e.g. a Python version torch.compile does not support
        print(f"torch.compile unavailable ({type(e).__name__}: {e}); running eager", file=sys.stderr)
        return model

    def call(*args: Any, **kwargs: Any) -> Any:
        fn = state["fn"]
        if fn is None:
            return model(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - the compiler's failure; eager below re-raises the model's own
            state["fn"] = None
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
            print(f"torch.compile failed ({type(e).__name__}: {first}); running eager", file=sys.stderr)
            return model(*args, **kwargs)

    call.compiled = True  # type: ignore[attr-defined]
    call.eager = lambda: state["fn"] is None  # type: ignore[attr-defined]
    return call


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
