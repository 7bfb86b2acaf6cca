"""The paper's figures from run folders (matplotlib, Agg, no global pyplot state).

- Fig. 4: test F1 against trainable parameters (log x), one point per run, per model and strategy.
- Fig. 6: full vs norm tuning per model — (a) F1, (b) IoU, (c) training time per epoch.
- Fig. 8: normal curves N(mean, std) of the zero-shot F1 and IoU per model, one row per strategy.
- Fig. 7: qualitative grid — rows: photos of the test and zero-shot sets; columns: photo, ground
  truth, each run's predicted mask (inference at the run's size on the photo resized to 256×256).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg  # Agg: no display, no global pyplot state
from matplotlib.figure import Figure

from sac.data import Sample, read_image, read_mask, samples_from
from sac.engine import predict_probability, resolve_device
from sac.errors import SACError
from sac.files import atomic_path
from sac.report.collect import RunData
from sac.study.fewshot import summarise
from sac.tuning import load_adapter

__all__ = ["fig4_params_vs_f1", "fig6_full_vs_norm", "fig7_qualitative", "fig8_zero_shot_normals", "fig_few_shot",
           "save_png"]


def _figure(w: float, h: float) -> Figure:
    """A ``w``×``h`` inch figure at 110 dpi on its own Agg canvas."""
    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        fig.savefig(f, format="png", bbox_inches="tight")
    return path


def _colors(keys: list[str]) -> dict[str, tuple]:
    cmap = colormaps["tab10"]
    return {k: cmap(i % 10) for i, k in enumerate(keys)}


def fig4_params_vs_f1(runs: list[RunData], path: Path, scale: str) -> Path | None:
    """F1 (%) against trainable parameters (log x). ``None`` without any trained run with test results."""
    pts = [r for r in runs if r.test("f1") is not None]
    if not pts:
        return None
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot(111)
    models = list(dict.fromkeys(r.model for r in pts))
    col = _colors(models)
    plotted = False
    for r in pts:
        n = r.trainable_params or 0
        if n <= 0:  # nothing trained ("No Finetuning"): a reference line, no point on a log axis
            ax.axhline(100 * r.test("f1"), color=col[r.model], ls=":", lw=1)
            ax.annotate(f"{r.display}: {r.strategy_label} (0 params)", (0.01, 100 * r.test("f1")),
                        xycoords=("axes fraction", "data"), fontsize=7, va="bottom", color=col[r.model])
            continue
        # random initialisation (†): hollow marker, so it is never read as the pretrained model's point
        ax.scatter([n], [100 * r.test("f1")], s=36, zorder=3, marker="*" if r.strategy == "norm" else "o",
                   facecolors="none" if r.random_init else col[r.model], edgecolors=col[r.model])
        ax.annotate(r.strategy + (" †" if r.random_init else ""), (n, 100 * r.test("f1")),
                    textcoords="offset points", xytext=(4, 3), fontsize=7)
        plotted = True
    if plotted:
        ax.set_xscale("log")
    for m in models:
        ax.scatter([], [], color=col[m], label=next(r.label for r in pts if r.model == m))
    if any(r.random_init for r in pts):
        ax.scatter([], [], facecolors="none", edgecolors="grey", label="hollow / †: random initialisation")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("test F1 (%)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    ax.set_title("Fig. 4 layout — F1 vs trainable parameters per tuning strategy (★ = norm)", fontsize=9)
    fig.text(0.01, -0.02, scale, fontsize=6, wrap=True, va="top")
    return save_png(fig, path)


def full_norm_groups(runs: list[RunData]) -> list[tuple[str, dict[str, RunData | None]]]:
    """Fig. 6's bar groups: (label, {"full": run, "norm": run}) per model *and* initialisation, so that a
    random-init full run never stands beside a pretrained norm run as if they were the same model."""
    rs = [r for r in runs if r.strategy in {"full", "norm"}]
    keys = list(dict.fromkeys((r.model, r.random_init) for r in rs))
    out = []
    for k in keys:
        mine = [r for r in rs if (r.model, r.random_init) == k]
        out.append((mine[0].display, {s: next((r for r in mine if r.strategy == s), None) for s in ("full", "norm")}))
    return out


def fig6_full_vs_norm(runs: list[RunData], path: Path, scale: str) -> Path | None:
    """Bars full vs norm per model for F1, IoU and time per epoch; ``None`` without such runs."""
    groups = full_norm_groups(runs)
    if not groups or not any(r is not None and r.trained for _, pair in groups for r in pair.values()):
        return None
    fig = _figure(max(7.0, 1.2 * len(groups) + 3), 8.5)
    x = np.arange(len(groups))
    w = 0.38
    panels = [("(a) F1-score (%)", lambda r: None if r.test("f1") is None else 100 * r.test("f1")),
              ("(b) IoU (%)", lambda r: None if r.test("iou") is None else 100 * r.test("iou")),
              ("(c) training time (s/epoch)", lambda r: r.seconds_per_epoch if r.trained else None)]
    for i, (title, get) in enumerate(panels):
        ax = fig.add_subplot(3, 1, i + 1)
        for j, (strategy, color) in enumerate((("full", "#4c72b0"), ("norm", "#dd8452"))):
            cell = [pair[strategy] for _, pair in groups]
            vals = [get(r) if r is not None else None for r in cell]
            xs = x + (j - 0.5) * w
            ax.bar([a for a, v in zip(xs, vals, strict=True) if v is not None],
                   [v for v in vals if v is not None], w, color=color, label=strategy)
            for a, v, r in zip(xs, vals, cell, strict=True):
                if v is None:
                    ax.text(a, 0, "-" if r is None or r.status == "not_applicable" else "×", ha="center",
                            va="bottom", fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels([label for label, _ in groups], fontsize=7, rotation=15)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Fig. 6 layout — full vs normalization tuning ('-': not applicable or not run, '×': no result)",
                 fontsize=10)
    fig.tight_layout()
    fig.text(0.01, -0.01, scale, fontsize=6, wrap=True, va="top")
    return save_png(fig, path)


def fig8_zero_shot_normals(runs: list[RunData], path: Path, scale: str) -> tuple[Path | None, str]:
    """Normal curves of zero-shot F1 / IoU per model (rows: strategies). Returns (path, what the
    spread is) or (None, reason)."""
    rs = [r for r in runs if r.zs_spread("f1") is not None]
    if not rs:
        return None, "no zero-shot evaluations"
    strategies = [s for s in ("full", "norm") if any(r.strategy == s for r in rs)]
    strategies += [s for s in dict.fromkeys(r.strategy for r in rs) if s not in strategies]
    kinds = {r.zs_spread("f1")[2] for r in rs}
    what = ("mean ± std across zero-shot sets (as the paper)" if kinds == {"sets"} else
            "mean ± std of the per-image scores (one zero-shot set: the spread across sets is undefined)"
            if kinds == {"images"} else "across sets where ≥ 2 sets, else per image")
    fig = _figure(10, 3.3 * len(strategies))
    col = _colors(list(dict.fromkeys(r.model for r in rs)))
    for i, strategy in enumerate(strategies):
        for j, metric in enumerate(("f1", "iou")):
            ax = fig.add_subplot(len(strategies), 2, 2 * i + j + 1)
            spreads = [100 * np.array(r.zs_spread(metric)[:2]) for r in rs if r.strategy == strategy]
            lo = max(0.0, min(m - 4 * s for m, s in spreads) - 1)
            hi = min(100.0, max(m + 4 * s for m, s in spreads) + 1)
            xs = np.linspace(lo, hi, 801)
            for r in (r for r in rs if r.strategy == strategy):
                mean, std, _ = r.zs_spread(metric)
                mean, std = 100 * mean, 100 * std
                label = f"{r.display} ({mean:.1f} ± {std:.1f})" + (
                    " per image" if len(kinds) > 1 and r.zs_spread(metric)[2] == "images" else "")
                if std > 1e-9:
                    pdf = np.exp(-0.5 * ((xs - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))
                    ax.plot(xs, pdf, color=col[r.model], ls="--" if r.random_init else "-", label=label)
                else:
                    ax.axvline(mean, color=col[r.model], ls="--" if r.random_init else "-", label=label)
            ax.set_xlabel(f"zero-shot {'F1-score' if metric == 'f1' else 'IoU'} (%)")
            ax.set_ylabel("density")
            ax.set_title(f"({chr(97 + 2 * i + j)}) {strategy}: {'F1-score' if metric == 'f1' else 'IoU'}",
                         fontsize=9)
            ax.legend(fontsize=6)
            ax.grid(alpha=0.3)
    fig.suptitle(f"Fig. 8 layout — normal curves N(mean, std): {what}", fontsize=9)
    fig.tight_layout()
    fig.text(0.01, -0.01, scale, fontsize=6, wrap=True, va="top")
    return save_png(fig, path), what


# ------------------------------------------------------------------------------------- qualitative
def _pick_samples(specs: list[tuple[str, str]], rows: int, seed: int = 0) -> list[tuple[str, Sample]]:
    """Up to ``rows`` samples, one per dataset, test sets first then zero-shot (at least one
    zero-shot row when there is a zero-shot spec), seeded."""
    pools: list[tuple[str, list]] = []
    for role, spec in specs:
        by: dict[str, list] = {}
        for s in samples_from(spec):
            by.setdefault(s.dataset, []).append(s)
        pools += [(role, by[k]) for k in sorted(by)]
    rng = random.Random(seed)
    zs = [p for p in pools if p[0] == "zero-shot"]
    test = [p for p in pools if p[0] != "zero-shot"]
    n_zs = min(len(zs), max(1, rows // 4)) if zs else 0
    chosen = test[: rows - n_zs] + zs[:n_zs]
    return [(role, rng.choice(sorted(pool, key=lambda s: s.id))) for role, pool in chosen]


def _qualitative_columns(runs: list[RunData], columns: int) -> list[RunData]:
    """Which runs get a column when they do not all fit: every model (and initialisation) once, by its best
    run on the test set, the best models first; then the remaining runs, best first. All runs, in their order,
    when they fit."""
    if len(runs) <= columns:
        return runs

    def f1(r: RunData) -> float:
        v = r.test("f1")
        return -1.0 if v is None else v

    best: dict[tuple[str, bool], RunData] = {}
    for r in runs:
        k = (r.model, r.random_init)
        if k not in best or f1(r) > f1(best[k]):
            best[k] = r
    first = sorted(best.values(), key=f1, reverse=True)
    chosen = {id(r) for r in first}
    rest = sorted((r for r in runs if id(r) not in chosen), key=f1, reverse=True)
    return (first + rest)[:columns]


def _load_photos(picked: list[tuple[str, Sample]], size: int) -> list[tuple[str, Sample, np.ndarray, np.ndarray]]:
    """``(role, sample, photo, ground truth)`` per picked sample, both resized to ``size``×``size``."""
    photos = []
    for role, s in picked:
        img = cv2.resize(read_image(s.image), (size, size), interpolation=cv2.INTER_AREA)
        gt = cv2.resize(read_mask(s.mask).astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
        photos.append((role, s, img, gt))
    return photos


def _run_masks(r: RunData, photos: list[tuple[Any, ...]], size: int, device: Any,
               notes: list[str]) -> list[np.ndarray | None]:
    """One run's masks (probability >= 0.5) of the photos; ``None`` each, with a note, when it cannot load.

    Arguments:
        r: the run (its ``adapter_best.safetensors``); photos: :func:`_load_photos` output.
        size: the inference size when the run names none; device: a torch device; notes: appended to.
    """
    try:
        model = load_adapter(r.adapter)
    except SACError as e:
        notes.append(f"{r.name}: cannot load ({e})")
        return [None] * len(photos)
    tile = r.size or size
    return [predict_probability(model, img, mode="resize", tile=tile, device=device, progress=False,
                                cpu_auto=False) >= 0.5
            for _, _, img, _ in photos]


def _draw_grid(photos: list[tuple[Any, ...]], cols: list[RunData], preds: list[list[np.ndarray | None]]) -> Figure:
    """The grid: a row per photo; columns photo, ground truth, then each run's mask (``n/a`` where none)."""
    n_c = 2 + len(cols)
    fig = _figure(1.45 * n_c, 1.5 * len(photos) + 0.4)
    for i, (role, s, img, gt) in enumerate(photos):
        cells = [("Input", img), ("Ground truth", gt)] + [(r.display + f"\n[{r.strategy}]", preds[k][i])
                                                          for k, r in enumerate(cols)]
        for j, (title, arr) in enumerate(cells):
            ax = fig.add_subplot(len(photos), n_c, i * n_c + j + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if arr is None:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=7)
            elif arr.ndim == 3:
                ax.imshow(arr)
            else:
                ax.imshow(arr, cmap="gray", vmin=0, vmax=1)
            if i == 0:
                ax.set_title(title, fontsize=6)
            if j == 0:
                ax.set_ylabel(f"{s.dataset}\n({role})", fontsize=6)
    fig.suptitle("Fig. 7 layout — qualitative comparison (photos resized to 256×256, threshold 0.5)", fontsize=8)
    fig.tight_layout()
    return fig


