"""Which backend a warehouse target names: a DuckLake URI, else a DuckDB file path."""

from __future__ import annotations

from newsetl.settings import Settings, StorageSettings
from newsetl.storage.base import Warehouse
from newsetl.storage.duckdb_file import DuckDBFile
from newsetl.storage.ducklake import DuckLake


def is_lake(target: str) -> bool:
    return target.startswith("ducklake:")


def open_warehouse(settings: StorageSettings | Settings) -> Warehouse:
    """The backend for ``settings.db`` (cheap: no connection is opened)."""
    if isinstance(settings, Settings):
        settings = settings.storage
    if is_lake(settings.db):
        return DuckLake(settings)
    return DuckDBFile(settings)
