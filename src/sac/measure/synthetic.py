"""Synthetic cracks of known geometry, for validating :func:`sac.measure.measure_mask`.

A synthetic crack is a set of centrelines (polylines in pixel-centre coordinates, x right, y down)
swept by a disc of diameter ``width``, with FLAT (butt) ends at the free ends, so its true length is
the sum of the centreline lengths and its true width is ``width`` everywhere (the joins at
junctions are round). It is rasterised in one of two ways:

* ``"binary"``: a pixel is crack when its centre lies inside the shape (aliased, like a hard brush).
* ``"antialiased"``: the shape is sampled at ``supersample``² points per pixel (4×4 by default), averaged
  to a coverage in [0, 1] and thresholded at 0.5, so the mask boundary follows the sub-pixel shape.

Shapes (:data:`SHAPES`): ``straight`` (any ``angle_deg``), ``arc`` (a quarter circle), ``sine`` (one period,
amplitude 20 px), ``y`` (three arms 120° apart), ``t`` (a bar with a perpendicular stem from its
middle) and ``network`` (an "H": two parallel bars joined by a rung → two junctions).
The placement gets a sub-pixel offset (``offset``) so that pixel centres never sit exactly on the
boundary (which would make a band of integer width ``w`` rasterise to ``w + 1`` rows).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SHAPES = ("straight", "arc", "sine", "y", "t", "network")
DRAWINGS = ("binary", "antialiased")


@dataclass
class SyntheticCrack:
    """A rasterised crack and its ground truth."""

    mask: np.ndarray  # H×W bool
    length: float  # true centreline length, px (sum over branches)
    width: float  # true width, px
    shape: str
    drawing: str
    centrelines: list[np.ndarray] = field(default_factory=list)  # each N×2 (x, y)
    n_junctions: int = 0


def _polyline_length(p: np.ndarray) -> float:
    return float(np.hypot(*np.diff(p, axis=0).T).sum())


def centrelines(shape: str, *, length: float = 240.0, angle_deg: float = 0.0) -> tuple[list[np.ndarray], int]:
    """Centrelines of a shape, centred on (0, 0), as a list of N×2 (x, y) arrays; also the junction count.

    ``length`` is the overall size (straight: its length; arc: its chord-ish span; branched shapes:
    the bar length, arms are half of it). ``angle_deg`` rotates the shape counter-clockwise as seen
    on screen (y points down in pixel coordinates).
    """
    half = length / 2
    if shape == "straight":
        lines = [np.array([[-half, 0.0], [half, 0.0]])]
        nj = 0
    elif shape == "arc":
        radius = length / (math.pi / 2)  # quarter circle of arc length ``length``
        t = np.linspace(0, math.pi / 2, max(int(length), 64))
        pts = np.stack([radius * np.cos(t), radius * np.sin(t)], 1)
        lines = [pts - pts.mean(0)]
        nj = 0
    elif shape == "sine":
        x = np.linspace(-half, half, max(int(length) * 4, 256))
        lines = [np.stack([x, 20.0 * np.sin(2 * math.pi * x / length)], 1)]
        nj = 0
    elif shape == "y":
        arm = length / 2
        lines = []
        for a in (90.0, 210.0, 330.0):
            r = math.radians(a)
            lines.append(np.array([[0.0, 0.0], [arm * math.cos(r), -arm * math.sin(r)]]))
        nj = 1
    elif shape == "t":
        lines = [np.array([[-half, -length / 4], [half, -length / 4]]),
                 np.array([[0.0, -length / 4], [0.0, length / 4]])]
        nj = 1
    elif shape == "network":
        gap = 0.6 * length
        lines = [np.array([[-gap / 2, -half], [-gap / 2, half]]),
                 np.array([[gap / 2, -half], [gap / 2, half]]),
                 np.array([[-gap / 2, 0.0], [gap / 2, 0.0]])]
        nj = 2
    else:
        raise ValueError(f"unknown synthetic shape {shape!r}; choose from {SHAPES}")
    if angle_deg:
        r = math.radians(angle_deg)
        rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])  # CCW on screen (y down)
        lines = [p @ rot for p in lines]
    return lines, nj


def _free_ends(lines: list[np.ndarray], tol: float = 1e-6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Polyline ends that touch no other polyline: (end point, outward unit tangent)."""
    out = []
    for i, p in enumerate(lines):
        for end, prev in ((p[0], p[1]), (p[-1], p[-2])):
            touching = False
            for j, q in enumerate(lines):
                if j == i:
                    continue
                if _point_polyline_distance(end[None], q)[0] < tol:
                    touching = True
                    break
            if not touching:
                t = end - prev
                out.append((end, t / np.linalg.norm(t)))
    return out


