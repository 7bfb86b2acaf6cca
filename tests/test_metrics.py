"""sac.metrics: hand-computed cases, agreement with torchmetrics / scikit-learn, brute-force ODS/OIS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import disk

from sac.metrics import (
    FAST_KEYS,
    KEYS,
    SegmentationMetrics,
    binary_counts,
    cldice_counts,
    cldice_from_counts,
    cliou_counts,
    f1_from_counts,
    iou_from_counts,
    precision_from_counts,
    recall_from_counts,
    skeleton,
    tolerance_counts,
)
from sac.metrics.tolerance import disk as _disk  # helpers, checked against scipy / skimage below
from sac.metrics.tolerance import near as _near


def _one(prob, gt, **kw) -> dict:
    m = SegmentationMetrics(**kw)
    m.update(prob, gt)
    return m.compute()


def _random_images(seed: int, n: int = 5, shape=(24, 31), dtype=np.float64):
    """Blobby random gt (about 15% crack) and noisy probabilities correlated with it."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        gt = ndimage.uniform_filter(rng.random(shape), 3) > 0.6
        prob = np.clip(0.35 * gt + 0.65 * rng.random(shape), 0, 1).astype(dtype)
        out.append((prob, gt))
    return out


# ------------------------------------------------------------------------------------ hand-computed
# gt (4×4)        prob                     pred = prob >= 0.5
# 0 1 1 0         .1 .9 .6 .7              0 1 1 1
# 0 1 1 0         .2 .5 .4 .0              0 1 0 0     (0.5 itself counts: >=)
# 0 0 0 0         .0 .0 .0 .8              0 0 0 1
# 0 0 0 0         .3 .0 .0 .0              0 0 0 0
# TP = (0,1) (0,2) (1,1) = 3, FP = (0,3) (2,3) = 2, FN = (1,2) = 1, TN = 16 - 6 = 10
# P = 3/5, R = 3/4, F1 = 2*3/(6+2+1) = 2/3, IoU = 3/(3+2+1) = 1/2
GT4 = np.array([[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]], bool)
PROB4 = np.array([[.1, .9, .6, .7], [.2, .5, .4, .0], [.0, .0, .0, .8], [.3, .0, .0, .0]])


def test_hand_pixel_metrics():
    assert binary_counts(PROB4 >= 0.5, GT4) == (3, 2, 1, 10)
    r = _one(PROB4, GT4)
    assert (r["tp"], r["fp"], r["fn"], r["tn"], r["n_images"]) == (3, 2, 1, 10, 1)
    assert r["precision"] == pytest.approx(3 / 5)
    assert r["recall"] == pytest.approx(3 / 4)
    assert r["f1"] == pytest.approx(2 / 3)
    assert r["iou"] == pytest.approx(1 / 2)
    # one image: per-image means are the same numbers
    for k in ("precision", "recall", "f1", "iou"):
        assert r[k + "_mean"] == pytest.approx(r[k])


def test_hand_ods_ois():
    # gt-positive probs: .9 .6 .5 .4 ; gt-negative non-zero probs: .7 .8 .2 .1 .3 (and 7 zeros)
    # t in (0.4, 0.5]  -> TP 3 FP 2 FN 1: F1 = 6/9 = .667 ; t in (0.3, 0.4] -> TP 4 FP 2 FN 0: F1 = 8/10 = .8
    # t in (0.8, 0.9]  -> TP 1 FP 0 FN 3: F1 = 2/5 ;  t in (0.6,0.7] -> TP 2, FP 2 (.7 .8), FN 2: 4/8
    # t in (0.2, 0.3]  -> TP 4 FP 3 : 8/11 ; best is 0.8 at thresholds 0.31 .. 0.40, lowest 0.31 wins
    r = _one(PROB4, GT4)
    assert r["ods"] == pytest.approx(0.8)
    assert r["ods_threshold"] == pytest.approx(0.31)
    assert r["ois"] == pytest.approx(0.8)  # one image: OIS = ODS


