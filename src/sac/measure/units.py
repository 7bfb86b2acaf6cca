"""Pixel ↔ millimetre scale."""

from __future__ import annotations

import math
import numbers

from sac.errors import ConfigError


def _positive(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def scale_from_reference(length_px: float, length_mm: float) -> float:
    """Millimetres per pixel from a reference of known size seen in the photo.

    Example: a 300 mm ruler that spans 1250 px gives ``scale_from_reference(1250, 300) == 0.24`` mm/px.
    """
    for name, v in (("reference_length_px", length_px), ("reference_length_mm", length_mm)):
        if not _positive(v):
            raise ConfigError(name, f"must be a positive number, got {v!r}")
    return float(length_mm) / float(length_px)


def resolve_scale(mm_per_px: float | None = None, reference_length_px: float | None = None,
                  reference_length_mm: float | None = None) -> float | None:
    """The scale in mm/px from either ``mm_per_px`` or a reference (px + mm); ``None`` when none given."""
    has_ref = reference_length_px is not None or reference_length_mm is not None
    if mm_per_px is not None and has_ref:
        raise ConfigError("mm_per_px", "give either mm_per_px or reference_length_px + reference_length_mm, "
                                       "not both")
    if has_ref:
        if reference_length_px is None or reference_length_mm is None:
            missing = "reference_length_px" if reference_length_px is None else "reference_length_mm"
            raise ConfigError(missing, "a reference needs both its length in pixels and in millimetres")
        return scale_from_reference(reference_length_px, reference_length_mm)
    if mm_per_px is None:
        return None
    if not _positive(mm_per_px):
        raise ConfigError("mm_per_px", f"must be a positive number, got {mm_per_px!r}")
    return float(mm_per_px)
