"""Crack measurement from a binary mask: instances, skeleton, length, width, orientation, type, units, exports.

Public API::

    m = measure_mask(mask, mm_per_px=0.1)            # or reference_length_px=..., reference_length_mm=...
    m.cracks[0].length_px, m.cracks[0].width_max_mm, m.totals["total_length_mm"], m.to_dict()
    write_measurement(m, out_dir, "photo1", image=rgb, prob=prob)   # CSV, JSON, GeoJSON, overlay PNG
    rows.append(summary_row(m, "photo1")); write_summary(rows, out_dir)

Conventions and corrections (derived in :mod:`sac.measure.skeleton`, checked by
``benchmarks/measure_accuracy.py``):

* a crack = an 8-connected component of the mask with at least ``min_area_px`` pixels (smaller ones are
  specks and dropped); enclosed holes up to ``max_hole_px`` are filled before measuring;
* length = the smoothed centreline (skeleton, spurs pruned, Gaussian σ = 2 px along each branch) plus,
  at each free end, the distance from the skeleton's end to the mask edge along the end tangent
  (a skeleton stops about half a width short of a blunt tip);
* width = the chord of the mask along the local normal through each centreline pixel, the edge being
  halfway between a crack pixel centre and a background pixel centre (``width_method="chord"``). The
  alternative ``"edt"`` (distance transform, ``d(p) + max(d(p ± n))``) is exact on axis-aligned bands
  but reads oblique ones ≈ 0.5 px thin, because the EDT measures to the nearest background pixel centre;
* orientation = principal axis of the centreline pixels, degrees counter-clockwise from the image x axis
  (as seen on screen), in (-90, 90]; type: ``branched`` / ``transverse`` / ``longitudinal`` /
  ``diagonal`` (see :func:`classify`);
* units: pixels always; millimetres (``*_mm``, areas ``*_mm2``) when a scale is given;
* severity (``standard=``, ``--standard``): each crack's width class under EN 1992-1-1 Table 7.1N, ACI 224R
  Table 4.1 or BRE Digest 251, with widths under 2 px flagged, not classed (:mod:`sac.measure.severity`).
"""

from sac.measure.core import CRACK_TYPES, classify, measure_mask
from sac.measure.export import (
    crack_rows,
    geojson,
    render_overlay,
    summary_row,
    write_measurement,
    write_summary,
)
from sac.measure.instance import fill_small_holes
from sac.measure.results import CrackMeasurement, Measurement
from sac.measure.severity import (
    STANDARDS,
    Severity,
    Standard,
    check_gradable,
    get_standard,
    grade_measurement,
    standards_table,
)
from sac.measure.units import resolve_scale, scale_from_reference

__all__ = ["CRACK_TYPES", "STANDARDS", "CrackMeasurement", "Measurement", "Severity", "Standard", "check_gradable",
           "classify", "crack_rows", "fill_small_holes", "geojson", "get_standard", "grade_measurement",
           "measure_mask", "render_overlay", "resolve_scale", "scale_from_reference", "standards_table",
           "summary_row", "write_measurement", "write_summary"]
