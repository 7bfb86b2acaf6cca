"""Few-shot adaptation to a user's own site: ``sac adapt PHOTOS_WITH_MASKS --out site.safetensors``.

From a handful (3–20) of labelled photos of one site, the paper's method tunes a few ten thousand
normalization parameters of a pretrained crack model in minutes on a laptop:

1. **Check** the folder like ``sac data check`` (every problem named) and refuse when there is too little
   crack to learn from (:data:`MIN_CRACK_PIXELS` in all, in at least one photo).
2. **Before**: the starting model (the bundled default, an adapter or a registry model) predicts every photo
   exactly as ``sac predict`` would (resize up to 512 px, 256-px tiles above), scored at its own threshold.
3. **Cross-validation** (K = :data:`CV_FOLDS` folds of photos, when there are at least 2): for each fold the
   recipe tunes a copy of the model on the other photos and predicts the held-out ones, so every photo gets a
   prediction from a model that never saw it. The threshold is the F1-best one over those held-out
   predictions, and the "after" score is nested (each fold is scored at the threshold chosen on the other
   folds), so neither is tuned to the pixels it is scored on.
4. **Final model**: the recipe tunes the model on every photo; the adapter is written (atomically) on the
   same base as the starting model — one merged file, holding the starting adapter's tensors too — with the
   cross-validated threshold and the before / after scores in its metadata. It works wherever a model is
   named (``sac predict / evaluate --model site.safetensors``, :func:`sac.engine.load_model`).

The recipe (:class:`Recipe`: steps, learning rate per strategy, augmentation) was chosen by the few-shot
experiment ``configs/paper/few_shot.yaml`` (see ``reports/few_shot``).

Training views follow inference: a photo that ``sac predict`` resizes is resized to the model's size, a large
one is cut into random native-resolution crops (half of them centred on crack pixels), then flipped, rotated,
slightly scaled and jittered in brightness / contrast.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sac.engine.loading import describe_model, model_threshold
from sac.engine.runtime import autocast, resolve_device
from sac.errors import ConfigError, DataError, StrategyError

MIN_CRACK_PIXELS = 200  # at the photos' own resolution, over all photos
CV_FOLDS = 3
THRESHOLDS = np.arange(1, 100) / 100.0


@dataclass(frozen=True)
class Recipe:
    """The few-shot recipe. Defaults: the choice of the few-shot experiment (``reports/few_shot``)."""

    steps: int = 100
    batch_size: int = 4
    lr: dict[str, float] = field(default_factory=lambda: {
        "norm": 1e-2, "norm_frozen_stats": 3e-3, "decoder": 3e-4, "full": 1e-4, "lora": 1e-3, "cracksam": 3e-4})
    weight_decay: float = 5e-5
    warmup_steps: int = 10
    loss: str = "bce+dice:0.65"
    size: int = 256  # the model's native size (crops / resized views)
    tile_above: int = 512  # photos larger than this are cut into crops, as sac predict tiles them
    crack_centred: float = 0.5  # share of crops centred on a crack pixel

    def lr_for(self, strategy: str) -> float:
        key = "lora" if strategy.startswith("lora_") else strategy
        if key not in self.lr:
            raise ConfigError("strategy", f"the few-shot recipe has no learning rate for {strategy!r}; "
                                          f"known: {', '.join(sorted(self.lr))}")
        return float(self.lr[key])


@dataclass
class Photo:
    """One labelled photo: ``image`` H×W×3 uint8, ``mask`` H×W bool, at native resolution."""

    name: str
    image: np.ndarray
    mask: np.ndarray


@dataclass
class AdaptResult:
    path: Path | None
    strategy: str
    photos: int
    crack_pixels: int
    before: dict[str, float]
    after_cv: dict[str, float] | None
    threshold: float
    threshold_source: str
    seconds: float
    adapter_bytes: int | None
    trainable_params: int
    recipe: dict[str, Any]
    folds: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path) if self.path else None
        return d


# ------------------------------------------------------------------------------------------- photos
def load_photos(folder: str | Path, progress: bool = False) -> list[Photo]:
    """The labelled photos of a folder (``images/`` + ``masks/``), validated like ``sac data check``: any
    problem is a DataError naming the file; too little crack to learn from is a DataError too."""
    from sac.data import check_dataset, folder_samples, read_image, read_mask

    folder = Path(folder)
    report = check_dataset(folder, progress=progress)
    if not report.ok:
        where, problem = report.problems[0]
        more = f" (and {len(report.problems) - 1} more problems; run `sac data check {folder}`)" \
            if len(report.problems) > 1 else ""
        raise DataError(where, problem + more)
    photos = [Photo(s.id, read_image(s.image), read_mask(s.mask)) for s in folder_samples(folder)]
    check_enough_crack(photos, folder)
    return photos


def enough_crack(photos: list[Photo]) -> bool:
    return sum(int(p.mask.sum()) for p in photos) >= MIN_CRACK_PIXELS and any(p.mask.any() for p in photos)


def check_enough_crack(photos: list[Photo], where: str | Path) -> None:
    """A DataError when the photos hold too little crack to learn from (:data:`MIN_CRACK_PIXELS`)."""
    if not enough_crack(photos):
        px = sum(int(p.mask.sum()) for p in photos)
        with_cracks = sum(1 for p in photos if p.mask.any())
        raise DataError(where, f"only {px} crack pixels in {with_cracks} of {len(photos)} photos: too few to learn "
                               f"from (at least {MIN_CRACK_PIXELS} are needed). Label the cracks of a few more "
                               "photos (masks: 255 = crack)")


class _Views:
    """Augmented training views of a few photos (see the module docstring), reproducible from a seed."""

    def __init__(self, photos: list[Photo], recipe: Recipe, seed: int):
        from sac.data import build_augmentation, resize_image, resize_mask

        self.recipe = recipe
        self.rng = np.random.default_rng(seed)
        self.aug = build_augmentation()
        import random

        self.aug.set_random_state(np.random.default_rng(seed + 1), random.Random(seed + 1))
        s = recipe.size
        self.items: list[tuple[np.ndarray, np.ndarray, bool]] = []  # (image, mask, crop?)
        for p in photos:
            if max(p.image.shape[:2]) <= recipe.tile_above:
                self.items.append((resize_image(p.image, s), resize_mask(p.mask, s), False))
            else:
                self.items.append((p.image, p.mask, True))
        self.crack_idx = [np.argwhere(m) if crop else None for _, m, crop in self.items]
        # photos with more crack are drawn more often, but every photo is drawn
        w = np.array([1.0 + math.sqrt(float(m.sum())) for _, m, _ in self.items])
        self.weights = w / w.sum()

    def _crop(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        img, mask, crop = self.items[i]
        s = self.recipe.size
        if not crop:
            return img, mask
        h, w = mask.shape
        pts = self.crack_idx[i]
        if pts is not None and len(pts) and self.rng.random() < self.recipe.crack_centred:
            cy, cx = pts[self.rng.integers(len(pts))]
            y = int(np.clip(cy - s // 2 + self.rng.integers(-s // 4, s // 4 + 1), 0, max(0, h - s)))
            x = int(np.clip(cx - s // 2 + self.rng.integers(-s // 4, s // 4 + 1), 0, max(0, w - s)))
        else:
            y, x = int(self.rng.integers(0, max(1, h - s + 1))), int(self.rng.integers(0, max(1, w - s + 1)))
        ci, cm = img[y:y + s, x:x + s], mask[y:y + s, x:x + s]
        if ci.shape[:2] != (s, s):  # a side shorter than the crop: pad by reflection
            ph, pw = s - ci.shape[0], s - ci.shape[1]
            ci = np.pad(ci, ((0, ph), (0, pw), (0, 0)), mode="reflect")
            cm = np.pad(cm, ((0, ph), (0, pw)), mode="constant")
        return ci, cm

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for i in self.rng.choice(len(self.items), size=n, p=self.weights):
            img, mask = self._crop(int(i))
            out = self.aug(image=img, mask=mask.astype(np.uint8))
            xs.append(torch.from_numpy(np.ascontiguousarray(out["image"])).permute(2, 0, 1).float() / 255.0)
            ys.append(torch.from_numpy(np.ascontiguousarray(out["mask"])).float()[None])
        return torch.stack(xs), torch.stack(ys)


# ---------------------------------------------------------------------------------------- the model
def _carried(model: nn.Module) -> list[str]:
    """Names of the tensors an adapter model carries from its file (they differ from the rebuilt base)."""
    from safetensors import safe_open

    meta = getattr(model, "sac_adapter", None)
    if not meta or not meta.get("path"):
        return list(getattr(model, "sac_data_init", []) or [])
    with safe_open(meta["path"], framework="pt") as f:
        return sorted(f.keys())


def _file_dtype(model: nn.Module) -> torch.dtype | None:
    """float16 when the starting adapter file stores its floating tensors in float16 (the result keeps it)."""
    from safetensors import safe_open

    meta = getattr(model, "sac_adapter", None)
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
    from sac.tuning import apply_strategy

    model = copy.deepcopy(base)
    carried = _carried(base)
    have = getattr(base, "sac_strategy", "none")
    injected = any(".lora_" in n or ".adapter." in n for n in carried) or have.startswith(("lora_", "cracksam"))
    if have != strategy:
        if injected:
            raise StrategyError(getattr(base, "sac_name", "model"),
                                f"the starting model was tuned with {have!r}, which adds modules; adapt it with "
                                f"--strategy {have}, or start from the base model")
        for p in model.parameters():
            p.requires_grad_(False)
        model = apply_strategy(model, strategy)
    if carried:
        model.sac_data_init = sorted(set(carried) | set(getattr(model, "sac_data_init", []) or []))
    return model


def tune(model: nn.Module, photos: list[Photo], strategy: str, recipe: Recipe, *, seed: int = 0,
         device: torch.device | None = None, progress: bool | str = True,
         on_step: Callable[[int, float], None] | None = None) -> nn.Module:
    """Run the few-shot recipe on ``model`` (from :func:`prepare`) in place; returns it."""
    from sac.engine.runtime import seed_everything
    from sac.engine.trainer import cosine_lambda
    from sac.losses import build_loss
    from sac.tuning import train_mode

    dev = device or torch.device("cpu")
    seed_everything(seed)
    views = _Views(photos, recipe, seed)
    model.to(dev)
    train_mode(model, True)
    if not getattr(model, "sac_adapter", None) and hasattr(model, "data_init"):  # a fresh registry model
        x, _ = views.batch(16)
        names = model.data_init(x.to(dev))
        if names:
            model.sac_data_init = sorted(set(names) | set(getattr(model, "sac_data_init", []) or []))
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise StrategyError(getattr(model, "sac_name", "model"), f"strategy {strategy!r} leaves nothing to train")
    opt = torch.optim.AdamW(trainable, lr=recipe.lr_for(strategy), weight_decay=recipe.weight_decay)
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
    from sac.engine.inference import predict_probability
    from sac.engine.predict import choose_mode

    out = []
    for p in photos:
        mode = choose_mode("auto", p.image.shape, recipe.size)
        out.append(predict_probability(model, p.image, mode=mode, tile=recipe.size, device=str(device),
                                       progress=False))
    return out


# ------------------------------------------------------------------------------------------- scores
def _counts(probs: list[np.ndarray], masks: list[np.ndarray]) -> np.ndarray:
    """tp / fp / fn per threshold (rows: :data:`THRESHOLDS`), pooled over the photos."""
    c = np.zeros((len(THRESHOLDS), 3), np.int64)
    for p, m in zip(probs, masks, strict=True):
        pos = np.sort(p[m].ravel())
        neg = np.sort(p[~m].ravel())
        tp = pos.size - np.searchsorted(pos, THRESHOLDS, side="left")
        fp = neg.size - np.searchsorted(neg, THRESHOLDS, side="left")
        c[:, 0] += tp
        c[:, 1] += fp
        c[:, 2] += pos.size - tp
    return c


def _f1(c: np.ndarray) -> np.ndarray:
    tp, fp, fn = c[..., 0].astype(float), c[..., 1].astype(float), c[..., 2].astype(float)
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 1.0)


def score_at(probs: list[np.ndarray], masks: list[np.ndarray], threshold: float) -> dict[str, float]:
    """Pooled precision / recall / F1 / IoU at ``threshold`` (crack where prob ≥ threshold)."""
    from sac.metrics import SegmentationMetrics

    acc = SegmentationMetrics(threshold=threshold, fast=True)
    for p, m in zip(probs, masks, strict=True):
        acc.update(p, m)
    o = acc.compute()
    return {k: float(o[k]) for k in ("precision", "recall", "f1", "iou", "ods")} | {"threshold": float(threshold)}


def cross_validated(held_out: list[np.ndarray], masks: list[np.ndarray], folds: list[list[int]]
                    ) -> tuple[float, dict[str, float]]:
    """The threshold chosen on all held-out predictions, and the nested score: each fold scored at the
    threshold that is best on the other folds (pooled counts over the folds)."""
    per_fold = [_counts([held_out[i] for i in f], [masks[i] for i in f]) for f in folds]
    total = sum(per_fold)
    best = float(THRESHOLDS[int(np.argmax(_f1(total)))])
    nested = np.zeros(3, np.int64)
    for c in per_fold:
        others = total - c
        t = int(np.argmax(_f1(others))) if len(folds) > 1 else int(np.argmax(_f1(total)))
        nested += c[t]
    tp, fp, fn = (float(v) for v in nested)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0
    iou = tp / (tp + fp + fn) if (tp + fp + fn) else 1.0
    return best, {"precision": p, "recall": r, "f1": f1, "iou": iou, "threshold": best}


def make_folds(n: int, k: int, seed: int) -> list[list[int]]:
    order = np.random.default_rng(seed).permutation(n).tolist()
    k = max(1, min(k, n))
    return [sorted(order[i::k]) for i in range(k)]


# ---------------------------------------------------------------------------------------------- API
def adapt(base: nn.Module, folder: str | Path, out: str | Path | None, *, strategy: str = "norm",
          recipe: Recipe | None = None, folds: int = CV_FOLDS, seed: int = 0, device: str = "auto",
          progress: bool = True, log: Callable[[str], None] | None = None) -> AdaptResult:
    """Adapt ``base`` to the labelled photos in ``folder`` and write the adapter to ``out`` (``None``: only
    measure). See the module docstring for the steps."""
    (recipe or Recipe()).lr_for(strategy)  # unknown strategy: fail before reading anything
    return adapt_photos(base, load_photos(folder, progress=False), out, strategy=strategy, recipe=recipe,
                        folds=folds, seed=seed, device=device, progress=progress, log=log, folder=str(folder))


def adapt_photos(base: nn.Module, photos: list[Photo], out: str | Path | None, *, strategy: str = "norm",
                 recipe: Recipe | None = None, folds: int = CV_FOLDS, seed: int = 0, device: str = "auto",
                 progress: bool = True, log: Callable[[str], None] | None = None,
                 folder: str = "") -> AdaptResult:
    """:func:`adapt` on photos already loaded (``folds=0``: no cross-validation, the starting model's threshold)."""
    from sac.models import count_parameters
    from sac.tuning import save_adapter

    recipe = recipe or Recipe()
    recipe.lr_for(strategy)
    check_enough_crack(photos, folder or "photos")
    say = log or (lambda m: None)
    t0 = time.perf_counter()
    dev = resolve_device(device)
    masks = [p.mask for p in photos]
    px = int(sum(int(m.sum()) for m in masks))
    base = base.to(dev).eval()
    t_base = model_threshold(base)
    say(f"{len(photos)} photos, {px:,} crack pixels; starting model: {describe_model(base)}")
    before = score_at(predict_photos(base, photos, dev, recipe), masks, t_base)

    n_folds = min(folds, len(photos)) if len(photos) >= 2 and folds >= 2 else 0
    rounds = n_folds + 1
    after_cv, threshold = None, t_base
    source = ("the starting model's threshold (" + ("fewer than 2 photos" if len(photos) < 2 else "no cross-validation")
              + ")")
    bar = tqdm(total=rounds * recipe.steps, desc="adapt", disable=not progress, unit="step")

    def step(_s: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    if n_folds:
        fold_ids = make_folds(len(photos), n_folds, seed)
        held: list[np.ndarray | None] = [None] * len(photos)
        for k, f in enumerate(fold_ids):
            train_p = [photos[i] for i in range(len(photos)) if i not in f]
            m = tune(prepare(base, strategy), train_p, strategy, recipe, seed=seed + 1 + k, device=dev,
                     progress=False, on_step=step)
            for i, prob in zip(f, predict_photos(m, [photos[i] for i in f], dev, recipe), strict=True):
                held[i] = prob
            del m
        threshold, after_cv = cross_validated(held, masks, fold_ids)  # type: ignore[arg-type]
        source = (f"cross-validated on {len(photos)} site photos ({n_folds} folds): the F1-best threshold of "
                  f"predictions by models that did not see the photo")
    final = tune(prepare(base, strategy), photos, strategy, recipe, seed=seed, device=dev, progress=False,
                 on_step=step)
    bar.close()
    seconds = time.perf_counter() - t0
    counts = count_parameters(final)
    nbytes = None
    path = None
    if out is not None:
        path = Path(out)
        if path.suffix != ".safetensors":
            raise ConfigError(path, "the adapter file must end in .safetensors")
        old_cfg = (getattr(base, "sac_adapter", None) or {}).get("config") or {}
        config = {**old_cfg, "adapt": {"strategy": strategy, "recipe": asdict(recipe), "photos": [p.name for p in photos],
                                       "folder": folder, "seed": seed, "started_from": describe_model(base)}}
        metrics = {"site_before": before, "site_after_cv": after_cv, "site_photos": len(photos),
                   "site_crack_pixels": px, "adapt_seconds": seconds}
        save_adapter(final.cpu(), path, config=config, metrics=metrics, threshold=threshold,
                     threshold_source=source, dtype=_file_dtype(base))
        nbytes = path.stat().st_size
    return AdaptResult(path=path, strategy=strategy, photos=len(photos), crack_pixels=px, before=before,
                       after_cv=after_cv, threshold=float(threshold), threshold_source=source, seconds=seconds,
                       adapter_bytes=nbytes, trainable_params=counts["trainable"], recipe=asdict(recipe),
                       folds=n_folds)
