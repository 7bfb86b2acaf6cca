"""``sac adapt``: the public functions (see :mod:`sac.engine.adapt`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from sac.engine.adapt.photos import Photo, check_enough_crack, load_photos
from sac.engine.adapt.recipe import CV_FOLDS, AdaptResult, Recipe
from sac.engine.adapt.scores import cross_validated, make_folds, score_at
from sac.engine.adapt.tune import file_dtype, predict_photos, prepare, tune
from sac.engine.loading import describe_model, model_threshold
from sac.engine.runtime import resolve_device
from sac.errors import ConfigError
from sac.models import SegmentationModel, count_parameters
from sac.tuning import save_adapter


def adapt(base: SegmentationModel, folder: str | Path, out: str | Path | None, *, strategy: str = "norm",
          recipe: Recipe | None = None, folds: int = CV_FOLDS, seed: int = 0, device: str = "auto",
          progress: bool = True, log: Callable[[str], None] | None = None) -> AdaptResult:
    """Adapt ``base`` to the labelled photos in ``folder`` and write the adapter to ``out`` (``None``: only
    measure). See the module docstring for the steps."""
    (recipe or Recipe()).lr_for(strategy)  # unknown strategy: fail before reading anything
    return adapt_photos(base, load_photos(folder, progress=False), out, strategy=strategy, recipe=recipe,
                        folds=folds, seed=seed, device=device, progress=progress, log=log, folder=str(folder))


class _Progress:
    """One bar over every optimizer step of every tuning round."""

    def __init__(self, total: int, show: bool):
        self.bar = tqdm(total=total, desc="adapt", disable=not show, unit="step")

    def step(self, _s: int, loss: float) -> None:
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.3f}")


def _cross_validate(base: SegmentationModel, photos: list[Photo], strategy: str, recipe: Recipe, n_folds: int,
                    seed: int, dev: torch.device, on_step: Callable[[int, float], None]
                    ) -> tuple[float, dict[str, float]]:
    """Tune on all folds but one, predict the held-out photos; the threshold and nested score of those."""
    fold_ids = make_folds(len(photos), n_folds, seed)
    held: list[np.ndarray | None] = [None] * len(photos)
    for k, f in enumerate(fold_ids):
        train_p = [photos[i] for i in range(len(photos)) if i not in f]
        m = tune(prepare(base, strategy), train_p, strategy, recipe, seed=seed + 1 + k, device=dev,
                 progress=False, on_step=on_step)
        for i, prob in zip(f, predict_photos(m, [photos[i] for i in f], dev, recipe), strict=True):
            held[i] = prob
        del m
    return cross_validated(held, [p.mask for p in photos], fold_ids)  # type: ignore[arg-type]


def _write(final: SegmentationModel, base: SegmentationModel, out: str | Path, strategy: str, recipe: Recipe,
           photos: list[Photo], seed: int, folder: str, metrics: dict[str, Any], threshold: float,
           source: str) -> tuple[Path, int]:
    """The adapter on the starting model's base (atomically), with the recipe, photos and scores."""
    path = Path(out)
    if path.suffix != ".safetensors":
        raise ConfigError(path, "the adapter file must end in .safetensors")
    old_cfg = (base.origin.adapter or {}).get("config") or {}
    config = {**old_cfg, "adapt": {"strategy": strategy, "recipe": asdict(recipe), "photos": [p.name for p in photos],
                                   "folder": folder, "seed": seed, "started_from": describe_model(base)}}
    save_adapter(final.cpu(), path, config=config, metrics=metrics, threshold=threshold,
                 threshold_source=source, dtype=file_dtype(base))
    return path, path.stat().st_size


def adapt_photos(base: SegmentationModel, photos: list[Photo], out: str | Path | None, *, strategy: str = "norm",
                 recipe: Recipe | None = None, folds: int = CV_FOLDS, seed: int = 0, device: str = "auto",
                 progress: bool = True, log: Callable[[str], None] | None = None,
                 folder: str = "") -> AdaptResult:
    """:func:`adapt` on photos already loaded (``folds=0``: no cross-validation, the starting model's threshold)."""
    recipe = recipe or Recipe()
    recipe.lr_for(strategy)
    check_enough_crack(photos, folder or "photos")
    t0 = time.perf_counter()
    dev = resolve_device(device)
    masks = [p.mask for p in photos]
    px = int(sum(int(m.sum()) for m in masks))
    base = base.to(dev).eval()
    threshold = model_threshold(base)
    (log or (lambda m: None))(f"{len(photos)} photos, {px:,} crack pixels; starting model: {describe_model(base)}")
    before = score_at(predict_photos(base, photos, dev, recipe), masks, threshold)
    n_folds = min(folds, len(photos)) if len(photos) >= 2 and folds >= 2 else 0
    bar = _Progress((n_folds + 1) * recipe.steps, progress)
    after_cv = None
    source = ("the starting model's threshold (" + ("fewer than 2 photos" if len(photos) < 2 else "no cross-validation")
              + ")")
    if n_folds:
        threshold, after_cv = _cross_validate(base, photos, strategy, recipe, n_folds, seed, dev, bar.step)
        source = (f"cross-validated on {len(photos)} site photos ({n_folds} folds): the F1-best threshold of "
                  f"predictions by models that did not see the photo")
    final = tune(prepare(base, strategy), photos, strategy, recipe, seed=seed, device=dev, progress=False,
                 on_step=bar.step)
    bar.bar.close()
    seconds = time.perf_counter() - t0
    path, nbytes = None, None
    if out is not None:
        metrics = {"site_before": before, "site_after_cv": after_cv, "site_photos": len(photos),
                   "site_crack_pixels": px, "adapt_seconds": seconds}
        path, nbytes = _write(final, base, out, strategy, recipe, photos, seed, folder, metrics, threshold, source)
    return AdaptResult(path=path, strategy=strategy, photos=len(photos), crack_pixels=px, before=before,
                       after_cv=after_cv, threshold=float(threshold), threshold_source=source, seconds=seconds,
                       adapter_bytes=nbytes, trainable_params=count_parameters(final)["trainable"],
                       recipe=asdict(recipe), folds=n_folds)
