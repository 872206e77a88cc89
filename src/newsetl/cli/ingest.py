"""``newsetl ingest``: files and directories, through the ``ingest-files`` flow."""

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
        list[Path], typer.Argument(help="Files or directories (recursive).", show_default=False)
    ],
    db: DbOption = None,
    batch_size: Annotated[int, typer.Option(help="Documents per batch (one transaction each).")] = 500,
    workers: WorkersOption = None,
    shard: ShardOption = None,
    verbose: VerboseOption = False,
    json_out: JsonOption = False,
) -> None:
    """Ingest HTML pages (any charset, .gz too) and plain-text articles.

    Example:  newsetl ingest ../shared/corpus/seed/ pages/ --db warehouse/news.duckdb
    Sharded:  newsetl ingest inbox/ --shard 0/2   (and 1/2 on another machine)
    """
    from newsetl.sources.files.discover import check_paths

    part, parts = shard_for(shard)

    try:
        check_paths(paths)
    except NewsetlError as exc:
        raise fail(str(exc)) from None

    def run() -> dict[str, Any]:
        from flows.ingest_files import ingest_files

        return ingest_files(
            paths=[str(p) for p in paths],
            db=db,
            batch_size=batch_size,
            workers=workers,
            shard=part,
            shards=parts,
        )

    run_flow_command(run, db=db, verbose=verbose, workers=workers, json_out=json_out, flow="ingest-files")