# 6×6 tolerance case (2 px, Euclidean, <=):
#     c: 0 1 2 3 4 5
# r0:    . G . P . .      G = gt (col 1, rows 0-2), P = prediction
# r1:    . G . . . .
# r2:    . G . . . .
# r3:    . . P P . .
# r4:    . . . . . .
# r5:    . P . . . .
# pred (0,3): nearest gt (0,1) at 2        -> hit
# pred (3,2): nearest gt (2,1) at sqrt(2)  -> hit
# pred (3,3): nearest gt (2,1) at sqrt(5)  -> miss (offset (1,2) is outside 2 px)
# pred (5,1): nearest gt (2,1) at 3        -> miss            precision_tol = 2/4
# gt (0,1): pred (0,3) at 2 -> hit; gt (1,1): nearest preds (0,3), (3,2) at sqrt(5) -> miss;
# gt (2,1): pred (3,2) at sqrt(2) -> hit                      recall_tol = 2/3
# f1_tol = 2 * (1/2) * (2/3) / (1/2 + 2/3) = 4/7 ; plain pixel F1 = 0 (no exact overlap)
GT6 = np.zeros((6, 6), bool)
GT6[0:3, 1] = True
PRED6 = np.zeros((6, 6), bool)
PRED6[0, 3] = PRED6[3, 2] = PRED6[3, 3] = PRED6[5, 1] = True


def test_hand_tolerance():
    assert tolerance_counts(PRED6, GT6, 2) == (2, 4, 2, 3)
    r = _one(PRED6.astype(np.float32), GT6)
    assert r["precision_tol"] == pytest.approx(1 / 2)
    assert r["recall_tol"] == pytest.approx(2 / 3)
    assert r["f1_tol"] == pytest.approx(4 / 7)
    assert r["f1"] == 0.0
    # tolerance 0 is exact matching; a larger tolerance (3) also catches (5,1) and (3,3), (1,1)
    assert tolerance_counts(PRED6, GT6, 0) == (0, 4, 0, 3)
    assert tolerance_counts(PRED6, GT6, 3) == (4, 4, 3, 3)


def test_hand_cldice_thin_lines():
    # 8×8: G = row 3 (8 px); P = row 3 cols 0-3 (4 px) + col 6 rows 0-2 (3 px). One-pixel lines are
    # their own skeletons. Tprec = |S(P)∩G|/|S(P)| = 4/7, Tsens = |S(G)∩P|/|S(G)| = 4/8
    # clDice = 2 (4/7)(1/2) / (4/7 + 1/2) = 8/15
    g = np.zeros((8, 8), bool)
    g[3, :] = True
    p = np.zeros((8, 8), bool)
    p[3, 0:4] = True
    p[0:3, 6] = True
    assert np.array_equal(skeleton(g), g) and np.array_equal(skeleton(p), p)
    assert cldice_counts(p, g) == (4, 7, 4, 8)
    assert cldice_from_counts(4, 7, 4, 8) == pytest.approx(8 / 15)
    assert _one(p, g)["cldice"] == pytest.approx(8 / 15)


def test_hand_cldice_thick_prediction():
    # 7×9: P = 3×7 bar (rows 2-4, cols 1-7), G = row 3 (cols 0-8, 9 px, its own skeleton).
    # skimage's thinning of the bar: row 3 cols 1-5 plus a corner pixel (2,6) — asserted below.
    # Tprec = 5/6 (the corner pixel is off G), Tsens = |G ∩ P|/|G| = 7/9
    # clDice = 2 (5/6)(7/9) / (5/6 + 7/9) = 70/87, while pixel F1 = 2*7/(14+14+2) = 7/15
    p = np.zeros((7, 9), bool)
    p[2:5, 1:8] = True
    g = np.zeros((7, 9), bool)
    g[3, :] = True
    expected_sk = np.zeros((7, 9), bool)
    expected_sk[3, 1:6] = True
    expected_sk[2, 6] = True
    assert np.array_equal(skeleton(p), expected_sk)
    r = _one(p, g)
    assert r["cldice"] == pytest.approx(70 / 87)
    assert r["cldice_mean"] == pytest.approx(70 / 87)
    assert r["f1"] == pytest.approx(7 / 15)


