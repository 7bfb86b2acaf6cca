""":class:`SegmentationMetrics`: the streaming accumulator of every metric of :mod:`sac.metrics`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sac.metrics.centreline import cldice_from_counts, cldice_from_skeletons, cliou_from_skeletons, skeleton
from sac.metrics.inputs import as_mask, as_prob
from sac.metrics.pooled import count_masks, iou_from_counts, scores_from_counts
from sac.metrics.sweep import best_f1, sweep_counts, threshold_grid, threshold_histograms
from sac.metrics.tolerance import tolerance_counts, tolerance_scores

__all__ = ["FAST_KEYS", "KEYS", "SegmentationMetrics"]

#: ``compute()`` keys with ``fast=True``.
FAST_KEYS: tuple[str, ...] = (
    "n_images", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "iou",
    "precision_mean", "recall_mean", "f1_mean", "iou_mean", "ods", "ods_threshold", "ois",
)
#: ``compute()`` keys with ``fast=False`` (the default).
KEYS: tuple[str, ...] = FAST_KEYS + (
    "precision_tol", "recall_tol", "f1_tol", "cldice", "cldice_mean", "cl_iou",
)

# the additive state, by the step that fills it
_POOLED = ("tp", "fp", "fn", "tn")
_TOLERANCE = ("tol_pred_hit", "tol_pred_n", "tol_gt_hit", "tol_gt_n")
_CLDICE = ("sp_in_g", "sp", "sg_in_p", "sg")
_CLIOU = ("cl_tp", "cl_fp", "cl_fn")
_INT_STATE = ("n_images", *_POOLED, *_TOLERANCE, *_CLDICE, *_CLIOU)
_FLOAT_STATE = ("sum_precision", "sum_recall", "sum_f1", "sum_iou", "sum_best_f1", "sum_cldice")


def _image_pair(prob: Any, gt: Any) -> tuple[np.ndarray, np.ndarray]:
    """One image's probabilities and bool ground truth as two H×W arrays (1×H×W accepted)."""
    p = as_prob(prob)
    g = as_mask(gt, "gt")
    if p.ndim == 3 and p.shape[0] == 1:
        p = p[0]
    if g.ndim == 3 and g.shape[0] == 1:
        g = g[0]
    if p.ndim != 2 or p.shape != g.shape:
        raise ValueError(f"prediction shape {np.shape(prob)} does not match ground truth {np.shape(gt)} "
                         "(expected two H×W arrays)")
    return p, g


