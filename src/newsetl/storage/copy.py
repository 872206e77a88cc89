"""Move a DuckDB-file warehouse into a DuckLake: every table and the raw archive.

What a team runs once when it outgrows the file: ``newsetl copy-warehouse
warehouse/news.duckdb ducklake:postgres:...``. The lake is created with its own migrations;
every table is copied by the columns both sides have, all in one transaction; the raw
archive's blobs follow (a directory to a directory or to S3). Search indexes are not
copied: the lake builds its own (``newsetl reindex``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from newsetl.errors import WarehouseError
from newsetl.storage.duckdb_file import DuckDBFile
from newsetl.storage.ducklake import ALIAS, DuckLake
from newsetl.storage.raw_archive import RawArchive

_SKIP = {"schema_migrations", "newsetl_commit_lock", "search_indexes", "search_index_docs"}
_SOURCE = "newsetl_copy_source"


@dataclass(slots=True)
class CopyReport:
    tables: dict[str, int] = field(default_factory=dict)
    blobs: int = 0


def _tables(conn: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = conn.execute(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE table_catalog = ? AND table_schema = 'main'
             AND table_name IN (SELECT table_name FROM information_schema.tables
                                WHERE table_catalog = ? AND table_type = 'BASE TABLE')
           ORDER BY table_name, ordinal_position""",
        [catalog, catalog],
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(str(table), []).append(str(column))
    return out


def copy_warehouse(
    source: DuckDBFile, target: DuckLake, source_archive: str, target_archive: str
) -> CopyReport:
    """Copy ``source`` (a DuckDB file) into an empty lake ``target``."""
    if not source.path.exists():
        raise WarehouseError(f"no warehouse at {source.path}")
    source.ensure_schema()  # the same schema version on both sides
    target.ensure_schema()
    report = CopyReport()

    def copy(conn: duckdb.DuckDBPyConnection) -> None:
        if conn.execute("SELECT count(*) FROM articles").fetchone() != (0,):
            raise WarehouseError(f"{target.describe()} already holds articles: copy into an empty warehouse")
        theirs = _tables(conn, _SOURCE)
        for table, cols in _tables(conn, ALIAS).items():
            if table in _SKIP or table not in theirs:
                continue
            names = ", ".join(c for c in cols if c in set(theirs[table]))
            conn.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {_SOURCE}.main.{table}")
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            report.tables[table] = int(row[0]) if row else 0

    # Attached once on the process's lake instance: every session (cursor) of it sees it.
    path = str(source.path).replace("'", "''")
    with target.session() as conn:
        conn.execute(f"ATTACH '{path}' AS {_SOURCE} (READ_ONLY)")
    try:
        target.write(copy)
    finally:
        with target.session() as conn:
            conn.execute(f"DETACH {_SOURCE}")
    report.blobs = _copy_blobs(source_archive, target_archive)
    return report


def _copy_blobs(source_root: str, target_root: str) -> int:
    root = Path(source_root)
    if not root.is_dir() or os.path.abspath(source_root) == os.path.abspath(target_root):
        return 0
    src, dst = RawArchive(source_root), RawArchive(target_root)
    n = 0
    for blob in root.glob("??/??/*.zst"):
        sha = blob.name.removesuffix(".zst")
        dst.put(src.get(sha), sha)
        n += 1
    return n
