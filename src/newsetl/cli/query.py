"""``newsetl sql``: read-only SQL against the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from newsetl.cli.app import DbOption, app, fail, render_rows, store_for
from newsetl.cli.tables import FormatOption, WideOption
from newsetl.errors import NewsetlError


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run (read-only).", show_default=False)],
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
    max_rows: Annotated[int, typer.Option(help="Rows to print in table format.")] = 200,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait while another process holds a DuckDB file's lock.")
    ] = 15.0,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="A lake's snapshot version, or a timestamp (2026-12-01 08:00+00): the warehouse as it was.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a read-only SQL query against the warehouse and print the result.

    Example:  newsetl sql "SELECT language, count(*) FROM articles GROUP BY ALL"
              newsetl sql --at 42 "SELECT count(*) FROM articles"     (a DuckLake warehouse)
    """
    import duckdb

    from newsetl.analysis.query import run_query

    try:
        columns, rows = run_query(store_for(db, lock_timeout_s=wait), query, at=at)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    render_rows(columns, rows, fmt, max_rows, wide=wide)


@app.command()
def changes(
    since: Annotated[int, typer.Option("--since", help="Snapshot after which to list changes.")],
    table: Annotated[str, typer.Option("--table", "-t", help="Table to follow.")] = "articles",
    until: Annotated[int | None, typer.Option(help="Last snapshot \\[default: the current one].")] = None,
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
    max_rows: Annotated[int, typer.Option(help="Rows to print in table format.")] = 200,
) -> None:
    """What was inserted, updated or deleted in a lake table since a snapshot (change feed).

    For downstream consumers: remember the last snapshot you read (the largest
    snapshot_id listed, or `newsetl snapshots`), ask again with --since it.

    Example:  newsetl changes --since 41 --table articles --format json
    """
    import duckdb

    from newsetl.analysis.query import changes as table_changes

    try:
        columns, rows = table_changes(store_for(db), since=since, table=table, until=until)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    render_rows(columns, rows, fmt, max_rows, wide=wide)


@app.command()
def snapshots(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many.")] = 20,
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
) -> None:
    """A lake's latest snapshots (for `sql --at` and `changes --since`).

    Example:  newsetl snapshots -n 5
    """
    from newsetl.analysis.query import snapshots as lake_snapshots

    try:
        columns, rows = lake_snapshots(store_for(db), limit=limit)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    render_rows(columns, rows, fmt, limit, wide=wide)
