"""Rows as people and pipes want them.

On a terminal (``table``): the columns that fit its width, key columns first, long values
shortened with an ellipsis, and a note naming what was left out (``--wide`` shows every
column in full, ``--format`` gives everything as tsv/csv/json/markdown). When standard
output is not a terminal the default is plain tab-separated values (like ``gh``): one
header line, one line per row, no decoration. An empty result says "0 rows".
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "tsv", "csv", "json", "markdown")
MAX_CELL = 48  # characters of a value in a fitted table
MIN_CELL = 8  # a column is not squeezed below this (or its header)

FormatOption = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, tsv, csv, json or markdown \\[default: table on a terminal, else tsv].",
        show_default=False,
    ),
]
WideOption = Annotated[
    bool, typer.Option("--wide", "-w", help="Every column, values in full (the table may wrap).")
]


def choose_format(fmt: str | None, console: Console) -> str:
    """``fmt``, or ``table`` on a terminal and ``tsv`` otherwise."""
    if fmt is None or fmt == "auto":
        return "table" if console.is_terminal else "tsv"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    return fmt


def cell(value: Any) -> str:
    """A value as one line of text for a table."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M" if value.second == 0 and not value.microsecond else
                              "%Y-%m-%d %H:%M:%S")  # fmt: skip
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        f = float(value)
        return str(int(f)) if f.is_integer() and abs(f) < 1e15 else f"{f:.3g}" if abs(f) < 1 else f"{f:.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return " ".join(str(value).split())


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: URLs and paths keep both ends."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if "/" in text and " " not in text and width >= 12:
        head = (width - 1) * 2 // 3
        return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
    return text[: width - 1] + "…"


def fit_columns(
    columns: Sequence[str], widths: Sequence[int], total: int, keys: Sequence[str] = ()
) -> tuple[list[int], dict[int, int]]:
    """Which columns (by index) fit in ``total`` characters, key columns first, and the width
    each gets. ``widths`` are the natural (already capped) widths."""
    order = [columns.index(k) for k in keys if k in columns]
    key_count = len(order)
    order += [i for i in range(len(columns)) if i not in order]
    want = {i: max(widths[i], len(columns[i])) for i in order}
    # Every key column should show: narrow the widest of them (not below MIN_CELL or the
    # header) until they fit together.
    floor = {i: max(MIN_CELL, len(columns[i])) for i in order[:key_count]}
    while 1 + sum(want[i] + 3 for i in order[:key_count]) > total:
        widest = max(order[:key_count], key=lambda i: want[i] - floor[i])
        if want[widest] <= floor[widest]:
            break
        want[widest] -= 1
    shown: dict[int, int] = {}
    used = 1  # the left border
    for i in order:
        natural = want[i]
        need = natural + 3  # padding and a border
        if used + need <= total:
            shown[i] = natural
            used += need
            continue
        room = total - used - 3
        if room >= max(MIN_CELL, len(columns[i])):
            shown[i] = room
            used += room + 3
    kept = [i for i in order if i in shown]
    return kept, shown


def render(
    out: Console,
    err: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str | None = None,
    max_rows: int = 200,
    *,
    wide: bool = False,
    keys: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """Print ``rows``; see the module docstring. ``keys`` are shown first in a fitted table."""
    fmt = choose_format(fmt, out)
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str,
                                    ensure_ascii=False) + "\n")  # fmt: skip
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "tsv":
        sys.stdout.write("\t".join(columns) + "\n")
        for r in rows:
            sys.stdout.write("\t".join(_tsv(v) for v in r) + "\n")
        if not rows:
            err.print("0 rows", highlight=False)
    elif fmt == "markdown":
        sys.stdout.write("| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n")
        for r in rows:
            sys.stdout.write("| " + " | ".join(cell(v).replace("|", "\\|") for v in r) + " |\n")
    else:
        _table(out, err, columns, rows, max_rows, wide=wide, keys=keys, title=title)


def _tsv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _table(
    out: Console,
    err: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    max_rows: int,
    *,
    wide: bool,
    keys: Sequence[str],
    title: str | None,
) -> None:
    if not rows:
        if title:
            out.print(f"[bold]{title}[/]: 0 rows", highlight=False)
        else:
            out.print("0 rows")
        return
    shown_rows = [[cell(v) for v in r] for r in rows[:max_rows]]
    kept, width = list(range(len(columns))), dict.fromkeys(range(len(columns)), 0)
    if not wide:
        natural = [min(MAX_CELL, max(len(r[i]) for r in shown_rows)) for i in range(len(columns))]
        kept, width = fit_columns(columns, natural, out.width, keys)
    table = Table(title=title, title_justify="left", show_lines=False)
    for i in kept:
        numeric = all(_numeric(r[i]) for r in rows[:max_rows])
        table.add_column(columns[i], justify="right" if numeric else "left",
                         overflow="fold" if wide else "ellipsis", no_wrap=not wide)  # fmt: skip
    for r in shown_rows:
        table.add_row(*(r[i] if wide else shorten(r[i], width[i]) for i in kept))
    out.print(table)
    hidden = [columns[i] for i in range(len(columns)) if i not in kept]
    if hidden:
        err.print(
            f"[dim]{len(hidden)} more column(s): {', '.join(hidden)} "
            "(--wide shows all; --format tsv|json for data)[/]",
            highlight=False,
            soft_wrap=True,
        )
    if len(rows) > max_rows:
        err.print(f"({len(rows)} rows, {max_rows} shown; use --max-rows or --format tsv)", highlight=False)


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool))
