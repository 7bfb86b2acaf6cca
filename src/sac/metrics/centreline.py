"""Skeleton (centreline) metrics: clDice (Shit et al., CVPR 2021) and OmniCrack30k's centreline IoU."""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.morphology import skeletonize

from sac.metrics.inputs import as_mask, mask_pair
from sac.metrics.pooled import harmonic, ratio
from sac.metrics.tolerance import near

__all__ = ["cldice_counts", "cldice_from_counts", "cldice_from_skeletons", "cliou_counts", "cliou_from_skeletons",
           "skeleton"]


def skeleton(mask: Any) -> np.ndarray:
    """One-pixel-wide centreline of a binary mask (``skimage.morphology.skeletonize``), bool."""
    m = as_mask(mask, "mask")
    if not m.any():
        return np.zeros(m.shape, dtype=bool)
    return skeletonize(m).astype(bool, copy=False)


def cldice_from_counts(sp_in_g: int, sp: int, sg_in_p: int, sg: int) -> float:
    """clDice from ``|S(P)∩G|, |S(P)|, |S(G)∩P|, |S(G)|`` (1.0 when both skeletons are empty)."""
    empty = sp == 0 and sg == 0
    return harmonic(ratio(sp_in_g, sp, empty), ratio(sg_in_p, sg, empty))


def cldice_from_skeletons(p: np.ndarray, g: np.ndarray, sp: np.ndarray, sg: np.ndarray) -> tuple[int, int, int, int]:
    """``(|S(P)∩G|, |S(P)|, |S(G)∩P|, |S(G)|)`` from the masks and their skeletons.

    Arguments:
        p, g: predicted and ground-truth bool masks.
        sp, sg: their skeletons (:func:`skeleton`).
    """
    return (int(np.count_nonzero(sp & g)), int(np.count_nonzero(sp)),
            int(np.count_nonzero(sg & p)), int(np.count_nonzero(sg)))


def cliou_from_skeletons(sp: np.ndarray, sg: np.ndarray, radius: float) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of the centreline IoU from the two skeletons.

    Arguments:
        sp, sg: skeletons of the prediction and of the ground truth.
        radius: the tolerance in pixels (Euclidean, ``<=``).
    """
    near_p, near_g = near(sp, radius), near(sg, radius)
    tp = int(np.count_nonzero(sg & near_p))
    fn = int(np.count_nonzero(sg)) - tp
    fp = int(np.count_nonzero(sp & ~near_g))
    return tp, fp, fn


def cldice_counts(pred: Any, gt: Any) -> tuple[int, int, int, int]:
    """``(|S(P)∩G|, |S(P)|, |S(G)∩P|, |S(G)|)`` for clDice (see :func:`cldice_from_counts`)."""
    p, g = mask_pair(pred, gt)
    return cldice_from_skeletons(p, g, skeleton(p), skeleton(g))


def cliou_counts(pred: Any, gt: Any, radius: float = 4.0) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of OmniCrack30k's centreline IoU (clIoU = tp / (tp + fp + fn))."""
    p, g = mask_pair(pred, gt)
    return cliou_from_skeletons(skeleton(p), skeleton(g), radius)
