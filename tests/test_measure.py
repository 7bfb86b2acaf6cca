"""Crack measurement (sac.measure) against synthetic cracks of known length and width, and its exports."""

from __future__ import annotations

import csv
import json
import math
import time

import cv2
import numpy as np
import pytest

from sac.errors import ConfigError, DataError
from sac.measure import (
    measure_mask,
    render_overlay,
    scale_from_reference,
    summary_row,
    write_measurement,
    write_summary,
)
from sac.measure.synthetic import make_crack

# Stated tolerances (benchmarks/measure_accuracy.py shows the actual errors are well inside them):
LENGTH_TOL = 0.02  # 2 % of the true length (cracks ≥ 240 px, end effects corrected)
WIDTH_TOL_PX = 1.0  # mean / median width within ±1 px, widths 1–20 px


def _line_mask(h, w, p0, p1, thickness):
    m = np.zeros((h, w), np.uint8)
    cv2.line(m, p0, p1, 1, thickness)
    return m.astype(bool)


CASES = [("straight", 0), ("straight", 30), ("straight", 45), ("straight", 90), ("straight", -60),
         ("arc", 0), ("sine", 20), ("y", 0), ("t", 0), ("network", 0)]


@pytest.mark.parametrize("drawing", ["binary", "antialiased"])
@pytest.mark.parametrize("shape, angle", CASES)
def test_length_and_width_on_known_geometry(shape, angle, drawing):
    for width in (1, 3, 8, 16):
        c = make_crack(shape, width, angle_deg=angle, drawing=drawing)
        m = measure_mask(c.mask, min_area_px=1)
        assert m.totals["count"] == 1, (shape, width)
        crack = m.cracks[0]
        assert abs(crack.length_px - c.length) <= LENGTH_TOL * c.length, (shape, angle, width, crack.length_px)
        assert abs(crack.width_mean_px - width) <= WIDTH_TOL_PX, (shape, angle, width, crack.width_mean_px)
        assert abs(crack.width_median_px - width) <= WIDTH_TOL_PX, (shape, angle, width, crack.width_median_px)
        assert crack.width_median_px <= crack.width_p95_px <= crack.width_max_px
        assert crack.n_junctions == c.n_junctions, (shape, width, crack.n_junctions)


def test_raw_skeleton_length_is_biased_and_end_correction_matters():
    """Why smoothing and end correction exist: without them the errors exceed the tolerance."""
    c = make_crack("straight", 2, angle_deg=22.5, drawing="antialiased")
    raw = measure_mask(c.mask, smooth_px=0).cracks[0].length_px
    assert raw > 1.05 * c.length  # 8-connected steps overestimate oblique lines (≈ +8 % at 22.5°)
    c = make_crack("straight", 16, drawing="antialiased")
    no_ends = measure_mask(c.mask, end_correction=False).cracks[0].length_px
    assert no_ends < c.length - 10  # the skeleton of a 16 px wide band stops ≈ 8 px short of each end


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7, 8])
def test_edt_width_is_exact_on_axis_aligned_bands(width):
    """The tent correction d(p) + max d(p ± n) has no odd/even bias (2·d is +1 on odd, 2·d − 1 is −1 on even)."""
    m = np.zeros((60, 200), bool)
    m[20:20 + width, 30:170] = True
    crack = measure_mask(m, width_method="edt").cracks[0]
    assert crack.width_median_px == pytest.approx(width, abs=1e-6)
    crack = measure_mask(m.T.copy(), width_method="edt").cracks[0]
    assert crack.width_median_px == pytest.approx(width, abs=1e-6)
    crack = measure_mask(m).cracks[0]  # chord: exact as well
    assert crack.width_median_px == pytest.approx(width, abs=1e-6)
    assert crack.length_px == pytest.approx(140, abs=0.5)


def test_instances_and_specks():
    m = _line_mask(300, 400, (20, 30), (380, 40), 5)
    m |= _line_mask(300, 400, (30, 120), (30, 280), 3)
    m |= _line_mask(300, 400, (100, 200), (350, 280), 9)
    m[150:153, 150:153] = True  # 9 px speck
    m[250:254, 20:24] = True  # 16 px speck
    meas = measure_mask(m)  # min_area_px=20
    assert meas.totals["count"] == 3
    assert measure_mask(m, min_area_px=1).totals["count"] == 5
    assert measure_mask(m, min_area_px=10).totals["count"] == 4
    assert {c.id for c in meas.cracks} == {1, 2, 3}
    assert set(np.unique(meas.labels)) == {0, 1, 2, 3}
    for c in meas.cracks:  # ids, labels, areas and boxes agree
        x, y, w, h = c.bbox
        assert (meas.labels == c.id).sum() == c.area_px
        assert (meas.labels[y:y + h, x:x + w] == c.id).sum() == c.area_px
    assert meas.totals["crack_area_px"] == sum(c.area_px for c in meas.cracks) == (meas.labels > 0).sum()
    assert meas.totals["crack_area_share"] == pytest.approx(meas.totals["crack_area_px"] / m.size)


