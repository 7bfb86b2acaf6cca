"""F1 with a distance tolerance (CrackForest / DeepCrack, TIP'19): counts of matched pixels within ``<= r``."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from sac.metrics.inputs import mask_pair
from sac.metrics.pooled import harmonic, ratio

__all__ = ["disk", "near", "tolerance_counts", "tolerance_scores"]


def disk(radius: float) -> np.ndarray:
    """Footprint of the offsets with ``dy² + dx² <= radius²`` (= ``skimage.morphology.disk`` for
    integer radii)."""
    r = int(np.floor(radius))
    d = np.arange(-r, r + 1)
    return (d[:, None] ** 2 + d[None, :] ** 2 <= radius * radius).astype(np.uint8)


def near(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within Euclidean distance ``<= radius`` of a ``True`` pixel of ``mask``: binary dilation
    by :func:`disk` (OpenCV, ~20x faster than ``distance_transform_edt(~mask) <= radius``, which
    gives the same mask; the tests check it). ``mask`` must be H×W: OpenCV would dilate a 3-D array slice by
    slice along its last axis and fail with ``cv2.error`` on more dimensions."""
    if mask.ndim != 2:
        raise ValueError(f"distance tolerances need an H×W mask, got shape {mask.shape}")
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    if radius < 1:
        return mask.copy()
    m = np.ascontiguousarray(mask).view(np.uint8)
    return cv2.dilate(m, disk(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def tolerance_counts(pred: Any, gt: Any, tolerance: float = 2.0) -> tuple[int, int, int, int]:
    """``(pred_matched, pred_total, gt_matched, gt_total)``: predicted pixels within ``tolerance`` of
    the ground truth, all predicted pixels, ground-truth pixels within ``tolerance`` of the
    prediction, all ground-truth pixels. Precision = matched/total of the prediction, recall = of gt."""
    p, g = mask_pair(pred, gt)
    return (int(np.count_nonzero(p & near(g, tolerance))), int(np.count_nonzero(p)),
            int(np.count_nonzero(g & near(p, tolerance))), int(np.count_nonzero(g)))


def tolerance_scores(pred_hit: int, pred_n: int, gt_hit: int, gt_n: int) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` from :func:`tolerance_counts` (1.0 each when both masks are empty)."""
    empty = pred_n == 0 and gt_n == 0
    p, r = ratio(pred_hit, pred_n, empty), ratio(gt_hit, gt_n, empty)
    return p, r, harmonic(p, r)
