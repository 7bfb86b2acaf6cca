"""Training on several devices: two CPU processes (gloo backend, as torchrun would start them) train one
model with DistributedDataParallel: each rank takes its share of every global batch and rank 0 alone writes
the run (config, metrics, checkpoints, adapters)."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from sac.engine import load_config, train

TINY = {
    "model": "unet_effnet_lite0", "weights": "default", "strategy": "decoder", "loss": "bce+dice:0.65",
    "optim.epochs": 1, "optim.batch_size": 2, "optim.lr": 1e-3,
    "data.train": "shared:CFD@train", "data.val": "shared:CFD@val", "data.size": 64,
    "data.limit_train": 8, "data.limit_val": 4, "checkpoint_every_steps": 1000, "device": "cpu", "threads": 1,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, overrides: dict, result_dir: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)})
    import torch.distributed as dist

    summary = train(load_config(None, overrides), progress=False)
    with open(os.path.join(result_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"summary": {k: summary[k] for k in ("global_step", "world_size", "completed")}}, f)
    dist.barrier()
    dist.destroy_process_group()


def test_two_process_ddp_training(tmp_path, data_root):
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available in this build")
    out = tmp_path / "run"
    overrides = {**TINY, "out": str(out)}
    mp.spawn(_worker, args=(2, _free_port(), overrides, str(tmp_path)), nprocs=2, join=True)
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    # 8 images, 2 per rank per step, 2 ranks: 2 steps per epoch (the global batch is 4)
    assert r0["summary"] == r1["summary"] == {"global_step": 2, "world_size": 2, "completed": True}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["train_images"] == 8
    assert (out / "adapter_best.safetensors").is_file() and (out / "metrics.csv").is_file()
    assert load_file(str(out / "adapter_best.safetensors"))  # a loadable adapter with the trained tensors
    # only rank 0 writes: one metrics row, one command line
    assert len((out / "metrics.csv").read_text().splitlines()) == 2
