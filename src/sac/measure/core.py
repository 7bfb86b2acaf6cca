"""``measure_mask``: crack instances, lengths, widths, orientation and type from a binary mask."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from sac.errors import ConfigError, DataError
from sac.measure.instance import InstanceGeometry, measure_instance
from sac.measure.results import CrackMeasurement, Measurement, MeasureSettings
from sac.measure.severity import check_gradable, grade_measurement
from sac.measure.units import resolve_scale

__all__ = ["CRACK_TYPES", "WIDTH_METHODS", "classify", "measure_mask"]

CRACK_TYPES = ("transverse", "longitudinal", "diagonal", "branched")
WIDTH_METHODS = ("chord", "edt")


def _orientation_deg(rc: np.ndarray) -> float:
    """Principal axis of pixel coordinates, degrees counter-clockwise from the image x axis (as seen on
    screen, y up), in (-90, 90]."""
    if len(rc) < 2:
        return 0.0
    xy = np.stack([rc[:, 1], -rc[:, 0]], 1).astype(np.float64)
    xy -= xy.mean(0)
    cov = xy.T @ xy
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, int(np.argmax(vals))]
    a = math.degrees(math.atan2(vy, vx))
    if a <= -90:
        a += 180
    elif a > 90:
        a -= 180
    return a


def classify(orientation_deg: float, n_junctions: int, n_branches: int, *, branched_min_junctions: int = 2,
             branched_min_branches: int = 4, transverse_max_deg: float = 30.0,
             longitudinal_min_deg: float = 60.0) -> str:
    """Crack type: ``branched`` (≥ ``branched_min_junctions`` junctions or ≥ ``branched_min_branches``
    branches), else by orientation: ``transverse`` (|angle| < 30°, ≈ horizontal in the photo),
    ``longitudinal`` (|angle| > 60°, ≈ vertical), ``diagonal`` otherwise."""
    if n_junctions >= branched_min_junctions or n_branches >= branched_min_branches:
        return "branched"
    a = abs(orientation_deg)
    if a < transverse_max_deg:
        return "transverse"
    if a > longitudinal_min_deg:
        return "longitudinal"
    return "diagonal"


def _binary_mask(mask: Any) -> np.ndarray:
    """The mask as H×W bool (DataError unless it is H×W and bool or 0/1)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise DataError("mask", f"expected an H×W mask, got shape {mask.shape}")
    if mask.size == 0:  # as read_image / predict_probability treat a zero-size photo
        raise DataError("mask", f"empty mask of shape {mask.shape} (no pixels)")
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind in "iu":
        ok = mask.min() >= 0 and mask.max() <= 1
    elif mask.dtype.kind == "f":
        ok = bool(((mask == 0) | (mask == 1)).all())
    else:  # object, string, complex, ...: not a mask whatever the values
        raise DataError("mask", f"expected a binary mask (bool or 0/1 numbers), got an array of dtype {mask.dtype}")
    if not ok:
        raise DataError("mask", f"expected a binary mask (bool or 0/1), got {mask.dtype} values "
                                f"{np.unique(mask.ravel()[:100000])[:6].tolist()}…")
    return mask.astype(bool)


def _label_cracks(mask: np.ndarray, min_area_px: int) -> np.ndarray:
    """8-connected components with at least ``min_area_px`` pixels, numbered 1..n (int32; specks are 0)."""
    labels, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    labels = labels.astype(np.int32, copy=False)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = np.flatnonzero(sizes >= max(int(min_area_px), 1))
    keep = keep[keep > 0]
    lut = np.zeros(n + 1, np.int32)
    lut[keep] = np.arange(1, len(keep) + 1, dtype=np.int32)
    return lut[labels] if len(keep) != n else labels


def _width_stats(stat: np.ndarray) -> dict[str, float]:
    """Mean, median, 95th percentile and maximum of the widths (0.0 each without any)."""
    if not len(stat):
        return {"width_mean_px": 0.0, "width_median_px": 0.0, "width_p95_px": 0.0, "width_max_px": 0.0}
    return {"width_mean_px": float(stat.mean()), "width_median_px": float(np.median(stat)),
            "width_p95_px": float(np.percentile(stat, 95)), "width_max_px": float(stat.max())}


def _crack(k: int, sl: tuple[slice, slice], sub: np.ndarray, g: InstanceGeometry, rc: np.ndarray,
           origin: tuple[int, int], st: MeasureSettings, scale: float | None) -> CrackMeasurement:
    """The :class:`CrackMeasurement` of instance ``k`` from its geometry.

    Arguments:
        k: the instance id; sl: its bounding slices; sub: its crop's mask.
        g: its geometry in crop coordinates; rc: its centreline pixels in the image; origin: the crop's (y0, x0).
        st: the settings; scale: mm per px or None.
    """
    y0, x0 = origin
    orient = _orientation_deg(rc)
    return CrackMeasurement(
        id=k,
        length_px=float(g.length),
        **_width_stats(g.stat),
        orientation_deg=float(orient),
        type=classify(orient, g.n_junctions, g.n_branches, branched_min_junctions=st.branched_min_junctions,
                      branched_min_branches=st.branched_min_branches, transverse_max_deg=st.transverse_max_deg,
                      longitudinal_min_deg=st.longitudinal_min_deg),
        area_px=int(sub.sum()),
        bbox=(int(sl[1].start), int(sl[0].start), int(sl[1].stop - sl[1].start), int(sl[0].stop - sl[0].start)),
        n_branches=int(g.n_branches),
        n_junctions=int(g.n_junctions),
        centrelines=[[(round(float(x) + x0, 3), round(float(y) + y0, 3)) for y, x in line] for line in g.lines],
        centreline_widths_px=[[round(float(v), 3) for v in lw] for lw in g.line_w],
        mm_per_px=scale,
    )


