"""``build_report(runs_dir)``: the paper's tables and figures from a folder of runs."""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sac.errors import ConfigError
from sac.files import atomic_write_text, output_dir
from sac.report.collect import RunData, SearchData, collect_runs, collect_searches, read_suites
from sac.report.figures import (
    fig4_params_vs_f1,
    fig6_full_vs_norm,
    fig7_qualitative,
    fig8_zero_shot_normals,
    fig_few_shot,
)
from sac.report.scale import scale_statement
from sac.report.summaries import few_shot_tables, overview_table
from sac.report.table import Table
from sac.report.tables import ablation_tables, models_table, search_tables, test_tables, zero_shot_tables
from sac.study.fewshot import collect_few_shot

__all__ = ["build_report"]

_TITLE = "Segment Any Crack — experiment report"
_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}
th{background:#eee}td:first-child,th:first-child{text-align:left}.caption{font-size:12px;color:#555;margin:.2em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}h2{border-bottom:1px solid #ccc;padding-bottom:.2em}"""

Section = tuple[str, list[Table]]  # (heading, tables)
FigureEntry = tuple[str, Path | None, str]  # (caption, PNG or None, note)


@dataclass
class _Sources:
    """What a runs folder holds for the report."""

    runs_dir: Path
    runs: list[RunData]
    searches: list[SearchData]
    suites: dict[str, dict[str, Any]]
    few: list[dict[str, Any]]


def _read_sources(runs_dir: Path) -> _Sources:
    """Runs, searches, suite records and few-shot results under ``runs_dir`` (ConfigError when there is none)."""
    if not runs_dir.is_dir():
        raise ConfigError(runs_dir, "runs folder does not exist")
    runs = collect_runs(runs_dir)
    searches = collect_searches(runs_dir)
    if not runs and not searches:
        raise ConfigError(runs_dir, "no run folders (summary.json / run.json) or search folders (best.json) found")
    return _Sources(runs_dir, runs, searches, read_suites(runs_dir), collect_few_shot(runs_dir))


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


def _sections(src: _Sources) -> tuple[list[Section], Table | None]:
    """The report's sections of tables (empty ones left out), and the overview table on its own."""
    sections: list[Section] = []
    if src.searches:
        sections.append(("Hyperparameter search (Tables 2 and 4)", search_tables(src.searches)))
    ov = None
    if src.runs:
        runs, suites = src.runs, src.suites
        ov = overview_table(runs, suites)
        if ov is not None:
            sections.append(("Overview", [ov]))
        sections.append(("Fine-tuning strategies (Table 5)", ablation_tables(runs, suites)))
        sections.append(("Test set (Tables 6 and 7)", test_tables(runs, suites)))
        sections.append(("Zero-shot (Tables 8 and 9)", zero_shot_tables(runs, suites)))
        sections.append(("Models", [models_table(runs)]))
    if src.few:
        sections.append(("Few-shot adaptation (sac adapt)", few_shot_tables(src.few)))
    return [(t, ts) for t, ts in sections if ts], ov


def _result_figures(src: _Sources, out: Path) -> list[FigureEntry]:
    """Fig. 4, 6 and 8, drawn from the runs' results."""
    runs, suites = src.runs, src.suites
    scale = " ".join(scale_statement(runs, suites)[:2])
    p4 = fig4_params_vs_f1(runs, out / "fig4_params_vs_f1.png", scale)
    p6 = fig6_full_vs_norm(runs, out / "fig6_full_vs_norm.png", scale)
    zscale = " ".join(scale_statement(runs, suites, zero_shot=True)[:2])
    p8, what = fig8_zero_shot_normals(runs, out / "fig8_zero_shot_normals.png", zscale)
    return [("Fig. 4 — F1 against trainable parameters", p4, "" if p4 else "not drawn: no run has test results"),
            ("Fig. 6 — full vs normalization tuning", p6, "" if p6 else "not drawn: no full / norm runs with results"),
            ("Fig. 8 — zero-shot normal curves", p8, what if p8 else f"not drawn: {what}")]


def _figures(src: _Sources, out: Path, *, qualitative: bool, rows: int, columns: int,
             device: str) -> list[FigureEntry]:
    """Every figure the sources allow, as (caption, PNG or None, note); see :func:`build_report`."""
    figures: list[FigureEntry] = []
    if src.runs:
        figures += _result_figures(src, out)
        if qualitative:
            p, notes = fig7_qualitative(src.runs, _eval_specs(src.suites, src.runs), out / "fig7_qualitative.png",
                                        rows=rows, columns=columns, device=device)
            figures.append(("Fig. 7 — qualitative comparison", p,
                            "; ".join(notes) if p else "not drawn: " + "; ".join(notes)))
    if src.few:
        p = fig_few_shot(src.few, out / "fig_few_shot.png")
        figures.append(("Few-shot — F1 against labelled photos k", p, "" if p else "not drawn: no results"))
    return figures


def _suite_line(name: str, e: dict[str, Any], runs: list[RunData]) -> str:
    """``- suite **name** (file): runs done, compute time; scale: ...; device`` for one suite record."""
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
    compute = (f"{done} of {total} runs done" + (f" ({na} not applicable)" if na else "")
               + f", {secs / 60:.1f} min of training epochs + evaluation summed over them (last invocation: {last_s})")
    scale = ", ".join(f"{k}={v}" for k, v in (e.get("scale") or {}).items() if v is not None) or "as in the file"
    return f"- suite **{name}** ({e.get('file')}): {compute}; scale: {scale}; {e.get('hardware', {}).get('device')}"


def _markdown(intro: str, suite_lines: list[str], sections: list[Section], figures: list[FigureEntry]) -> str:
    """``report.md``: intro, suites, the sections' tables, the figures as image links."""
    md = [f"# {_TITLE}", "", intro, ""]
    if suite_lines:
        md += ["Suites:", "", *suite_lines, ""]
    for sec, tables in sections:
        md += [f"## {sec}", ""] + [t.markdown() for t in tables]
    md += ["## Figures", ""]
    for cap, p, note in figures:
        md.append(f"**{cap}**" + (f" — {note}" if note else ""))
        md += ["", f"![{cap}]({p.name})", ""] if p else [""]
    return "\n".join(md) + "\n"


def _html(intro: str, suite_lines: list[str], sections: list[Section], figures: list[FigureEntry]) -> str:
    """``report.html``: the same content as :func:`_markdown`, self-contained (figures embedded as base64)."""
    h = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(_TITLE)}</title>"
         f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(_TITLE)}</h1>", f"<p>{html.escape(intro)}</p>"]
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
    return "\n".join(h) + "\n"


