"""Tables beyond the paper's layouts: every run at a glance, and the few-shot experiment."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sac.report.collect import RunData
from sac.report.scale import scale_statement
from sac.report.table import DASH, Table, fmt_params, num, pct, values
from sac.study.fewshot import summarise

__all__ = ["few_shot_tables", "overview_table"]


# ------------------------------------------------------------------------------------------ overview
def _overview_row(r: RunData, zs_names: list[str]) -> tuple[list[str], list[float | None]]:
    """One run's cells of the overview, and the numbers behind its score columns (for the bold marks)."""
    sets = ((r.eval_test or {}).get("datasets") or {}) if r.trained else {}
    f1s = np.array([m["f1"] for m in sets.values()]) if sets else None
    if len(zs_names) == 1:
        z = r.zs_sets.get(zs_names[0], {})
        zf1, zods = z.get("f1"), z.get("ods")
    else:
        spread = r.zs_spread("f1")
        zf1 = spread[0] if spread else None
        zods = None
    kb = r.adapter.stat().st_size / 1024 if r.adapter else None
    cells = [r.display, r.strategy, values([r.size]), fmt_params(r.trainable_params),
             "-" if kb is None else f"{kb:,.0f}", num(r.seconds_per_epoch, 0), pct(r.test("f1")),
             "-" if f1s is None else f"{100 * f1s.mean():.1f} ± {100 * f1s.std():.1f}", pct(r.test("ods")),
             pct(zf1), pct(zods)]
    return cells, [r.test("f1"), None if f1s is None else f1s.mean(), r.test("ods"), zf1, zods]


