"""``newsetl health`` (open drift alerts and feed problems) and ``newsetl report`` (the HTML
report). Parsing and printing only: the work is in :mod:`newsetl.analysis.health` and
:mod:`newsetl.analysis.report`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import duckdb
import typer

from newsetl.cli.app import DbOption, app, fail, out, render_rows, store_for
from newsetl.cli.tables import FormatOption, WideOption, choose_format
from newsetl.errors import NewsetlError


@app.command()
def health(
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print alerts and problems as JSON.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Run the drift check first (flow runs and maintenance do).")
    ] = False,
    fmt: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """Open drift alerts, feed problems and sitemap problems; exit 1 when any is open.

    A drift alert: a source's articles changed against its own baseline. A feed problem:
    failing, or nothing new for days. A sitemap problem: failing.

    Example:  newsetl health --db warehouse/news.duckdb   |   newsetl health --json
    """
    from newsetl.analysis.health import (
        ALERT_COLUMNS,
        FEED_PROBLEM_COLUMNS,
        check_sources,
        current_health,
    )

    store = store_for(db)
    try:
        if check:
            store.ensure_schema()
            check_sources(store)
        with store.session(read_only=True) as conn:
            h = current_health(conn)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    try:
        chosen = "json" if json_out else choose_format(fmt, out)
    except ValueError as exc:
        raise fail(str(exc), code=2) from None
    if chosen == "json":
        doc = {"ok": h.ok, "alerts": h.alerts, "feed_problems": h.feed_problems,
               "sitemap_problems": h.sitemap_problems}  # fmt: skip
        sys.stdout.write(json.dumps(doc, default=str, ensure_ascii=False) + "\n")
    else:
        sections = [
            (
                "open drift alerts",
                ALERT_COLUMNS,
                h.alerts,
                ("source_key", "metric", "baseline", "now", "since"),
            ),
            (
                "feed problems",
                FEED_PROBLEM_COLUMNS,
                h.feed_problems,
                ("name", "problem", "url", "error_streak"),
            ),
        ]
        for title, columns, rows, keys in sections:
            if chosen != "table":
                sys.stdout.write(f"# {title}\n")
            elif not rows:
                out.print(f"no {title}", highlight=False)
                continue
            render_rows(list(columns), [tuple(r.values()) for r in rows], chosen, 500, wide=wide, keys=keys,
                        title=f"{title} ({len(rows)})")  # fmt: skip
    if not h.ok:
        raise typer.Exit(1)


@app.command()
def report(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="First day shown \\[default: 30 days ago].", show_default=False
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """One self-contained HTML report with charts (no network needed to view it).

    Articles per day per source, rejections by reason, feed health, open drift alerts,
    metadata completeness, the largest story clusters.

    Example:  newsetl report --out report.html --since 2026-11-01
    """
    from newsetl.analysis.report_html import write_report

    try:
        written = write_report(store_for(db), out_file, since=since.date() if since else None)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    except OSError as exc:
        raise fail(f"cannot write {out_file}: {exc.strerror or exc}") from None
    out.print(f"report written: {written.path} ({written.bytes / 1e3:.0f} kB, {written.days} days)",
              highlight=False)  # fmt: skip
