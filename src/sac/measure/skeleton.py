"""Centreline geometry of ONE crack instance: skeleton, spur pruning, branch graph, smoothed length, width.

All arrays here are in the coordinates of the instance's crop; :mod:`sac.measure.core` shifts them.

Conventions (the derivations are in :mod:`sac.measure` and ``benchmarks/measure_accuracy.py`` checks them):

* **Skeleton**: ``skimage.morphology.skeletonize(method="lee")`` (one pixel thick). Not the default
  Zhang–Suen thinning: it erases 45° bands 3 px wide down to a single pixel. The branch graph is
  skan's (:func:`pixel_graph`, rebuilt here): a *branch* is a path between nodes of degree ≠ 2; junction
  pixels (degree ≥ 3) that touch form one *junction*.
* **Spurs**: a terminal branch (one free end, the other at a junction) shorter than
  ``max(min_branch_px, spur_width_factor × local width at its junction)`` (local width = 2·EDT − 1 at
  the junction) is removed, repeatedly (a few rounds), and the skeleton re-thinned. Where *only* spurs
  meet at a junction, the two longest stay (so a short crack never vanishes); where a junction would
  become the end of its one long branch, the spur that continues that branch within 30° stays (it is
  the crack's real end beside a bump, not a spur; the two 45° prongs a blunt end grows both go).
* **Length**: each branch's pixel path is smoothed along its arc with a Gaussian (σ = ``smooth_px``,
  odd reflection at the ends so end points and junctions stay put), and the polyline length summed.
  Raw 8-connected steps (1 and √2) overestimate a digital straight line by up to 8 % (at 22.5°);
  smoothing brings that under 1 %.
* **End correction**: a skeleton stops short of the crack's tips (thinning eats ≈ half the width at a
  blunt end), so each free end is extended along its end tangent to the mask edge (:func:`ray_exit`).
  Adding the EDT value at the end pixel (``d − 0.5``) is the common shortcut; it falls 1 px short per
  end when the thinning stops a pixel early (skimage's Lee thinning does so on vertical bands), while
  marching to the edge measures what is there. The extension is part of the centreline polylines, so
  they add up to the length.
* **Edge**: the crack's edge is taken halfway between a crack pixel centre and a background pixel
  centre — the 0.5 level of the bilinearly interpolated 0/1 mask. A band of ``w`` pixels is ``w`` wide.
* **Width** (``method="chord"``, the default) at a skeleton pixel ``p`` with unit normal ``n`` (from the
  smoothed branch tangent): the chord of the mask through ``p`` along ``n``, edge to edge. It does not
  care whether ``p`` sits on the exact midline, and on staircase (oblique) edges the crossings scatter
  around the true edge, so the mean is unbiased (± 0.05 px on the benchmark). Each half-chord is capped
  at ``1.25·d(p) + 1`` (``d`` = Euclidean distance transform), which only matters where the normal runs
  along the crack (junctions, whose pixels the statistics skip anyway).
* **Width** (``method="edt"``): ``d(p) + max(d(p + n), d(p − n))``, ``d`` bilinear between pixels.
  Derivation: across the crack the EDT is a tent of slope 1 whose apex is half the width + 0.5 (the EDT
  counts to the nearest background pixel CENTRE, 0.5 px beyond the edge). For a band ``w`` px wide the
  skeleton sits on the middle row (odd ``w``: ``d = (w+1)/2``, neighbours ``(w−1)/2``) or on one of the
  two middle rows (even ``w``: ``d = w/2``, one neighbour also ``w/2``): both give exactly ``w``, where the
  naive ``2·d`` reads ``w + 1`` on odd widths and ``2·d − 1`` reads ``w − 1`` on even ones. On oblique
  edges, though, the nearest background centre lies closer than 0.5 px beyond the edge, so this reads
  0.3–0.6 px thin for wide oblique cracks; hence the chord is the default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse import csgraph
from skimage.morphology import skeletonize


@dataclass
class BranchGraph:
    """Branches of one skeleton (crop coordinates, (row, col))."""

    paths: list[np.ndarray] = field(default_factory=list)  # each N×2 int (row, col), ends included
    lengths: list[float] = field(default_factory=list)  # raw 8-connected length (1 / √2 steps)
    ends: list[tuple[int, int]] = field(default_factory=list)  # per end: -1 free, -2 cycle, else junction id
    junctions: list[np.ndarray] = field(default_factory=list)  # each K×2 (row, col) pixels of one junction
    internal: list[bool] = field(default_factory=list)  # both ends in the same junction (not a real branch)

    @property
    def n_branches(self) -> int:
        return sum(not i for i in self.internal)

    @property
    def n_junctions(self) -> int:
        return len(self.junctions)


FREE, CYCLE = -1, -2


# the 8 neighbours in raster order of their offsets, and the step length to each
_OFFSETS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], np.int64)
_STEP = np.hypot(_OFFSETS[:, 0], _OFFSETS[:, 1])


def pixel_graph(skel: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The skeleton's pixels (N×2 (row, col), raster order) and each pixel's neighbours (indices, ascending).

    Every 8-neighbour is linked, then inside each *junction cluster* (touching pixels of 3 or more neighbours)
    only a minimum spanning tree of the links is kept (weights 1 and √2, scipy's MST): a compact blob of
    junction pixels is one crossing, not a knot of tiny loops. This is the pixel graph of skan's ``Skeleton``
    (skan 0.13: ``pixel_graph`` + ``_mst_junctions``), rebuilt here without numba (whose per-process compile
    cost seconds on every ``sac predict --measure``)."""
    coords = np.argwhere(skel).astype(np.int64)
    n = len(coords)
    h, w = skel.shape
    index = np.full((h + 2, w + 2), -1, np.int64)  # padded: a neighbour lookup never leaves the array
    index[coords[:, 0] + 1, coords[:, 1] + 1] = np.arange(n)
    nb = index[coords[:, 0, None] + 1 + _OFFSETS[None, :, 0], coords[:, 1, None] + 1 + _OFFSETS[None, :, 1]]
    deg = (nb >= 0).sum(1)
    rows, slot = np.nonzero(nb >= 0)
    cols = nb[rows, slot]
    junction = deg >= 3
    jj = junction[rows] & junction[cols]
    if jj.any():  # junction clusters: keep a minimum spanning tree of their links (as skan does)
        sub = sparse.csr_matrix((_STEP[slot[jj]], (rows[jj], cols[jj])), shape=(n, n))
        mst = csgraph.minimum_spanning_tree(sub).tocoo()
        keep = set(zip(mst.row.tolist(), mst.col.tolist(), strict=True))
        drop = np.array([(int(a), int(b)) not in keep and (int(b), int(a)) not in keep
                         for a, b in zip(rows[jj], cols[jj], strict=True)])
        ok = np.ones(len(rows), bool)
        ok[np.flatnonzero(jj)[drop]] = False
        rows, cols = rows[ok], cols[ok]
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    bounds = np.searchsorted(rows, np.arange(n + 1))
    return coords, [cols[bounds[i]:bounds[i + 1]] for i in range(n)]


