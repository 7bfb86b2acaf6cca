"""Resumable training state as a safetensors file (tensors) with JSON metadata (everything else).

Holds: the trainable state of the model (the adapter tensors — the frozen rest is rebuilt from the
base), the optimizer state, the LR scheduler state, the position (epoch, step within the epoch, global
step), the best validation score and the history. Written atomically, so an interrupted write never
leaves a broken checkpoint; loading is plain safetensors (no pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from sac import faults
from sac.errors import SACError
from sac.files import atomic_path
from sac.tuning.adapter import adapter_state

FORMAT = "sac-train-state/1"


def save_train_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: Any, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    for k, v in adapter_state(model).items():
        tensors[f"model/{k}"] = v.detach().cpu().contiguous().clone()
    opt = optimizer.state_dict()
    opt_meta: dict[str, dict[str, Any]] = {}
    for pid, pstate in opt["state"].items():
        opt_meta[str(pid)] = {}
        for k, v in pstate.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim/{pid}/{k}"] = v.detach().cpu().contiguous().clone()
            else:
                opt_meta[str(pid)][k] = v
    meta = {
        "format": FORMAT,
        "param_groups": json.dumps(opt["param_groups"]),
        "optim_scalars": json.dumps(opt_meta),
        "scheduler": json.dumps(scheduler.state_dict() if scheduler is not None else None),
        "state": json.dumps(state),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
        faults.point("checkpoint.write")


def load_train_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: Any) -> dict[str, Any]:
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types
        raise SACError(path, f"cannot read training checkpoint ({e})") from None
    if meta.get("format") != FORMAT:
        raise SACError(path, "not a SAC training checkpoint")
    own = model.state_dict()
    model_t = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    missing = [k for k in model_t if k not in own]
    if missing:
        raise SACError(path, f"checkpoint does not fit the model ({len(missing)} unknown tensors, e.g. {missing[:2]})")
    with torch.no_grad():
        for k, v in model_t.items():
            own[k].copy_(v)
    opt_state: dict[int, dict[str, Any]] = {}
    for pid, scalars in json.loads(meta["optim_scalars"]).items():
        opt_state[int(pid)] = dict(scalars)
    for k, v in tensors.items():
        if k.startswith("optim/"):
            _, pid, name = k.split("/", 2)
            opt_state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": opt_state, "param_groups": json.loads(meta["param_groups"])})
    sched = json.loads(meta["scheduler"])
    if scheduler is not None and sched is not None:
        scheduler.load_state_dict(sched)
    return json.loads(meta["state"])
