"""Checking and converting the arrays the metrics take: binary masks and probability maps."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SLACK", "as_mask", "as_prob", "mask_pair"]

SLACK = 1e-6  # probabilities this far outside [0, 1] (float rounding) are clipped, farther is an error


def as_mask(a: Any, what: str) -> np.ndarray:
    """A bool mask from a bool or 0/1 array.

    Arguments:
        a: the array (bool, or numbers that are all 0 or 1).
        what: its name in the ValueError when it is not binary.
    """
    a = np.asarray(a)
    if a.dtype == bool:
        return a
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{what} must be binary (bool or 0/1), got values outside {{0, 1}}")
    return a.astype(bool)


def as_prob(a: Any) -> np.ndarray:
    """A float32/float64 probability map; bool -> 0/1; integers must be 0/1; range checked.

    Arguments:
        a: probabilities in [0, 1] (values within :data:`SLACK` outside are clipped) or a binary prediction.
    """
    a = np.asarray(a)
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and not np.isin(a, (0, 1)).all():
            raise ValueError("integer predictions must be 0/1 (divide 8-bit probability maps by 255 first)")
        return a.astype(np.float32)
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"predictions must be float probabilities or a binary mask, got dtype {a.dtype}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    if a.size:
        lo, hi = a.min(), a.max()
        if not (lo >= 0.0 and hi <= 1.0):  # also catches NaN
            if not (lo >= -SLACK and hi <= 1.0 + SLACK):
                raise ValueError("probabilities must lie in [0, 1] (pass sigmoid(logits), not logits); "
                                 f"got values in [{lo}, {hi}]")
            a = np.clip(a, 0.0, 1.0)  # rounding of interpolation / tile blending
    return a


def mask_pair(pred: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, gt)`` as bool masks of the same shape (ValueError otherwise).

    Arguments:
        pred: the predicted mask (bool or 0/1).
        gt: the ground-truth mask (bool or 0/1).
    """
    p, g = as_mask(pred, "pred"), as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {g.shape}")
    return p, g