def _measure_cracks(labels: np.ndarray, st: MeasureSettings,
                    scale: float | None) -> tuple[list[CrackMeasurement], np.ndarray, np.ndarray]:
    """Every labelled crack measured in a crop around it (1 px margin); also the skeleton and width maps."""
    h, w = labels.shape
    skeleton = np.zeros((h, w), bool)
    width_map = np.zeros((h, w), np.float32)
    cracks: list[CrackMeasurement] = []
    for k, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        y0, y1 = max(sl[0].start - 1, 0), min(sl[0].stop + 1, h)
        x0, x1 = max(sl[1].start - 1, 0), min(sl[1].stop + 1, w)
        sub = labels[y0:y1, x0:x1] == k
        g = measure_instance(sub, st)
        rc = g.rc + (y0, x0)
        skeleton[rc[:, 0], rc[:, 1]] = True
        width_map[rc[:, 0], rc[:, 1]] = g.w
        cracks.append(_crack(k, sl, sub, g, rc, (y0, x0), st, scale))
    return cracks, skeleton, width_map


def measure_mask(mask: np.ndarray, *, mm_per_px: float | None = None, reference_length_px: float | None = None,
                 reference_length_mm: float | None = None, min_area_px: int = 20, min_branch_px: float = 10.0,
                 spur_width_factor: float = 2.0, smooth_px: float = 2.0, end_correction: bool = True,
                 branched_min_junctions: int = 2, branched_min_branches: int = 4,
                 transverse_max_deg: float = 30.0, longitudinal_min_deg: float = 60.0,
                 width_method: str = "chord", max_hole_px: int = 50, standard: str | None = None) -> Measurement:
    """Measure every crack in a binary mask (H×W, bool or 0/1).

    Steps: 8-connected components smaller than ``min_area_px`` are dropped as specks; each remaining
    component is one crack. Its skeleton is pruned of spurs (terminal branches shorter than
    ``max(min_branch_px, spur_width_factor × local width)``), split into branches, smoothed
    (Gaussian, σ = ``smooth_px`` px along the arc) and measured; free ends get the end correction
    (``end_correction``: extended along the end tangent to the mask edge); the width at every centreline
    pixel is the chord of the mask along the local normal (``width_method="chord"``) or the corrected
    distance transform (``"edt"``) — see :mod:`sac.measure.skeleton` for the conventions and their
    derivation. Width statistics skip the skeleton pixels inside junctions (they see the junction's
    inscribed circle, not the crack). Holes of at most ``max_hole_px`` pixels are filled first (they
    would put loops into the skeleton); ``area_px`` counts the mask as given.

    The scale is ``mm_per_px`` or ``reference_length_mm / reference_length_px``; without one only pixel
    values are reported. Type thresholds: see :func:`classify`. ``standard`` grades every crack by width under a
    published rule set (:mod:`sac.measure.severity`; it needs the scale).
    """
    mask = _binary_mask(mask)
    scale = resolve_scale(mm_per_px, reference_length_px, reference_length_mm)
    if width_method not in WIDTH_METHODS:
        raise ConfigError("width_method", f"{width_method!r} is not one of {WIDTH_METHODS}")
    for name, v in (("min_area_px", min_area_px), ("min_branch_px", min_branch_px),
                    ("spur_width_factor", spur_width_factor), ("smooth_px", smooth_px), ("max_hole_px", max_hole_px)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ConfigError(name, f"must be a finite number, got {v!r}")
    st = MeasureSettings(min_area_px=min_area_px, min_branch_px=min_branch_px, spur_width_factor=spur_width_factor,
                         smooth_px=smooth_px, end_correction=end_correction, width_method=width_method,
                         max_hole_px=max_hole_px, branched_min_junctions=branched_min_junctions,
                         branched_min_branches=branched_min_branches, transverse_max_deg=transverse_max_deg,
                         longitudinal_min_deg=longitudinal_min_deg)
    labels = _label_cracks(mask, min_area_px)
    if standard is not None:
        check_gradable(standard, scale)  # an unknown name or a missing scale fails before the work
    cracks, skeleton, width_map = _measure_cracks(labels, st, scale)
    m = Measurement(cracks=cracks, totals=_totals(cracks, mask.size, scale), skeleton=skeleton,
                    width_map=width_map, labels=labels, mm_per_px=scale, settings=st.to_dict())
    return grade_measurement(m, standard) if standard is not None else m


def _totals(cracks: list[CrackMeasurement], n_pixels: int, scale: float | None) -> dict[str, Any]:
    total_len = float(sum(c.length_px for c in cracks))
    area = int(sum(c.area_px for c in cracks))
    wmean = float(sum(c.width_mean_px * c.length_px for c in cracks) / total_len) if total_len > 0 else 0.0
    t: dict[str, Any] = {
        "count": len(cracks),
        "length_px": total_len,
        "total_length_px": total_len,
        "width_max_px": float(max((c.width_max_px for c in cracks), default=0.0)),
        "width_mean_px": wmean,
        "crack_area_px": area,
        "crack_area_share": area / n_pixels if n_pixels else 0.0,
    }
    if scale is not None:
        t["length_mm"] = total_len * scale
        t["total_length_mm"] = total_len * scale
        t["width_max_mm"] = t["width_max_px"] * scale
        t["width_mean_mm"] = wmean * scale
        t["crack_area_mm2"] = area * scale**2
    return t
