"""``newsetl sitemaps ...`` (the registry) and ``newsetl ingest-sitemaps`` (the flow).

Only argument parsing and printing here; the work is in :mod:`newsetl.sources.sitemaps`.
"""

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
    render_rows,
    run_flow_command,
    store_for,
)
from newsetl.cli.tables import FormatOption, WideOption
from newsetl.errors import NewsetlError

sitemaps_app = typer.Typer(
    name="sitemaps",
    help=(
        "Manage the sitemap registry: add sites or sitemaps, list them with health, remove.\n\n"
        "Example:  newsetl sitemaps add https://www.example-news.com/ --name example"
    ),
    no_args_is_help=True,
)
app.add_typer(sitemaps_app)

_NO_TABLES = "this warehouse has no sitemap tables yet: `newsetl sitemaps add URL` creates them"


def _write(db: str | None, fn: Any) -> Any:
    store = store_for(db)
    store.ensure_schema()
    return store.write(fn)


@sitemaps_app.command("add")
def sitemaps_add(
    urls: Annotated[
        list[str],
        typer.Argument(help="Sites (https://host/) or sitemap URLs (http/https).", show_default=False),
    ],
    name: Annotated[str | None, typer.Option(help="A name for the site (one URL only).")] = None,
    db: DbOption = None,
) -> None:
    """Register sites or sitemaps; adding one again is harmless.

    A URL whose path is / is a site: its sitemaps are found through robots.txt, then /sitemap.xml.

    Example:  newsetl sitemaps add https://www.example-news.com/news-sitemap.xml
    """
    from newsetl.sources.sitemaps.registry import add_sitemaps

    if name and len(urls) > 1:
        raise fail("--name applies to one URL; add them one by one to name them", code=2)
    try:
        added = _write(db, lambda conn: add_sitemaps(conn, urls, name=name))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    for url, new in added:
        out.print(f"{'added' if new else 'already registered'}: {url}", highlight=False, soft_wrap=True)


@sitemaps_app.command("list")
def sitemaps_list(
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
    max_rows: Annotated[int, typer.Option(help="Rows to print in table format.")] = 500,
) -> None:
    """Registered sites and sitemaps with their health: last check, errors, documents, URLs, articles.

    Example:  newsetl sitemaps list --format csv
    """
    import duckdb

    from newsetl.sources.sitemaps.registry import sitemap_health

    try:
        with store_for(db).session(read_only=True) as conn:
            columns, rows = sitemap_health(conn)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.CatalogException:
        raise fail(_NO_TABLES) from None
    render_rows(columns, rows, fmt, max_rows, wide=wide, keys=("name", "health", "url", "next_check_at"))


@sitemaps_app.command("remove")
def sitemaps_remove(
    urls: Annotated[list[str], typer.Argument(help="Sites or sitemaps to unregister.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Unregister sites or sitemaps. Their URLs and articles stay in the warehouse.

    Example:  newsetl sitemaps remove https://www.example-news.com/
    """
    from newsetl.sources.sitemaps.registry import remove_sitemaps, sitemap_url

    try:
        removed = set(_write(db, lambda conn: remove_sitemaps(conn, urls)))
        missing = [u for u in urls if sitemap_url(u)[0] not in removed]
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    for url in sorted(removed):
        out.print(f"removed: {url}", highlight=False, soft_wrap=True)
    if missing:
        raise fail(f"not registered: {', '.join(missing)}")


@app.command("ingest-sitemaps")
def ingest_sitemaps_cmd(
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SITE_OR_SITEMAP_URL",
            help="Sites or sitemaps to check now (registered if new) \\[default: every due one].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    all_sitemaps: Annotated[
        bool, typer.Option("--all", help="Check every registered site and sitemap, due or not.")
    ] = False,
    allow_private_hosts: AllowPrivateHostsOption = False,
    ignore_robots: IgnoreRobotsOption = False,
    host_delay: HostDelayOption = None,
    batch_size: Annotated[int, typer.Option(help="Pages per batch (one transaction each).")] = 500,
    workers: WorkersOption = None,
    verbose: VerboseOption = False,
    json_out: JsonOption = False,
) -> None:
    """Check sites and sitemaps (conditional GET) and load new or changed URLs' pages as articles.

    A URL listed before is fetched again only when its <lastmod> is newer.

    Example:  newsetl ingest-sitemaps https://www.example-news.com/ --db warehouse/news.duckdb
    """
    from newsetl.sources.sitemaps.registry import sitemap_url

    try:
        for u in urls or []:
            sitemap_url(u)
    except NewsetlError as exc:
        raise fail(str(exc)) from None

    def run() -> dict[str, Any]:
        from flows.ingest_sitemaps import ingest_sitemaps

        return ingest_sitemaps(
            urls=list(urls or []),
            db=db,
            all_sitemaps=all_sitemaps,
            batch_size=batch_size,
            workers=workers,
            allow_private_hosts=True if allow_private_hosts else None,
            respect_robots=False if ignore_robots else None,
            host_delay=host_delay,
        )

    def details(summary: dict[str, Any]) -> None:
        s = summary["sitemaps"]
        out.print(
            f"sitemaps: {s['sites']} sites · {s['documents']} documents ({s['not_modified']} not modified, "
            f"{s['unchanged_body']} unchanged, {s['parsed']} parsed, {s['failed']} failed) · "
            f"{s['urls_listed']} URLs listed · {s['new_urls']} new or changed · {s['known_urls']} known · "
            f"{s['deferred_urls']} left for the next run · {s['pages_fetched']} pages · "
            f"{s['refused']} refused",
            highlight=False,
        )

    run_flow_command(
        run,
        db=db,
        verbose=verbose,
        workers=workers,
        json_out=json_out,
        details=details,
        flow="ingest-sitemaps",
    )
