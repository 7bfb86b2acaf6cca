"""Severity classes of a crack by its width, under a published rule set (``--standard``).

Each rule set turns one crack width in millimetres into a class; which width is graded is
:data:`GRADED_WIDTH` (the crack's 95th-percentile width along its centreline: the widest part of the crack
without the single-pixel extremes at junctions that its maximum picks up). Widths under
:data:`MIN_RELIABLE_PX` pixels are not classified but flagged "below reliable resolution": a mask edge is
uncertain by about half a pixel on each side, so a 2-px width is known only to within about ±50 %. A scale
(mm per pixel) is required: without one there are no classes.

The rule sets and where their numbers come from (checked against the documents' tables as quoted in public
sources; the documents themselves are copyrighted and not shipped):

``en1992-1-1:<exposure>``
    EN 1992-1-1:2004 (Eurocode 2), §7.3.1, Table 7.1N, recommended values of w_max [mm] for reinforced members
    and prestressed members with unbonded tendons under the quasi-permanent load combination: exposure
    classes X0, XC1 → 0.4 (the note to the table: for these classes crack width has no influence on
    durability; the limit is set to guarantee acceptable appearance); XC2, XC3, XC4 → 0.3; XD1, XD2, XS1,
    XS2, XS3 → 0.3. ``en1992-1-1:prestressed`` is the 0.2 mm of prestressed members with bonded tendons
    (frequent load combination, X0–XC4; for XD/XS the table asks for decompression instead, which a photo
    cannot check). A National Annex may set other values. Classes: ``within w_max`` / ``exceeds w_max``.
``aci224r:<exposure>``
    ACI 224R-01 "Control of Cracking in Concrete Structures", Table 4.1, tolerable crack widths for reinforced
    concrete at the tensile face: dry air or protective membrane 0.41 mm (0.016 in.); humidity, moist air,
    soil 0.30 (0.012); deicing chemicals 0.18 (0.007); seawater and seawater spray, wetting and drying 0.15
    (0.006); water-retaining structures 0.10 (0.004). ACI notes that a portion of the cracks should be
    expected to exceed these values: they are a design guide, not acceptance limits. Classes:
    ``within tolerable`` / ``exceeds tolerable``.
``bre251``
    BRE Digest 251 (1995 revision) "Assessment of damage in low-rise buildings", Table 1, damage categories
    for masonry by approximate crack width: 0 negligible (hairline, < about 0.1 mm), 1 very slight (fine
    cracks, up to 1 mm), 2 slight (up to 5 mm), 3 moderate (5 to 15 mm, or several of 3 mm), 4 severe (15 to
    25 mm, also depending on the number of cracks), 5 very severe (usually over 25 mm). The Digest grades by
    ease of repair; width is one criterion of several (number of cracks, distortion, doors sticking), so a
    category from width alone is a lower bound to be confirmed on site.
"""

from __future__ import annotations

from dataclasses import dataclass

from sac.errors import ConfigError
from sac.measure.results import Measurement

GRADED_WIDTH = "width_p95"
MIN_RELIABLE_PX = 2.0
BELOW_RESOLUTION = "below reliable resolution"


@dataclass(frozen=True)
class Band:
    """Widths up to ``upper_mm`` (inclusive unless ``strict``) fall in this class; ``None``: no upper end."""

    code: str
    label: str
    upper_mm: float | None
    strict: bool = False

    def holds(self, width_mm: float) -> bool:
        if self.upper_mm is None:
            return True
        return width_mm < self.upper_mm if self.strict else width_mm <= self.upper_mm


@dataclass(frozen=True)
class Standard:
    """One selectable rule set: its key (``--standard``), title, source and ordered classes."""

    key: str
    title: str
    source: str
    bands: tuple[Band, ...]
    note: str = ""

    def grade(self, width_mm: float, width_px: float) -> Severity:
        """The class of a crack ``width_mm`` wide (``width_px`` in pixels, for the resolution check)."""
        if width_px < MIN_RELIABLE_PX:
            return Severity("below", BELOW_RESOLUTION, width_mm, self.key)
        for b in self.bands:
            if b.holds(width_mm):
                return Severity(b.code, b.label, width_mm, self.key)
        raise AssertionError("the last band has no upper end")  # pragma: no cover

    @property
    def order(self) -> list[str]:
        """Class codes from the least to the most severe (``below`` first)."""
        return ["below"] + [b.code for b in self.bands]


@dataclass(frozen=True)
class Severity:
    """The class of one crack: ``code`` (stable, for files), ``label`` (for people), the graded width."""

    code: str
    label: str
    width_mm: float
    standard: str


def _limit(key: str, title: str, source: str, limit_mm: float, word: str, note: str = "") -> Standard:
    return Standard(key, title, source, (Band("within", f"within {word} ({limit_mm:g} mm)", limit_mm),
                                         Band("exceeds", f"exceeds {word} ({limit_mm:g} mm)", None)), note)


_EN = "EN 1992-1-1:2004, 7.3.1, Table 7.1N (recommended values; a National Annex may differ)"
_EN_EXPOSURE = {"X0": 0.4, "XC1": 0.4, "XC2": 0.3, "XC3": 0.3, "XC4": 0.3, "XD1": 0.3, "XD2": 0.3,
                "XS1": 0.3, "XS2": 0.3, "XS3": 0.3}
