"""Training loop: AdamW + cosine schedule, the paper's losses, validation F1 every epoch,
best-by-val-F1 adapter, bf16 autocast on CUDA, exact resume, CSV + TensorBoard log, DDP.

Reproducibility: every step re-seeds python / numpy / torch from ``(seed, epoch, step)`` and the
epoch's sample order is a permutation drawn from ``seed + epoch``, so the batches (and their
augmentations) of a step do not depend on what ran before it. A run interrupted at any point and
resumed from its last checkpoint therefore continues exactly as if it had not stopped
(``tests/test_engine.py`` checks the weights are identical on CPU).

Run folder layout (``cfg.out``)::

    config.yaml          resolved configuration
    command.txt          the command line that started (or resumed) the run
    metrics.csv          one row per validation (epoch, step, train loss, val P/R/F1/IoU, lr, seconds)
    tb/                  TensorBoard events
    checkpoints/last.safetensors   resumable state (atomic)
    adapter_best.safetensors       adapter with the best validation F1
    adapter_last.safetensors       adapter at the end of training
    summary.json         parameter counts, best epoch/F1, time per epoch
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from sac.engine.checkpoint import load_train_state, save_train_state
from sac.engine.config import TrainConfig, dump_config
from sac.engine.runtime import autocast, resolve_device
from sac.files import atomic_write_json, atomic_write_text


def _seed_step(seed: int, epoch: int, step: int) -> int:
    s = (seed * 1_000_003 + epoch * 10_007 + step) % (2**31 - 1)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    return s


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 7919 + epoch)
    return torch.randperm(n, generator=g).tolist()


def _collate(items: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items])


def _dist_info() -> tuple[int, int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def _maybe_init_distributed(device_pref: str) -> None:
    """Initialise torch.distributed when launched by torchrun (``WORLD_SIZE`` > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and device_pref != "cpu" else "gloo"
        dist.init_process_group(backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))


def _subset(samples: list, limit: int | None, seed: int) -> list:
    """A seeded random subset of ``limit`` samples (keeping the datasets' mix), in the original order."""
    if not limit or limit >= len(samples):
        return samples
    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    return [s for i, s in enumerate(samples) if i in keep]


def build_datasets(cfg: TrainConfig):
    """Training and validation datasets of a config (decoded and resized once)."""
    from sac.data import CrackDataset, samples_from

    train_s = samples_from(cfg.data.train)
    val_s = samples_from(cfg.data.val)
    train_s = _subset(train_s, cfg.data.limit_train, cfg.seed)
    val_s = _subset(val_s, cfg.data.limit_val, cfg.seed)
    common = dict(size=cfg.data.size, mask_resize=cfg.data.mask_resize, cache_dir=cfg.data.cache_dir)
    train_ds = CrackDataset(train_s, augment=cfg.data.augment, **common)
    val_ds = CrackDataset(val_s, augment=False, **common)
    return train_ds, val_ds


def _data_init(model: nn.Module, train_ds, cfg: TrainConfig, device: torch.device, n: int = 16) -> None:
    """The model's data-dependent initialisation (``SegmentationModel.data_init``) on ``n`` seeded training
    images, with the model in the strategy's training mode. Also run on resume (same images, so the same names), where the checkpoint then restores the
    tensors; under DDP, rank 0's values are broadcast when the model is wrapped."""
    init = getattr(model, "data_init", None)
    if init is None or len(train_ds) == 0:
        return
    from sac.tuning import train_mode

    train_mode(model, True)  # the model sees which BatchNorms will follow batch statistics under its strategy
    _seed_step(cfg.seed, -1, 0)
    idx = _epoch_order(len(train_ds), cfg.seed, -1)[:n]
    x, _ = _collate([train_ds[i] for i in idx])
    names = init(x.to(device))
    if names:
        model.sac_data_init = list(names)


def build_model(cfg: TrainConfig) -> nn.Module:
    from sac.models import create_model
    from sac.tuning import apply_strategy

    model = create_model(cfg.model, weights=cfg.weights, init_seed=cfg.init_seed, **cfg.model_kwargs)
    return apply_strategy(model, cfg.strategy)


