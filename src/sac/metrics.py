"""Segmentation metrics for crack masks: pure functions and a streaming accumulator.

numpy throughout; ``skimage.morphology.skeletonize`` for skeletons and an OpenCV dilation by a disk
for the distance tolerances (identical to ``scipy.ndimage.distance_transform_edt(~m) <= r``, faster).

:class:`SegmentationMetrics` accumulates, image by image, only additive counters and sums, so its
memory is constant however many images it sees, two accumulators merge by adding, and its
``state_dict()`` can be summed across processes (DDP all-reduce) and rebuilt with ``from_state``.

Metrics (``compute()`` keys; see :data:`KEYS`)
---------------------------------------------
Counts at ``threshold`` (default 0.5) are **pooled over the dataset** (the paper's Eq. 3–6, the
headline numbers): ``tp fp fn tn`` and ``precision = TP/(TP+FP)``, ``recall = TP/(TP+FN)``,
``f1 = 2TP/(2TP+FP+FN)`` (the harmonic mean of the two), ``iou = TP/(TP+FP+FN)``.

- ``precision_mean recall_mean f1_mean iou_mean``: the same per image, averaged over images.
- ``ods`` / ``ods_threshold``: best F1 over the thresholds ``k/100, k = 0..99`` with dataset-pooled
  counts (optimal dataset scale); the lowest threshold wins a tie. ``ois``: the mean over images of
  each image's best F1 over the same thresholds (optimal image scale).
- ``precision_tol recall_tol f1_tol``: F1 with a ``tolerance`` (default 2 px) as in CrackForest /
  DeepCrack (TIP'19): a predicted crack pixel is correct if a ground-truth crack pixel lies within
  Euclidean distance ``<= tolerance`` of it, a ground-truth pixel is recalled if a predicted pixel
  lies within ``<= tolerance``. Counts pooled over the dataset. With 2 px the offsets (2, 0) and (1, 1)
  match, (2, 1) (distance sqrt(5)) does not.
- ``cldice`` (Shit et al., CVPR 2021): ``Tprec = |S(P)∩G| / |S(P)|``, ``Tsens = |S(G)∩P| / |S(G)|``,
  ``clDice = 2·Tprec·Tsens / (Tprec + Tsens)`` with ``S`` = :func:`skeleton`; the four counts are
  pooled over the dataset. ``cldice_mean``: per image, averaged.
- ``cl_iou``: OmniCrack30k's centreline IoU with a ``cl_radius`` (default 4 px) tolerance, as its
  reference ``evaluation.py`` (Benz & Rodehorst, CVPRW 2024) computes it: with ``S(P)``, ``S(G)`` the
  skeletons and ``D_r(X)`` = pixels within Euclidean distance ``<= r`` of ``X`` (= dilation by
  ``skimage.morphology.disk(r)``): ``TP = |S(G) ∩ D_r(S(P))|``, ``FN = |S(G) \\ D_r(S(P))|``,
  ``FP = |S(P) \\ D_r(S(G))|``, ``clIoU = TP / (TP + FP + FN)``, counts pooled over the dataset.
  (It counts skeleton pixels, not the IoU of the two dilated skeleton masks, which would reward the
  dilation's own area and not match OmniCrack30k's published numbers.)
- ``n_images``.

``fast=True`` skips the tolerance and skeleton metrics (distance transforms and skeletonisation
cost time on large images): the keys ``precision_tol recall_tol f1_tol cldice cldice_mean cl_iou``
are then absent from ``compute()`` (see :data:`FAST_KEYS`), not NaN.

Conventions
-----------
- **Binarisation**: a pixel is predicted crack when ``prob >= threshold``. (``torchmetrics`` uses
  ``>``; the two differ only for probabilities exactly equal to the threshold. ``>=`` makes the
  lowest ODS threshold, 0, mean "everything is crack" and the bins of the histograms half-open
  ``[k/100, (k+1)/100)``.) The comparison is made **in the probability's own float type**
  (``prob >= prob.dtype.type(t)``), as ``numpy`` and ``torch`` do for ``prob >= 0.29`` with a Python
  float; float16 inputs are first widened to float32. The ODS/OIS histograms use the same
  comparison, so their counts at ``k/100`` equal a brute-force ``prob >= k/100`` exactly, also for
  probabilities on bin edges such as ``0.29`` that are not exact in binary.
  Bool predictions count as 0/1 probabilities; integer ones must be 0/1. Probabilities must lie in
  [0, 1]; values within 1e-6 outside (rounding of resizing / tile blending) are clipped.
- **0/0**: a ratio whose denominator is 0 is **1.0 when there is nothing to find and nothing was
  found** (TP = FP = FN = 0: empty ground truth and empty prediction) **and 0.0 otherwise**. This is
  ``torchmetrics``' ``zero_division=0`` (and scikit-learn's ``zero_division=0``) except in the
  all-empty case, where those libraries report 0 for a perfect answer. So, per image:

  - gt empty, prediction empty: P = R = F1 = IoU = 1 (nothing to find, nothing found);
  - gt empty, something predicted: P = R = F1 = IoU = 0 (R is 0/0 -> 0, as in torchmetrics);
  - gt not empty, nothing predicted: P = R = F1 = IoU = 0 (P is 0/0 -> 0, as in torchmetrics);
  - otherwise the plain ratios.

  The same rule applies to the pooled counts (all images crack-free and nothing predicted gives 1.0),
  to the tolerance counts, to Tprec/Tsens of clDice (a harmonic mean with both parts 0 is 0) and to
  clIoU. Crack-free images are **included** in the per-image means and in OIS with these values
  (an empty-gt image scores 1 at any threshold where nothing is predicted, so OIS is lenient there);
  the pooled numbers are unaffected by the convention except in the all-empty case.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "FAST_KEYS",
    "KEYS",
    "Counts",
    "SegmentationMetrics",
    "binary_counts",
    "cldice_counts",
    "cldice_from_counts",
    "cliou_counts",
    "f1_from_counts",
    "iou_from_counts",
    "precision_from_counts",
    "recall_from_counts",
    "skeleton",
    "tolerance_counts",
]

#: ``compute()`` keys with ``fast=True``.
FAST_KEYS: tuple[str, ...] = (
    "n_images", "tp", "fp", "fn", "tn", "precision", "recall", "f1", "iou",
    "precision_mean", "recall_mean", "f1_mean", "iou_mean", "ods", "ods_threshold", "ois",
)
#: ``compute()`` keys with ``fast=False`` (the default).
KEYS: tuple[str, ...] = FAST_KEYS + (
    "precision_tol", "recall_tol", "f1_tol", "cldice", "cldice_mean", "cl_iou",
)


# ---------------------------------------------------------------------------------------------- ratios
def _ratio(num: float, den: float, nothing_at_all: bool) -> float:
    """``num/den``; for ``den == 0``: 1.0 if there was nothing to find and nothing found, else 0.0."""
    if den == 0:
        return 1.0 if nothing_at_all else 0.0
    return float(num) / float(den)


def precision_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FP)`` (Eq. 3); 1.0 when ``TP = FP = FN = 0``, 0.0 for other zero denominators."""
    return _ratio(tp, tp + fp, tp + fp + fn == 0)