def _paths(neighbours: list[np.ndarray], deg: np.ndarray) -> list[list[int]]:
    """Pixel paths between nodes of degree ≠ 2 (each end included), then the isolated cycles (first pixel
    repeated at the end); the order of skan's ``Skeleton.paths`` (nodes in raster order, neighbours ascending)."""
    visited: set[tuple[int, int]] = set()
    paths: list[list[int]] = []

    def walk(node: int, nxt: int) -> list[int]:
        path, start = [node], node
        while (node, nxt) not in visited:
            visited.add((node, nxt))
            visited.add((nxt, node))
            path.append(nxt)
            if deg[nxt] != 2 or nxt == start:
                break
            a, b = neighbours[nxt]
            node, nxt = nxt, (int(a) if a != node else int(b))
        return path

    for node in range(len(deg)):
        if deg[node] == 1 or deg[node] > 2:
            for nb in neighbours[node].tolist():
                if (node, nb) not in visited:
                    paths.append(walk(node, nb))
    for node in range(len(deg)):
        if deg[node] > 0:
            nb = int(neighbours[node][0])
            if (node, nb) not in visited:
                paths.append(walk(node, nb))
    return paths


def branch_graph(skel: np.ndarray) -> BranchGraph:
    """The branch graph of a (one-pixel-thick) skeleton (:func:`pixel_graph`, then the paths between its nodes)."""
    n = int(skel.sum())
    g = BranchGraph()
    if n == 0:
        return g
    if n == 1:
        rc = np.argwhere(skel)
        g.paths, g.lengths, g.ends, g.internal = [rc], [0.0], [(FREE, FREE)], [False]
        return g
    coords, neighbours = pixel_graph(skel)
    deg = np.array([len(v) for v in neighbours], np.int64)
    # junction clusters: connected groups of degree >= 3 nodes
    jnodes = np.flatnonzero(deg >= 3)
    cluster_of: dict[int, int] = {}
    if len(jnodes):
        pos = np.full(n, -1, np.int64)
        pos[jnodes] = np.arange(len(jnodes))
        src = np.repeat(np.arange(len(jnodes)), [len(neighbours[j]) for j in jnodes])
        dst = pos[np.concatenate([neighbours[j] for j in jnodes])]
        ok = dst >= 0
        sub = sparse.csr_matrix((np.ones(int(ok.sum())), (src[ok], dst[ok])), shape=(len(jnodes), len(jnodes)))
        nc, lab = csgraph.connected_components(sub, directed=False)
        cluster_of = {int(node): int(c) for node, c in zip(jnodes, lab, strict=True)}
        g.junctions = [coords[jnodes[lab == c]] for c in range(nc)]
    for ids in _paths(neighbours, deg):
        a, b = ids[0], ids[-1]
        if a == b and deg[a] == 2:
            ends = (CYCLE, CYCLE)
        else:
            ends = tuple(FREE if deg[e] == 1 else cluster_of.get(e, FREE) for e in (a, b))
        p = coords[ids]
        steps = np.hypot(*np.diff(p, axis=0).T)
        g.paths.append(p)
        g.lengths.append(float(np.cumsum(steps)[-1]) if len(steps) else 0.0)
        g.ends.append(ends)
        g.internal.append(ends[0] >= 0 and ends[0] == ends[1] and len(ids) <= 3)
    return g