def cosine_lambda(total_steps: int, warmup_steps: int = 0) -> Callable[[int], float]:
    """LR factor: linear warm-up, then cosine from 1 to 0 over the remaining steps (per optimizer step)."""

    def f(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    return f


@torch.no_grad()
def validate(model: nn.Module, dataset, device: torch.device, amp: str = "auto", batch_size: int = 8,
             progress: bool = True) -> dict[str, float]:
    """Pooled metrics (threshold 0.5) of ``model`` on a resized dataset (the paper's 256 protocol)."""
    from sac.metrics import SegmentationMetrics

    was = model.training
    model.eval()
    acc = SegmentationMetrics(fast=True)
    rank, world, _ = _dist_info()
    idx = list(range(rank, len(dataset), world))
    bar = tqdm(range(0, len(idx), batch_size), desc="val", leave=False, disable=not progress or rank != 0)
    for b in bar:
        x, y = _collate([dataset[i] for i in idx[b: b + batch_size]])
        with autocast(device, amp):
            logits = model(x.to(device))
        prob = torch.sigmoid(logits.float()).cpu().numpy()[:, 0]
        acc.update_batch(prob, y.numpy()[:, 0] > 0.5)
    if world > 1:
        acc = _all_gather_metrics(acc)
    model.train(was)
    return acc.compute()


def _all_gather_metrics(acc):
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, acc.state_dict())
    out = type(acc).from_state(gathered[0])
    for s in gathered[1:]:
        out.merge(type(acc).from_state(s))
    return out


