"""A titled table rendered as markdown and HTML (:class:`Table`), and how the report writes its cells."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DASH", "Table", "bold_best", "fmt_params", "num", "pct", "share", "values"]

DASH = "-"


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


# -------------------------------------------------------------------------------------------- cells
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


def pct(v: float | None) -> str:
    """A share in [0, 1] as a percentage with two decimals (``-`` for none)."""
    return DASH if v is None else f"{100 * v:.2f}"


def num(v: float | None, digits: int = 1) -> str:
    """A number with ``digits`` decimals (``-`` for none)."""
    return DASH if v is None else f"{v:.{digits}f}"


def share(v: float | None) -> str:
    """A percentage with three significant digits (``0`` for zero, ``-`` for none)."""
    if v is None:
        return DASH
    return "0" if v == 0 else f"{v:.3g}"


def values(xs: Iterable[Any]) -> str:
    """The distinct values of ``xs``: one value, a range of numbers, or a list (``?`` for none)."""
    vals = sorted({x for x in xs if x is not None}, key=lambda x: (isinstance(x, str), x))
    if not vals:
        return "?"
    if len(vals) == 1:
        return f"{vals[0]:,}" if isinstance(vals[0], int) else str(vals[0])
    if all(isinstance(v, (int, float)) for v in vals):
        return f"{vals[0]:,}–{vals[-1]:,}"
    return ", ".join(map(str, vals))


def bold_best(rows: list[list[str]], cols: list[int]) -> set[tuple[int, int]]:
    """The cells holding the largest number of each column in ``cols`` (ties all bold; none with < 2 numbers).

    Arguments:
        rows: the table's cells; a cell counts by its first word read as a number.
        cols: the columns to mark.
    """
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
