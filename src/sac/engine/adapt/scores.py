"""Scores of a site's photos: pooled counts per threshold, the cross-validated threshold and nested score."""

from __future__ import annotations

import numpy as np

from sac.engine.adapt.recipe import THRESHOLDS
from sac.metrics import SegmentationMetrics


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


