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

from sac.data import CrackDataset, Sample, read_image, read_mask
from sac.engine.inference import DEFAULT_OVERLAP, fast_layout, predict_probability, probability
from sac.engine.loading import describe_model, model_threshold
from sac.engine.runtime import resolve_device
from sac.errors import ConfigError
from sac.metrics import SegmentationMetrics

HEADLINE = ("precision", "recall", "f1", "iou", "ods", "ois", "f1_tol", "cldice", "cl_iou")


def _check(samples: list[Sample], protocol: str, inference: str) -> None:
    if protocol not in {"native", "paper"}:
        raise ConfigError("protocol", f"{protocol!r} is not 'native' or 'paper'")
    if inference not in {"resize", "tiled"}:
        raise ConfigError("inference", f"{inference!r} is not 'resize' or 'tiled'")
    if not samples:
        raise ConfigError("data", "no samples to evaluate")
    missing = [s for s in samples if s.mask is None]
    if missing:
        raise ConfigError("data", f"{len(missing)} samples have no mask (e.g. {missing[0].image})")


class _Scores:
    """Metric accumulators per dataset, and the per-image rows in the order of the samples."""

    def __init__(self, threshold: float, fast: bool):
        self.threshold, self.fast = threshold, fast
        self.per: dict[str, SegmentationMetrics] = defaultdict(lambda: SegmentationMetrics(threshold=threshold,
                                                                                             fast=fast))
        self.rows: dict[int, dict[str, Any]] = {}

    def add(self, index: int, sample: Sample, prob: np.ndarray, gt: np.ndarray) -> None:
        m = self.per[sample.dataset].update(prob, gt)
        self.rows[index] = {"dataset": sample.dataset, "id": sample.id,
                            **{k: float(m[k]) for k in ("precision", "recall", "f1", "iou")}}

    def overall(self) -> dict[str, float]:
        acc = SegmentationMetrics(threshold=self.threshold, fast=self.fast)
        for a in self.per.values():
            acc.merge(a)
        return acc.compute()


def _evaluate_resized(model: nn.Module, samples: list[Sample], scores: _Scores, protocol: str, size: int,
                      batch_size: int, dev: torch.device, amp: str, tta: bool, progress: bool) -> None:
    """Each photo resized to ``size`` (decoded once by :class:`CrackDataset`), batched; the probability is
    compared at the mask's own resolution (``native``) or at ``size`` (``paper``)."""
    ds = CrackDataset(samples, size=size, augment=False, progress=progress)
    for b in tqdm(range(0, len(ds), batch_size), desc="evaluate", disable=not progress):
        items = [ds[i] for i in range(b, min(len(ds), b + batch_size))]
        x = torch.stack([it["image"] for it in items]).to(dev).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            probs = probability(model, x, tta, dev, amp).cpu().numpy()[:, 0]
        for it, prob in zip(items, probs, strict=True):
            s = samples[it["index"]]
            if protocol == "paper":
                gt = it["mask"].numpy()[0] > 0.5
            else:
                gt = read_mask(s.mask)
                prob = cv2.resize(prob, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
            scores.add(it["index"], s, prob, gt)


def _evaluate_tiled(model: nn.Module, samples: list[Sample], scores: _Scores, size: int, batch_size: int, amp: str,
                    dev: torch.device, tta: bool, progress: bool, overlap: float) -> None:
    """Each photo at its native resolution, tiled at ``size`` (as ``sac predict`` does)."""
    for i, s in enumerate(tqdm(samples, desc="evaluate (tiled)", disable=not progress)):
        prob = predict_probability(model, read_image(s.image), mode="tiled", tile=size, batch_size=batch_size,
                                   overlap=overlap, tta=tta, device=str(dev), progress=False, amp=amp, cpu_auto=False)
        scores.add(i, s, prob, read_mask(s.mask))


def evaluate(model: nn.Module, samples: list, *, protocol: str = "native", inference: str = "resize",
             size: int = 256, batch_size: int = 8, device: str = "auto", amp: str = "auto",
             fast: bool = False, progress: bool = True, tta: bool = False,
             per_image: bool = False, threshold: float | None = None, overlap: float = DEFAULT_OVERLAP) -> dict[str, Any]:
    """Evaluate ``model`` on ``samples`` (each with a mask); returns
    ``{"protocol", "inference", "threshold", "model", "datasets": {name: metrics}, "overall": metrics}`` and,
    with ``per_image=True``, ``"per_image"``: one row per sample (``dataset``, ``id``, precision, recall, f1,
    iou), in the order of ``samples``.

    ``threshold`` binarises for P/R/F1/IoU (and the tolerance / skeleton metrics); ``None`` = the model's own
    (:func:`~sac.engine.loading.model_threshold`: its adapter's calibrated threshold, else 0.5). ODS / OIS
    scan every threshold whatever it is. ``tta`` averages the identity, horizontal and vertical flips.
    ``overlap``: the tiles' overlap with ``inference="tiled"`` (a fraction of ``size``, as ``sac predict --overlap``)."""
    _check(samples, protocol, inference)
    dev = resolve_device(device)
    thr = model_threshold(model, threshold)
    model = model.to(dev).eval()
    scores = _Scores(thr, fast)
    with fast_layout(model, dev):  # the model's layout is converted once, not per batch
        if protocol == "paper" or inference == "resize":
            _evaluate_resized(model, samples, scores, protocol, size, batch_size, dev, amp, tta, progress)
        else:
            _evaluate_tiled(model, samples, scores, size, batch_size, amp, dev, tta, progress, overlap)
    tiled = protocol != "paper" and inference == "tiled"
    out = {"protocol": protocol, "inference": "resize" if protocol == "paper" else inference, "size": size,
           "overlap": overlap if tiled else None,
           "threshold": thr, "model": describe_model(model),
           "datasets": {k: v.compute() for k, v in sorted(scores.per.items())}, "overall": scores.overall()}
    if per_image:
        out["per_image"] = [scores.rows[i] for i in sorted(scores.rows)]
    return out


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
