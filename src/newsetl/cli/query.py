"""``newsetl sql``: read-only SQL against the warehouse."""

from __future__ import annotations

from typing import Annotated

import typer

from newsetl.cli.app import DbOption, app, fail, render_rows, store_for
from newsetl.errors import NewsetlError


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run (read-only).", show_default=False)],
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or markdown.")] = "table",
    max_rows: Annotated[int, typer.Option(help="Rows to print in table format.")] = 200,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait while another process holds a DuckDB file's lock.")
    ] = 15.0,
) -> None:
    """Run a read-only SQL query against the warehouse and print the result.

    Example:  newsetl sql "SELECT language, count(*) FROM articles GROUP BY ALL"
    """
    import duckdb

    from newsetl.analysis.query import run_query

    try:
        columns, rows = run_query(store_for(db, lock_timeout_s=wait), query)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.Error as exc:
        raise fail(" ".join(str(exc).split())) from None
    render_rows(columns, rows, fmt, max_rows)
