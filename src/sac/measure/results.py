"""What :func:`~sac.measure.measure_mask` returns (:class:`Measurement`, one :class:`CrackMeasurement` per
crack) and the settings it measured with (:class:`MeasureSettings`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CrackMeasurement", "MeasureSettings", "Measurement"]


@dataclass(frozen=True)
class MeasureSettings:
    """The settings of one :func:`~sac.measure.measure_mask` call (see its docstring for each)."""

    min_area_px: int
    min_branch_px: float
    spur_width_factor: float
    smooth_px: float
    end_correction: bool
    width_method: str
    max_hole_px: int
    branched_min_junctions: int
    branched_min_branches: int
    transverse_max_deg: float
    longitudinal_min_deg: float

    def to_dict(self) -> dict[str, Any]:
        """The settings by name, in field order (as :attr:`Measurement.settings` records them)."""
        return dataclasses.asdict(self)


class _Millimetres:
    """A ``<name>_mm`` property of :class:`CrackMeasurement`: its ``<name>_px`` field times ``mm_per_px``
    (``None`` without a scale)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.px = name.removesuffix("_mm") + "_px"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return None if obj.mm_per_px is None else getattr(obj, self.px) * obj.mm_per_px


@dataclass
class CrackMeasurement:
    """One crack instance (an 8-connected component of the mask). Lengths and widths in pixels;
    the ``*_mm`` properties are ``None`` unless the measurement has a scale.

    ``bbox`` is ``(x, y, width, height)`` in pixels (x = column, y = row of the top-left pixel).
    ``centrelines`` holds one polyline per branch as ``[(x, y), ...]`` in pixel-centre coordinates
    (pixel (0, 0)'s centre is (0, 0), y points down), smoothed and with the end corrections, so the
    polyline lengths add up to ``length_px``; ``centreline_widths_px`` is the width at each point.
    """

    id: int
    length_px: float
    width_mean_px: float
    width_median_px: float
    width_p95_px: float
    width_max_px: float
    orientation_deg: float
    type: str
    area_px: int
    bbox: tuple[int, int, int, int]
    n_branches: int
    n_junctions: int
    centrelines: list[list[tuple[float, float]]] = field(default_factory=list, repr=False)
    centreline_widths_px: list[list[float]] = field(default_factory=list, repr=False)
    mm_per_px: float | None = None
    severity: Any = None  # sac.measure.severity.Severity once graded (grade_measurement)

    length_mm = _Millimetres()
    width_mean_mm = _Millimetres()
    width_median_mm = _Millimetres()
    width_p95_mm = _Millimetres()
    width_max_mm = _Millimetres()

    @property
    def area_mm2(self) -> float | None:
        return None if self.mm_per_px is None else self.area_px * self.mm_per_px**2

    def to_dict(self, polylines: bool = False) -> dict[str, Any]:
        """JSON-ready dict (``*_mm`` keys only when scaled; centrelines only with ``polylines=True``)."""
        d: dict[str, Any] = {
            "id": self.id, "type": self.type, "length_px": self.length_px, "width_mean_px": self.width_mean_px,
            "width_median_px": self.width_median_px, "width_p95_px": self.width_p95_px,
            "width_max_px": self.width_max_px, "orientation_deg": self.orientation_deg,
            "area_px": self.area_px, "bbox": list(self.bbox), "n_branches": self.n_branches,
            "n_junctions": self.n_junctions,
        }
        if self.mm_per_px is not None:
            for k in ("length", "width_mean", "width_median", "width_p95", "width_max"):
                d[f"{k}_mm"] = getattr(self, f"{k}_mm")
            d["area_mm2"] = self.area_mm2
        if self.severity is not None:
            d["severity"] = self.severity.label
            d["severity_class"] = self.severity.code
        if polylines:
            d["centrelines"] = [[list(p) for p in line] for line in self.centrelines]
        return d


@dataclass
class Measurement:
    """Everything measured on one mask.

    ``skeleton`` (H×W bool) is the pruned centreline, ``width_map`` (H×W float32) the width in px on it
    (0 elsewhere), ``labels`` (H×W int32) the instance of every kept crack pixel (``crack.id``; 0 =
    background or a removed speck). ``totals``: ``count``, ``total_length_px``, ``width_max_px``,
    ``width_mean_px`` (length-weighted over cracks), ``crack_area_px``, ``crack_area_share`` (of the
    image), and with a scale ``total_length_mm``, ``width_max_mm``, ``width_mean_mm``, ``crack_area_mm2``.
    """

    cracks: list[CrackMeasurement]
    totals: dict[str, Any]
    skeleton: np.ndarray = field(repr=False)
    width_map: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)
    mm_per_px: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    standard: str | None = None  # the severity rule set the cracks are graded under (sac.measure.severity)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.labels.shape)  # type: ignore[return-value]

    @property
    def unit(self) -> str:
        return "mm" if self.mm_per_px is not None else "px"

    def to_dict(self, polylines: bool = False) -> dict[str, Any]:
        """JSON-ready: ``{"image": {...}, "mm_per_px", "settings", "totals", "cracks": [...]}``."""
        h, w = self.shape
        return {
            "image": {"height": h, "width": w},
            "mm_per_px": self.mm_per_px,
            "standard": self.standard,
            "coordinates": "pixels: x = column, y = row (down), pixel centres at integers",
            "settings": dict(self.settings),
            "totals": dict(self.totals),
            "cracks": [c.to_dict(polylines=polylines) for c in self.cracks],
        }