def test_spur_pruning():
    m = np.zeros((120, 300), bool)
    m[40:46, 20:280] = True
    for x in (50, 100, 150, 200):
        m[46:49, x:x + 3] = True  # bumps → skeleton spurs a few px long
    c = measure_mask(m).cracks[0]
    assert c.n_branches == 1 and c.n_junctions == 0
    assert c.length_px == pytest.approx(260, rel=0.01)
    m[46:90, 120:124] = True  # a real 47 px side branch (from the band's centre line)
    c = measure_mask(m).cracks[0]
    assert c.n_branches == 3 and c.n_junctions == 1
    assert c.length_px == pytest.approx(260 + 47, rel=0.02)
    c = measure_mask(m, min_branch_px=60).cracks[0]  # now shorter than the threshold: pruned
    assert c.n_branches == 1 and c.length_px == pytest.approx(260, rel=0.02)


def test_ragged_edges_and_holes():
    rng = np.random.default_rng(0)
    m = np.zeros((100, 300), bool)
    m[40:48, 20:280] = True
    edge = (cv2.dilate(m.astype(np.uint8), np.ones((3, 3))) > 0) & (cv2.erode(m.astype(np.uint8), np.ones((3, 3))) == 0)
    ragged = m ^ (edge & (rng.random(m.shape) < 0.15))
    ragged[43:45, 100:103] = False  # a small hole
    c = measure_mask(ragged).cracks[0]
    assert c.n_branches == 1
    assert c.length_px == pytest.approx(260, rel=0.03)
    assert c.width_mean_px == pytest.approx(8, abs=1.0)


def test_ring_border_and_tiny_components():
    ring = np.zeros((200, 200), np.uint8)
    cv2.circle(ring, (100, 100), 60, 1, 3)
    c = measure_mask(ring.astype(bool)).cracks[0]
    assert c.n_branches == 1 and c.length_px == pytest.approx(2 * math.pi * 60, rel=0.02)
    band = np.zeros((50, 300), bool)
    band[20:25] = True  # runs off both image borders
    assert measure_mask(band).cracks[0].length_px == pytest.approx(300, abs=1.5)
    dot = np.zeros((20, 20), bool)
    dot[5, 5] = True
    c = measure_mask(dot, min_area_px=1).cracks[0]
    assert c.length_px == pytest.approx(1.0) and c.width_mean_px == pytest.approx(1.0)
    empty = measure_mask(np.zeros((30, 40), bool))
    assert empty.cracks == [] and empty.totals["count"] == 0 and empty.totals["length_px"] == 0


@pytest.mark.parametrize("angle, expected", [(0, "transverse"), (15, "transverse"), (90, "longitudinal"),
                                             (-75, "longitudinal"), (45, "diagonal"), (-40, "diagonal")])
def test_orientation_and_type(angle, expected):
    c = make_crack("straight", 4, angle_deg=angle)
    crack = measure_mask(c.mask).cracks[0]
    a = crack.orientation_deg
    assert min(abs(a - angle), 180 - abs(a - angle)) < 2.0  # degrees CCW as seen on screen
    assert crack.type == expected


def test_branched_type():
    net = measure_mask(make_crack("network", 4).mask).cracks[0]
    assert net.n_junctions == 2 and net.n_branches == 5 and net.type == "branched"
    y = make_crack("y", 4).mask
    assert measure_mask(y).cracks[0].type != "branched"  # one fork is not yet a network (default: ≥ 2 junctions)
    assert measure_mask(y, branched_min_junctions=1).cracks[0].type == "branched"
    assert measure_mask(y, branched_min_branches=3).cracks[0].type == "branched"


