"""Tables in the paper's layouts (Tables 4-9), rendered as markdown and HTML."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sac.errors import ConfigError
from sac.losses import LOSS_FAMILIES
from sac.models import model_info
from sac.report.collect import RunData, SearchData
from sac.study.fewshot import summarise
from sac.study.search import TRIAL_HEADER, trial_rows

__all__ = ["Table", "ablation_tables", "few_shot_tables", "fmt_params", "models_table", "overview_table",
           "scale_statement", "search_tables", "test_tables", "zero_shot_tables"]

DASH = "-"
PAPER_SCALE = ("Paper: OmniCrack30k (22,158 train / 13,277 val / 4,582 test images) at 256×256, zero-shot on "
               "Road420, Facade390 and Concrete3k, trained on GPUs.")
RANDOM_NOTE = "† random initialisation (no pretrained weights available here): not comparable with the paper's models."


@dataclass
class Table:
    """A titled table: header, rows of cells (strings), a caption (scale statement and notes)."""

    id: str
    title: str
    header: list[str]
    rows: list[list[str]]
    caption: list[str] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)

    def markdown(self) -> str:
        def cell(r: int, c: int, v: str) -> str:
            v = v.replace("|", "\\|")
            return f"**{v}**" if (r, c) in self.bold else v

        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(cell(r, c, v) for c, v in enumerate(row)) + " |" for r, row in enumerate(self.rows)]
        if self.caption:
            lines += [""] + [f"_{c}_  " if i < len(self.caption) - 1 else f"_{c}_" for i, c in enumerate(self.caption)]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        def cell(r: int, c: int, v: str) -> str:
            v = html.escape(v)
            return f"<td><b>{v}</b></td>" if (r, c) in self.bold else f"<td>{v}</td>"

        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "\n".join("<tr>" + "".join(cell(r, c, v) for c, v in enumerate(row)) + "</tr>"
                         for r, row in enumerate(self.rows))
        cap = "".join(f"<p class='caption'>{html.escape(c)}</p>" for c in self.caption)
        return (f"<h3 id='{html.escape(self.id)}'>{html.escape(self.title)}</h3>\n<table>\n<thead><tr>{head}</tr></thead>\n"
                f"<tbody>\n{body}\n</tbody>\n</table>\n{cap}\n")


# -------------------------------------------------------------------------------------------- format
def fmt_params(n: Any) -> str:
    """Parameter counts as the paper writes them: 41K, 30.7K, 3.7M."""
    if n is None:
        return DASH
    n = int(n)
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1e3:.1f}K"
    if n < 1_000_000:
        return f"{n / 1e3:.0f}K"
    return f"{n / 1e6:.1f}M"


def _pct(v: float | None) -> str:
    return DASH if v is None else f"{100 * v:.2f}"


def _num(v: float | None, digits: int = 1) -> str:
    return DASH if v is None else f"{v:.{digits}f}"


def _share(v: float | None) -> str:
    if v is None:
        return DASH
    return "0" if v == 0 else f"{v:.3g}"


def _values(xs: Iterable[Any]) -> str:
    vals = sorted({x for x in xs if x is not None}, key=lambda x: (isinstance(x, str), x))
    if not vals:
        return "?"
    if len(vals) == 1:
        return f"{vals[0]:,}" if isinstance(vals[0], int) else str(vals[0])
    if all(isinstance(v, (int, float)) for v in vals):
        return f"{vals[0]:,}–{vals[-1]:,}"
    return ", ".join(map(str, vals))


def scale_statement(runs: list[RunData], suites: dict[str, dict[str, Any]], zero_shot: bool = False) -> list[str]:
    """One line stating the scale the numbers of ``runs`` come from, one on hardware, then notes."""
    trained = [r for r in runs if r.trained]
    imported = [r for r in trained if (r.summary or {}).get("imported_from")]  # adapter runs: trained elsewhere
    # not the "none" (untrained) runs, nor the imported ones (their summary says trained: false too)
    tuned = [r for r in trained if (r.summary or {}).get("trained", True)]
    epochs = [((r.config or {}).get("optim") or {}).get("epochs") for r in tuned]
    n_train = [(r.summary or {}).get("train_images") for r in tuned]
    n_val = [(r.summary or {}).get("val_images") for r in tuned]
    train_specs = [((r.config or {}).get("data") or {}).get("train") for r in tuned]
    sizes = [r.size for r in trained]
    if tuned:
        parts = [f"Scale: {_values(epochs)} epoch(s), {_values(n_train)} training / {_values(n_val)} validation "
                 f"images ({_values(train_specs)}) at {_values(sizes)} px"]
    elif len(imported) < len(trained):
        parts = [f"Scale: no training (the models as they are), inference at {_values(sizes)} px"]
    else:
        parts = [f"Scale: inference at {_values(sizes)} px"]
    if tuned and len(tuned) + len(imported) < len(trained):
        parts[0] += " ('none' runs: not trained)"
    for r in imported:
        c = r.config or {}
        parts.append(f"{r.label} [{r.strategy}]: an adapter trained elsewhere and evaluated here "
                     f"({(c.get('optim') or {}).get('epochs')} epochs on {(c.get('data') or {}).get('train')} "
                     f"at {(c.get('data') or {}).get('size')} px, batch {(c.get('optim') or {}).get('batch_size')}, "
                     f"lr {(c.get('optim') or {}).get('lr')})")
    ev = [r.eval_zeroshot if zero_shot else r.eval_test for r in trained]
    ev = [e for e in ev if e]
    if ev:
        specs = sorted({s for e in ev for s in (e.get("key") or {}).get("specs", [])})
        parts.append(f"{'zero-shot' if zero_shot else 'test'}: {_values(e['overall']['n_images'] for e in ev)} images "
                     f"({', '.join(specs) or '?'}), {_values(e.get('protocol') for e in ev)} protocol")
    devices = _values((r.summary or {}).get("device") for r in trained)
    hw = [e.get("hardware", {}) for e in suites.values() if e.get("hardware")]
    if hw:
        h = hw[-1]
        hw_s = (f"Hardware: {devices} ({h.get('gpu') or 'no GPU'}), {h.get('cpu_count')} CPU cores, torch "
                f"{h.get('torch')}, {h.get('platform')}.")
    else:
        hw_s = f"Hardware: {devices}."
    lines = ["; ".join(parts) + ".", hw_s, PAPER_SCALE]
    if any(r.random_init for r in runs):
        lines.append(RANDOM_NOTE)
    return lines


def _bold_best(rows: list[list[str]], cols: list[int]) -> set[tuple[int, int]]:
    out = set()
    for c in cols:
        vals = []
        for i, row in enumerate(rows):
            try:
                vals.append((float(row[c].split(" ")[0]), i))
            except (ValueError, IndexError):
                continue
        if len(vals) >= 2:
            best = max(v for v, _ in vals)
            out |= {(i, c) for v, i in vals if v == best}
    return out


def _status_row(r: RunData, width: int, first: list[str]) -> list[str]:
    return first + [DASH] * (width - len(first))


def _time(r: RunData) -> str:
    return _num(r.seconds_per_epoch, 1)


def _groups(runs: list[RunData], key: Callable[[RunData], str]) -> dict[str, list[RunData]]:
    out: dict[str, list[RunData]] = {}
    for r in runs:
        out.setdefault(key(r), []).append(r)
    return out


def _note_rows(runs: list[RunData]) -> list[str]:
    notes = []
    for r in runs:
        if r.status == "not_applicable":
            notes.append(f"'-' {r.display} / {r.strategy}: not applicable — {r.reason}")
        elif r.status in {"error", "not_trained", "incomplete"}:
            notes.append(f"'-' {r.display} / {r.strategy}: {r.status.replace('_', ' ')}"
                         + (f" — {r.reason}" if r.reason else ""))
    return notes


# -------------------------------------------------------------------------------------------- tables
def ablation_tables(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> list[Table]:
    """Table 5 layout, one table per model that was run with two or more strategies."""
    tables = []
    for model, rs in _groups(runs, lambda r: r.model).items():
        if len({r.strategy for r in rs}) < 2:
            continue
        header = ["Tuning Method", "# Params", "% Params", "F1 (%)", "IoU (%)", "Training Time (s/epoch)"]
        rows = []
        for r in rs:
            label = r.strategy_label + (" †" if r.random_init else "")
            if not r.trained:
                rows.append(_status_row(r, len(header), [label]))
                continue
            rows.append([label, fmt_params(r.trainable_params), _share(r.pct_params), _pct(r.test("f1")),
                         _pct(r.test("iou")), _time(r)])
        tables.append(Table(id=f"ablation-{model}", title=f"Table 5 layout — fine-tuning strategies of {rs[0].label} "
                                                           f"({model}), test set",
                            header=header, rows=rows, bold=_bold_best(rows, [3, 4]),
                            caption=scale_statement(rs, suites) + _note_rows(rs)))
    return tables


_STRATEGY_TITLES = {"full": "Table 6 layout — full tuning, test set",
                    "norm": "Table 7 layout — normalization tuning (the paper's method), test set"}


def test_tables(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> list[Table]:
    """Tables 6 (full) and 7 (norm) layouts, and the same layout for every other strategy."""
    tables = []
    groups = _groups(runs, lambda r: r.strategy)
    order = [s for s in ("full", "norm") if s in groups] + [s for s in groups if s not in {"full", "norm"}]
    for strategy in order:
        rs = groups[strategy]
        if strategy == "norm":
            header = ["Model", "Tuned Params", "# Tuned Params", "Training Time (s/epoch)", "Precision (%)",
                      "Recall (%)", "F1-Score (%)", "IoU (%)"]
        else:
            header = ["Model", "# Tunable Parameters", "Training Time (s/epoch)", "Precision (%)", "Recall (%)",
                      "F1-Score (%)", "IoU (%)"]
        rows = []
        for r in rs:
            if not r.trained:
                rows.append(_status_row(r, len(header), [r.display]))
                continue
            metrics = [_pct(r.test(m)) for m in ("precision", "recall", "f1", "iou")]
            if strategy == "norm":
                kinds = " & ".join(r.norm_kinds) if r.norm_kinds else DASH
                rows.append([r.display, kinds, fmt_params(r.trainable_params), _time(r), *metrics])
            else:
                rows.append([r.display, fmt_params(r.trainable_params), _time(r), *metrics])
        n = len(header)
        title = _STRATEGY_TITLES.get(strategy, f"Table 6 layout — strategy '{strategy}', test set")
        tables.append(Table(id=f"test-{strategy}", title=title, header=header, rows=rows,
                            bold=_bold_best(rows, list(range(n - 4, n))),
                            caption=scale_statement(rs, suites) + _note_rows(rs)))
    return tables


def zero_shot_tables(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> list[Table]:
    """Tables 8 (full) and 9 (norm) layouts: per zero-shot set F1/IoU, then mean ± std."""
    tables = []
    groups = _groups([r for r in runs if r.eval_zeroshot or not r.trained], lambda r: r.strategy)
    for strategy in [s for s in ("full", "norm") if s in groups] + [s for s in groups if s not in {"full", "norm"}]:
        rs = groups[strategy]
        if not any(r.trained for r in rs):
            continue
        sets = list(dict.fromkeys(s for r in rs if r.trained and r.eval_zeroshot
                                  for s in r.eval_zeroshot.get("sets") or sorted(r.zs_sets)))
        kinds = {sp[2] for r in rs if (sp := r.zs_spread("f1")) is not None}
        avg = "avg ± std across sets" if kinds == {"sets"} else (
            "per-image mean ± std" if kinds == {"images"} else "mean ± std across sets, or per image where marked")
        header = ["Model", "# Tunable Parameters"]
        for s in sets:
            header += [f"{s} F1-Score (%)", f"{s} IoU (%)"]
        header += [f"F1-Score ({avg})", f"IoU ({avg})"]
        rows = []
        for r in rs:
            if not r.trained:
                rows.append(_status_row(r, len(header), [r.display]))
                continue
            row = [r.display, fmt_params(r.trainable_params)]
            for s in sets:
                m = r.zs_sets.get(s)
                row += [_pct(m and m.get("f1")), _pct(m and m.get("iou"))]
            for metric in ("f1", "iou"):
                sp = r.zs_spread(metric)
                mixed = len(kinds) > 1 and sp is not None and sp[2] == "images"
                row.append(DASH if sp is None else f"{100 * sp[0]:.2f} ± {100 * sp[1]:.2f}"
                           + (" (per image)" if mixed else ""))
            rows.append(row)
        table_no = {"full": "Table 8", "norm": "Table 9"}.get(strategy, "Tables 8–9")
        caption = scale_statement(rs, suites, zero_shot=True)
        if "images" in kinds:
            caption.insert(1, "With a single zero-shot set the spread across sets (the paper's ± std) is undefined: "
                              "'mean ± std' is over the per-image F1 / IoU of that set (the per-image mean is not the "
                              "pooled F1 of the per-set columns).")
        tables.append(Table(id=f"zeroshot-{strategy}", title=f"{table_no} layout — zero-shot, strategy '{strategy}'",
                            header=header, rows=rows, bold=_bold_best(rows, list(range(2, len(header)))),
                            caption=caption + _note_rows(rs)))
    return tables


def models_table(runs: list[RunData]) -> Table:
    """Which weights each run started from (random initialisation is marked)."""

    rows = []
    seen = set()
    for r in runs:
        key = (r.model, r.weights)
        if key in seen:
            continue
        seen.add(key)
        try:
            info = model_info(r.model)
            pre = info.pretrained or "none"
        except ConfigError:
            pre = "?"
        src = "random initialisation †" if r.random_init else (pre if r.weights == "default" else str(r.weights))
        rows.append([r.label, r.model, src])
    return Table(id="models", title="Models and the weights they started from", header=["Model", "Registry name",
                                                                                        "Initial weights"],
                 rows=rows, caption=[RANDOM_NOTE] if any(r.random_init for r in runs) else [])


def search_tables(searches: list[SearchData]) -> list[Table]:
    """Table 4 layout from ``sac search`` folders (validation F1; the paper also lists test F1 / IoU of
    the retrained winner, which a search alone does not produce)."""

    tables = []
    for s in searches:
        per = s.best.get("per_config", {})
        paper = s.best.get("paper_best", {})
        rows = []
        for c, b in sorted(per.items(), key=lambda kv: int(kv[0])):
            fam = b["loss"].split(":")[0]
            p = paper.get(c, {})
            rows.append([str(c), LOSS_FAMILIES[fam].formula if fam in LOSS_FAMILIES else fam,
                         DASH if b.get("lambda") is None else f"{b['lambda']:g}", f"{b['lr']:g}", str(b["batch_size"]),
                         f"{b['val_f1']:.4f}", DASH if b.get("val_iou") is None else f"{b['val_iou']:.4f}",
                         f"{p.get('val_f1', float('nan')):.4f}" if p else DASH,
                         f"{len([t for t in s.trials if str(int(t['config'])) == str(c)])} / "
                         f"{s.best.get('planned', {}).get(c, '?')}"])
        settings = s.best.get("settings", {})
        caption = [f"Scale: model {settings.get('model')} ({settings.get('strategy')}), weights "
                   f"{'random init' if settings.get('weights') is None else settings.get('weights')}, "
                   f"{s.best.get('epochs')} epoch(s) per trial at {settings.get('data.size')} px, train "
                   f"{settings.get('data.train')} (limit {settings.get('data.limit_train')}), val "
                   f"{settings.get('data.val')} (limit {settings.get('data.limit_val')}); sampler "
                   f"{s.best.get('sampler')}, seed {s.best.get('seed')}. Folder: {s.dir}.",
                   "Paper: SAM ViT-B with norm tuning, 4 epochs per trial on OmniCrack30k at 256 px."]
        tables.append(Table(id=f"search-{s.dir.name}", title="Table 4 layout — hyperparameter search (best per "
                                                             "configuration, validation)",
                            header=["Config.", "Loss", "λ", "Learning Rate", "Batch", "val F1", "val IoU",
                                    "paper val F1", "trials (done / planned)"],
                            rows=rows, bold=_bold_best(rows, [5]), caption=caption))
        trows = trial_rows(s.trials)
        if trows:
            tables.append(Table(id=f"trials-{s.dir.name}", title="Search trials, ranked by validation F1",
                                header=list(TRIAL_HEADER), rows=trows, bold=_bold_best(trows, [6]),
                                caption=[f"Every finished trial of {s.dir} (trials.csv); the chosen configuration "
                                         "is rank 1."]))
    return tables


def few_shot_tables(rows: list[dict[str, Any]]) -> list[Table]:
    """The few-shot experiment (``sac.study.fewshot``): per target, F1 (mean ± std over draws) against k for each
    strategy, then the cost of each strategy (trainable parameters, seconds per adaptation, adapter KB); and the
    recipe search on the targets' validation photos, if it ran."""

    out: list[Table] = []
    main = summarise(rows, "main")
    if main:
        ks = sorted({r["k"] for r in main})
        for tgt in sorted({r["target"] for r in main}):
            mine = [r for r in main if r["target"] == tgt]
            strategies = sorted({r["strategy"] for r in mine})
            table_rows, cells = [], {}
            for s in strategies:
                row = [s]
                for k in ks:
                    r = next((x for x in mine if x["strategy"] == s and x["k"] == k), None)
                    row.append(DASH if r is None else f"{100 * r['f1_mean']:.1f} ± {100 * r['f1_std']:.1f}")
                    if r is not None:
                        cells[(len(table_rows), 1 + ks.index(k))] = r["f1_mean"]
                table_rows.append(row)
            bold = set()
            for c in range(1, 1 + len(ks)):
                col = {rc: v for rc, v in cells.items() if rc[1] == c}
                if col and len(strategies) > 1 and ks[c - 1] > 0:
                    bold.add(max(col, key=col.get))
            n_eval = next((r["eval_images"] for r in rows if r["target"] == tgt), "?")
            out.append(Table(f"fewshot-{tgt}", f"Few-shot — {tgt}: test F1 (%) against k labelled photos",
                             ["strategy", *[f"k = {k}" for k in ks]], table_rows,
                             [f"mean ± std over the seeded draws of k photos from {tgt}'s pool; test: {n_eval} "
                              f"{tgt} photos, native resolution, the base's threshold. k = 0: the base model (trained "
                              "without this domain) as it is."], bold))
        cost_rows = []
        for s in sorted({r["strategy"] for r in main}):
            mine = [r for r in main if r["strategy"] == s and r["k"] > 0]
            if not mine:
                continue
            cost_rows.append([s, f"{max(r['trainable_params'] for r in mine):,}",
                              f"{np.mean([r['seconds_mean'] for r in mine]):.0f}",
                              f"{np.mean([r['adapter_kb'] for r in mine if r['adapter_kb']]):.0f}"])
        recipe = next((r["recipe"] for r in rows if r.get("grid", "main") == "main"), {})
        out.append(Table("fewshot-cost", "Few-shot — cost per adaptation", ["strategy", "trainable", "seconds",
                                                                           "adapter KB"], cost_rows,
                         [f"recipe: {recipe.get('steps')} steps at batch {recipe.get('batch_size')}, "
                          f"{recipe.get('size')} px; seconds include the before-score prediction of the k photos; "
                          "2 CPU cores."]))
    search = summarise(rows, "recipes")
    if search:
        table_rows = [[r["target"], r["strategy"], str(r["k"]), f"{100 * r['f1_mean']:.1f} ± {100 * r['f1_std']:.1f}",
                       f"{r['seconds_mean']:.0f}"] for r in sorted(search, key=lambda r: (r["target"], r["strategy"]))]
        out.append(Table("fewshot-recipes", "Few-shot — recipe search on the targets' validation photos",
                         ["target", "strategy (variant)", "k", "val F1 (%)", "seconds"], table_rows,
                         ["chosen on validation photos of each target, never its test photos"]))
    return out


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
        rows.append([r.display, r.strategy, _values([r.size]), fmt_params(r.trainable_params),
                     "-" if kb is None else f"{kb:,.0f}", _num(r.seconds_per_epoch, 0), _pct(r.test("f1")),
                     "-" if f1s is None else f"{100 * f1s.mean():.1f} ± {100 * f1s.std():.1f}", _pct(r.test("ods")),
                     _pct(zf1), _pct(zods)])
        nums.append([r.test("f1"), None if f1s is None else f1s.mean(), r.test("ods"), zf1, zods])
    bold = set()
    for j, c in enumerate((6, 7, 8, 9, 10)):
        col = [(i, v[j]) for i, v in enumerate(nums) if v[j] is not None]
        if col:
            bold.add((max(col, key=lambda t: t[1])[0], c))
    caption = scale_statement(done, suites)[:2] + [
        "Test F1: pooled over every test photo; per set: mean ± std over the test sets (population std); ODS: the "
        "best threshold for the whole set; adapter KB: the file a user loads on top of the base weights."]
    return Table("overview", "All runs at a glance", header, rows, caption, bold)
