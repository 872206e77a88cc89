"""Which backend a warehouse target names: a DuckLake URI, else a DuckDB file path."""

from __future__ import annotations

from newsetl.errors import WarehouseError
from newsetl.settings import Settings, StorageSettings
from newsetl.storage.base import Warehouse
from newsetl.storage.duckdb_file import DuckDBFile


def is_lake(target: str) -> bool:
    return target.startswith("ducklake:")


def open_warehouse(settings: StorageSettings | Settings) -> Warehouse:
    """The backend for ``settings.db`` (cheap: no connection is opened)."""
    if isinstance(settings, Settings):
        settings = settings.storage
    if is_lake(settings.db):
        raise WarehouseError(f"{settings.db}: DuckLake warehouses are not available in this version")
    return DuckDBFile(settings)