def build_report(runs_dir: str | Path, out: str | Path | None = None, *, qualitative_rows: int = 6,
                 qualitative_columns: int = 8, qualitative: bool = True, device: str = "auto") -> Path:
    """Read every run folder under ``runs_dir`` (and ``sac search`` folders) and write, into ``out``
    (default ``runs_dir/report``): ``report.md``, ``report.html`` (self-contained: tables as HTML,
    figures embedded) and the figures as PNG files. Returns the path of ``report.html``.

    Arguments:
        qualitative: draw the Fig. 7 grid (runs inference of each run on ``qualitative_rows`` photos;
            needs the evaluation data and each run's base weights).
    """
    runs_dir = Path(runs_dir)
    src = _read_sources(runs_dir)
    out = Path(out) if out is not None else runs_dir / "report"
    output_dir(out)
    sections, ov = _sections(src)
    figures = _figures(src, out, qualitative=qualitative, rows=qualitative_rows, columns=qualitative_columns,
                       device=device)
    intro = (f"Generated {time.strftime('%Y-%m-%d %H:%M')} from `{runs_dir}` ({len(src.runs)} run folder(s), "
             f"{len(src.searches)} search folder(s)). "
             "Numbers are from these runs at the scale stated under each table, not the paper's.")
    suite_lines = [_suite_line(name, e, src.runs) for name, e in src.suites.items()]
    atomic_write_text(out / "report.md", _markdown(intro, suite_lines, sections, figures))
    if ov is not None:  # the one-table summary, for pages that quote it
        atomic_write_text(out / "overview.md", ov.markdown())
    atomic_write_text(out / "report.html", _html(intro, suite_lines, sections, figures))
    return out / "report.html"
