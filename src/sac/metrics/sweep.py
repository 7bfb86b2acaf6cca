"""The threshold sweep behind ODS / OIS: per-threshold histograms, cumulative counts, the best F1."""

from __future__ import annotations

import numpy as np

__all__ = ["best_f1", "sweep_counts", "threshold_grid", "threshold_histograms"]


def threshold_grid(n: int) -> np.ndarray:
    """The thresholds ``k/n, k = 0..n-1``, correctly rounded in float64 (cast to the probability's dtype
    when comparing)."""
    return np.arange(n, dtype=np.float64) / n


def threshold_histograms(p: np.ndarray, g: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(h_neg, h_pos)``: how many background / crack pixels fall in each threshold bin.

    Bin b = max{k : grid_k <= prob}, compared in prob's dtype, so that prob >= grid_k <=> b >= k exactly.
    floor(prob * n) is at most one bin off (rounding of the product and of grid_k); one correction each
    way makes it exact (the tests check it against searchsorted).

    Arguments:
        p: H×W probabilities (float32 or float64).
        g: H×W bool ground truth.
        grid: :func:`threshold_grid` output.
    """
    nb = len(grid)
    grid = grid.astype(p.dtype)
    grid_ext = np.append(grid, p.dtype.type(np.inf))
    pf = p.ravel()
    bins = (pf * p.dtype.type(nb)).astype(np.intp)
    np.minimum(bins, nb - 1, out=bins)
    bins -= pf < grid[bins]
    bins += pf >= grid_ext[bins + 1]
    hist = np.bincount(bins + nb * g.ravel(), minlength=2 * nb)
    return hist[:nb], hist[nb:]


def sweep_counts(h_pos: np.ndarray, h_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tp, fp, fn)`` at every threshold from the histograms (a pixel counts from its bin down)."""
    tp = np.cumsum(h_pos[::-1])[::-1]
    fp = np.cumsum(h_neg[::-1])[::-1]
    return tp, fp, int(h_pos.sum()) - tp


def best_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[float, int]:
    """Best F1 over the threshold curve (first index on ties) with the 0/0 convention."""
    den = 2 * tp + fp + fn
    f1 = np.where(den == 0, 1.0, 2.0 * tp / np.maximum(den, 1))
    k = int(np.argmax(f1))
    return float(f1[k]), k
