"""The geometry of ONE crack instance (in its crop's coordinates): centrelines, length, widths, branches.

:func:`measure_instance` fills small holes, takes the distance transform and the (Lee) skeleton, prunes the
spurs, splits the skeleton into branches and measures each branch (:mod:`sac.measure.skeleton` holds the
conventions); :mod:`sac.measure.core` places the result in the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

from sac.measure.results import MeasureSettings
from sac.measure.skeleton import (
    CYCLE,
    FREE,
    BranchGraph,
    branch_graph,
    end_tangent,
    polyline_length,
    prune_spurs,
    ray_exit,
    smooth_path,
    widths_on_path,
)

__all__ = ["InstanceGeometry", "fill_small_holes", "measure_instance"]


@dataclass
class InstanceGeometry:
    """What :func:`measure_instance` finds, in crop coordinates (row, col).

    ``rc`` / ``w``: every centreline pixel once and its width; ``stat``: the widths the statistics use
    (outside junctions); ``lines`` / ``line_w``: one smoothed, end-corrected polyline per branch with the
    width at each point; ``length``: the sum of the polyline lengths.
    """

    rc: np.ndarray
    w: np.ndarray
    stat: np.ndarray
    length: float
    lines: list[np.ndarray]
    line_w: list[np.ndarray]
    n_branches: int
    n_junctions: int


def fill_small_holes(mask: np.ndarray, max_hole_px: int) -> np.ndarray:
    """Fill background regions of at most ``max_hole_px`` pixels that the mask encloses (4-connected holes)."""
    if max_hole_px <= 0:
        return mask
    lab, n = ndi.label(~mask)
    if n == 0:
        return mask
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    small = sizes <= max_hole_px
    small[0] = False
    small[border] = False
    return mask | small[lab] if small.any() else mask


def _junction_zone(g: BranchGraph, edt: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Skeleton pixels near a junction (within its inscribed radius + 1 px): 1 there, else 0. They do not
    count for the width statistics (they see the junction's inscribed circle, not the crack)."""
    jzone = np.zeros(shape, np.uint8)
    for j in g.junctions:
        rad = int(math.ceil(float(edt[j[:, 0], j[:, 1]].max()) + 1.0))
        for r, c in j:
            cv2.circle(jzone, (int(c), int(r)), rad, 1, -1)
    return jzone


def _extend_free_end(pts: np.ndarray, pw: np.ndarray, sm: np.ndarray, raw: np.ndarray, edt: np.ndarray,
                     subf: np.ndarray, at_start: bool) -> tuple[np.ndarray, np.ndarray]:
    """The end correction: the polyline extended from its end pixel along the end tangent to the mask edge.

    Arguments:
        pts, pw: the polyline so far and the width at each of its points.
        sm, raw: the smoothed and the pixel path of the branch.
        edt: the distance transform; subf: the crop's mask as float32.
        at_start: extend the start (else the end).
    """
    t = end_tangent(sm, at_start)
    if not t.any():
        return pts, pw
    r, c = raw[0] if at_start else raw[-1]
    ext = float(ray_exit(subf, np.array([r, c]), t, 2.0 * float(edt[r, c]) + 1.0)[0])
    tip = (sm[0] if at_start else sm[-1]) + t * ext
    if at_start:
        return np.vstack([tip[None], pts]), np.concatenate([[pw[0]], pw])
    return np.vstack([pts, tip[None]]), np.concatenate([pw, [pw[-1]]])


def _branch(raw: np.ndarray, ends: tuple[int, int], edt: np.ndarray, subf: np.ndarray,
            st: MeasureSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(polyline, widths at its points, widths at the raw pixels)`` of one branch.

    Arguments:
        raw: the branch's pixel path (N×2 row, col); ends: its two ends (FREE, CYCLE or a junction id).
        edt: the distance transform; subf: the crop's mask as float32; st: the settings.
    """
    cyc = ends[0] == CYCLE
    sm = smooth_path(raw, st.smooth_px, cycle=cyc)
    w = widths_on_path(edt, raw, sm, method=st.width_method, mask=subf)
    if len(raw) == 1:  # a blob whose skeleton is one pixel: as long as it is wide
        half = max(float(edt[raw[0, 0], raw[0, 1]]) - 0.5, 0.5) if st.end_correction else 0.0
        return sm + np.array([[0.0, -half], [0.0, half]]), np.concatenate([w, w]), w
    pts, pw = sm, w
    if st.end_correction and not cyc:
        for at_start, e in ((True, ends[0]), (False, ends[1])):
            if e == FREE:
                pts, pw = _extend_free_end(pts, pw, sm, raw, edt, subf, at_start)
    return pts, pw, w


def _one_per_pixel(rc: list[np.ndarray], w: list[np.ndarray], stat: list[np.ndarray],
                   width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the branches' pixels; junction pixels appear in several branches: one value per pixel."""
    rcs = np.concatenate(rc) if rc else np.zeros((0, 2), int)
    wv = np.concatenate(w) if w else np.zeros(0)
    st = np.concatenate(stat) if stat else np.zeros(0, bool)
    if len(rcs):
        key = rcs[:, 0] * (width + 1) + rcs[:, 1]
        _, first = np.unique(key, return_index=True)
        rcs, wv, st = rcs[first], wv[first], st[first]
    return rcs, wv, st


def measure_instance(sub: np.ndarray, st: MeasureSettings) -> InstanceGeometry:
    """Geometry of one instance in crop coordinates.

    Arguments:
        sub: the crop's bool mask of this instance only.
        st: the settings (spur pruning, smoothing, end correction, width method, hole filling).
    """
    # fill the holes first: a crop that is all crack but for enclosed holes (a mask covering the whole image)
    # has no background left afterwards, and the EDT of a mask without background is ~1e4 everywhere
    sub = fill_small_holes(sub, st.max_hole_px)
    padded = not (~sub).any()
    if padded:  # EDT needs a background pixel somewhere
        sub = np.pad(sub, 1)
    # exact Euclidean distance to the nearest background pixel centre (float32; = scipy's EDT, 10× faster)
    edt = cv2.distanceTransform(sub.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    skel = skeletonize(sub, method="lee")
    skel = prune_spurs(skel, edt, min_branch_px=st.min_branch_px, spur_width_factor=st.spur_width_factor)
    g = branch_graph(skel)
    subf = sub.astype(np.float32)
    jzone = _junction_zone(g, edt, sub.shape)
    length = 0.0
    lines, line_w, px_w, px_stat = [], [], [], []
    for raw, ends in zip(g.paths, g.ends, strict=True):
        pts, pw, w = _branch(raw, ends, edt, subf, st)
        length += polyline_length(pts)
        lines.append(pts)
        line_w.append(pw)
        px_w.append(w)
        px_stat.append(jzone[raw[:, 0], raw[:, 1]] == 0)
    rc, wv, in_stat = _one_per_pixel(list(g.paths), px_w, px_stat, sub.shape[1])
    off = 1 if padded else 0
    return InstanceGeometry(rc=rc - off, w=wv, stat=wv[in_stat] if in_stat.any() else wv, length=length,
                            lines=[p - off for p in lines], line_w=line_w, n_branches=g.n_branches,
                            n_junctions=g.n_junctions)