class SegmentationMetrics:
    """Streaming accumulator of crack-segmentation metrics (see :mod:`sac.metrics`).

    Arguments:
        threshold: binarisation threshold for the pooled / per-image / tolerance / skeleton metrics;
            crack where ``prob >= threshold``.
        tolerance: F1 tolerance in pixels (Euclidean, ``<=``) for ``*_tol``.
        cl_radius: centreline tolerance in pixels for ``cl_iou`` (OmniCrack30k's 4 px).
        thresholds: number of ODS/OIS thresholds ``k/thresholds, k = 0..thresholds-1`` (100:
            0.00, 0.01, ..., 0.99).
        fast: skip the tolerance and skeleton metrics.

    ``update`` takes one image, ``update_batch`` a batch; both return the per-image metrics.
    ``compute()`` gives the dataset-level dict, ``merge`` adds another accumulator's counts,
    ``state_dict``/``from_state`` convert to and from plain data whose ``"state"`` arrays are all
    additive (sum them across processes to all-reduce).
    """

    def __init__(self, threshold: float = 0.5, tolerance: float = 2.0, cl_radius: float = 4.0,
                 thresholds: int = 100, fast: bool = False):
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if int(thresholds) != thresholds or thresholds < 1:
            raise ValueError(f"thresholds must be a positive integer, got {thresholds}")
        if not tolerance >= 0 or not cl_radius >= 0:
            raise ValueError("tolerance and cl_radius must be >= 0")
        self.threshold = float(threshold)
        self.tolerance = float(tolerance)
        self.cl_radius = float(cl_radius)
        self.thresholds = int(thresholds)
        self.fast = bool(fast)
        self._grid = threshold_grid(self.thresholds)
        self.reset()

    # -------------------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget everything accumulated."""
        self._s: dict[str, np.ndarray] = {k: np.zeros((), np.int64) for k in _INT_STATE}
        self._s.update({k: np.zeros((), np.float64) for k in _FLOAT_STATE})
        self._s["hist_pos"] = np.zeros(self.thresholds, np.int64)
        self._s["hist_neg"] = np.zeros(self.thresholds, np.int64)

    @property
    def config(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "tolerance": self.tolerance, "cl_radius": self.cl_radius,
                "thresholds": self.thresholds, "fast": self.fast}

    def state_dict(self) -> dict[str, Any]:
        """``{"config": {...}, "state": {name: numpy array}}``; every state array is additive."""
        return {"config": dict(self.config), "state": {k: v.copy() for k, v in self._s.items()}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SegmentationMetrics:
        """Rebuild an accumulator from :meth:`state_dict` output (arrays may be tensors or lists)."""
        out = cls(**state["config"])
        missing = set(out._s) - set(state["state"])
        if missing:
            raise ValueError(f"state is missing {sorted(missing)}")
        for k, v in state["state"].items():
            if k not in out._s:
                raise ValueError(f"unknown state entry {k!r}")
            arr = np.asarray(v, dtype=out._s[k].dtype).reshape(out._s[k].shape)
            out._s[k] = arr.copy()
        return out

    def merge(self, other: SegmentationMetrics) -> SegmentationMetrics:
        """Add ``other``'s counts to this accumulator (same configuration required); returns self."""
        if not isinstance(other, SegmentationMetrics):
            raise TypeError(f"cannot merge {type(other).__name__} into SegmentationMetrics")
        if other.config != self.config:
            raise ValueError(f"cannot merge accumulators with different settings: {self.config} vs {other.config}")
        for k in self._s:
            self._s[k] = self._s[k] + other._s[k]
        return self

    @property
    def n_images(self) -> int:
        return int(self._s["n_images"])

    # ------------------------------------------------------------------------------------- update
    def update(self, prob: Any, gt: Any) -> dict[str, float]:
        """Add one image: ``prob`` H×W (or 1×H×W) probabilities in [0, 1] or a binary prediction,
        ``gt`` H×W binary mask. Returns that image's metrics (``precision recall f1 iou best_f1
        best_threshold`` and, unless ``fast``, ``precision_tol recall_tol f1_tol cldice cl_iou``)."""
        p, g = _image_pair(prob, gt)
        pred = p >= p.dtype.type(self.threshold)
        out = self._add_pooled(pred, g)
        out.update(self._add_sweep(p, g))
        if not self.fast:
            out.update(self._add_tolerance(pred, g))
            out.update(self._add_centreline(pred, g))
        return out

    def _add(self, names: Iterable[str], values: Iterable[Any]) -> None:
        for k, v in zip(names, values, strict=True):
            self._s[k] += v

    def _add_pooled(self, pred: np.ndarray, g: np.ndarray) -> dict[str, float]:
        """Confusion counts at ``threshold`` and the image's precision / recall / F1 / IoU."""
        c = count_masks(pred, g)
        self._add(("n_images", *_POOLED), (1, *c))
        out = scores_from_counts(c.tp, c.fp, c.fn)
        self._add((f"sum_{k}" for k in out), out.values())
        return out

    def _add_sweep(self, p: np.ndarray, g: np.ndarray) -> dict[str, float]:
        """The threshold histograms (ODS) and the image's best F1 over the thresholds (OIS)."""
        h_neg, h_pos = threshold_histograms(p, g, self._grid)
        self._add(("hist_pos", "hist_neg"), (h_pos, h_neg))
        best, k = best_f1(*sweep_counts(h_pos, h_neg))
        self._s["sum_best_f1"] += best
        return {"best_f1": best, "best_threshold": float(self._grid[k])}

    def _add_tolerance(self, pred: np.ndarray, g: np.ndarray) -> dict[str, float]:
        """Counts and scores of the F1 with a ``tolerance``."""
        th = tolerance_counts(pred, g, self.tolerance)
        self._add(_TOLERANCE, th)
        return dict(zip(("precision_tol", "recall_tol", "f1_tol"), tolerance_scores(*th), strict=True))

    def _add_centreline(self, pred: np.ndarray, g: np.ndarray) -> dict[str, float]:
        """clDice and clIoU counts from the two skeletons."""
        sp, sg = skeleton(pred), skeleton(g)
        cd = cldice_from_skeletons(pred, g, sp, sg)
        self._add(_CLDICE, cd)
        out = {"cldice": cldice_from_counts(*cd)}
        self._s["sum_cldice"] += out["cldice"]
        ci = cliou_from_skeletons(sp, sg, self.cl_radius)
        self._add(_CLIOU, ci)
        out["cl_iou"] = iou_from_counts(*ci)
        return out

    def update_batch(self, probs: Any, gts: Any) -> list[dict[str, float]]:
        """Add a batch: ``probs`` B×H×W or B×1×H×W, ``gts`` of the same shape (or B×H×W)."""
        p, g = np.asarray(probs), np.asarray(gts)
        if p.ndim == 4 and p.shape[1] == 1:
            p = p[:, 0]
        if g.ndim == 4 and g.shape[1] == 1:
            g = g[:, 0]
        if p.ndim != 3 or p.shape != g.shape:
            raise ValueError(f"batch shapes {np.shape(probs)} and {np.shape(gts)} do not match "
                             "(expected B×H×W or B×1×H×W)")
        return [self.update(pi, gi) for pi, gi in zip(p, g, strict=True)]

    # ------------------------------------------------------------------------------------ results
    def _ints(self, names: Iterable[str]) -> list[int]:
        return [int(self._s[k]) for k in names]

    def curve(self) -> dict[str, np.ndarray]:
        """Dataset-pooled precision / recall / F1 at every ODS threshold (for PR plots)."""
        tp, fp, fn = sweep_counts(self._s["hist_pos"], self._s["hist_neg"])
        rows = [scores_from_counts(a, b, c) for a, b, c in zip(tp.tolist(), fp.tolist(), fn.tolist(), strict=True)]
        arr = np.asarray([(r["precision"], r["recall"], r["f1"]) for r in rows], dtype=np.float64).reshape(-1, 3)
        return {"thresholds": self._grid.copy(), "precision": arr[:, 0], "recall": arr[:, 1], "f1": arr[:, 2],
                "tp": tp, "fp": fp, "fn": fn}

    def compute(self) -> dict[str, float]:
        """The dataset-level metrics (keys :data:`KEYS`, or :data:`FAST_KEYS` when ``fast``).
        Counts and ``n_images`` are ints, everything else floats. Raises ValueError before any update."""
        s = self._s
        n = int(s["n_images"])
        if n == 0:
            raise ValueError("no images accumulated")
        tp, fp, fn, tn = self._ints(_POOLED)
        c = self.curve()
        best, k = best_f1(c["tp"], c["fp"], c["fn"])
        out: dict[str, Any] = {"n_images": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn, **scores_from_counts(tp, fp, fn)}
        out.update({f"{m}_mean": float(s[f"sum_{m}"]) / n for m in ("precision", "recall", "f1", "iou")})
        out.update(ods=best, ods_threshold=float(self._grid[k]), ois=float(s["sum_best_f1"]) / n)
        if not self.fast:
            p, r, f = tolerance_scores(*self._ints(_TOLERANCE))
            out.update(precision_tol=p, recall_tol=r, f1_tol=f)
            out["cldice"] = cldice_from_counts(*self._ints(_CLDICE))
            out["cldice_mean"] = float(s["sum_cldice"]) / n
            out["cl_iou"] = iou_from_counts(*self._ints(_CLIOU))
        return out

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v}" for k, v in self.config.items())
        return f"SegmentationMetrics({cfg}, n_images={self.n_images})"