def prune_spurs(skel: np.ndarray, edt: np.ndarray, *, min_branch_px: float, spur_width_factor: float,
                max_rounds: int = 8) -> np.ndarray:
    """Remove short terminal branches (see the module docstring); returns a new skeleton."""
    skel = skel.copy()
    for _ in range(max_rounds):
        g = branch_graph(skel)
        if g.n_junctions == 0:
            break
        cand: set[int] = set()
        at_junction: dict[int, list[int]] = {}
        for i, (ends, length) in enumerate(zip(g.ends, g.lengths, strict=True)):
            if g.internal[i]:
                continue
            for e in ends:
                if e >= 0:
                    at_junction.setdefault(e, []).append(i)
            if (ends[0] == FREE) != (ends[1] == FREE) and max(ends) >= 0:
                j = g.junctions[max(ends)]
                local_w = 2.0 * float(edt[j[:, 0], j[:, 1]].max()) - 1.0
                if length < max(min_branch_px, spur_width_factor * local_w):
                    cand.add(i)
        keep: set[int] = set()
        for jid, idxs in at_junction.items():
            spurs = [i for i in idxs if i in cand]
            others = [i for i in idxs if i not in cand]
            if not others:  # only spurs meet here: keep the two longest
                keep.update(sorted(spurs, key=lambda i: -g.lengths[i])[:2])
            elif len(others) == 1 and len(spurs) >= 2:
                # the junction is about to become the end of the one real branch: a spur that continues
                # that branch straight on (within 30°) is its true end, not a spur (e.g. a bump near a tip)
                ahead = -_direction_from(g, others[0], jid)
                best = max(spurs, key=lambda i: float(_direction_from(g, i, jid) @ ahead))
                if float(_direction_from(g, best, jid) @ ahead) > math.cos(math.radians(30)):
                    keep.add(best)
        remove = cand - keep
        if not remove:
            break
        jpix = np.zeros_like(skel)
        for j in g.junctions:
            jpix[j[:, 0], j[:, 1]] = True
        for i in remove:
            p = g.paths[i]
            off = ~jpix[p[:, 0], p[:, 1]]
            skel[p[off, 0], p[off, 1]] = False
        skel = skeletonize(skel, method="lee")
    return skel


def _direction_from(g: BranchGraph, i: int, junction: int, reach: float = 8.0) -> np.ndarray:
    """Unit vector from a junction into branch ``i`` (over ≈ ``reach`` px of the branch)."""
    p = g.paths[i] if g.ends[i][0] == junction else g.paths[i][::-1]
    p = p.astype(np.float64)
    d = np.hypot(*(p - p[0]).T)
    k = int(np.argmax(d >= reach)) if (d >= reach).any() else len(p) - 1
    v = p[k] - p[0]
    n = float(np.hypot(*v))
    return v / n if n > 0 else np.zeros(2)


def smooth_path(p: np.ndarray, sigma: float, *, cycle: bool = False) -> np.ndarray:
    """Gaussian-smooth an N×2 path along its arc; ends are kept in place (odd reflection)."""
    p = np.asarray(p, np.float64)
    n = len(p)
    if not sigma >= 0.05 or n < 3:  # below 0.05 px the kernel is a unit impulse in float64 (exp(-200) ≈ 1e-87),
        return p.copy()            # and a subnormal σ would overflow scipy's kernel radius
    if cycle:  # a closed path repeats its first pixel at the end: smooth the loop, then close it again
        closed = n > 1 and np.array_equal(p[0], p[-1])
        q = p[:-1] if closed else p
        if len(q) < 3:
            return p.copy()
        out = ndi.gaussian_filter1d(q, sigma, axis=0, mode="wrap")
        return np.vstack([out, out[:1]]) if closed else out
    k = min(int(math.ceil(3 * sigma)), n - 1)
    head = 2 * p[0] - p[k:0:-1]
    tail = 2 * p[-1] - p[-2:-k - 2:-1]
    ext = np.concatenate([head, p, tail])
    out = ndi.gaussian_filter1d(ext, sigma, axis=0, mode="nearest", truncate=k / sigma if sigma else 4.0)
    return out[k:k + n]


