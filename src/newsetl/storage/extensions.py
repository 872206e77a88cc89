"""DuckDB extensions from the pinned PyPI packages (duckdb-ext-*), never downloaded.

Air-gapped machines must work too: newsetl sets DuckDB's extension directory to the one
shipped inside the ``duckdb_ext`` packages and switches automatic installation off.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import duckdb

from newsetl.errors import WarehouseError


@cache
def extension_directory() -> str | None:
    """Directory of the DuckDB extensions shipped as PyPI packages (duckdb-ext-*)."""
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "extensions"
        if path.is_dir():
            return str(path)
    return None


def config() -> dict[str, str | bool | int | float | list[str]]:
    """Connection options: bundled extensions, no downloads."""
    options: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    ext = extension_directory()
    if ext:
        options["extension_directory"] = ext
    return options


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD a bundled extension, with a clear error when its package is missing."""
    try:
        conn.execute(f"LOAD {name}")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"DuckDB extension '{name}' is not available: install the duckdb-ext-{name} package "
            f"matching duckdb {duckdb.__version__} ({one_line(exc)})"
        ) from exc
