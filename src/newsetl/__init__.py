"""newsetl: turn news (files, feeds, archives) into clean, queryable DuckDB tables.

The public API, for notebooks and scripts::

    import newsetl
    con = newsetl.connect()                       # the warehouse, read-only, as a DuckDB connection
    newsetl.ingest_files(["pages/"])              # a run without Prefect
    summary, stats = newsetl.ingest_feeds(["https://example.org/feed.xml"])
    newsetl.ingest_sitemaps(["https://example.org/"]); newsetl.ingest_urls("urls.txt")
    newsetl.ingest_warc(["CC-NEWS-20240101000000-00000.warc.gz"])

Heavy modules are imported on first use, so ``import newsetl`` stays cheap.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("newsetl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "Settings",
    "__version__",
    "connect",
    "ingest_feeds",
    "ingest_files",
    "ingest_sitemaps",
    "ingest_urls",
    "ingest_warc",
    "open_warehouse",
]

_LAZY = {
    "Settings": ("newsetl.settings", "Settings"),
    "ingest_files": ("newsetl.sources.files.source", "ingest_files"),
    "ingest_feeds": ("newsetl.sources.feeds.source", "ingest_feeds"),
    "ingest_sitemaps": ("newsetl.sources.sitemaps.source", "ingest_sitemaps"),
    "ingest_urls": ("newsetl.sources.urls.source", "ingest_urls"),
    "ingest_warc": ("newsetl.sources.warc.source", "ingest_warc"),
    "open_warehouse": ("newsetl.storage.backends", "open_warehouse"),
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (the package itself imports nothing)."""
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'newsetl' has no attribute {name!r}")


def connect(
    db: str | None = None, *, data_path: str | None = None, read_only: bool = True
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the warehouse attached and selected (a file or a lake).

    ``db`` and ``data_path`` default to ``NEWSETL_DB`` / ``NEWSETL_DATA_PATH``. Read-only by
    default: an analyst's connection never blocks an ingest. Close it when done.
    """
    settings = __getattr__("Settings").from_env(db=db, data_path=data_path)
    conn: duckdb.DuckDBPyConnection = __getattr__("open_warehouse")(settings).connect(read_only=read_only)
    return conn