def overview_table(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> Table | None:
    """Every finished run in one table: what trained (parameters, adapter size, time) and how it scores —
    pooled test F1, its mean ± std over the test sets, test ODS, and the zero-shot F1 / ODS (per set when there
    is one zero-shot set, else the mean over sets). Sorted by test F1; the best of each score column in bold."""
    done = [r for r in runs if r.trained and (r.eval_test or r.eval_zeroshot)]
    if not done:
        return None
    zs_names = sorted({n for r in done for n in r.zs_sets})
    zs_label = zs_names[0] if len(zs_names) == 1 else "zero-shot"
    header = ["Run", "Strategy", "px", "Trainable", "Adapter KB", "s/epoch", "Test F1 (%)", "Test F1 per set (%)",
              "Test ODS (%)", f"{zs_label} F1 (%)", f"{zs_label} ODS (%)"]
    rows, nums = [], []
    for r in sorted(done, key=lambda r: -(r.test("f1") or -1)):
        cells, scores = _overview_row(r, zs_names)
        rows.append(cells)
        nums.append(scores)
    bold = set()
    for j, c in enumerate((6, 7, 8, 9, 10)):
        col = [(i, v[j]) for i, v in enumerate(nums) if v[j] is not None]
        if col:
            bold.add((max(col, key=lambda t: t[1])[0], c))
    caption = scale_statement(done, suites)[:2] + [
        "Test F1: pooled over every test photo; per set: mean ± std over the test sets (population std); ODS: the "
        "best threshold for the whole set; adapter KB: the file a user loads on top of the base weights."]
    return Table("overview", "All runs at a glance", header, rows, caption, bold)


# ------------------------------------------------------------------------------------------ few-shot
def _f1_cell(r: dict[str, Any] | None) -> str:
    return DASH if r is None else f"{100 * r['f1_mean']:.1f} ± {100 * r['f1_std']:.1f}"


def _target_table(tgt: str, main: list[dict[str, Any]], ks: list[int], rows: list[dict[str, Any]],
                  draws: int = 0) -> Table:
    """One target's F1 against k, a row per strategy; the best strategy of each k > 0 in bold.

    Arguments:
        tgt: the target; main: :func:`~sac.study.fewshot.summarise` rows of the main grid; ks: the k columns;
        rows: the raw results (for the number of test photos); draws: the draws of a finished cell (cells
        with fewer say ``n=``).
    """
    mine = [r for r in main if r["target"] == tgt]
    strategies = sorted({r["strategy"] for r in mine})
    table_rows, cells = [], {}
    for s in strategies:
        row = [s]
        for k in ks:
            r = next((x for x in mine if x["strategy"] == s and x["k"] == k), None)
            row.append(_f1_cell(r) + (f" (n={r['n']})" if r is not None and k > 0 and r["n"] < draws else ""))
            if r is not None:
                cells[(len(table_rows), 1 + ks.index(k))] = r["f1_mean"]
        table_rows.append(row)
    bold = set()
    for c in range(1, 1 + len(ks)):
        col = {rc: v for rc, v in cells.items() if rc[1] == c}
        if col and len(strategies) > 1 and ks[c - 1] > 0:
            bold.add(max(col, key=col.get))
    n_eval = next((r["eval_images"] for r in rows if r["target"] == tgt), "?")
    return Table(f"fewshot-{tgt}", f"Few-shot — {tgt}: test F1 (%) against k labelled photos",
                 ["strategy", *[f"k = {k}" for k in ks]], table_rows,
                 [f"mean ± std over the seeded draws of k photos from {tgt}'s pool; test: {n_eval} "
                  f"{tgt} photos, native resolution, the base's threshold. k = 0: the base model (trained "
                  "without this domain) as it is."], bold)


def _cost_table(main: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Table:
    """Per strategy: trainable parameters, seconds per adaptation and adapter KB (k > 0 only)."""
    cost_rows = []
    for s in sorted({r["strategy"] for r in main}):
        mine = [r for r in main if r["strategy"] == s and r["k"] > 0]
        if not mine:
            continue
        cost_rows.append([s, f"{max(r['trainable_params'] for r in mine):,}",
                          f"{np.mean([r['seconds_mean'] for r in mine]):.0f}",
                          f"{np.mean([r['adapter_kb'] for r in mine if r['adapter_kb']]):.0f}"])
    recipe = next((r["recipe"] for r in rows if r.get("grid", "main") == "main"), {})
    return Table("fewshot-cost", "Few-shot — cost per adaptation", ["strategy", "trainable", "seconds",
                                                                   "adapter KB"], cost_rows,
                 [f"recipe: {recipe.get('steps')} steps at batch {recipe.get('batch_size')}, "
                  f"{recipe.get('size')} px, no cross-validation rounds; seconds: wall time of one adaptation "
                  "in the experiment, whose workers may share the cores (compare within this table; the cost "
                  "measured alone: benchmarks/adapt_cost.py)"])


def _recipe_table(search: list[dict[str, Any]]) -> Table:
    """The recipe search: one row per recipe variant, validation F1 (mean ± std over draws) per target and
    strategy, the mean over every (target, strategy) cell that ran — what chooses the recipe — and seconds."""
    cells = sorted({(r["target"], r["strategy"]) for r in search})
    variants = sorted({r["variant"] for r in search}, key=_variant_order)
    by = {(r["variant"], r["target"], r["strategy"]): r for r in search}
    table_rows, means = [], {}
    for v in variants:
        mine = [by.get((v, t, s)) for t, s in cells]
        done = [r for r in mine if r is not None]
        means[v] = float(np.mean([r["f1_mean"] for r in done])) if len(done) == len(cells) else None
        table_rows.append([v] + [_f1_cell(r) if r else "—" for r in mine]
                          + [f"{100 * means[v]:.1f}" if means[v] is not None else "— (incomplete)",
                             f"{np.mean([r['seconds_mean'] for r in done]):.0f}"])
    best = max((v for v in means if means[v] is not None), key=lambda v: means[v], default=None)
    notes = [f"k = {search[0]['k']} photos of each target's training split, mean ± std over the draws; scored on "
             "the target's validation photos (never its test photos, never MCS); seconds: mean per adaptation, "
             "2 CPU cores"]
    if best is not None:
        notes.append(f"best mean over the complete rows: {best}")
    return Table("fewshot-recipes", "Few-shot — recipe search on the targets' validation photos",
                 ["variant"] + [f"{t} {s}" for t, s in cells] + ["mean val F1 (%)", "seconds"], table_rows, notes)


def _variant_order(v: str) -> tuple[int, str]:
    """steps50 < steps100 < steps200, then the learning-rate variants."""
    m = re.fullmatch(r"steps(\d+)", v)
    return (int(m.group(1)), "") if m else (10**9, v)


def few_shot_tables(rows: list[dict[str, Any]]) -> list[Table]:
    """The few-shot experiment (``sac.study.fewshot``): per target, F1 (mean ± std over draws) against k for each
    strategy, then the cost of each strategy (trainable parameters, seconds per adaptation, adapter KB); and the
    recipe search on the targets' validation photos, if it ran."""
    out: list[Table] = []
    main = summarise(rows, "main")
    if main:
        ks = sorted({r["k"] for r in main})
        draws = max((r["n"] for r in main if r["k"] > 0), default=0)  # over every target
        out += [_target_table(tgt, main, ks, rows, draws) for tgt in sorted({r["target"] for r in main})]
        out.append(_cost_table(main, rows))
    search = summarise(rows, "recipes")
    if search:
        out.append(_recipe_table(search))
    return out
