"""One self-contained HTML report per photo: the overlay (embedded PNG), totals, severity and the crack table."""

from __future__ import annotations

import base64
import html
from typing import Any

import cv2
import numpy as np

from sac.measure.export import crack_rows, render_overlay
from sac.measure.results import Measurement
from sac.measure.severity import GRADED_WIDTH, get_standard

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}td.l,th.l{text-align:left}
img{max-width:100%;border:1px solid #ccc}.note{color:#666;font-size:.9rem}"""


def png_bytes(img: np.ndarray, max_side: int | None = None, compress_level: int = 3) -> bytes:
    """PNG bytes of an RGB (H×W×3) or grey (H×W) uint8 image, downscaled so its longer side is at most
    ``max_side`` (``None``: full size)."""
    h, w = img.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:  # pragma: no cover - cv2 encodes any uint8 image
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def png_data_uri(rgb: np.ndarray, max_side: int = 1600) -> str:
    """A PNG data URI of an RGB image, downscaled so its longer side is at most ``max_side``."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb, max_side)).decode("ascii")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return html.escape(str(v))


def html_report(measurement: Measurement, image: np.ndarray, name: str, *, model: str = "",
                threshold: float | None = None, prob: np.ndarray | None = None) -> str:
    """The report of one photo as a single HTML string (no external files): overlay, totals, crack table."""
    t = measurement.totals
    unit = measurement.unit
    scale = (f"{measurement.mm_per_px:.4g} mm per pixel" if measurement.mm_per_px is not None
             else "no scale (pixels only; severity classes need one)")
    facts = [("photo", name), ("size", f"{measurement.shape[1]} × {measurement.shape[0]} px"), ("model", model),
             ("threshold", f"{threshold:.2f}" if threshold is not None else "—"), ("scale", scale),
             ("cracks", t["count"]),
             (f"total length ({unit})", t[f"total_length_{unit}"]), (f"max width ({unit})", t[f"width_max_{unit}"]),
             ("crack area share", f"{100 * t['crack_area_share']:.2f} %")]
    sev = ""
    if measurement.standard is not None:
        std = get_standard(measurement.standard)
        counts = "".join(f"<tr><td class=l>{html.escape(k)}</td><td>{v}</td></tr>"
                         for k, v in t["severity_counts"].items())
        sev = (f"<h2>Severity — {html.escape(std.title)}</h2><p class=note>Source: {html.escape(std.source)}. "
               f"Graded on each crack's {GRADED_WIDTH.replace('width_', '')} width; widths under 2 px are not "
               f"classified.</p><table><tr><th class=l>class</th><th>cracks</th></tr>{counts}</table>")
    rows = crack_rows(measurement, prob)
    cols = ["id", "type", f"length_{unit}", f"width_mean_{unit}", f"width_p95_{unit}", f"width_max_{unit}",
            "orientation_deg"] + (["confidence"] if prob is not None else []) + (
        ["severity"] if measurement.standard is not None else [])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td{' class=l' if c in ('type', 'severity') else ''}>{_fmt(r[c])}</td>"
                                    for c in cols) + "</tr>" for r in rows)
    overlay = png_data_uri(render_overlay(measurement, image))
    facts_html = "".join(f"<tr><th class=l>{html.escape(k)}</th><td class=l>{_fmt(v)}</td></tr>" for k, v in facts)
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Cracks — {html.escape(name)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Cracks — {html.escape(name)}</h1>"
            f"<table>{facts_html}</table><img alt='overlay: centrelines coloured by width' src='{overlay}'>"
            f"{sev}<h2>Cracks</h2><table><tr>{head}</tr>{body}</table>"
            f"<p class=note>Segment Any Crack. Lengths along the smoothed centreline; widths across it.</p>"
            f"</body></html>\n")