def test_hand_cliou():
    # 12×12, radius 4: G = row 2 cols 0-9 (10 px), P = row 6 cols 0-4 (5 px) + isolated (11,11).
    # S(G) = G, S(P) = P. TP = gt skeleton px within 4 of S(P): (2,0..4) at exactly 4 -> 5;
    # (2,5) is sqrt(4²+1²) > 4 from (6,4) -> FN = 5. FP = S(P) px farther than 4 from S(G): (11,11)
    # (row 6 is at 4) -> 1. clIoU = 5 / (5 + 1 + 5) = 5/11
    g = np.zeros((12, 12), bool)
    g[2, 0:10] = True
    p = np.zeros((12, 12), bool)
    p[6, 0:5] = True
    p[11, 11] = True
    assert np.array_equal(skeleton(p), p) and np.array_equal(skeleton(g), g)
    assert cliou_counts(p, g, 4) == (5, 1, 5)
    r = _one(p, g)
    assert r["cl_iou"] == pytest.approx(5 / 11)
    assert r["iou"] == 0.0
    # with radius 3 nothing matches: TP 0, FP 6, FN 10
    assert cliou_counts(p, g, 3) == (0, 6, 10)
    assert _one(p, g, cl_radius=3)["cl_iou"] == 0.0


def _reference_cliou(pred, gt, tol=4):
    """OmniCrack30k's evaluation.apply_tolerance + jaccard, re-done with scipy dilation by disk(tol)."""
    sp, sg = skeleton(pred).astype(np.uint8), skeleton(gt).astype(np.uint8)
    dil = (lambda m: ndimage.binary_dilation(m, structure=disk(tol)).astype(np.uint8)) if sp.any() or sg.any() \
        else (lambda m: m)
    sp_d, sg_d = dil(sp), dil(sg)
    tp = sg * sp_d
    fp = sp - sp * sg_d
    fn = sg - tp
    return int(tp.sum()), int(fp.sum()), int(fn.sum())


def test_cliou_matches_omnicrack_reference_on_random_masks():
    for prob, gt in _random_images(3, n=4, shape=(40, 37)):
        pred = prob >= 0.5
        assert cliou_counts(pred, gt, 4) == _reference_cliou(pred, gt, 4)


@pytest.mark.parametrize("radius", [0, 1, 2, 2.5, 4])
def test_near_equals_distance_transform(radius):
    rng = np.random.default_rng(7)
    m = rng.random((33, 29)) > 0.97
    ref = ndimage.distance_transform_edt(~m) <= radius
    assert np.array_equal(_near(m, radius), ref)
    if float(radius).is_integer() and radius > 0:
        assert np.array_equal(_disk(radius), disk(int(radius)))


# ------------------------------------------------------------------------------------ libraries
def test_pooled_and_per_image_match_torchmetrics_and_sklearn():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    skm = pytest.importorskip("sklearn.metrics")
    imgs = _random_images(0, n=6)
    assert not any((p == 0.5).any() for p, _ in imgs)  # torchmetrics uses >, we use >=
    acc = SegmentationMetrics(fast=True)
    metrics = {"precision": tm.BinaryPrecision(), "recall": tm.BinaryRecall(), "f1": tm.BinaryF1Score(),
               "iou": tm.BinaryJaccardIndex()}
    per = {"precision": [], "recall": [], "f1": [], "iou": []}
    for prob, gt in imgs:
        acc.update(prob, gt)
        tp, tg = torch.from_numpy(prob).flatten(), torch.from_numpy(gt.astype(np.int64)).flatten()
        for m in metrics.values():
            m.update(tp, tg)
        pr = (prob >= 0.5).ravel()
        per["precision"].append(skm.precision_score(gt.ravel(), pr))
        per["recall"].append(skm.recall_score(gt.ravel(), pr))
        per["f1"].append(skm.f1_score(gt.ravel(), pr))
        per["iou"].append(skm.jaccard_score(gt.ravel(), pr))
    r = acc.compute()
    all_gt = np.concatenate([g.ravel() for _, g in imgs])
    all_pred = np.concatenate([(p >= 0.5).ravel() for p, _ in imgs])
    sk = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score,
          "iou": skm.jaccard_score}
    for k in ("precision", "recall", "f1", "iou"):
        assert r[k] == pytest.approx(float(metrics[k].compute()), abs=1e-6), k
        assert r[k] == pytest.approx(sk[k](all_gt, all_pred), abs=1e-12), k
        assert r[k + "_mean"] == pytest.approx(np.mean(per[k]), abs=1e-12), k
    assert 0.2 < r["f1"] < 0.9  # a non-degenerate case
    # torchmetrics' per-image ("samplewise") F1, averaged, is f1_mean
    f1s = tm.BinaryF1Score(multidim_average="samplewise")
    probs_t = torch.from_numpy(np.stack([p for p, _ in imgs]))
    gts_t = torch.from_numpy(np.stack([g for _, g in imgs]).astype(np.int64))
    assert r["f1_mean"] == pytest.approx(float(f1s(probs_t, gts_t).mean()), abs=1e-6)