def recall_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FN)`` (Eq. 4); 1.0 when ``TP = FP = FN = 0``, 0.0 for other zero denominators."""
    return _ratio(tp, tp + fn, tp + fp + fn == 0)


def f1_from_counts(tp: int, fp: int, fn: int) -> float:
    """``2TP/(2TP+FP+FN)`` = harmonic mean of precision and recall (Eq. 5); 1.0 when all are 0."""
    return _ratio(2 * tp, 2 * tp + fp + fn, tp + fp + fn == 0)


def iou_from_counts(tp: int, fp: int, fn: int) -> float:
    """``TP/(TP+FP+FN)`` = ``|p∩g|/|p∪g|`` (Eq. 6); 1.0 when all are 0."""
    return _ratio(tp, tp + fp + fn, tp + fp + fn == 0)


def _harmonic(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2.0 * a * b / (a + b)


def cldice_from_counts(sp_in_g: int, sp: int, sg_in_p: int, sg: int) -> float:
    """clDice from ``|S(P)∩G|, |S(P)|, |S(G)∩P|, |S(G)|`` (1.0 when both skeletons are empty)."""
    empty = sp == 0 and sg == 0
    return _harmonic(_ratio(sp_in_g, sp, empty), _ratio(sg_in_p, sg, empty))


def _tol_scores(pred_hit: int, pred_n: int, gt_hit: int, gt_n: int) -> tuple[float, float, float]:
    empty = pred_n == 0 and gt_n == 0
    p, r = _ratio(pred_hit, pred_n, empty), _ratio(gt_hit, gt_n, empty)
    return p, r, _harmonic(p, r)


# ---------------------------------------------------------------------------------------------- masks
def _as_mask(a: Any, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        return a
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{what} must be binary (bool or 0/1), got values outside {{0, 1}}")
    return a.astype(bool)


_SLACK = 1e-6  # probabilities this far outside [0, 1] (float rounding) are clipped, farther is an error


def _as_prob(a: Any) -> np.ndarray:
    """A float32/float64 probability map; bool -> 0/1; integers must be 0/1; range checked."""
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
            if not (lo >= -_SLACK and hi <= 1.0 + _SLACK):
                raise ValueError("probabilities must lie in [0, 1] (pass sigmoid(logits), not logits); "
                                 f"got values in [{lo}, {hi}]")
            a = np.clip(a, 0.0, 1.0)  # rounding of interpolation / tile blending
    return a


class Counts(NamedTuple):
    """Confusion counts of one binary mask pair (or pooled)."""

    tp: int
    fp: int
    fn: int
    tn: int


def binary_counts(pred: Any, gt: Any) -> Counts:
    """``(tp, fp, fn, tn)`` of two binary masks of the same shape (bool or 0/1)."""
    p, g = _as_mask(pred, "pred"), _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {g.shape}")
    tp = int(np.count_nonzero(p & g))
    n_p, n_g = int(np.count_nonzero(p)), int(np.count_nonzero(g))
    fp, fn = n_p - tp, n_g - tp
    return Counts(tp, fp, fn, int(p.size) - tp - fp - fn)


def skeleton(mask: Any) -> np.ndarray:
    """One-pixel-wide centreline of a binary mask (``skimage.morphology.skeletonize``), bool."""
    m = _as_mask(mask, "mask")
    if not m.any():
        return np.zeros(m.shape, dtype=bool)
    from skimage.morphology import skeletonize

    return skeletonize(m).astype(bool, copy=False)


def _disk(radius: float) -> np.ndarray:
    """Footprint of the offsets with ``dy² + dx² <= radius²`` (= ``skimage.morphology.disk`` for
    integer radii)."""
    r = int(np.floor(radius))
    d = np.arange(-r, r + 1)
    return (d[:, None] ** 2 + d[None, :] ** 2 <= radius * radius).astype(np.uint8)


def _near(mask: np.ndarray, radius: float) -> np.ndarray:
    """Pixels within Euclidean distance ``<= radius`` of a ``True`` pixel of ``mask``: binary dilation
    by :func:`_disk` (OpenCV, ~20x faster than ``distance_transform_edt(~mask) <= radius``, which
    gives the same mask; the tests check it)."""
    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    if radius < 1:
        return mask.copy()
    import cv2

    m = np.ascontiguousarray(mask).view(np.uint8)
    return cv2.dilate(m, _disk(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def tolerance_counts(pred: Any, gt: Any, tolerance: float = 2.0) -> tuple[int, int, int, int]:
    """``(pred_matched, pred_total, gt_matched, gt_total)``: predicted pixels within ``tolerance`` of
    the ground truth, all predicted pixels, ground-truth pixels within ``tolerance`` of the
    prediction, all ground-truth pixels. Precision = matched/total of the prediction, recall = of gt."""
    p, g = _as_mask(pred, "pred"), _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {g.shape}")
    return (int(np.count_nonzero(p & _near(g, tolerance))), int(np.count_nonzero(p)),
            int(np.count_nonzero(g & _near(p, tolerance))), int(np.count_nonzero(g)))


def _cldice_counts_sk(p, g, sp, sg) -> tuple[int, int, int, int]:
    return (int(np.count_nonzero(sp & g)), int(np.count_nonzero(sp)),
            int(np.count_nonzero(sg & p)), int(np.count_nonzero(sg)))


def _cliou_counts_sk(sp, sg, radius) -> tuple[int, int, int]:
    near_p, near_g = _near(sp, radius), _near(sg, radius)
    tp = int(np.count_nonzero(sg & near_p))
    fn = int(np.count_nonzero(sg)) - tp
    fp = int(np.count_nonzero(sp & ~near_g))
    return tp, fp, fn


def cldice_counts(pred: Any, gt: Any) -> tuple[int, int, int, int]:
    """``(|S(P)∩G|, |S(P)|, |S(G)∩P|, |S(G)|)`` for clDice (see :func:`cldice_from_counts`)."""
    p, g = _as_mask(pred, "pred"), _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {g.shape}")
    return _cldice_counts_sk(p, g, skeleton(p), skeleton(g))


def cliou_counts(pred: Any, gt: Any, radius: float = 4.0) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` of OmniCrack30k's centreline IoU (clIoU = tp / (tp + fp + fn))."""
    p, g = _as_mask(pred, "pred"), _as_mask(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {g.shape}")
    return _cliou_counts_sk(skeleton(p), skeleton(g), radius)


def _best_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[float, int]:
    """Best F1 over the threshold curve (first index on ties) with the 0/0 convention."""
    den = 2 * tp + fp + fn
    f1 = np.where(den == 0, 1.0, 2.0 * tp / np.maximum(den, 1))
    k = int(np.argmax(f1))
    return float(f1[k]), k


# ---------------------------------------------------------------------------------------------- state
_INT_STATE = ("n_images", "tp", "fp", "fn", "tn",
              "tol_pred_hit", "tol_pred_n", "tol_gt_hit", "tol_gt_n",
              "sp_in_g", "sp", "sg_in_p", "sg", "cl_tp", "cl_fp", "cl_fn")
_FLOAT_STATE = ("sum_precision", "sum_recall", "sum_f1", "sum_iou", "sum_best_f1", "sum_cldice")


class SegmentationMetrics:
    """Streaming accumulator of crack-segmentation metrics (see the module docstring).

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
        # k/n correctly rounded in float64; cast to the probability's dtype when comparing
        self._grid = np.arange(self.thresholds, dtype=np.float64) / self.thresholds
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
        p = _as_prob(prob)
        g = _as_mask(gt, "gt")
        if p.ndim == 3 and p.shape[0] == 1:
            p = p[0]
        if g.ndim == 3 and g.shape[0] == 1:
            g = g[0]
        if p.ndim != 2 or p.shape != g.shape:
            raise ValueError(f"prediction shape {np.shape(prob)} does not match ground truth {np.shape(gt)} "
                             "(expected two H×W arrays)")
        s = self._s
        dt = p.dtype.type
        pred = p >= dt(self.threshold)

        # threshold-0.5 counts
        tp = int(np.count_nonzero(pred & g))
        n_pred, n_gt = int(np.count_nonzero(pred)), int(np.count_nonzero(g))
        fp, fn = n_pred - tp, n_gt - tp
        tn = int(p.size) - tp - fp - fn
        for k, v in (("tp", tp), ("fp", fp), ("fn", fn), ("tn", tn), ("n_images", 1)):
            s[k] += v
        out = {"precision": precision_from_counts(tp, fp, fn), "recall": recall_from_counts(tp, fp, fn),
               "f1": f1_from_counts(tp, fp, fn), "iou": iou_from_counts(tp, fp, fn)}
        for k in ("precision", "recall", "f1", "iou"):
            s["sum_" + k] += out[k]

        # threshold histograms: bin b = max{k : grid_k <= prob}, compared in prob's dtype, so that
        # prob >= grid_k <=> b >= k exactly. floor(prob * n) is at most one bin off (rounding of the
        # product and of grid_k); one correction each way makes it exact (tests check vs searchsorted).
        nb = self.thresholds
        grid = self._grid.astype(p.dtype)
        grid_ext = np.append(grid, p.dtype.type(np.inf))
        pf = p.ravel()
        bins = (pf * p.dtype.type(nb)).astype(np.intp)
        np.minimum(bins, nb - 1, out=bins)
        bins -= pf < grid[bins]
        bins += pf >= grid_ext[bins + 1]
        hist = np.bincount(bins + nb * g.ravel(), minlength=2 * nb)
        h_neg, h_pos = hist[:nb], hist[nb:]
        s["hist_pos"] += h_pos
        s["hist_neg"] += h_neg
        ctp = np.cumsum(h_pos[::-1])[::-1]
        cfp = np.cumsum(h_neg[::-1])[::-1]
        best, k = _best_f1(ctp, cfp, n_gt - ctp)
        s["sum_best_f1"] += best
        out["best_f1"], out["best_threshold"] = best, float(self._grid[k])

        if not self.fast:
            th = tolerance_counts(pred, g, self.tolerance)
            for key, v in zip(("tol_pred_hit", "tol_pred_n", "tol_gt_hit", "tol_gt_n"), th, strict=True):
                s[key] += v
            out["precision_tol"], out["recall_tol"], out["f1_tol"] = _tol_scores(*th)
            sp, sg = skeleton(pred), skeleton(g)
            cd = _cldice_counts_sk(pred, g, sp, sg)
            for key, v in zip(("sp_in_g", "sp", "sg_in_p", "sg"), cd, strict=True):
                s[key] += v
            out["cldice"] = cldice_from_counts(*cd)
            s["sum_cldice"] += out["cldice"]
            ci = _cliou_counts_sk(sp, sg, self.cl_radius)
            for key, v in zip(("cl_tp", "cl_fp", "cl_fn"), ci, strict=True):
                s[key] += v
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
    def curve(self) -> dict[str, np.ndarray]:
        """Dataset-pooled precision / recall / F1 at every ODS threshold (for PR plots)."""
        s = self._s
        tp = np.cumsum(s["hist_pos"][::-1])[::-1]
        fp = np.cumsum(s["hist_neg"][::-1])[::-1]
        fn = int(s["hist_pos"].sum()) - tp
        rows = [(precision_from_counts(a, b, c), recall_from_counts(a, b, c), f1_from_counts(a, b, c))
                for a, b, c in zip(tp.tolist(), fp.tolist(), fn.tolist(), strict=True)]
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
        return {"thresholds": self._grid.copy(), "precision": arr[:, 0], "recall": arr[:, 1], "f1": arr[:, 2],
                "tp": tp, "fp": fp, "fn": fn}

    def compute(self) -> dict[str, float]:
        """The dataset-level metrics (keys :data:`KEYS`, or :data:`FAST_KEYS` when ``fast``).
        Counts and ``n_images`` are ints, everything else floats. Raises ValueError before any update."""
        s = self._s
        n = int(s["n_images"])
        if n == 0:
            raise ValueError("no images accumulated")
        tp, fp, fn, tn = (int(s[k]) for k in ("tp", "fp", "fn", "tn"))
        c = self.curve()
        best, k = _best_f1(c["tp"], c["fp"], c["fn"])
        out: dict[str, Any] = {
            "n_images": n, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": precision_from_counts(tp, fp, fn), "recall": recall_from_counts(tp, fp, fn),
            "f1": f1_from_counts(tp, fp, fn), "iou": iou_from_counts(tp, fp, fn),
            "precision_mean": float(s["sum_precision"]) / n, "recall_mean": float(s["sum_recall"]) / n,
            "f1_mean": float(s["sum_f1"]) / n, "iou_mean": float(s["sum_iou"]) / n,
            "ods": best, "ods_threshold": float(self._grid[k]), "ois": float(s["sum_best_f1"]) / n,
        }
        if not self.fast:
            p, r, f = _tol_scores(*(int(s[k]) for k in ("tol_pred_hit", "tol_pred_n", "tol_gt_hit", "tol_gt_n")))
            out.update(precision_tol=p, recall_tol=r, f1_tol=f)
            out["cldice"] = cldice_from_counts(*(int(s[k]) for k in ("sp_in_g", "sp", "sg_in_p", "sg")))
            out["cldice_mean"] = float(s["sum_cldice"]) / n
            out["cl_iou"] = iou_from_counts(*(int(s[k]) for k in ("cl_tp", "cl_fp", "cl_fn")))
        return out

    def __repr__(self) -> str:
        cfg = ", ".join(f"{k}={v}" for k, v in self.config.items())
        return f"SegmentationMetrics({cfg}, n_images={self.n_images})"