def test_mm_scaling_and_reference():
    c = make_crack("sine", 6)
    px = measure_mask(c.mask)
    mm = measure_mask(c.mask, mm_per_px=0.25)
    ref = measure_mask(c.mask, reference_length_px=400, reference_length_mm=100)
    assert scale_from_reference(400, 100) == 0.25
    for m in (mm, ref):
        cr, cp = m.cracks[0], px.cracks[0]
        assert cr.length_mm == pytest.approx(0.25 * cp.length_px)
        assert cr.width_max_mm == pytest.approx(0.25 * cp.width_max_px)
        assert cr.width_mean_mm == pytest.approx(0.25 * cp.width_mean_px)
        assert cr.area_mm2 == pytest.approx(0.0625 * cp.area_px)
        assert m.totals["length_mm"] == pytest.approx(0.25 * px.totals["length_px"])
        assert m.totals["crack_area_mm2"] == pytest.approx(0.0625 * px.totals["crack_area_px"])
    assert px.cracks[0].length_mm is None
    with pytest.raises(ConfigError):
        measure_mask(c.mask, mm_per_px=0.1, reference_length_px=10, reference_length_mm=1)
    with pytest.raises(ConfigError):
        measure_mask(c.mask, reference_length_px=10)
    with pytest.raises(ConfigError):
        measure_mask(c.mask, mm_per_px=-1)
    with pytest.raises(ConfigError):
        scale_from_reference(0, 10)


def test_to_dict_keys_and_json():
    c = make_crack("t", 5)
    d = measure_mask(c.mask).to_dict()
    json.dumps(d)  # plain Python types only
    for part in (d["totals"], d["cracks"][0]):
        assert {"length_px", "width_max_px", "width_mean_px"} <= set(part)
        assert not any(k.endswith("_mm") for k in part)
    d = measure_mask(c.mask, mm_per_px=0.1).to_dict(polylines=True)
    json.dumps(d)
    for part in (d["totals"], d["cracks"][0]):
        assert {"length_px", "width_max_px", "width_mean_px", "length_mm", "width_max_mm", "width_mean_mm"} <= set(part)
    assert d["cracks"][0]["centrelines"] and d["mm_per_px"] == 0.1


def test_bad_masks():
    with pytest.raises(DataError):
        measure_mask(np.zeros((4, 4, 3), bool))
    with pytest.raises(DataError):
        measure_mask(np.full((4, 4), 7, np.uint8))
    with pytest.raises(DataError):
        measure_mask(np.full((4, 4), 0.5, np.float32))
    with pytest.raises(ConfigError):
        measure_mask(np.zeros((4, 4), bool), width_method="area")
    m = np.zeros((40, 60), np.uint8)
    m[10:14, 5:55] = 1
    assert measure_mask(m).totals["count"] == 1  # 0/1 integers are fine


def test_skeleton_and_width_map():
    c = make_crack("y", 7)
    m = measure_mask(c.mask)
    assert m.skeleton.shape == c.mask.shape and m.skeleton.dtype == bool
    assert not (m.skeleton & ~c.mask).any()
    assert ((m.width_map > 0) == m.skeleton).all()
    assert m.width_map.dtype == np.float32


