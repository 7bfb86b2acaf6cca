"""Training: AdamW + cosine schedule, the paper's losses, validation F1 every epoch, best-by-val-F1 adapter,
bf16 autocast on CUDA, exact resume, CSV + TensorBoard log, DDP.

:class:`Trainer` runs one configuration; :func:`train` is the one public function for it. The loop is
``run()`` calling hooks — ``on_train_start`` (build, data-dependent init, resume), ``train_step`` (one
optimizer step), ``validation_step`` (the whole validation set), ``on_epoch_end`` (log, best adapter,
checkpoint), ``on_train_end`` (summary, last adapter) — as nnU-Net's trainer does; a variant overrides one
hook instead of copying the loop.

Reproducibility: every step re-seeds python / numpy / torch from ``(seed, epoch, step)`` and the epoch's
sample order is a permutation drawn from ``seed + epoch``, so the batches (and their augmentations) of a step do
not depend on what ran before it. A run interrupted at any point and resumed from its last checkpoint
therefore continues exactly as if it had not stopped (``tests/test_engine.py`` checks the weights are identical
on CPU). The files of the run folder are those of :class:`~sac.engine.run_dir.RunDir`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sac import faults
from sac.data import CrackDataset, samples_from
from sac.data.dataset import draw_aug_seeds
from sac.data.subset import seeded_subset
from sac.engine.checkpoint import load_train_state, save_train_state
from sac.engine.config import TrainConfig, dump_config
from sac.engine.run_dir import RunDir, RunSummary
from sac.engine.runtime import (
    autocast,
    compiled,
    dist_info,
    maybe_init_distributed,
    mean_over_ranks,
    merge_over_ranks,
    resolve_device,
    seed_everything,
)
from sac.files import atomic_write_text, output_dir, remove_temporaries
from sac.losses import build_loss
from sac.metrics import SegmentationMetrics
from sac.models import count_parameters, create_model
from sac.tuning import apply_strategy, save_adapter, train_mode

__all__ = ["DatasetCache", "StepBatches", "TrainState", "Trainer", "loader_workers", "build_datasets", "build_model", "cosine_lambda", "train", "validate"]


def _step_seed(seed: int, epoch: int, step: int) -> int:
    return (seed * 1_000_003 + epoch * 10_007 + step) % (2**31 - 1)


def _seed_step(seed: int, epoch: int, step: int) -> int:
    s = _step_seed(seed, epoch, step)
    random.seed(s)
    np.random.seed(s)
    torch.manual_seed(s)
    return s


def _epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    g = torch.Generator().manual_seed(seed * 7919 + epoch)
    return torch.randperm(n, generator=g).tolist()


def _collate(items: list[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items])


class StepBatches(torch.utils.data.Dataset):
    """Item ``k`` is this rank's collated batch of step ``k`` of one epoch: the samples ``order[k·G + r·B :][:B]``
    (``G`` the global batch, ``r`` the rank, ``B`` the batch size), augmented with the seeds the step's
    :func:`_seed_step` gives. A batch depends only on ``(seed, epoch, step, rank)``, so a ``DataLoader`` can
    build batches ahead in worker processes (pinned for the GPU) and they are the batches the loop would have
    built itself, bit for bit."""

    def __init__(self, ds: CrackDataset, order: list[int], seed: int, epoch: int, batch_size: int, rank: int,
                 world: int, steps: int):
        self.ds, self.order, self.seed, self.epoch = ds, order, seed, epoch
        self.bs, self.rank, self.world, self.steps = batch_size, rank, world, steps

    def __len__(self) -> int:
        return self.steps

    def indices(self, step: int) -> list[int]:
        """The samples of this rank's batch at ``step``."""
        start = step * self.bs * self.world + self.rank * self.bs
        return self.order[start: start + self.bs]

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.indices(step)
        seeds: list[int | None] = [None] * len(idx)
        if self.ds.augment:
            g = torch.Generator().manual_seed(_step_seed(self.seed, self.epoch, step))
            seeds = list(draw_aug_seeds(len(idx), g))
        return _collate([self.ds.item(i, aug_seed=a) for i, a in zip(idx, seeds, strict=True)])


