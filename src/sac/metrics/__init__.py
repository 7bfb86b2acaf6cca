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

Modules: :mod:`~sac.metrics.pooled` (confusion counts and their ratios), :mod:`~sac.metrics.sweep` (the
threshold sweep of ODS / OIS), :mod:`~sac.metrics.tolerance` (F1 with a tolerance),
:mod:`~sac.metrics.centreline` (skeletons, clDice, clIoU), :mod:`~sac.metrics.inputs` (input checks) and
:mod:`~sac.metrics.accumulator` (:class:`SegmentationMetrics`).
"""

from sac.metrics.accumulator import FAST_KEYS, KEYS, SegmentationMetrics
from sac.metrics.centreline import cldice_counts, cldice_from_counts, cliou_counts, skeleton
from sac.metrics.pooled import (
    Counts,
    binary_counts,
    f1_from_counts,
    iou_from_counts,
    precision_from_counts,
    recall_from_counts,
)
from sac.metrics.tolerance import tolerance_counts

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