def polyline_length(p: np.ndarray) -> float:
    if len(p) < 2:
        return 0.0
    return float(np.hypot(*np.diff(p, axis=0).T).sum())


def tangents(p: np.ndarray) -> np.ndarray:
    """Unit tangents of an N×2 path (central differences); (1, 0) for a single point."""
    if len(p) < 2:
        return np.tile(np.array([[1.0, 0.0]]), (len(p), 1))
    t = np.gradient(p, axis=0)
    nrm = np.hypot(t[:, 0], t[:, 1])[:, None]
    return np.where(nrm > 1e-9, t / np.maximum(nrm, 1e-9), np.array([[1.0, 0.0]]))


def end_tangent(p: np.ndarray, at_start: bool, span: float = 5.0) -> np.ndarray:
    """Outward unit tangent at one end of a smoothed path, from the chord over ≈ ``span`` px."""
    q = p if not at_start else p[::-1]
    end = q[-1]
    d = np.hypot(*(q - end).T)
    far = np.flatnonzero(d >= span)
    ref = q[far[-1]] if len(far) else q[0]
    v = end - ref
    nv = float(np.hypot(*v))
    return v / nv if nv > 1e-9 else np.zeros(2)


def widths_on_path(edt: np.ndarray, raw: np.ndarray, smooth: np.ndarray, *, method: str = "chord",
                   mask: np.ndarray | None = None, step: float = 0.25) -> np.ndarray:
    """Width (px) at every pixel of a path, by ``method`` ``"chord"`` or ``"edt"`` (see module docstring)."""
    if len(raw) == 0:
        return np.zeros(0)
    d0 = edt[raw[:, 0], raw[:, 1]].astype(np.float64)
    t = tangents(smooth)
    nrm = np.stack([-t[:, 1], t[:, 0]], 1)  # (row, col) normal
    if method == "edt":
        plus = ndi.map_coordinates(edt, (raw + nrm).T, order=1, mode="constant", cval=0.0)
        minus = ndi.map_coordinates(edt, (raw - nrm).T, order=1, mode="constant", cval=0.0)
        return d0 + np.maximum(plus, minus)
    if method != "chord":
        raise ValueError(f"unknown width method {method!r}")
    if mask is None:
        raise ValueError("the chord width needs the mask")
    rmax = 1.25 * d0 + 1.0  # half-chords never reach further (guards junctions and bad normals)
    return ray_exit(mask, raw, nrm, rmax, step) + ray_exit(mask, raw, -nrm, rmax, step)


def ray_exit(mask: np.ndarray, origins: np.ndarray, dirs: np.ndarray, rmax: np.ndarray | float,
             step: float = 0.25) -> np.ndarray:
    """Distance from each origin (inside the mask) along its unit direction to the mask edge.

    The edge is the 0.5 level of the bilinear interpolation of the 0/1 mask — halfway between a crack
    pixel centre and a background pixel centre — found by marching in ``step`` px and interpolating
    linearly. A ray that is still inside at ``rmax`` stops there.
    """
    origins = np.asarray(origins, np.float64).reshape(-1, 2)
    dirs = np.asarray(dirs, np.float64).reshape(-1, 2)
    rmax = np.broadcast_to(np.asarray(rmax, np.float64), (len(origins),))
    maskf = mask.astype(np.float32, copy=False)
    out = np.zeros(len(origins))
    for a in range(0, len(origins), 2048):
        b = min(a + 2048, len(origins))
        k = int(math.ceil(rmax[a:b].max() / step)) + 2
        ts = np.arange(k) * step
        pts = origins[a:b, None, :] + ts[None, :, None] * dirs[a:b, None, :]
        v = ndi.map_coordinates(maskf, pts.reshape(-1, 2).T, order=1, mode="constant", cval=0.0)
        v = v.reshape(b - a, k)
        v[ts[None, :] > rmax[a:b, None]] = 0.0
        v[:, 0] = 1.0
        i = np.argmax(v < 0.5, axis=1)  # first sample outside (exists: the last one is forced to 0)
        rows = np.arange(b - a)
        v0, v1 = v[rows, i - 1], v[rows, i]
        out[a:b] = np.minimum(ts[i - 1] + step * (v0 - 0.5) / np.maximum(v0 - v1, 1e-6), rmax[a:b])
    return out
