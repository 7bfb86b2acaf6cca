"""Files from a :class:`~sac.measure.Measurement`: CSV, JSON, GeoJSON, overlay PNG, per-photo summary tables.

Every file is written atomically (``sac.files.atomic_path``). Coordinates in the GeoJSON are IMAGE
PIXELS, not geographic: x = column, y = row (pointing down), with pixel centres at integer coordinates
(pixel (0, 0) covers [-0.5, 0.5]²). Add 0.5 for a corner-origin raster convention, and negate y for a
GIS that puts y up. The FeatureCollection says so in its ``coordinate_system`` member.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib import colormaps

from sac.data.io import write_image_png
from sac.errors import DataError
from sac.files import atomic_write_json, atomic_write_text
from sac.measure.results import Measurement

PIXEL_CRS_NOTE = ("image pixels, not geographic: x = column, y = row (down), pixel centres at integer "
                  "coordinates")

CSV_COLUMNS = ["id", "type", "length_px", "width_mean_px", "width_median_px", "width_p95_px", "width_max_px",
               "orientation_deg", "area_px", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "n_branches", "n_junctions"]
MM_COLUMNS = ["length_mm", "width_mean_mm", "width_median_mm", "width_p95_mm", "width_max_mm", "area_mm2"]
SEVERITY_COLUMNS = ["severity_class", "severity"]  # with a severity standard (sac.measure.severity)


def crack_confidence(measurement: Measurement, prob: np.ndarray) -> dict[int, float]:
    """Mean crack probability over each crack's pixels."""
    out = {}
    for c in measurement.cracks:
        x, y, w, h = c.bbox
        lab = measurement.labels[y:y + h, x:x + w] == c.id
        out[c.id] = float(prob[y:y + h, x:x + w][lab].mean()) if lab.any() else 0.0
    return out


def crack_rows(measurement: Measurement, prob: np.ndarray | None = None) -> list[dict[str, Any]]:
    """One flat dict per crack (the CSV rows): ``CSV_COLUMNS`` (+ ``confidence``) (+ ``MM_COLUMNS``)
    (+ ``SEVERITY_COLUMNS`` when the measurement is graded)."""
    conf = crack_confidence(measurement, prob) if prob is not None else None
    rows = []
    for c in measurement.cracks:
        d = c.to_dict()
        x, y, w, h = d.pop("bbox")
        d.update(bbox_x=x, bbox_y=y, bbox_w=w, bbox_h=h)
        row = {k: d[k] for k in CSV_COLUMNS}
        if conf is not None:
            row["confidence"] = conf[c.id]
        if measurement.mm_per_px is not None:
            row.update({k: d[k] for k in MM_COLUMNS})
        if measurement.standard is not None:
            row.update({k: d[k] for k in SEVERITY_COLUMNS})
        rows.append(row)
    return rows


def crack_columns(measurement: Measurement, confidence: bool = False) -> list[str]:
    """The CSV columns of :func:`crack_rows` for this measurement."""
    return (list(CSV_COLUMNS) + (["confidence"] if confidence else [])
            + (MM_COLUMNS if measurement.mm_per_px is not None else [])
            + (SEVERITY_COLUMNS if measurement.standard is not None else []))


def crack_csv(measurement: Measurement, prob: np.ndarray | None = None) -> str:
    """The per-crack CSV text (what ``write_measurement`` writes as ``<stem>_cracks.csv``)."""
    return _csv_text(crack_rows(measurement, prob), crack_columns(measurement, prob is not None))


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def geojson(measurement: Measurement, stem: str = "", prob: np.ndarray | None = None) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: one Feature per crack, its centreline as a LineString (one branch)
    or MultiLineString, in pixel coordinates (see the module docstring); properties = the crack's numbers."""
    conf = crack_confidence(measurement, prob) if prob is not None else None
    feats = []
    for c in measurement.cracks:
        lines = [[[float(x), float(y)] for x, y in line] for line in c.centrelines if len(line) >= 2]
        if not lines:
            continue
        geom = ({"type": "LineString", "coordinates": lines[0]} if len(lines) == 1
                else {"type": "MultiLineString", "coordinates": lines})
        props = c.to_dict()
        if conf is not None:
            props["confidence"] = conf[c.id]
        feats.append({"type": "Feature", "id": c.id, "geometry": geom, "properties": props})
    h, w = measurement.shape
    return {"type": "FeatureCollection", "name": stem, "coordinate_system": PIXEL_CRS_NOTE,
            "image": {"height": h, "width": w}, "mm_per_px": measurement.mm_per_px, "features": feats}


def _colormap_lut(name: str, n: int = 256) -> np.ndarray:
    """n×3 uint8 RGB colours of a matplotlib colormap."""
    return (colormaps[name](np.linspace(0.0, 1.0, n))[:, :3] * 255 + 0.5).astype(np.uint8)


def _nice_ticks(vmax: float, n: int = 5) -> list[float]:
    if vmax <= 0:
        return [0.0]
    raw = vmax / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(vmax / step + 1e-9) + 1)]


