"""``newsetl feeds ...`` (the registry) and ``newsetl ingest-feeds`` (the flow).

Only argument parsing and printing here; the work is in :mod:`newsetl.sources.feeds.registry` and
:mod:`newsetl.sources.feeds.ingest`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from newsetl.cli.app import (
    AllowPrivateHostsOption,
    DbOption,
    HostDelayOption,
    IgnoreRobotsOption,
    JsonOption,
    ShardOption,
    VerboseOption,
    WorkersOption,
    app,
    fail,
    out,
    render_rows,
    run_flow_command,
    shard_for,
    store_for,
)
from newsetl.cli.tables import FormatOption, WideOption
from newsetl.errors import NewsetlError

feeds_app = typer.Typer(
    name="feeds",
    help=(
        "Manage the feed registry: add, list (with health), remove, import OPML, export OPML.\n\n"
        "Example:  newsetl feeds add https://www.heise.de/rss/heise-atom.xml --name heise"
    ),
    no_args_is_help=True,
)
app.add_typer(feeds_app)

_NO_FEED_TABLES = "this warehouse has no feed tables yet: `newsetl feeds add URL` creates them"


def _write(db: str | None, fn: Any) -> Any:
    """``fn(conn)`` in one write transaction on the warehouse (created if new)."""
    store = store_for(db)
    store.ensure_schema()
    return store.write(fn)


@feeds_app.command("add")
def feeds_add(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs (http/https).", show_default=False)],
    name: Annotated[str | None, typer.Option(help="A name for the feed (one URL only).")] = None,
    category: Annotated[str | None, typer.Option(help="A folder/category for the feeds.")] = None,
    db: DbOption = None,
) -> None:
    """Register feeds; adding one again is harmless (a new --name replaces the old).

    Example:  newsetl feeds add https://rss.orf.at/news.xml --name "ORF News"
    """
    from newsetl.sources.feeds.registry import Subscription, add_feeds

    if name and len(urls) > 1:
        raise fail("--name applies to one feed; add feeds one by one to name them", code=2)
    try:
        added = _write(db, lambda conn: add_feeds(conn, [Subscription(u, name, category) for u in urls]))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    for url, new in added:
        out.print(f"{'added' if new else 'already registered'}: {url}", highlight=False, soft_wrap=True)


@feeds_app.command("list")
def feeds_list(
    db: DbOption = None,
    fmt: FormatOption = None,
    wide: WideOption = False,
    max_rows: Annotated[int, typer.Option(help="Rows to print in table format.")] = 500,
) -> None:
    """Registered feeds with their health: status, last success, error streak, next check, entries.

    Example:  newsetl feeds list --format csv > feeds.csv
    """
    import duckdb

    from newsetl.sources.feeds.registry import feed_health

    try:
        with store_for(db).session(read_only=True) as conn:
            columns, rows = feed_health(conn)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.CatalogException:
        raise fail(_NO_FEED_TABLES) from None
    render_rows(columns, rows, fmt, max_rows, wide=wide, keys=("name", "health", "url", "next_check_at"))


@feeds_app.command("remove")
def feeds_remove(
    urls: Annotated[list[str], typer.Argument(help="Feed URLs to unregister.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Unregister feeds. Their entries and articles stay in the warehouse.

    Example:  newsetl feeds remove https://rss.orf.at/news.xml
    """
    from newsetl.sources.feeds.registry import feed_url, remove_feeds

    try:
        removed = set(_write(db, lambda conn: remove_feeds(conn, urls)))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    missing = [u for u in urls if feed_url(u) not in removed]
    for url in sorted(removed):
        out.print(f"removed: {url}", highlight=False, soft_wrap=True)
    if missing:
        raise fail(f"not registered: {', '.join(missing)}")


@feeds_app.command("import")
def feeds_import(
    file: Annotated[Path, typer.Argument(help="OPML file, or a text file with one URL per line.")],
    category: Annotated[str | None, typer.Option(help="Category for feeds that have none.")] = None,
    db: DbOption = None,
) -> None:
    """Register every feed of an OPML export (any feed reader) or of a plain URL list.

    Example:  newsetl feeds import subscriptions.opml
    """
    from newsetl.sources.feeds.registry import Subscription, add_feeds, read_subscription_list

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        subs = read_subscription_list(data)
        if not subs:
            raise fail(f"no feed URLs found in {file}")
        subs = [Subscription(s.url, s.name, s.category or category) for s in subs]
        added = _write(db, lambda conn: add_feeds(conn, subs))
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    n_new = sum(1 for _, new in added if new)
    out.print(f"{n_new} feeds added, {len(added) - n_new} already registered", highlight=False)


