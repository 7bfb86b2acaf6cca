"""Tables in the paper's layouts (Tables 4-9) and the models table, from run and search folders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sac.errors import ConfigError
from sac.losses import LOSS_FAMILIES
from sac.models import model_info
from sac.report.collect import RunData, SearchData
from sac.report.scale import RANDOM_NOTE, scale_statement
from sac.report.table import DASH, Table, bold_best, fmt_params, num, pct, share
from sac.study.search import TRIAL_HEADER, trial_rows

__all__ = ["ablation_tables", "models_table", "search_tables", "test_tables", "zero_shot_tables"]


def _status_row(width: int, first: list[str]) -> list[str]:
    return first + [DASH] * (width - len(first))


def _time(r: RunData) -> str:
    return num(r.seconds_per_epoch, 1)


def _groups(runs: list[RunData], key: Callable[[RunData], str]) -> dict[str, list[RunData]]:
    out: dict[str, list[RunData]] = {}
    for r in runs:
        out.setdefault(key(r), []).append(r)
    return out


def _paper_order(strategies: Iterable[str]) -> list[str]:
    """``full`` and ``norm`` first (the paper's Tables 6-9), then the other strategies in their order."""
    strategies = list(strategies)
    return [s for s in ("full", "norm") if s in strategies] + [s for s in strategies if s not in {"full", "norm"}]


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
                rows.append(_status_row(len(header), [label]))
                continue
            rows.append([label, fmt_params(r.trainable_params), share(r.pct_params), pct(r.test("f1")),
                         pct(r.test("iou")), _time(r)])
        tables.append(Table(id=f"ablation-{model}", title=f"Table 5 layout — fine-tuning strategies of {rs[0].label} "
                                                           f"({model}), test set",
                            header=header, rows=rows, bold=bold_best(rows, [3, 4]),
                            caption=scale_statement(rs, suites) + _note_rows(rs)))
    return tables


_STRATEGY_TITLES = {"full": "Table 6 layout — full tuning, test set",
                    "norm": "Table 7 layout — normalization tuning (the paper's method), test set"}


def _test_row(r: RunData, strategy: str) -> list[str]:
    """One run's row of Table 6 (or 7 for ``norm``: with the kinds of norm layers tuned)."""
    metrics = [pct(r.test(m)) for m in ("precision", "recall", "f1", "iou")]
    if strategy == "norm":
        kinds = " & ".join(r.norm_kinds) if r.norm_kinds else DASH
        return [r.display, kinds, fmt_params(r.trainable_params), _time(r), *metrics]
    return [r.display, fmt_params(r.trainable_params), _time(r), *metrics]


def test_tables(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> list[Table]:
    """Tables 6 (full) and 7 (norm) layouts, and the same layout for every other strategy."""
    tables = []
    groups = _groups(runs, lambda r: r.strategy)
    for strategy in _paper_order(groups):
        rs = groups[strategy]
        if strategy == "norm":
            header = ["Model", "Tuned Params", "# Tuned Params", "Training Time (s/epoch)", "Precision (%)",
                      "Recall (%)", "F1-Score (%)", "IoU (%)"]
        else:
            header = ["Model", "# Tunable Parameters", "Training Time (s/epoch)", "Precision (%)", "Recall (%)",
                      "F1-Score (%)", "IoU (%)"]
        rows = [_test_row(r, strategy) if r.trained else _status_row(len(header), [r.display]) for r in rs]
        n = len(header)
        title = _STRATEGY_TITLES.get(strategy, f"Table 6 layout — strategy '{strategy}', test set")
        tables.append(Table(id=f"test-{strategy}", title=title, header=header, rows=rows,
                            bold=bold_best(rows, list(range(n - 4, n))),
                            caption=scale_statement(rs, suites) + _note_rows(rs)))
    return tables


_ONE_SET_NOTE = ("With a single zero-shot set the spread across sets (the paper's ± std) is undefined: "
                 "'mean ± std' is over the per-image F1 / IoU of that set (the per-image mean is not the "
                 "pooled F1 of the per-set columns).")


def _spread_label(kinds: set[str]) -> str:
    """What the ``mean ± std`` columns are: across sets, over images, or a mix."""
    if kinds == {"sets"}:
        return "avg ± std across sets"
    return "per-image mean ± std" if kinds == {"images"} else "mean ± std across sets, or per image where marked"


def _zero_shot_row(r: RunData, sets: list[str], kinds: set[str]) -> list[str]:
    """One run's row of Tables 8-9: F1 / IoU per set, then mean ± std of each."""
    row = [r.display, fmt_params(r.trainable_params)]
    for s in sets:
        m = r.zs_sets.get(s)
        row += [pct(m and m.get("f1")), pct(m and m.get("iou"))]
    for metric in ("f1", "iou"):
        sp = r.zs_spread(metric)
        mixed = len(kinds) > 1 and sp is not None and sp[2] == "images"
        row.append(DASH if sp is None else f"{100 * sp[0]:.2f} ± {100 * sp[1]:.2f}"
                   + (" (per image)" if mixed else ""))
    return row


def _zero_shot_table(strategy: str, rs: list[RunData], suites: dict[str, dict[str, Any]]) -> Table:
    """The Table 8 / 9 layout of one strategy's runs."""
    sets = list(dict.fromkeys(s for r in rs if r.trained and r.eval_zeroshot
                              for s in r.eval_zeroshot.get("sets") or sorted(r.zs_sets)))
    kinds = {sp[2] for r in rs if (sp := r.zs_spread("f1")) is not None}
    avg = _spread_label(kinds)
    header = ["Model", "# Tunable Parameters"]
    for s in sets:
        header += [f"{s} F1-Score (%)", f"{s} IoU (%)"]
    header += [f"F1-Score ({avg})", f"IoU ({avg})"]
    rows = [_zero_shot_row(r, sets, kinds) if r.trained else _status_row(len(header), [r.display]) for r in rs]
    table_no = {"full": "Table 8", "norm": "Table 9"}.get(strategy, "Tables 8–9")
    caption = scale_statement(rs, suites, zero_shot=True)
    if "images" in kinds:
        caption.insert(1, _ONE_SET_NOTE)
    return Table(id=f"zeroshot-{strategy}", title=f"{table_no} layout — zero-shot, strategy '{strategy}'",
                 header=header, rows=rows, bold=bold_best(rows, list(range(2, len(header)))),
                 caption=caption + _note_rows(rs))


def zero_shot_tables(runs: list[RunData], suites: dict[str, dict[str, Any]]) -> list[Table]:
    """Tables 8 (full) and 9 (norm) layouts: per zero-shot set F1/IoU, then mean ± std."""
    groups = _groups([r for r in runs if r.eval_zeroshot or not r.trained], lambda r: r.strategy)
    return [_zero_shot_table(s, groups[s], suites) for s in _paper_order(groups)
            if any(r.trained for r in groups[s])]


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


def _search_row(s: SearchData, config: str, b: dict[str, Any], paper: dict[str, Any]) -> list[str]:
    """The Table 4 row of one configuration: its best trial, the paper's val F1 and the trials done."""
    fam = b["loss"].split(":")[0]
    p = paper.get(config, {})
    return [str(config), LOSS_FAMILIES[fam].formula if fam in LOSS_FAMILIES else fam,
            DASH if b.get("lambda") is None else f"{b['lambda']:g}", f"{b['lr']:g}", str(b["batch_size"]),
            f"{b['val_f1']:.4f}", DASH if b.get("val_iou") is None else f"{b['val_iou']:.4f}",
            f"{p.get('val_f1', float('nan')):.4f}" if p else DASH,
            f"{len([t for t in s.trials if str(int(t['config'])) == str(config)])} / "
            f"{s.best.get('planned', {}).get(config, '?')}"]


def _search_table(s: SearchData) -> Table:
    """Table 4 layout of one search folder."""
    per = s.best.get("per_config", {})
    paper = s.best.get("paper_best", {})
    rows = [_search_row(s, c, b, paper) for c, b in sorted(per.items(), key=lambda kv: int(kv[0]))]
    settings = s.best.get("settings", {})
    caption = [f"Scale: model {settings.get('model')} ({settings.get('strategy')}), weights "
               f"{'random init' if settings.get('weights') is None else settings.get('weights')}, "
               f"{s.best.get('epochs')} epoch(s) per trial at {settings.get('data.size')} px, train "
               f"{settings.get('data.train')} (limit {settings.get('data.limit_train')}), val "
               f"{settings.get('data.val')} (limit {settings.get('data.limit_val')}); sampler "
               f"{s.best.get('sampler')}, seed {s.best.get('seed')}. Folder: {s.dir}.",
               "Paper: SAM ViT-B with norm tuning, 4 epochs per trial on OmniCrack30k at 256 px."]
    return Table(id=f"search-{s.dir.name}", title="Table 4 layout — hyperparameter search (best per "
                                                  "configuration, validation)",
                 header=["Config.", "Loss", "λ", "Learning Rate", "Batch", "val F1", "val IoU",
                         "paper val F1", "trials (done / planned)"],
                 rows=rows, bold=bold_best(rows, [5]), caption=caption)


def search_tables(searches: list[SearchData]) -> list[Table]:
    """Table 4 layout from ``sac search`` folders (validation F1; the paper also lists test F1 / IoU of
    the retrained winner, which a search alone does not produce), each followed by its ranked trials."""
    tables = []
    for s in searches:
        tables.append(_search_table(s))
        trows = trial_rows(s.trials)
        if trows:
            tables.append(Table(id=f"trials-{s.dir.name}", title="Search trials, ranked by validation F1",
                                header=list(TRIAL_HEADER), rows=trows, bold=bold_best(trows, [6]),
                                caption=[f"Every finished trial of {s.dir} (trials.csv); the chosen configuration "
                                         "is rank 1."]))
    return tables
