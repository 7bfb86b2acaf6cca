"""Evaluation: per-dataset and overall metric tables (markdown + JSON).

Two protocols:

- ``native`` (default): metrics at each ground-truth mask's original resolution, as a user sees them.
  The photo goes through the model as ``inference`` says (``resize``: the whole photo resized to the
  model's size, the probability map resized back bilinearly; ``tiled``: sliding windows at native
  resolution), and the probability is compared with the original mask.
- ``paper``: the paper's protocol: photo and mask both resized to 256×256 (mask nearest), metrics there.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sac.engine.loading import describe_model, model_threshold
from sac.engine.runtime import autocast, resolve_device

HEADLINE = ("precision", "recall", "f1", "iou", "ods", "ois", "f1_tol", "cldice", "cl_iou")


def _predict_resized_batch(model: nn.Module, x: torch.Tensor, device: torch.device, amp: str) -> np.ndarray:
    with torch.inference_mode(), autocast(device, amp):
        logits = model(x.to(device).contiguous(memory_format=torch.channels_last))
    return torch.sigmoid(logits.float()).cpu().numpy()[:, 0]


def evaluate(model: nn.Module, samples: list, *, protocol: str = "native", inference: str = "resize",
             size: int = 256, batch_size: int = 8, device: str = "auto", amp: str = "auto",
             fast: bool = False, progress: bool = True, tta: bool = False,
             per_image: bool = False, threshold: float | None = None) -> dict[str, Any]:
    """Evaluate ``model`` on ``samples`` (each with a mask); returns
    ``{"protocol", "inference", "threshold", "model", "datasets": {name: metrics}, "overall": metrics}`` and,
    with ``per_image=True``, ``"per_image"``: one row per sample (``dataset``, ``id``, precision, recall, f1,
    iou), in the order of ``samples``.

    ``threshold`` binarises for P/R/F1/IoU (and the tolerance / skeleton metrics); ``None`` = the model's own
    (:func:`~sac.engine.loading.model_threshold`: its adapter's calibrated threshold, else 0.5). ODS / OIS
    scan every threshold whatever it is."""
    from sac.data import CrackDataset, read_mask
    from sac.engine.tiling import fast_layout, predict_probability
    from sac.errors import ConfigError
    from sac.metrics import SegmentationMetrics

    if protocol not in {"native", "paper"}:
        raise ConfigError("protocol", f"{protocol!r} is not 'native' or 'paper'")
    if inference not in {"resize", "tiled"}:
        raise ConfigError("inference", f"{inference!r} is not 'resize' or 'tiled'")
    if not samples:
        raise ConfigError("data", "no samples to evaluate")
    missing = [s for s in samples if s.mask is None]
    if missing:
        raise ConfigError("data", f"{len(missing)} samples have no mask (e.g. {missing[0].image})")
    dev = resolve_device(device)
    thr = model_threshold(model, threshold)
    model = model.to(dev).eval()
    per: dict[str, Any] = defaultdict(lambda: SegmentationMetrics(threshold=thr, fast=fast))
    rows: dict[int, dict[str, Any]] = {}
    with fast_layout(model, dev):  # the model's layout is converted once, not per batch
        if protocol == "paper" or inference == "resize":
            ds = CrackDataset(samples, size=size, augment=False, progress=progress)
            bar = tqdm(range(0, len(ds), batch_size), desc="evaluate", disable=not progress)
            for b in bar:
                items = [ds[i] for i in range(b, min(len(ds), b + batch_size))]
                x = torch.stack([it["image"] for it in items])
                probs = _predict_resized_batch(model, x, dev, amp)
                if tta:
                    probs = (probs + _predict_resized_batch(model, x.flip(-1), dev, amp)[:, :, ::-1]) / 2
                for it, prob in zip(items, probs, strict=True):
                    s = samples[it["index"]]
                    if protocol == "paper":
                        gt = it["mask"].numpy()[0] > 0.5
                    else:
                        gt = read_mask(s.mask)
                        prob = cv2.resize(prob, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
                    rows[it["index"]] = _row(s, per[s.dataset].update(prob, gt))
        else:
            from sac.data import read_image

            for i, s in enumerate(tqdm(samples, desc="evaluate (tiled)", disable=not progress)):
                img = read_image(s.image)
                gt = read_mask(s.mask)
                prob = predict_probability(model, img, mode="tiled", tile=size, batch_size=batch_size,
                                           tta=tta, device=str(dev), progress=False)
                rows[i] = _row(s, per[s.dataset].update(prob, gt))
    overall = SegmentationMetrics(threshold=thr, fast=fast)
    for acc in per.values():
        overall.merge(acc)
    out = {
        "protocol": protocol,
        "inference": "resize" if protocol == "paper" else inference,
        "size": size,
        "threshold": thr,
        "model": describe_model(model),
        "datasets": {k: v.compute() for k, v in sorted(per.items())},
        "overall": overall.compute(),
    }
    if per_image:
        out["per_image"] = [rows[i] for i in sorted(rows)]
    return out


def _row(sample: Any, m: dict[str, float]) -> dict[str, Any]:
    return {"dataset": sample.dataset, "id": sample.id, **{k: float(m[k]) for k in ("precision", "recall", "f1", "iou")}}


def results_table(results: dict[str, Any], keys: tuple[str, ...] = HEADLINE) -> str:
    """Markdown table: one row per dataset, then the overall (pooled) row and the mean over datasets."""
    ds = results["datasets"]
    keys = tuple(k for k in keys if k in results["overall"])
    head = "| dataset | images | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    for name, m in ds.items():
        lines.append(f"| {name} | {m['n_images']} | " + " | ".join(f"{m[k]:.3f}" for k in keys) + " |")
    o = results["overall"]
    lines.append(f"| **all (pooled)** | {o['n_images']} | " + " | ".join(f"{o[k]:.3f}" for k in keys) + " |")
    if len(ds) > 1:
        means = {k: float(np.mean([m[k] for m in ds.values()])) for k in keys}
        stds = {k: float(np.std([m[k] for m in ds.values()])) for k in keys}
        lines.append("| mean ± std over sets | – | " + " | ".join(f"{means[k]:.3f} ± {stds[k]:.3f}" for k in keys)
                     + " |")
    note = (f"\nProtocol: **{results['protocol']}**"
            + (" (metrics at each mask's original resolution, "
               f"inference: {results['inference']} at {results['size']} px)" if results["protocol"] == "native"
               else f" (photos and masks resized to {results['size']}×{results['size']}, as in the paper)")
            + f". Model: {results['model']}. Threshold {results.get('threshold', 0.5):g} for P/R/F1/IoU"
            + " (ODS/OIS: the best threshold per dataset / per image).\n")
    return "\n".join(lines) + "\n" + note
