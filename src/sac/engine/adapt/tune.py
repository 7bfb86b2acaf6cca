"""The model side of an adaptation: a trainable copy of the starting model, the few-shot training loop, and
predictions exactly as ``sac predict`` makes them."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import torch
from safetensors import safe_open
from torch import nn
from tqdm.auto import tqdm

from sac.engine.adapt.photos import Photo, Views
from sac.engine.adapt.recipe import Recipe
from sac.engine.inference import predict_probability
from sac.engine.predict import choose_mode
from sac.engine.runtime import autocast, seed_everything
from sac.engine.trainer import cosine_lambda
from sac.errors import StrategyError
from sac.losses import build_loss
from sac.tuning import apply_strategy, train_mode


def _carried(model: nn.Module) -> list[str]:
    """Names of the tensors an adapter model carries from its file (they differ from the rebuilt base)."""
    meta = model.origin.adapter
    if not meta or not meta.get("path"):
        return list(model.origin.data_init)
    with safe_open(meta["path"], framework="pt") as f:
        return sorted(f.keys())


def file_dtype(model: nn.Module) -> torch.dtype | None:
    """float16 when the starting adapter file stores its floating tensors in float16 (the result keeps it)."""
    meta = model.origin.adapter
    if not meta or not meta.get("path"):
        return None
    with safe_open(meta["path"], framework="pt") as f:
        for k in f.keys():
            t = f.get_slice(k)
            if t.get_dtype() in ("F16", "F32", "BF16"):
                return torch.float16 if t.get_dtype() == "F16" else None
    return None


def prepare(base: nn.Module, strategy: str) -> nn.Module:
    """A trainable copy of ``base`` for ``strategy``. A base loaded from an adapter keeps every tensor of that
    adapter (they are saved again with the new ones, so the result is one file on the same base). Injecting
    strategies (LoRA, CrackSAM) cannot be stacked on another strategy."""
    model = copy.deepcopy(base)
    carried = _carried(base)
    have = base.origin.strategy or "none"
    injected = any(".lora_" in n or ".adapter." in n for n in carried) or have.startswith(("lora_", "cracksam"))
    if have != strategy:
        if injected:
            raise StrategyError(base.origin.name or "model",
                                f"the starting model was tuned with {have!r}, which adds modules; adapt it with "
                                f"--strategy {have}, or start from the base model")
        for p in model.parameters():
            p.requires_grad_(False)
        model = apply_strategy(model, strategy)
    if carried:
        model.origin.data_init = sorted(set(carried) | set(model.origin.data_init))
    return model


def tune(model: nn.Module, photos: list[Photo], strategy: str, recipe: Recipe, *, seed: int = 0,
         device: torch.device | None = None, progress: bool | str = True,
         on_step: Callable[[int, float], None] | None = None) -> nn.Module:
    """Run the few-shot recipe on ``model`` (from :func:`prepare`) in place; returns it."""
    dev = device or torch.device("cpu")
    seed_everything(seed)
    views = Views(photos, recipe, seed)
    model.to(dev)
    train_mode(model, True)
    if not model.origin.adapter and hasattr(model, "data_init"):  # a fresh registry model
        x, _ = views.batch(16)
        names = model.data_init(x.to(dev))
        if names:
            model.origin.data_init = sorted(set(names) | set(model.origin.data_init))
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise StrategyError(model.origin.name or "model", f"strategy {strategy!r} leaves nothing to train")
    opt = torch.optim.AdamW(trainable, lr=recipe.lr_for(strategy), weight_decay=recipe.weight_decay,
                            fused=dev.type == "cuda")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_lambda(recipe.steps, recipe.warmup_steps))
    loss_fn = build_loss(recipe.loss)
    desc = progress if isinstance(progress, str) else "adapt"
    bar = tqdm(range(recipe.steps), desc=desc, disable=not progress, leave=False)
    for step in bar:
        x, y = views.batch(recipe.batch_size)
        x, y = x.to(dev), y.to(dev)
        with autocast(dev):
            logits = model(x)
        loss = loss_fn(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = float(loss.detach())
        bar.set_postfix(loss=f"{value:.3f}")
        if on_step is not None:
            on_step(step, value)
    model.eval()
    return model


def predict_photos(model: nn.Module, photos: list[Photo], device: torch.device, recipe: Recipe) -> list[np.ndarray]:
    """Probability maps at native resolution, exactly as ``sac predict`` makes them (``--mode auto``)."""
    out = []
    for p in photos:
        mode = choose_mode("auto", p.image.shape, recipe.size)
        out.append(predict_probability(model, p.image, mode=mode, tile=recipe.size, device=str(device),
                                       progress=False))
    return out


