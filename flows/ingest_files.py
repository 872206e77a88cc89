"""Flow ``ingest-files``: files and directories -> articles in DuckDB."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._common import run_flow
from newsetl.pipeline.shards import Shard
from newsetl.settings import Settings
from newsetl.sources.files import FILES_FLOW, FileSource


@flow(name=FILES_FLOW, log_prints=True)
def ingest_files(
    paths: list[str],
    db: str | None = None,
    batch_size: int = 500,
    workers: int | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict[str, Any]:
    """Ingest HTML (any charset, gzipped or not) and plain-text articles.

    Args:
        paths: Files or directories (searched recursively).
        db: Warehouse (DuckDB file or ducklake:...); default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        batch_size: Documents per extract/load batch (one transaction per batch).
        workers: Extraction processes; default the number of CPU cores.
        shard: With ``shards`` > 1: ingest only the files of this shard (0 … shards-1), chosen
            by a hash of each file's path relative to its input root. Runs of every shard
            together ingest every file exactly once (docs/scale-out.md).
        shards: How many shards the input is split into (1: all of it).
    """
    part = Shard(shard, shards)
    settings = Settings.from_env(db=db, batch_size=batch_size, workers=workers)
    what = f"ingesting {paths}" + ("" if part.whole else f" (shard {part})")
    return run_flow(FileSource(paths, part), settings, what)


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_files(paths=sys.argv[1:] or ["examples"]))