def _check_photo(measurement: Measurement, image: np.ndarray) -> np.ndarray:
    """The photo as an array, checked: H×W×3 uint8 RGB of the mask's size (DataError otherwise)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[:2] != measurement.shape:
        raise DataError("image", f"expected an H×W×3 photo of the mask's size {measurement.shape}, "
                                 f"got shape {img.shape}")
    if img.dtype != np.uint8:
        raise DataError("image", f"expected uint8 RGB, got {img.dtype}")
    return img


def _scale_top(measurement: Measurement, scale: float, vmax: float | None) -> float:
    """The top of the colour scale: ``vmax``, else the largest crack width (junction zones excluded, like the
    statistics) rounded up to a nice number; wider spots saturate."""
    wmax = max((c.width_max_px * scale for c in measurement.cracks), default=0.0) or scale
    if vmax is None:
        ticks = _nice_ticks(wmax)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else wmax
        vmax = math.ceil(wmax / step - 1e-9) * step
    return max(float(vmax), 1e-9)


def _draw_centrelines(out: np.ndarray, measurement: Measurement, lut: np.ndarray, scale: float, vmax: float,
                      nbins: int = 64, shift: int = 4) -> None:
    """Every centreline segment coloured by its width (``nbins`` colours, one polylines call each), in place.

    Arguments:
        out: the picture to draw on; lut: 256×3 colours; scale: unit per px; vmax: the top of the colour scale.
        nbins: colour steps; shift: fractional bits of the anti-aliased coordinates.
    """
    h, w = measurement.shape
    thick = max(1, round(max(h, w) / 1200))
    bins: list[list[np.ndarray]] = [[] for _ in range(nbins)]
    for c in measurement.cracks:
        for line, wl in zip(c.centrelines, c.centreline_widths_px, strict=True):
            p = np.round(np.asarray(line, np.float64) * (1 << shift)).astype(np.int32)
            if len(p) < 2:
                continue
            wv = np.asarray(wl, np.float64) * scale
            seg_w = 0.5 * (wv[:-1] + wv[1:])
            b = np.clip((seg_w / vmax * nbins).astype(int), 0, nbins - 1)
            segs = np.stack([p[:-1], p[1:]], 1)
            for k in np.unique(b):
                bins[k].extend(segs[b == k])
    for k, segs in enumerate(bins):
        if segs:
            col = lut[int((k + 0.5) / nbins * 255)]
            cv2.polylines(out, segs, False, tuple(int(v) for v in col), thick, cv2.LINE_AA, shift)


def render_overlay(measurement: Measurement, image: np.ndarray, *, cmap: str = "plasma", dim: float = 0.5,
                   tint: tuple[int, int, int] = (0, 190, 255), tint_alpha: float = 0.35,
                   vmax: float | None = None) -> np.ndarray:
    """The photo dimmed, crack pixels tinted, centrelines coloured by local width, and a colour bar.

    Returns H×W×3 uint8 RGB. Widths are shown in mm when the measurement has a scale, else in px;
    the colour scale runs from 0 to ``vmax`` (default: the largest crack ``width_max``, rounded up to a nice
    number; wider spots, e.g. inside junctions, saturate).
    Drawing is cv2 only (a 12 MP photo takes well under a second).
    """
    img = _check_photo(measurement, image)
    out = cv2.convertScaleAbs(img, alpha=dim)
    crack = measurement.labels > 0
    if crack.any():
        sel = out[crack].astype(np.float32)
        out[crack] = (sel * (1 - tint_alpha) + np.array(tint, np.float32) * tint_alpha).astype(np.uint8)
    scale = measurement.mm_per_px or 1.0
    top = _scale_top(measurement, scale, vmax)
    lut = _colormap_lut(cmap)
    _draw_centrelines(out, measurement, lut, scale, top)
    _draw_colorbar(out, lut, top, f"width [{measurement.unit}]")
    return out


def _draw_colorbar(out: np.ndarray, lut: np.ndarray, vmax: float, title: str) -> None:
    """A vertical colour bar with ticks and a title in the top-right corner (in place)."""
    h, w = out.shape[:2]
    s = max(min(h, w) / 1000.0, 0.35)
    bar_h = max(int(0.35 * h), 40)
    bar_w = max(int(18 * s), 6)
    font = cv2.FONT_HERSHEY_SIMPLEX
    fs = 0.5 * s + 0.1
    ft = max(1, round(1.5 * s))
    ticks = _nice_ticks(vmax)
    labels = [f"{t:g}" for t in ticks]
    (tw, th), _ = cv2.getTextSize(max(labels + [title], key=len), font, fs, ft)
    pad = max(int(8 * s), 3)
    box_w = pad * 3 + bar_w + tw
    box_h = bar_h + th * 3 + pad * 4
    x0, y0 = max(w - box_w - pad, 0), pad
    x1, y1 = min(x0 + box_w, w), min(y0 + box_h, h)
    roi = out[y0:y1, x0:x1]
    roi[:] = (roi.astype(np.float32) * 0.25).astype(np.uint8)
    cv2.putText(out, title, (x0 + pad, y0 + pad + th), font, fs, (255, 255, 255), ft, cv2.LINE_AA)
    by0 = y0 + 2 * pad + 2 * th
    by1 = min(by0 + bar_h, h - 1)
    bx0, bx1 = x0 + pad, min(x0 + pad + bar_w, w)
    n = max(by1 - by0, 1)
    idx = ((1.0 - np.arange(n) / max(n - 1, 1)) * 255).astype(int)  # top = vmax
    out[by0:by0 + n, bx0:bx1] = lut[idx][:, None, :]
    for t, lab in zip(ticks, labels, strict=True):
        y = int(round(by0 + (1.0 - t / vmax) * (n - 1)))
        cv2.line(out, (bx1, y), (bx1 + pad // 2, y), (255, 255, 255), ft)
        cv2.putText(out, lab, (bx1 + pad, y + th // 2), font, fs, (255, 255, 255), ft, cv2.LINE_AA)


#: what :func:`write_measurement` names each file it writes, after the photo's stem
MEASUREMENT_FILES = {"csv": "_cracks.csv", "json": "_cracks.json", "geojson": "_centrelines.geojson",
                     "overlay": "_overlay.png"}


def write_measurement(measurement: Measurement, out_dir: str | Path, stem: str, image: np.ndarray | None = None,
                      prob: np.ndarray | None = None, *, polylines_in_json: bool = False) -> dict[str, Path]:
    """Write ``<stem>_cracks.csv``, ``<stem>_cracks.json``, ``<stem>_centrelines.geojson`` and, when ``image``
    (H×W×3 uint8 RGB) is given, ``<stem>_overlay.png``; returns ``{"csv", "json", "geojson"[, "overlay"]}``.

    With ``prob`` (H×W probability the mask was thresholded from) every crack also gets ``confidence``,
    its mean probability.
    """
    out = Path(out_dir)
    if prob is not None and np.shape(prob)[:2] != measurement.shape:
        raise DataError("prob", f"probability map of shape {np.shape(prob)} does not match the mask "
                                f"{measurement.shape}")
    rows = crack_rows(measurement, prob)
    paths = {k: out / f"{stem}{MEASUREMENT_FILES[k]}" for k in ("csv", "json", "geojson")}
    atomic_write_text(paths["csv"], _csv_text(rows, crack_columns(measurement, prob is not None)))
    doc = measurement.to_dict(polylines=polylines_in_json)
    doc = {"photo": stem, **doc}
    if prob is not None:
        conf = {r["id"]: r["confidence"] for r in rows}
        for c in doc["cracks"]:
            c["confidence"] = conf[c["id"]]
    atomic_write_json(paths["json"], doc)
    atomic_write_text(paths["geojson"], json.dumps(geojson(measurement, stem, prob)) + "\n")
    if image is not None:
        paths["overlay"] = write_image_png(out / f"{stem}{MEASUREMENT_FILES['overlay']}", render_overlay(measurement, image),
                                           compress_level=1)
    return paths


def summary_row(measurement: Measurement, stem: str) -> dict[str, Any]:
    """One row of the per-photo summary table: crack count, total length, max / mean width, crack area share
    (+ the mm values when scaled)."""
    t = measurement.totals
    row: dict[str, Any] = {"photo": stem, "crack_count": t["count"], "total_length_px": t["total_length_px"],
                           "width_max_px": t["width_max_px"], "width_mean_px": t["width_mean_px"],
                           "crack_area_share": t["crack_area_share"]}
    if measurement.mm_per_px is not None:
        row.update(total_length_mm=t["total_length_mm"], width_max_mm=t["width_max_mm"],
                   width_mean_mm=t["width_mean_mm"], mm_per_px=measurement.mm_per_px)
    if measurement.standard is not None:
        row.update(standard=measurement.standard, worst_severity=t["worst_severity"] or "")
    return row


def write_summary(rows: list[dict[str, Any]], out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
    """``summary.csv`` and ``summary.md`` (a markdown table, under ``title`` if given) from per-photo rows."""
    out = Path(out_dir)
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    paths = {"csv": out / "summary.csv", "md": out / "summary.md"}
    atomic_write_text(paths["csv"], _csv_text(rows, cols))

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    md = [f"{title}\n"] if title else []
    md += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(fmt(r.get(k, "")) for k in cols) + " |" for r in rows]
    atomic_write_text(paths["md"], "\n".join(md) + "\n")
    return paths


__all__ = ["CSV_COLUMNS", "MEASUREMENT_FILES", "MM_COLUMNS", "SEVERITY_COLUMNS", "crack_columns", "crack_csv", "crack_confidence", "crack_rows", "geojson",
           "render_overlay", "summary_row", "write_measurement", "write_summary"]
