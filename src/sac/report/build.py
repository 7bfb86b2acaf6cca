"""``build_report(runs_dir)``: the paper's tables and figures from a folder of runs."""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import Any

from sac.report.collect import RunData, collect_runs, collect_searches, read_suites
from sac.report.figures import (
    fig4_params_vs_f1,
    fig6_full_vs_norm,
    fig7_qualitative,
    fig8_zero_shot_normals,
    fig_few_shot,
)
from sac.report.tables import (
    Table,
    ablation_tables,
    few_shot_tables,
    models_table,
    overview_table,
    scale_statement,
    search_tables,
    test_tables,
    zero_shot_tables,
)
from sac.study.fewshot import collect_few_shot

__all__ = ["build_report"]

_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}.caption{font-size:12px;color:#555;margin:.2em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}"""


def _eval_specs(suites: dict[str, dict[str, Any]], runs: list[RunData]) -> list[tuple[str, str]]:
    """(role, spec) pairs of the test and zero-shot data the runs were evaluated on."""
    specs: list[tuple[str, str]] = []
    for entry in suites.values():
        d = entry.get("definition", {})
        if d.get("test"):
            specs.append(("test", d["test"]))
        specs += [("zero-shot", z) for z in d.get("zero_shot", [])]
    if not specs:  # runs evaluated without a suite record: use the specs their results name
        for r in runs:
            for role, ev in (("test", r.eval_test), ("zero-shot", r.eval_zeroshot)):
                specs += [(role, s) for s in ((ev or {}).get("key") or {}).get("specs", [])]
    return list(dict.fromkeys(specs))


def build_report(runs_dir: str | Path, out: str | Path | None = None, *, qualitative_rows: int = 6,
                 qualitative_columns: int = 8, qualitative: bool = True, device: str = "auto") -> Path:
    """Read every run folder under ``runs_dir`` (and ``sac search`` folders) and write, into ``out``
    (default ``runs_dir/report``): ``report.md``, ``report.html`` (self-contained: tables as HTML,
    figures embedded) and the figures as PNG files. Returns the path of ``report.html``.

    Arguments:
        qualitative: draw the Fig. 7 grid (runs inference of each run on ``qualitative_rows`` photos;
            needs the evaluation data and each run's base weights).
    """
    from sac.errors import ConfigError
    from sac.files import atomic_write_text

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise ConfigError(runs_dir, "runs folder does not exist")
    out = Path(out) if out is not None else runs_dir / "report"
    runs = collect_runs(runs_dir)
    searches = collect_searches(runs_dir)
    if not runs and not searches:
        raise ConfigError(runs_dir, "no run folders (summary.json / run.json) or search folders (best.json) found")
    suites = read_suites(runs_dir)
    out.mkdir(parents=True, exist_ok=True)

    sections: list[tuple[str, list[Table]]] = []
    if searches:
        sections.append(("Hyperparameter search (Tables 2 and 4)", search_tables(searches)))
    ov = None
    if runs:
        ov = overview_table(runs, suites)
        if ov is not None:
            sections.append(("Overview", [ov]))
        sections.append(("Fine-tuning strategies (Table 5)", ablation_tables(runs, suites)))
        sections.append(("Test set (Tables 6 and 7)", test_tables(runs, suites)))
        sections.append(("Zero-shot (Tables 8 and 9)", zero_shot_tables(runs, suites)))
        sections.append(("Models", [models_table(runs)]))
    few = collect_few_shot(runs_dir)
    if few:
        sections.append(("Few-shot adaptation (sac adapt)", few_shot_tables(few)))
    sections = [(t, ts) for t, ts in sections if ts]

    figures: list[tuple[str, Path | None, str]] = []
    if runs:
        scale = " ".join(scale_statement(runs, suites)[:2])
        p = fig4_params_vs_f1(runs, out / "fig4_params_vs_f1.png", scale)
        figures.append(("Fig. 4 — F1 against trainable parameters", p,
                        "" if p else "not drawn: no run has test results"))
        p = fig6_full_vs_norm(runs, out / "fig6_full_vs_norm.png", scale)
        figures.append(("Fig. 6 — full vs normalization tuning", p,
                        "" if p else "not drawn: no full / norm runs with results"))
        zscale = " ".join(scale_statement(runs, suites, zero_shot=True)[:2])
        p, what = fig8_zero_shot_normals(runs, out / "fig8_zero_shot_normals.png", zscale)
        figures.append(("Fig. 8 — zero-shot normal curves", p, what if p else f"not drawn: {what}"))
        if qualitative:
            p, notes = fig7_qualitative(runs, _eval_specs(suites, runs), out / "fig7_qualitative.png",
                                        rows=qualitative_rows, columns=qualitative_columns, device=device)
            figures.append(("Fig. 7 — qualitative comparison", p,
                            "; ".join(notes) if p else "not drawn: " + "; ".join(notes)))

    if few:
        p = fig_few_shot(few, out / "fig_few_shot.png")
        figures.append(("Few-shot — F1 against labelled photos k", p, "" if p else "not drawn: no results"))

    title = "Segment Any Crack — experiment report"
    stamp = time.strftime("%Y-%m-%d %H:%M")
    intro = (f"Generated {stamp} from `{runs_dir}` ({len(runs)} run folder(s), {len(searches)} search folder(s)). "
             "Numbers are from these runs at the scale stated under each table, not the paper's.")
    def _scale(sc: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in (sc or {}).items() if v is not None) or "as in the file"

    def _compute(name: str, e: dict[str, Any]) -> str:
        # a suite is usually run in several invocations (it resumes), so the time that means something is the
        # sum over its runs of training + evaluation, from each run's own record
        listed = e.get("runs") or {}
        mine = [r for r in runs if name in (r.record.get("suites") or []) or r.name in listed]
        secs = sum(r.compute_seconds for r in mine)
        done = sum(r.status == "done" for r in mine)
        na = sum(r.status == "not_applicable" for r in mine)
        total = len((e.get("definition") or {}).get("runs") or []) or len(listed)
        last = e.get("wall_seconds")
        last_s = f"{last / 60:.1f} min" if last is not None else "still running (or killed) when this was generated"
        return (f"{done} of {total} runs done" + (f" ({na} not applicable)" if na else "")
                + f", {secs / 60:.1f} min of training epochs + evaluation summed over them (last invocation: {last_s})")

    suite_lines = [f"- suite **{name}** ({e.get('file')}): {_compute(name, e)}; scale: {_scale(e.get('scale'))}; "
                   f"{e.get('hardware', {}).get('device')}"
                   for name, e in suites.items()]

    md = [f"# {title}", "", intro, ""]
    if suite_lines:
        md += ["Suites:", "", *suite_lines, ""]
    for sec, tables in sections:
        md += [f"## {sec}", ""] + [t.markdown() for t in tables]
    md += ["## Figures", ""]
    for cap, p, note in figures:
        md.append(f"**{cap}**" + (f" — {note}" if note else ""))
        md += ["", f"![{cap}]({p.name})", ""] if p else [""]
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    if runs and ov is not None:  # the one-table summary, for pages that quote it
        atomic_write_text(out / "overview.md", ov.markdown())

    h = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
         f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>"]
    if suite_lines:
        h.append("<ul>" + "".join(f"<li>{html.escape(s[2:].replace('**', ''))}</li>" for s in suite_lines) + "</ul>")
    for sec, tables in sections:
        h.append(f"<h2>{html.escape(sec)}</h2>")
        h += [t.html() for t in tables]
    h.append("<h2>Figures</h2>")
    for cap, p, note in figures:
        h.append(f"<h3>{html.escape(cap)}</h3>")
        if note:
            h.append(f"<p class='caption'>{html.escape(note)}</p>")
        if p:
            b64 = base64.b64encode(p.read_bytes()).decode("ascii")
            h.append(f"<img src='data:image/png;base64,{b64}' alt='{html.escape(cap)}' data-file='{p.name}'>")
    h.append("</body></html>")
    atomic_write_text(out / "report.html", "\n".join(h) + "\n")
    return out / "report.html"