_ACI = "ACI 224R-01, Table 4.1 (tolerable crack widths, a design guide)"
_ACI_EXPOSURE = {"dry-air": (0.41, "dry air or protective membrane"), "humid": (0.30, "humidity, moist air, soil"),
                 "deicing": (0.18, "deicing chemicals"),
                 "seawater": (0.15, "seawater and seawater spray, wetting and drying"),
                 "water-retaining": (0.10, "water-retaining structures")}


def _standards() -> dict[str, Standard]:
    out: dict[str, Standard] = {}
    for exp, w in _EN_EXPOSURE.items():
        key = f"en1992-1-1:{exp.lower()}"
        out[key] = _limit(key, f"Eurocode 2, exposure class {exp}: w_max {w:g} mm (reinforced, quasi-permanent "
                               "load combination)", _EN, w, "w_max")
    out["en1992-1-1:prestressed"] = _limit(
        "en1992-1-1:prestressed", "Eurocode 2, prestressed members with bonded tendons: w_max 0.2 mm (frequent "
        "load combination, X0-XC4)", _EN, 0.2, "w_max")
    for exp, (w, what) in _ACI_EXPOSURE.items():
        key = f"aci224r:{exp}"
        out[key] = _limit(key, f"ACI 224R, {what}: tolerable width {w:g} mm", _ACI, w, "tolerable")
    out["bre251"] = Standard(
        "bre251", "BRE Digest 251 damage category (masonry, low-rise buildings)",
        "BRE Digest 251 (1995), Table 1 (width is one criterion; confirm the category on site)",
        (Band("0", "category 0 - negligible (< 0.1 mm)", 0.1, strict=True),
         Band("1", "category 1 - very slight (<= 1 mm)", 1.0),
         Band("2", "category 2 - slight (<= 5 mm)", 5.0),
         Band("3", "category 3 - moderate (5-15 mm)", 15.0),
         Band("4", "category 4 - severe (15-25 mm)", 25.0),
         Band("5", "category 5 - very severe (> 25 mm)", None)))
    return out


STANDARDS: dict[str, Standard] = _standards()


def get_standard(name: str | Standard) -> Standard:
    """A rule set by key, case-insensitive (``en1992-1-1:xc3``, ``aci224r:deicing``, ``bre251``)."""
    if isinstance(name, Standard):
        return name
    key = str(name).strip().lower()
    if key in STANDARDS:
        return STANDARDS[key]
    families = sorted({k.split(":")[0] for k in STANDARDS})
    hint = [k for k in STANDARDS if k.startswith(key.split(":")[0] + ":")]
    raise ConfigError("standard", f"unknown severity standard {name!r}; "
                                  + (f"with an exposure: {', '.join(hint)}" if hint
                                     else f"known: {', '.join(families)} (see `sac measure --list-standards`)"))


def check_gradable(standard: str | Standard, mm_per_px: float | None) -> Standard:
    """The rule set, or a :class:`~sac.errors.ConfigError` when it is unknown or there is no scale."""
    std = get_standard(standard)
    if mm_per_px is None:
        raise ConfigError("standard", f"severity classes ({std.key}) need the photo's scale: give mm per pixel "
                                      "(--mm-per-px) or a reference length (--reference)")
    return std


def grade_measurement(measurement: Measurement, standard: str | Standard | None) -> Measurement:
    """Grade every crack of ``measurement`` under ``standard`` in place (``None``: remove the grading) and
    return it: ``crack.severity`` (:class:`Severity`), ``measurement.standard`` and, in ``totals``,
    ``severity_counts`` (class label → cracks, least severe first) and ``worst_severity``. A measurement
    without a scale cannot be graded: a :class:`~sac.errors.ConfigError` says so."""
    if standard is None:
        measurement.standard = None
        for c in measurement.cracks:
            c.severity = None
        for k in ("severity_counts", "worst_severity", "severity_standard"):
            measurement.totals.pop(k, None)
        return measurement
    std = check_gradable(standard, measurement.mm_per_px)
    for c in measurement.cracks:
        width_px = float(getattr(c, GRADED_WIDTH + "_px"))
        c.severity = std.grade(width_px * measurement.mm_per_px, width_px)
    counts: dict[str, int] = {}
    for code in std.order:
        n = [c.severity for c in measurement.cracks if c.severity is not None and c.severity.code == code]
        if n:
            counts[n[0].label] = len(n)
    graded = [c.severity for c in measurement.cracks if c.severity is not None and c.severity.code != "below"]
    worst = max(graded, key=lambda s: std.order.index(s.code), default=None)
    measurement.standard = std.key
    measurement.totals.update(severity_standard=std.key, severity_counts=counts,
                              worst_severity=worst.label if worst else None)
    return measurement


def standards_table() -> list[dict[str, str]]:
    """Every rule set as rows (key, title, classes, source), for ``--list-standards`` and the docs."""
    return [{"key": s.key, "title": s.title, "classes": " / ".join(b.label for b in s.bands), "source": s.source}
            for s in STANDARDS.values()]


__all__ = ["BELOW_RESOLUTION", "GRADED_WIDTH", "MIN_RELIABLE_PX", "STANDARDS", "Band", "Severity", "Standard",
           "check_gradable", "get_standard", "grade_measurement", "standards_table"]
