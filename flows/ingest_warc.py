"""Flow ``ingest-warc``: WARC archives (files or http(s) URLs) -> articles."""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows._common import run_flow
from newsetl.settings import Settings
from newsetl.sources.warc import WARC_FLOW, WarcSource


@flow(name=WARC_FLOW, log_prints=True)
def ingest_warc(
    archives: list[str],
    db: str | None = None,
    batch_size: int = 500,
    workers: int | None = None,
) -> dict[str, Any]:
    """Ingest the HTML response records of WARC archives; resumes a killed run.

    Args:
        archives: ``.warc`` / ``.warc.gz`` files or http(s) URLs (streamed, never saved whole).
        db: Warehouse (DuckDB file or ducklake:...); default ``NEWSETL_DB`` or ``warehouse/news.duckdb``.
        batch_size: Page records per extract/load batch (one transaction, one progress mark each).
        workers: Extraction processes; default the number of CPU cores.
    """
    settings = Settings.from_env(db=db, batch_size=batch_size, workers=workers)
    return run_flow(WarcSource(archives), settings, f"ingesting {len(archives)} WARC archive(s)", "warc")


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(ingest_warc(archives=sys.argv[1:]))