# ------------------------------------------------------------------------------------ ODS / OIS
def _f1(tp, fp, fn):
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def _brute_ods_ois(imgs, n=100):
    pooled = np.zeros((n, 3), np.int64)
    best_per_image = []
    for prob, gt in imgs:
        rows = []
        for k in range(n):
            pred = prob >= k / n  # Python float: compared in prob's dtype (NEP 50)
            c = (int((pred & gt).sum()), int((pred & ~gt).sum()), int((~pred & gt).sum()))
            pooled[k] += c
            rows.append(_f1(*c))
        best_per_image.append(max(rows))
    f1 = [_f1(*pooled[k]) for k in range(n)]
    k = int(np.argmax(f1))
    return f1[k], k / n, float(np.mean(best_per_image)), pooled


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ods_ois_equal_brute_force_including_bin_edges(dtype):
    imgs = _random_images(1, n=4, shape=(20, 25), dtype=dtype)
    # put probabilities exactly on (and one ulp around) every threshold k/100, in this dtype:
    # 0.29, 0.57, ... are not exact in binary and 0.29*100 rounds below 29
    edges = np.arange(100) / 100
    e = np.concatenate([edges, [0.29, 0.57, 0.58, 0.07, 0.14, 0.99, 1.0, 0.995]]).astype(dtype)
    e = np.concatenate([e, np.nextafter(e, dtype(2)), np.nextafter(e, dtype(-1))])
    e = np.clip(e, 0, 1).astype(dtype)
    rng = np.random.default_rng(5)
    edge_img = np.resize(e, (18, 18)).astype(dtype)
    imgs.append((edge_img, rng.random((18, 18)) > 0.5))
    imgs.append((edge_img[::-1].copy(), np.zeros((18, 18), bool)))  # empty gt image
    acc = SegmentationMetrics(fast=True)
    for prob, gt in imgs:
        acc.update(prob, gt)
    ods, thr, ois, pooled = _brute_ods_ois(imgs)
    curve = acc.curve()
    assert np.array_equal(curve["tp"], pooled[:, 0])
    assert np.array_equal(curve["fp"], pooled[:, 1])
    assert np.array_equal(curve["fn"], pooled[:, 2])
    r = acc.compute()
    assert r["ods"] == ods
    assert r["ods_threshold"] == thr
    assert r["ois"] == pytest.approx(ois, abs=1e-15)
    # the 0.5 counts are the curve at k = 50
    assert (r["tp"], r["fp"], r["fn"]) == tuple(pooled[50])


def test_float16_probabilities_are_widened_to_float32():
    rng = np.random.default_rng(2)
    p16 = rng.random((16, 16)).astype(np.float16)
    gt = rng.random((16, 16)) > 0.6
    a, b = SegmentationMetrics(fast=True), SegmentationMetrics(fast=True)
    a.update(p16, gt)
    b.update(p16.astype(np.float32), gt)
    assert a.compute() == b.compute()


def test_ods_is_at_least_f1_at_half_and_ois_at_least_ods():
    acc = SegmentationMetrics(fast=True)
    for prob, gt in _random_images(4, n=5):
        acc.update(prob, gt)
    r = acc.compute()
    assert r["ods"] >= r["f1"]
    assert r["ois"] >= r["ods"] - 1e-12


# ------------------------------------------------------------------------------------ empty masks
ALL_KEYS_SCORES = ("precision", "recall", "f1", "iou", "precision_mean", "recall_mean", "f1_mean",
                   "iou_mean", "ods", "ois", "precision_tol", "recall_tol", "f1_tol", "cldice", "cldice_mean",
                   "cl_iou")


def test_empty_gt_and_empty_prediction_score_one():
    r = _one(np.full((8, 8), 0.2), np.zeros((8, 8), bool))
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (0, 0, 0, 64)
    for k in ALL_KEYS_SCORES:
        assert r[k] == 1.0, k
    assert r["ods_threshold"] == 0.21  # the lowest threshold with nothing predicted