def fig7_qualitative(runs: list[RunData], specs: list[tuple[str, str]], path: Path, *, rows: int = 6,
                     columns: int = 8, size: int = 256, device: str = "auto") -> tuple[Path | None, list[str]]:
    """The qualitative grid. ``specs``: (role, sample spec) pairs. Returns (path or None, notes)."""
    eligible = [r for r in runs if r.trained and r.adapter is not None]
    cols = _qualitative_columns(eligible, columns)
    notes: list[str] = []
    if len(eligible) > len(cols):
        notes.append(f"{len(cols)} of {len(eligible)} runs shown (at most {columns} columns): each model's best run by "
                     "test F1 first (strategy in brackets), best models first")
    if not cols:
        return None, ["no trained run with an adapter"]
    try:
        picked = _pick_samples(specs, rows)
    except SACError as e:
        return None, [f"evaluation data unavailable ({e})"]
    if not picked:
        return None, ["no evaluation samples"]
    photos = _load_photos(picked, size)
    dev = resolve_device(device)
    preds = [_run_masks(r, photos, size, dev, notes) for r in cols]
    return save_png(_draw_grid(photos, cols, preds), path), notes


def fig_few_shot(rows: list[dict], path: Path) -> Path | None:
    """Test F1 against k labelled photos, one panel per target, one line per strategy (mean ± std over the
    draws as error bars; k = 0 is the base model). ``None`` without few-shot results."""
    data = summarise(rows, "main")
    if not data:
        return None
    targets = sorted({r["target"] for r in data})
    strategies = sorted({r["strategy"] for r in data})
    col = _colors(strategies)
    fig = _figure(3.6 * len(targets), 3.4)
    for i, tgt in enumerate(targets):
        ax = fig.add_subplot(1, len(targets), i + 1)
        for s in strategies:
            pts = sorted((r for r in data if r["target"] == tgt and r["strategy"] == s), key=lambda r: r["k"])
            if not pts:
                continue
            ks = np.array([r["k"] for r in pts], float)
            ax.errorbar(ks, [100 * r["f1_mean"] for r in pts], yerr=[100 * r["f1_std"] for r in pts], label=s,
                        color=col[s], marker="o", ms=3, capsize=2, lw=1.2)
        ax.set_xscale("symlog", linthresh=1)
        ks_all = sorted({r["k"] for r in data})
        ax.set_xticks(ks_all)
        ax.set_xticklabels([str(k) for k in ks_all])
        ax.set_title(tgt, fontsize=10)
        ax.set_xlabel("labelled photos k")
        if i == 0:
            ax.set_ylabel("test F1 (%)")
        ax.grid(alpha=0.3)
    fig.axes[-1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Few-shot adaptation: F1 against k (mean ± std over draws)", fontsize=10)
    return save_png(fig, path)