def _write_metrics_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          stop_after_steps: int | None = None, datasets: tuple | None = None) -> dict[str, Any]:
    """Train ``cfg.model`` with ``cfg.strategy``; returns the run summary (also in ``summary.json``).

    Arguments:
        resume: continue from ``<out>/checkpoints/last.safetensors`` if it exists.
        stop_after_steps: stop (as if interrupted) after this many global steps — for tests.
        datasets: pre-built ``(train, val)`` datasets (to share one decode between runs).
    """
    from sac.engine.runtime import seed_everything
    from sac.losses import build_loss
    from sac.models import count_parameters
    from sac.tuning import save_adapter, train_mode

    _maybe_init_distributed(cfg.device)
    rank, world, local_rank = _dist_info()
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    ckpt = out / "checkpoints" / "last.safetensors"
    is_main = rank == 0
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", dump_config(cfg))
        with open(out / "command.txt", "a") as f:
            f.write(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) + (" # resume" if resume else "") + "\n")

    seed_everything(cfg.seed)
    train_ds, val_ds = datasets if datasets is not None else build_datasets(cfg)
    model = build_model(cfg).to(device)
    _data_init(model, train_ds, cfg, device)
    counts = count_parameters(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"strategy {cfg.strategy!r} leaves nothing to train")
    ddp_model: nn.Module = model
    if world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    loss_fn = build_loss(cfg.loss)
    optimizer = torch.optim.AdamW(trainable, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    global_batch = cfg.optim.batch_size * world
    steps_per_epoch = max(1, len(train_ds) // global_batch)  # drop the last incomplete batch
    total_steps = steps_per_epoch * cfg.optim.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(total_steps, cfg.optim.warmup_steps))

    state: dict[str, Any] = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_f1": -1.0,
                             "best_epoch": -1, "history": [], "epoch_seconds": [], "running_loss": 0.0,
                             "running_n": 0}
    if resume and ckpt.is_file():
        state = load_train_state(ckpt, model, optimizer, scheduler)
        if is_main and progress:
            print(f"resuming {out} at epoch {state['epoch']} step {state['step_in_epoch']}", file=sys.stderr)

    writer = None
    if is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"))
        except ImportError:  # tensorboard is optional at run time
            writer = None

    def checkpoint() -> None:
        if is_main:
            save_train_state(ckpt, model, optimizer, scheduler, state)

    n_train = len(train_ds)
    stopped = False
    while state["epoch"] < cfg.optim.epochs and not stopped:
        epoch = state["epoch"]
        order = _epoch_order(n_train, cfg.seed, epoch)
        t0 = time.perf_counter()
        train_mode(ddp_model if world == 1 else model, True)
        bar = tqdm(total=steps_per_epoch, initial=state["step_in_epoch"], desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                   disable=not progress or not is_main, leave=False)
        while state["step_in_epoch"] < steps_per_epoch:
            step = state["step_in_epoch"]
            _seed_step(cfg.seed, epoch, step)
            start = step * global_batch + rank * cfg.optim.batch_size
            batch_idx = order[start: start + cfg.optim.batch_size]
            x, y = _collate([train_ds[i] for i in batch_idx])
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, cfg.amp):
                logits = ddp_model(x)
            loss = loss_fn(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.grad_clip:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.optim.grad_clip)
            optimizer.step()
            scheduler.step()
            loss_v = float(loss.detach())
            if world > 1:
                t = torch.tensor([loss_v], device=device)
                dist.all_reduce(t)
                loss_v = float(t) / world
            state["running_loss"] += loss_v
            state["running_n"] += 1
            state["step_in_epoch"] += 1
            state["global_step"] += 1
            bar.update(1)
            bar.set_postfix(loss=f"{state['running_loss'] / state['running_n']:.4f}")
            if writer is not None:
                writer.add_scalar("train/loss", loss_v, state["global_step"])
                writer.add_scalar("train/lr", scheduler.get_last_lr()[0], state["global_step"])
            if stop_after_steps is not None and state["global_step"] >= stop_after_steps:
                stopped = True
                checkpoint()
                break
            if state["global_step"] % cfg.checkpoint_every_steps == 0:
                checkpoint()
        bar.close()
        if stopped:
            break
        state["epoch_seconds"].append(time.perf_counter() - t0)
        row: dict[str, Any] = {"epoch": epoch + 1, "step": state["global_step"],
                               "train_loss": state["running_loss"] / max(1, state["running_n"]),
                               "lr": scheduler.get_last_lr()[0], "epoch_seconds": state["epoch_seconds"][-1]}
        if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.optim.epochs:
            m = validate(model, val_ds, device, cfg.amp, batch_size=max(8, cfg.optim.batch_size), progress=progress)
            row.update({f"val_{k}": m[k] for k in ("precision", "recall", "f1", "iou")})
            if writer is not None:
                for k in ("precision", "recall", "f1", "iou"):
                    writer.add_scalar(f"val/{k}", m[k], epoch + 1)
            if m["f1"] > state["best_f1"]:
                state["best_f1"], state["best_epoch"] = float(m["f1"]), epoch + 1
                if is_main:
                    save_adapter(model, out / "adapter_best.safetensors", config=cfg.to_dict(),
                                 metrics={"epoch": epoch + 1, **{f"val_{k}": float(v) for k, v in m.items()}})
        state["history"].append(row)
        if is_main:
            _write_metrics_csv(out / "metrics.csv", state["history"])
            if progress:
                msg = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
                tqdm.write(msg)
        state.update(epoch=epoch + 1, step_in_epoch=0, running_loss=0.0, running_n=0)
        checkpoint()

    if writer is not None:
        writer.close()
    summary = {
        "model": cfg.model, "strategy": cfg.strategy, "weights": cfg.weights,
        "total_params": counts["total"], "trainable_params": counts["trainable"], "norm_params": counts["norm"],
        "epochs_done": state["epoch"], "global_step": state["global_step"], "best_val_f1": state["best_f1"],
        "best_epoch": state["best_epoch"],
        "seconds_per_epoch": float(np.mean(state["epoch_seconds"])) if state["epoch_seconds"] else None,
        "train_images": n_train, "val_images": len(val_ds), "device": str(device), "world_size": world,
        "completed": not stopped and state["epoch"] >= cfg.optim.epochs, "history": state["history"],
    }
    if is_main and summary["completed"]:
        save_adapter(model, out / "adapter_last.safetensors", config=cfg.to_dict(),
                     metrics={"epoch": state["epoch"], **(state["history"][-1] if state["history"] else {})})
        if not (out / "adapter_best.safetensors").exists():  # no validation ran
            save_adapter(model, out / "adapter_best.safetensors", config=cfg.to_dict(), metrics={})
        atomic_write_json(out / "summary.json", summary)
    return summary