def test_empty_gt_with_prediction_scores_zero():
    prob = np.zeros((8, 8))
    prob[2, 2:5] = 0.9
    r = _one(prob, np.zeros((8, 8), bool))
    assert (r["tp"], r["fp"], r["fn"]) == (0, 3, 0)
    for k in ("precision", "recall", "f1", "iou", "precision_tol", "recall_tol", "f1_tol", "cldice", "cl_iou"):
        assert r[k] == 0.0, k
    assert r["ods"] == 1.0 and r["ods_threshold"] == 0.91  # above 0.9 nothing is predicted: perfect


def test_gt_with_empty_prediction_scores_zero():
    gt = np.zeros((8, 8), bool)
    gt[4, :] = True
    r = _one(np.full((8, 8), 0.1), gt)
    assert (r["tp"], r["fp"], r["fn"]) == (0, 0, 8)
    for k in ("precision", "recall", "f1", "iou", "precision_tol", "recall_tol", "f1_tol", "cldice", "cl_iou"):
        assert r[k] == 0.0, k


def test_zero_division_agrees_with_torchmetrics_except_all_empty():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    cases = [(np.array([0, 1, 1, 0]), np.array([0, 0, 0, 0])),   # gt empty, prediction not
             (np.array([0, 0, 0, 0]), np.array([0, 1, 0, 0]))]   # prediction empty, gt not
    for pred, gt in cases:
        tp, fp, fn, _ = binary_counts(pred, gt)
        t_pred, t_gt = torch.tensor(pred), torch.tensor(gt)
        assert precision_from_counts(tp, fp, fn) == float(tm.BinaryPrecision()(t_pred, t_gt))
        assert recall_from_counts(tp, fp, fn) == float(tm.BinaryRecall()(t_pred, t_gt))
        assert f1_from_counts(tp, fp, fn) == float(tm.BinaryF1Score()(t_pred, t_gt))
        assert iou_from_counts(tp, fp, fn) == float(tm.BinaryJaccardIndex()(t_pred, t_gt))
    # all empty: torchmetrics says 0 (zero_division=0), we say 1 (nothing to find, nothing found)
    z = torch.zeros(4, dtype=torch.long)
    assert float(tm.BinaryF1Score()(z, z)) == 0.0
    assert f1_from_counts(0, 0, 0) == precision_from_counts(0, 0, 0) == iou_from_counts(0, 0, 0) == 1.0


def test_empty_images_in_pooled_and_mean():
    # image A: crack-free and nothing predicted (per-image 1); image B: the 4×4 hand case
    acc = SegmentationMetrics()
    acc.update(np.zeros((4, 4)), np.zeros((4, 4), bool))
    acc.update(PROB4, GT4)
    r = acc.compute()
    assert (r["tp"], r["fp"], r["fn"], r["tn"]) == (3, 2, 1, 26)  # pooled: A only adds TNs
    assert r["f1"] == pytest.approx(2 / 3)
    assert r["f1_mean"] == pytest.approx((1 + 2 / 3) / 2)
    assert r["iou_mean"] == pytest.approx((1 + 1 / 2) / 2)
    assert r["n_images"] == 2


# ------------------------------------------------------------------------------------ merge / state
def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], int):
            assert a[k] == b[k], k
        else:
            assert a[k] == pytest.approx(b[k], abs=1e-12), k


def test_merge_equals_single_accumulation_and_state_roundtrip():
    imgs = _random_images(6, n=6)
    imgs.append((np.zeros((24, 31)), np.zeros((24, 31), bool)))
    single = SegmentationMetrics()
    for p, g in imgs:
        single.update(p, g)
    a, b = SegmentationMetrics(), SegmentationMetrics()
    for p, g in imgs[:3]:
        a.update(p, g)
    for p, g in imgs[3:]:
        b.update(p, g)
    # an all-reduce (sum of every state array) == merge == one accumulator
    sa, sb = a.state_dict(), b.state_dict()
    summed = {"config": sa["config"], "state": {k: sa["state"][k] + sb["state"][k] for k in sa["state"]}}
    from_sum = SegmentationMetrics.from_state(summed)
    merged = a.merge(b)
    _assert_same(merged.compute(), single.compute())
    _assert_same(from_sum.compute(), single.compute())
    again = SegmentationMetrics.from_state(single.state_dict())
    assert again.compute() == single.compute()
    assert set(single.compute()) == set(KEYS)


