"""Pooled confusion counts and the ratios of the paper's Eq. 3–6, with the 0/0 convention of :mod:`sac.metrics`."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from sac.metrics.inputs import mask_pair

__all__ = ["Counts", "binary_counts", "count_masks", "f1_from_counts", "harmonic", "iou_from_counts",
           "precision_from_counts", "ratio", "recall_from_counts", "scores_from_counts"]


def ratio(num: float, den: float, nothing_at_all: bool) -> float:
    """``num/den``; for ``den == 0``: 1.0 if there was nothing to find and nothing found, else 0.0.

    Arguments:
        num, den: numerator and denominator.
        nothing_at_all: whether there was nothing to find and nothing was found.
    """
    if den == 0:
        return 1.0 if nothing_at_all else 0.0
    return float(num) / float(den)


def harmonic(a: float, b: float) -> float:
    """The harmonic mean ``2ab/(a+b)``; 0.0 when both are 0."""
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)


def precision_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FP)`` (Eq. 3); 1.0 when ``TP = FP = FN = 0``, 0.0 for other zero denominators."""
    return ratio(tp, tp + fp, tp + fp + fn == 0)


def recall_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FN)`` (Eq. 4); 1.0 when ``TP = FP = FN = 0``, 0.0 for other zero denominators."""
    return ratio(tp, tp + fn, tp + fp + fn == 0)


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """``2TP/(2TP+FP+FN)`` = harmonic mean of precision and recall (Eq. 5); 1.0 when all are 0."""
    return ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0)


def iou_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FP+FN)`` = ``|p∩g|/|p∪g|`` (Eq. 6); 1.0 when all are 0."""
    return ratio(tp, tp + fp + fn, tp + fp + fn == 0)


def scores_from_counts(tp: int, fp: int, fn: int) -> dict[str, float]:
    """``{"precision", "recall", "f1", "iou"}`` from confusion counts."""
    return {"precision": precision_from_counts(tp, fp, fn), "recall": recall_from_counts(tp, fp, fn),
            "f1": f1_from_counts(tp, fp, fn), "iou": iou_from_counts(tp, fp, fn)}


class Counts(NamedTuple):
    """Confusion counts of one binary mask pair (or pooled)."""

    tp: int
    fp: int
    fn: int
    tn: int


def count_masks(p: np.ndarray, g: np.ndarray) -> Counts:
    """``(tp, fp, fn, tn)`` of two bool masks of the same shape (already checked).

    Arguments:
        p: the predicted mask.
        g: the ground-truth mask.
    """
    tp = int(np.count_nonzero(p & g))
    n_p, n_g = int(np.count_nonzero(p)), int(np.count_nonzero(g))
    fp, fn = n_p - tp, n_g - tp
    return Counts(tp, fp, fn, int(p.size) - tp - fp - fn)


def binary_counts(pred: Any, gt: Any) -> Counts:
    """``(tp, fp, fn, tn)`` of two binary masks of the same shape (bool or 0/1)."""
    return count_masks(*mask_pair(pred, gt))