@feeds_app.command("export")
def feeds_export(
    file: Annotated[Path | None, typer.Argument(help="Write here instead of standard output.")] = None,
    db: DbOption = None,
) -> None:
    """Write the registry as OPML 2.0, for another feed reader or another warehouse.

    Example:  newsetl feeds export subscriptions.opml
    """
    import duckdb

    from newsetl.sources.feeds.registry import export_opml

    try:
        with store_for(db).session(read_only=True) as conn:
            rows = conn.execute(
                """SELECT url, coalesce(name, title), category, site_url FROM feeds
                   ORDER BY category NULLS FIRST, url"""
            ).fetchall()
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    except duckdb.CatalogException:
        raise fail(_NO_FEED_TABLES) from None
    data = export_opml(rows)
    if file is None:
        sys.stdout.buffer.write(data)
    else:
        file.write_bytes(data)
        out.print(f"{len(rows)} feeds written to {file}", highlight=False)


def _nothing_due(db: str | None, json_out: bool) -> bool:
    """Say so (and when the next feed is due) instead of running a flow that polls nothing."""
    from datetime import UTC, datetime

    import duckdb

    from newsetl.sources.feeds.registry import next_due

    now = datetime.now(UTC)
    try:
        with store_for(db).session(read_only=True) as conn:
            nd = next_due(conn, now)
    except (NewsetlError, duckdb.Error):
        return False  # no warehouse yet, or locked: the flow reports it properly
    if nd.due:
        return False
    if json_out:
        sys.stdout.write(
            json.dumps(
                {
                    "feeds_registered": nd.registered,
                    "feeds_due": 0,
                    "next_due_feed": nd.url,
                    "next_due_at": nd.at.isoformat() if nd.at else None,
                }
            )
        )
        sys.stdout.write("\n")  # fmt: skip
    elif not nd.registered:
        out.print("no feeds registered: `newsetl feeds add URL` (or `newsetl ingest-feeds URL`) first",
                  highlight=False)  # fmt: skip
    else:
        assert nd.at is not None
        minutes = max(0, round((nd.at - now).total_seconds() / 60))
        out.print(
            f"no feed is due ({nd.registered} registered): the next is {nd.name or nd.url} "
            f"at {nd.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC, in {minutes} min; "
            "`newsetl ingest-feeds --all` polls every feed now",
            highlight=False,
            soft_wrap=True,
        )
    return True


@app.command("ingest-feeds")
def ingest_feeds_cmd(
    urls: Annotated[
        list[str] | None,
        typer.Argument(
            help="Feeds to poll now (registered if new) \\[default: every due feed].", show_default=False
        ),
    ] = None,
    db: DbOption = None,
    all_feeds: Annotated[bool, typer.Option("--all", help="Poll every registered feed, due or not.")] = False,
    allow_private_hosts: AllowPrivateHostsOption = False,
    no_pages: Annotated[
        bool, typer.Option("--no-pages", help="Use the entries' own content; fetch no article pages.")
    ] = False,
    ignore_robots: IgnoreRobotsOption = False,
    host_delay: HostDelayOption = None,
    batch_size: Annotated[int, typer.Option(help="Entries per batch (one transaction each).")] = 500,
    workers: WorkersOption = None,
    shard: ShardOption = None,
    verbose: VerboseOption = False,
    json_out: JsonOption = False,
) -> None:
    """Poll feeds (conditional GET) and load their new entries' pages as articles.

    Example:  newsetl ingest-feeds https://www.heise.de/rss/heise-atom.xml --db warehouse/news.duckdb
    """
    from newsetl.sources.feeds.registry import feed_url

    part, parts = shard_for(shard)
    try:
        for u in urls or []:
            feed_url(u)
    except NewsetlError as exc:
        raise fail(str(exc)) from None
    if not urls and not all_feeds and _nothing_due(db, json_out):
        return

    def run() -> dict[str, Any]:
        from flows.ingest_feeds import ingest_feeds

        return ingest_feeds(
            urls=list(urls or []),
            db=db,
            all_feeds=all_feeds,
            batch_size=batch_size,
            workers=workers,
            allow_private_hosts=True if allow_private_hosts else None,
            fetch_pages=False if no_pages else None,
            respect_robots=False if ignore_robots else None,
            host_delay=host_delay,
            shard=part,
            shards=parts,
        )

    def details(summary: dict[str, Any]) -> None:
        s = summary["feeds"]
        out.print(
            f"feeds: {s['feeds']} polled · {s['not_modified']} not modified · "
            f"{s['unchanged_body']} unchanged · {s['parsed']} parsed · {s['failed']} failed · "
            f"{s['new_entries']} new entries ({s['known_entries']} known) · {s['pages_fetched']} pages · "
            f"{s['from_feed']} from feed content · {s['refused']} refused",
            highlight=False,
        )

    run_flow_command(
        run, db=db, verbose=verbose, workers=workers, json_out=json_out, details=details, flow="ingest-feeds"
    )