def test_merge_rejects_other_settings_and_state_validation():
    a = SegmentationMetrics()
    with pytest.raises(ValueError, match="different settings"):
        a.merge(SegmentationMetrics(tolerance=3))
    with pytest.raises(TypeError):
        a.merge({"n_images": 1})
    bad = a.state_dict()
    del bad["state"]["tp"]
    with pytest.raises(ValueError, match="missing"):
        SegmentationMetrics.from_state(bad)


def test_memory_is_constant():
    acc = SegmentationMetrics()
    imgs = _random_images(8, n=12, shape=(16, 16))
    acc.update(*imgs[0])
    sizes = {k: v.size for k, v in acc.state_dict()["state"].items()}
    for p, g in imgs[1:]:
        acc.update(p, g)
    assert {k: v.size for k, v in acc.state_dict()["state"].items()} == sizes
    assert sum(sizes.values()) < 300


# ------------------------------------------------------------------------------------ API details
def test_update_batch_equals_updates_and_accepts_channel_dim():
    imgs = _random_images(9, n=3)
    a, b = SegmentationMetrics(), SegmentationMetrics()
    for p, g in imgs:
        a.update(p, g)
    per = b.update_batch(np.stack([p for p, _ in imgs])[:, None], np.stack([g for _, g in imgs])[:, None])
    assert a.compute() == b.compute()
    assert len(per) == 3 and per[0]["f1"] == pytest.approx(f1_from_counts(*binary_counts(imgs[0][0] >= .5,
                                                                                          imgs[0][1])[:3]))


def test_per_image_result_of_update():
    m = SegmentationMetrics()
    out = m.update(PROB4, GT4)
    assert out["f1"] == pytest.approx(2 / 3) and out["best_f1"] == pytest.approx(0.8)
    assert out["best_threshold"] == pytest.approx(0.31)
    assert set(out) >= {"precision", "recall", "iou", "f1_tol", "cldice", "cl_iou"}


def test_fast_skips_skeleton_and_tolerance_keys():
    imgs = _random_images(10, n=3)
    fast, full = SegmentationMetrics(fast=True), SegmentationMetrics()
    for p, g in imgs:
        fast.update(p, g)
        full.update(p, g)
    rf, r = fast.compute(), full.compute()
    assert tuple(rf) == FAST_KEYS and tuple(r) == KEYS
    assert all(rf[k] == r[k] for k in FAST_KEYS)


def test_binary_and_integer_predictions():
    pred = PROB4 >= 0.5
    a, b = _one(pred, GT4), _one(pred.astype(np.uint8), GT4.astype(np.uint8))
    assert a == b and a["f1"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="0/1"):
        _one((pred * 255).astype(np.uint8), GT4)


def test_invalid_inputs_raise():
    m = SegmentationMetrics()
    with pytest.raises(ValueError, match="does not match"):
        m.update(np.zeros((4, 4)), np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.update(np.full((4, 4), 1.5), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.update(np.full((4, 4), np.nan), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        m.update(np.full((4, 4), -0.01), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="binary"):
        m.update(np.zeros((4, 4)), np.full((4, 4), 0.5))
    with pytest.raises(ValueError, match="do not match"):
        m.update_batch(np.zeros((2, 4, 4)), np.zeros((3, 4, 4), bool))
    with pytest.raises(ValueError, match="no images"):
        m.compute()
    with pytest.raises(ValueError):
        SegmentationMetrics(threshold=1.5)
    with pytest.raises(ValueError):
        SegmentationMetrics(thresholds=0)


def test_rounding_overshoot_is_clipped():
    p = PROB4.astype(np.float32)
    p[0, 1] = np.nextafter(np.float32(1), np.float32(2))  # 1 + 1 ulp, e.g. from bilinear resizing
    p[3, 1] = -1e-8
    assert _one(p, GT4) == _one(np.clip(p, 0, 1), GT4)


def test_other_threshold_and_bins():
    # threshold 0.7 on the hand case: pred = .9 .7 .8 -> TP 1 ((0,1)), FP 2, FN 3: F1 = 2/(2+2+3) = 2/7
    r = _one(PROB4, GT4, threshold=0.7, fast=True)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 2, 3)
    assert r["f1"] == pytest.approx(2 / 7)
    # 10 bins: thresholds 0.0 .. 0.9; best (0.8) is reached at 0.4 ( .4 >= .4 is a TP)
    r10 = _one(PROB4, GT4, thresholds=10, fast=True)
    assert r10["ods"] == pytest.approx(0.8) and r10["ods_threshold"] == pytest.approx(0.4)