def loader_workers(setting: int | None, device: torch.device, world: int = 1) -> int:
    """Batch-building worker processes: ``setting`` when given, else none on the CPU (its cores run the model)
    and on a GPU up to 8 per rank from this machine's cores (one left for the training process)."""
    if setting is not None:
        return max(0, int(setting))
    if device.type != "cuda":
        return 0
    return max(0, min(8, (os.cpu_count() or 1) // max(1, world) - 1))


def build_datasets(cfg: TrainConfig) -> tuple[CrackDataset, CrackDataset]:
    """Training and validation datasets of a config (decoded and resized once; ``limit_*``: seeded subsets)."""
    train_s = seeded_subset(samples_from(cfg.data.train), cfg.data.limit_train, cfg.seed)
    val_s = seeded_subset(samples_from(cfg.data.val), cfg.data.limit_val, cfg.seed)
    common = dict(size=cfg.data.size, mask_resize=cfg.data.mask_resize, cache_dir=cfg.data.cache_dir)
    return CrackDataset(train_s, augment=cfg.data.augment, **common), CrackDataset(val_s, augment=False, **common)


class DatasetCache:
    """The datasets of the last configuration asked for: the runs of a study that share their data settings
    (suites, searches) decode the photos once."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._value: tuple[CrackDataset, CrackDataset] | None = None

    def get(self, cfg: TrainConfig) -> tuple[CrackDataset, CrackDataset]:
        key = json.dumps(cfg.to_dict()["data"], sort_keys=True) + f"|{cfg.seed}"
        if key != self._key or self._value is None:
            self._key, self._value = None, None  # release the old decode before the new one
            self._value, self._key = build_datasets(cfg), key
        return self._value


def build_model(cfg: TrainConfig) -> nn.Module:
    """The config's model with its weights and strategy applied (not yet on a device)."""
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
def validate(model: nn.Module, dataset: CrackDataset, device: torch.device, amp: str = "auto", batch_size: int = 8,
             progress: bool = True) -> dict[str, float]:
    """Pooled metrics (threshold 0.5) of ``model`` on a resized dataset (the paper's 256 protocol); the
    model's train / eval state under its strategy is restored afterwards."""
    was = model.training
    model.eval()
    acc = SegmentationMetrics(fast=True)
    rank, world, _ = dist_info()
    idx = list(range(rank, len(dataset), world))
    bar = tqdm(range(0, len(idx), batch_size), desc="val", leave=False, disable=not progress or rank != 0)
    for b in bar:
        x, y = _collate([dataset[i] for i in idx[b: b + batch_size]])
        with autocast(device, amp):
            logits = model(x.to(device))
        acc.update_batch(torch.sigmoid(logits.float()).cpu().numpy()[:, 0], y.numpy()[:, 0] > 0.5)
        faults.point("train.validation")
    train_mode(model, was)
    return merge_over_ranks(acc).compute()


@dataclass
class TrainState:
    """Where a run is; saved in every checkpoint (its dict form is the checkpoint's ``state``)."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_f1: float = -1.0
    best_epoch: int = -1
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    running_loss: float = 0.0
    running_n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _csv_text(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


class Trainer:
    """One training run of a :class:`TrainConfig` (see the module docstring).

    Arguments:
        cfg: the validated configuration; ``cfg.out`` is the run folder.
        resume: continue from the run folder's checkpoint if it exists.
        progress: progress bars and one line per epoch on stderr.
        stop_after_steps: stop (as if interrupted, after a checkpoint) at this global step — for tests.
        datasets: pre-built ``(train, val)`` datasets (to share one decode between runs).
    """

    def __init__(self, cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
                 stop_after_steps: int | None = None, datasets: tuple | None = None):
        self.cfg, self.resume, self.progress = cfg, resume, progress
        self.stop_after_steps, self.datasets = stop_after_steps, datasets
        self.run_dir = RunDir(cfg.out)
        self.state = TrainState()
        self.stopped = False
        self.writer: Any = None

    # ------------------------------------------------------------------------------------ the loop
    def run(self) -> RunSummary:
        self.on_train_start()
        while self.state.epoch < self.cfg.optim.epochs and not self.stopped:
            self.on_epoch_start()
            while self.state.step_in_epoch < self.steps_per_epoch and not self.stopped:
                self.after_step(self.train_step(self.next_batch()))
            self.bar.close()
            self.batches = None  # the epoch's loader workers stop
            if not self.stopped:
                self.on_epoch_end()
        return self.on_train_end()

    # ----------------------------------------------------------------------------------- the hooks
    def on_train_start(self) -> None:
        """Run folder, data, model (+ data-dependent init), optimizer, schedule, resume, TensorBoard."""
        cfg = self.cfg
        maybe_init_distributed(cfg.device)
        self.rank, self.world, local_rank = dist_info()
        self.is_main = self.rank == 0
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device("cuda", local_rank)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.is_main:
            self._write_run_files()
        seed_everything(cfg.seed)
        self.train_ds, self.val_ds = self.datasets if self.datasets is not None else build_datasets(cfg)
        self.model = build_model(cfg).to(self.device)
        self._data_init()
        self._build_optimizer()
        if self.resume and self.is_main:  # a write the last process was killed in (the old file is intact)
            for folder in (self.run_dir.path, self.run_dir.checkpoint.parent):
                remove_temporaries(folder)
        if self.resume and self.run_dir.checkpoint.is_file():
            raw = load_train_state(self.run_dir.checkpoint, self.model, self.optimizer, self.scheduler)
            self.state = TrainState(**raw)
            if self.is_main and self.progress:
                print(f"resuming {self.run_dir.path} at epoch {self.state.epoch} step {self.state.step_in_epoch}",
                      file=sys.stderr)
        self.writer = self._tensorboard() if self.is_main else None

    def on_epoch_start(self) -> None:
        s = self.state
        self.order = _epoch_order(len(self.train_ds), self.cfg.seed, s.epoch)
        self.steps = StepBatches(self.train_ds, self.order, self.cfg.seed, s.epoch, self.cfg.optim.batch_size,
                                 self.rank, self.world, self.steps_per_epoch)
        workers = loader_workers(self.cfg.data.loader_workers, self.device, self.world)
        self.batches = iter(torch.utils.data.DataLoader(
            self.steps, batch_size=None, sampler=range(s.step_in_epoch, self.steps_per_epoch), num_workers=workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if workers else None))
        self.epoch_t0 = time.perf_counter()
        train_mode(self.ddp_model if self.world == 1 else self.model, True)
        self.bar = tqdm(total=self.steps_per_epoch, initial=s.step_in_epoch,
                        desc=f"epoch {s.epoch + 1}/{self.cfg.optim.epochs}",
                        disable=not self.progress or not self.is_main, leave=False)

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of this rank at the current step (:class:`StepBatches`, built ahead by the loader). The
        step's seeds are set here and the global generator advanced past the batch's augmentation seeds, as if
        the batch had been built in this process: the step's own randomness does not depend on the loader."""
        s = self.state
        _seed_step(self.cfg.seed, s.epoch, s.step_in_epoch)
        if self.train_ds.augment:
            draw_aug_seeds(len(self.steps.indices(s.step_in_epoch)))
        x, y = next(self.batches)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> float:
        """One optimizer step; returns the loss, averaged over ranks."""
        x, y = batch
        with autocast(self.device, self.cfg.amp):
            logits = self.forward(x)
        loss = self.loss_fn(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        faults.point("train.step")
        if self.cfg.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.trainable, self.cfg.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return mean_over_ranks(float(loss.detach()), self.device)

    def after_step(self, loss: float) -> None:
        """Bookkeeping after a step: running loss, progress, TensorBoard, periodic / stop checkpoints."""
        s = self.state
        s.running_loss += loss
        s.running_n += 1
        s.step_in_epoch += 1
        s.global_step += 1
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{s.running_loss / s.running_n:.4f}")
        if self.writer is not None:
            self.writer.add_scalar("train/loss", loss, s.global_step)
            self.writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], s.global_step)
        if self.stop_after_steps is not None and s.global_step >= self.stop_after_steps:
            self.stopped = True
            self.checkpoint()
        elif s.global_step % self.cfg.checkpoint_every_steps == 0:
            self.checkpoint()

    def validation_step(self) -> dict[str, float]:
        """Pooled validation metrics of the current model."""
        return validate(self.model, self.val_ds, self.device, self.cfg.amp,
                        batch_size=max(8, self.cfg.optim.batch_size), progress=self.progress)

    def on_epoch_end(self) -> None:
        """Validate (every ``val_every`` epochs and at the end), keep the best adapter, log, checkpoint."""
        s, cfg = self.state, self.cfg
        s.epoch_seconds.append(time.perf_counter() - self.epoch_t0)
        row: dict[str, Any] = {"epoch": s.epoch + 1, "step": s.global_step,
                               "train_loss": s.running_loss / max(1, s.running_n),
                               "lr": self.scheduler.get_last_lr()[0], "epoch_seconds": s.epoch_seconds[-1]}
        if (s.epoch + 1) % cfg.val_every == 0 or s.epoch + 1 == cfg.optim.epochs:
            m = self.validation_step()
            row.update({f"val_{k}": m[k] for k in ("precision", "recall", "f1", "iou")})
            if self.writer is not None:
                for k in ("precision", "recall", "f1", "iou"):
                    self.writer.add_scalar(f"val/{k}", m[k], s.epoch + 1)
            if m["f1"] > s.best_f1:
                s.best_f1, s.best_epoch = float(m["f1"]), s.epoch + 1
                if self.is_main:
                    save_adapter(self.model, self.run_dir.adapter_best, config=cfg.to_dict(),
                                 metrics={"epoch": s.epoch + 1, **{f"val_{k}": float(v) for k, v in m.items()}})
        s.history.append(row)
        if self.is_main:
            atomic_write_text(self.run_dir.metrics_csv, _csv_text(s.history))
            if self.progress:
                tqdm.write(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        s.epoch, s.step_in_epoch, s.running_loss, s.running_n = s.epoch + 1, 0, 0.0, 0
        self.checkpoint()

    def on_train_end(self) -> RunSummary:
        """The run's summary; for a completed run also the last adapter (and a best one if none was validated)."""
        if self.writer is not None:
            self.writer.close()
        s, cfg = self.state, self.cfg
        counts = count_parameters(self.model)
        summary = RunSummary(
            model=cfg.model, strategy=cfg.strategy, weights=cfg.weights, total_params=counts["total"],
            trainable_params=counts["trainable"], norm_params=counts["norm"], epochs_done=s.epoch,
            global_step=s.global_step, best_val_f1=s.best_f1, best_epoch=s.best_epoch,
            seconds_per_epoch=float(np.mean(s.epoch_seconds)) if s.epoch_seconds else None,
            train_images=len(self.train_ds), val_images=len(self.val_ds), device=str(self.device),
            world_size=self.world, completed=not self.stopped and s.epoch >= cfg.optim.epochs, history=s.history)
        if self.is_main and summary.completed:
            save_adapter(self.model, self.run_dir.adapter_last, config=cfg.to_dict(),
                         metrics={"epoch": s.epoch, **(s.history[-1] if s.history else {})})
            if not self.run_dir.adapter_best.exists():  # no validation ran
                save_adapter(self.model, self.run_dir.adapter_best, config=cfg.to_dict(), metrics={})
            self.run_dir.write_summary(summary)
        return summary

    # ----------------------------------------------------------------------------------- helpers
    def checkpoint(self) -> None:
        if self.is_main:
            save_train_state(self.run_dir.checkpoint, self.model, self.optimizer, self.scheduler,
                             self.state.to_dict())

    def _write_run_files(self) -> None:
        output_dir(self.run_dir.path)
        atomic_write_text(self.run_dir.config, dump_config(self.cfg))
        with open(self.run_dir.command, "a") as f:
            f.write(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) + (" # resume" if self.resume else "")
                    + "\n")

    def _data_init(self, n: int = 16) -> None:
        """The model's data-dependent initialisation (``SegmentationModel.data_init``) on ``n`` seeded training
        images, with the model in the strategy's training mode. Also run on resume (same images, so the same
        names), where the checkpoint then restores the tensors; under DDP, rank 0's values are broadcast when
        the model is wrapped."""
        init = getattr(self.model, "data_init", None)
        if init is None or len(self.train_ds) == 0:
            return
        train_mode(self.model, True)  # the model sees which BatchNorms will follow batch statistics
        _seed_step(self.cfg.seed, -1, 0)
        x, _ = _collate([self.train_ds[i] for i in _epoch_order(len(self.train_ds), self.cfg.seed, -1)[:n]])
        names = init(x.to(self.device))
        if names:
            self.model.origin.data_init = list(names)

    def _build_optimizer(self) -> None:
        cfg = self.cfg
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not self.trainable:
            raise ValueError(f"strategy {cfg.strategy!r} leaves nothing to train")
        self.ddp_model: nn.Module = self.model
        if self.world > 1:
            self.ddp_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.forward = compiled(self.ddp_model, bool(cfg.compile))
        self.loss_fn = build_loss(cfg.loss)
        # only the trainable parameters; one fused kernel for all of them on GPUs (same update, same state dict)
        self.optimizer = torch.optim.AdamW(self.trainable, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay,
                                           fused=self.device.type == "cuda")
        self.global_batch = cfg.optim.batch_size * self.world
        self.steps_per_epoch = max(1, len(self.train_ds) // self.global_batch)  # drop the last incomplete batch
        total = self.steps_per_epoch * cfg.optim.epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, cosine_lambda(total, cfg.optim.warmup_steps))

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import (
                SummaryWriter,  # optional at run time: tensorboard may be absent
            )
        except ImportError:
            return None
        return SummaryWriter(str(self.run_dir.tensorboard))


def train(cfg: TrainConfig, *, resume: bool = False, progress: bool = True,
          stop_after_steps: int | None = None, datasets: tuple | None = None) -> dict[str, Any]:
    """Train ``cfg.model`` with ``cfg.strategy`` into ``cfg.out``; returns the run summary as a dict (also in
    ``summary.json``). Arguments: see :class:`Trainer`."""
    return Trainer(cfg, resume=resume, progress=progress, stop_after_steps=stop_after_steps,
                   datasets=datasets).run().to_dict()