def _point_polyline_distance(pts: np.ndarray, line: np.ndarray) -> np.ndarray:
    d = np.full(len(pts), np.inf)
    for a, b in zip(line[:-1], line[1:], strict=True):
        d = np.minimum(d, _segment_distance(pts[:, 0], pts[:, 1], a, b))
    return d


def _segment_distance(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    den = float(ab @ ab) or 1e-12
    t = np.clip(((x - a[0]) * ab[0] + (y - a[1]) * ab[1]) / den, 0.0, 1.0)
    return np.hypot(x - (a[0] + t * ab[0]), y - (a[1] + t * ab[1]))


def _window(lo: np.ndarray, hi: np.ndarray, s: int, shape_hw: tuple[int, int]):
    """Fine-grid index window (y0, y1, x0, x1) covering coarse coordinates [lo, hi] (x, y), with the
    coarse coordinates of its samples; fine sample k sits at coarse coordinate (k + 0.5) / s - 0.5."""
    k_lo = np.floor((lo + 0.5) * s - 0.5).astype(int)
    k_hi = np.ceil((hi + 0.5) * s - 0.5).astype(int) + 1
    x0, y0 = max(int(k_lo[0]), 0), max(int(k_lo[1]), 0)
    x1, y1 = min(int(k_hi[0]), shape_hw[1] * s), min(int(k_hi[1]), shape_hw[0] * s)
    if x0 >= x1 or y0 >= y1:
        return None
    gx, gy = np.meshgrid((np.arange(x0, x1) + 0.5) / s - 0.5, (np.arange(y0, y1) + 0.5) / s - 0.5)
    return (y0, y1, x0, x1), gx, gy


def rasterise(lines: list[np.ndarray], width: float, shape_hw: tuple[int, int], *,
              drawing: str = "antialiased", supersample: int = 4) -> np.ndarray:
    """Rasterise centrelines (pixel-centre coordinates) swept by a disc of diameter ``width``, flat ends."""
    if drawing not in DRAWINGS:
        raise ValueError(f"unknown drawing {drawing!r}; choose from {DRAWINGS}")
    s = supersample if drawing == "antialiased" else 1
    h, w = shape_hw
    r = width / 2
    dist = np.full((h * s, w * s), np.inf, np.float64)
    for line in lines:
        for a, b in zip(line[:-1], line[1:], strict=True):
            win = _window(np.minimum(a, b) - r - 1, np.maximum(a, b) + r + 1, s, (h, w))
            if win is None:
                continue
            (y0, y1, x0, x1), gx, gy = win
            d = _segment_distance(gx, gy, a, b)
            np.minimum(dist[y0:y1, x0:x1], d, out=dist[y0:y1, x0:x1])
    inside = dist <= r
    # flat ends: cut the half-disc cap beyond every free end
    for end, t in _free_ends(lines):
        win = _window(end - r - 2, end + r + 2, s, (h, w))
        if win is None:
            continue
        (y0, y1, x0, x1), gx, gy = win
        beyond = (gx - end[0]) * t[0] + (gy - end[1]) * t[1] > 0
        inside[y0:y1, x0:x1] &= ~beyond
    if s == 1:
        return inside
    cover = inside.reshape(h, s, w, s).mean(axis=(1, 3))
    return cover >= 0.5


def make_crack(shape: str = "straight", width: float = 5, *, length: float = 240.0, angle_deg: float = 0.0,
               drawing: str = "antialiased", margin: int = 24, offset: tuple[float, float] = (0.31, 0.17),
               supersample: int = 4) -> SyntheticCrack:
    """A synthetic crack mask with its true length and width (see the module docstring)."""
    lines, nj = centrelines(shape, length=length, angle_deg=angle_deg)
    pts = np.concatenate(lines)
    lo, hi = pts.min(0), pts.max(0)
    pad = margin + width
    size = np.ceil(hi - lo + 2 * pad).astype(int)
    shift = -lo + pad + np.asarray(offset, float)
    lines = [p + shift for p in lines]
    mask = rasterise(lines, width, (int(size[1]), int(size[0])), drawing=drawing, supersample=supersample)
    true_len = sum(_polyline_length(p) for p in lines)
    return SyntheticCrack(mask=mask, length=true_len, width=float(width), shape=shape, drawing=drawing,
                          centrelines=lines, n_junctions=nj)
