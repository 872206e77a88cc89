"""``newsetl ingest-urls``: a list of URLs, through the ``ingest-urls`` flow."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from newsetl.cli.app import (
    AllowPrivateHostsOption,
    DbOption,
    HostDelayOption,
    IgnoreRobotsOption,
    JsonOption,
    VerboseOption,
    WorkersOption,
    app,
    fail,
    out,
    run_flow_command,
)
from newsetl.errors import NewsetlError


@app.command("ingest-urls")
def ingest_urls_cmd(
    url_list: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-",
            help="One URL a line, or CSV / JSON Lines with a 'url' column; '-' reads standard input.",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Fetch URLs already ingested again (unchanged pages stay unchanged)."),
    ] = False,
    allow_private_hosts: AllowPrivateHostsOption = False,
    ignore_robots: IgnoreRobotsOption = False,
    host_delay: HostDelayOption = None,
    batch_size: Annotated[int, typer.Option(help="Pages per batch (one transaction each).")] = 500,
    workers: WorkersOption = None,
    verbose: VerboseOption = False,
    json_out: JsonOption = False,
) -> None:
    """Fetch a list of page URLs politely and load them as articles.

    URLs already ingested are not fetched again (unless --refresh); lines that are not
    http(s) URLs are recorded as rejected with the line number.

    Example:  newsetl ingest-urls urls.txt --db warehouse/news.duckdb
    """
    from newsetl.sources.urls.source import UrlListSource

    try:
        UrlListSource(url_list).check()
    except NewsetlError as exc:
        raise fail(str(exc)) from None

    def run() -> dict[str, Any]:
        from flows.ingest_urls import ingest_urls

        return ingest_urls(
            url_list=url_list,
            db=db,
            refresh=refresh,
            batch_size=batch_size,
            workers=workers,
            allow_private_hosts=True if allow_private_hosts else None,
            respect_robots=False if ignore_robots else None,
            host_delay=host_delay,
        )

    def details(summary: dict[str, Any]) -> None:
        s = summary["urls"]
        out.print(
            f"urls: {s['urls']} listed · {s['already_ingested']} already ingested · "
            f"{s['repeated']} repeated · "
            f"{s['bad_lines']} bad lines · {s['pages_fetched']} pages fetched · {s['pages_failed']} failed · "
            f"{s['refused']} refused",
            highlight=False,
        )

    run_flow_command(
        run, db=db, verbose=verbose, workers=workers, json_out=json_out, details=details, flow="ingest-urls"
    )