def test_exports(tmp_path):
    rng = np.random.default_rng(1)
    h, w = 240, 320
    mask = _line_mask(h, w, (10, 20), (300, 60), 6) | _line_mask(h, w, (40, 200), (280, 220), 3)
    mask |= _line_mask(h, w, (150, 45), (160, 190), 4)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    prob = np.where(mask, 0.9, 0.1).astype(np.float32)
    m = measure_mask(mask, mm_per_px=0.5)
    paths = write_measurement(m, tmp_path, "photo", image=image, prob=prob)
    assert set(paths) == {"csv", "json", "geojson", "overlay"}
    with open(paths["csv"], newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == m.totals["count"] == 2
    assert {"id", "length_px", "width_max_px", "length_mm", "confidence", "bbox_x"} <= set(rows[0])
    assert float(rows[0]["confidence"]) == pytest.approx(0.9)
    doc = json.loads(paths["json"].read_text())
    assert doc["photo"] == "photo" and len(doc["cracks"]) == 2 and doc["totals"]["count"] == 2
    assert "length_mm" in doc["totals"] and doc["cracks"][0]["confidence"] == pytest.approx(0.9)
    gj = json.loads(paths["geojson"].read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2 and "pixel" in gj["coordinate_system"]
    for feat, crack in zip(gj["features"], m.cracks, strict=True):
        geom = feat["geometry"]
        assert feat["type"] == "Feature" and geom["type"] in {"LineString", "MultiLineString"}
        lines = [geom["coordinates"]] if geom["type"] == "LineString" else geom["coordinates"]
        total = 0.0
        for line in lines:
            assert len(line) >= 2 and all(len(p) == 2 and all(isinstance(v, float) for v in p) for p in line)
            arr = np.array(line)
            assert (arr[:, 0] >= -1).all() and (arr[:, 0] <= w).all() and (arr[:, 1] >= -1).all() and (arr[:, 1] <= h).all()
            total += np.hypot(*np.diff(arr, axis=0).T).sum()
        assert total == pytest.approx(crack.length_px, rel=1e-3)  # the polylines ARE the measured length
        assert feat["properties"]["length_px"] == pytest.approx(crack.length_px)
    ov = cv2.imread(str(paths["overlay"]))
    assert ov is not None and ov.shape == (h, w, 3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
    rows = [summary_row(m, "photo"), summary_row(measure_mask(np.zeros((10, 10), bool)), "empty")]
    sp = write_summary(rows, tmp_path)
    md = sp["md"].read_text().splitlines()
    assert md[0].startswith("| photo |") and md[1].startswith("|---") and len(md) == 4
    with open(sp["csv"], newline="") as f:
        srows = list(csv.DictReader(f))
    assert [r["photo"] for r in srows] == ["photo", "empty"]
    assert float(srows[0]["total_length_px"]) == pytest.approx(m.totals["total_length_px"])
    # an empty measurement still writes valid files
    e = write_measurement(measure_mask(np.zeros((10, 10), bool)), tmp_path, "none")
    assert json.loads(e["geojson"].read_text())["features"] == []
    assert e["csv"].read_text().startswith("id,type,length_px")
    with pytest.raises(DataError):
        write_measurement(m, tmp_path, "bad", image=image[:10])


def test_overlay_on_a_12_megapixel_photo_is_fast():
    h, w = 3000, 4000
    mask = _line_mask(h, w, (100, 200), (3900, 2600), 12) | _line_mask(h, w, (2000, 100), (2100, 2900), 4)
    m = measure_mask(mask, mm_per_px=0.1)
    image = np.full((h, w, 3), 128, np.uint8)
    t = time.perf_counter()
    ov = render_overlay(m, image)
    elapsed = time.perf_counter() - t
    assert ov.shape == (h, w, 3) and elapsed < 2.0, elapsed
    # the centreline is drawn in colour-map colours (not grey) and the crack is tinted
    ys, xs = np.nonzero(m.skeleton)
    px = ov[ys[len(ys) // 2], xs[len(xs) // 2]].astype(int)
    assert np.ptp(px) > 40


def test_branch_graph_of_small_skeletons():
    """The branch graph (skan's construction, rebuilt without numba): a plus is one junction with four
    branches; a ring is one cycle; a 2×2 block of junction pixels is one junction (its links reduced to a
    spanning tree, so it is not a knot of loops); lengths count 1 / √2 steps."""
    from sac.measure.skeleton import CYCLE, FREE, branch_graph

    plus = np.zeros((11, 11), bool)
    plus[5, 1:10] = plus[1:10, 5] = True
    g = branch_graph(plus)
    assert g.n_junctions == 1 and g.n_branches == 4
    assert sorted(g.lengths) == [4.0] * 4
    assert all(FREE in e and 0 in e for e in g.ends)

    ring = np.zeros((9, 9), bool)
    ring[2, 3:6] = ring[6, 3:6] = ring[3:6, 2] = ring[3:6, 6] = True  # an octagon: 4-steps and diagonal corners
    g = branch_graph(ring)
    assert g.n_junctions == 0 and g.ends == [(CYCLE, CYCLE)]
    assert np.array_equal(g.paths[0][0], g.paths[0][-1])
    assert g.lengths[0] == pytest.approx(8 + 4 * math.sqrt(2))

    x = np.zeros((12, 12), bool)  # two diagonal strokes meeting in a 2×2 block
    for i in range(5):
        x[i, i] = x[i, 11 - i] = x[11 - i, i] = x[11 - i, 11 - i] = True
    x[5:7, 5:7] = True
    g = branch_graph(x)
    assert g.n_junctions == 1 and g.n_branches == 4
    assert sorted(e for ends in g.ends if not ends == (0, 0) for e in ends) == [FREE] * 4 + [0] * 4
    assert branch_graph(np.zeros((4, 4), bool)).n_branches == 0
