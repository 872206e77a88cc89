"""``newsetl ingest``: files and directories (``ingest-files``), or WARC archives
(``ingest-warc``: ``.warc``/``.warc.gz`` files and http(s) URLs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from newsetl.cli.app import (
    DbOption,
    JsonOption,
    ShardOption,
    VerboseOption,
    WorkersOption,
    app,
    fail,
    run_flow_command,
    shard_for,
)
from newsetl.errors import NewsetlError


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or directories (recursive); or WARC archives: .warc/.warc.gz files or http(s) URLs.",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    batch_size: Annotated[int, typer.Option(help="Documents per batch (one transaction each).")] = 500,
    workers: WorkersOption = None,
    shard: ShardOption = None,
    verbose: VerboseOption = False,
    json_out: JsonOption = False,
) -> None:
    """Ingest HTML pages (any charset, .gz too) and plain-text articles, or WARC archives.

    A folder's data files, images and notes are counted as skipped, not rejected. A WARC
    archive's HTML responses become articles; its other records (warcinfo, requests,
    metadata, revisits, non-HTML responses) are counted as skipped, broken records as
    rejected. A killed WARC run resumes where it stopped; an unchanged archive is not read
    again.

    Example:  newsetl ingest ../shared/corpus/seed/ pages/ --db warehouse/news.duckdb
              newsetl ingest CC-NEWS-20240101000000-00000.warc.gz
              newsetl ingest https://example.org/crawl/pages.warc.gz
    Sharded:  newsetl ingest inbox/ --shard 0/2   (and 1/2 on another machine)
    """
    from newsetl.sources.warc.names import is_url, is_warc_name

    archives = [p for p in paths if is_url(p) or is_warc_name(p)]
    if archives and len(archives) != len(paths):
        raise fail("give WARC archives and other files or folders in separate `newsetl ingest` commands", 2)
    if archives and shard:
        raise fail("--shard splits files and folders; give each machine its own WARC archives", 2)
    if archives:
        _ingest_warc(archives, db, batch_size, workers, verbose, json_out)
        return
    from newsetl.sources.files.discover import check_paths

    part, parts = shard_for(shard)

    try:
        check_paths(paths)
    except NewsetlError as exc:
        raise fail(str(exc)) from None

    def run() -> dict[str, Any]:
        from flows.ingest_files import ingest_files

        return ingest_files(
            paths=[str(Path(p)) for p in paths],
            db=db,
            batch_size=batch_size,
            workers=workers,
            shard=part,
            shards=parts,
        )

    run_flow_command(run, db=db, verbose=verbose, workers=workers, json_out=json_out, flow="ingest-files")


def _ingest_warc(
    archives: list[str], db: str | None, batch_size: int, workers: int | None, verbose: bool, json_out: bool
) -> None:
    from newsetl.sources.warc import WarcSource

    try:
        WarcSource(archives).check()
    except NewsetlError as exc:
        raise fail(str(exc)) from None

    def run() -> dict[str, Any]:
        from flows.ingest_warc import ingest_warc

        return ingest_warc(archives=archives, db=db, batch_size=batch_size, workers=workers)

    def details(summary: dict[str, Any]) -> None:
        from newsetl.cli.app import out

        stats = summary.get("warc") or {}
        if stats:
            out.print(" · ".join(f"{k.replace('_', ' ')} {v}" for k, v in stats.items()), highlight=False)

    run_flow_command(
        run, db=db, verbose=verbose, workers=workers, json_out=json_out, details=details, flow="ingest-warc"
    )
