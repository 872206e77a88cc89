"""Export warehouse tables and views to Parquet, CSV or JSON Lines for tools without newsetl.

Parquet output is partitioned by UTC date, Hive style (``articles/date=2024-05-01/...``),
so polars, pandas/pyarrow, Spark and DuckDB read a date range without touching the rest.
CSV and JSON Lines give one file per table. Every export is one read transaction: all
tables come from the same snapshot, and ``manifest.json`` records it (time, schema
version, row counts, column types, filters).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from newsetl import __version__
from newsetl.errors import NewsetlError
from newsetl.storage.base import Warehouse
from newsetl.storage.migrations import schema_version

FORMATS = ("parquet", "csv", "jsonl")
# The date each table or view is partitioned and filtered (--since) by.
DATE_COLUMNS: dict[str, str] = {
    "articles": "coalesce(published_at, first_seen_at)",
    "article_versions": "seen_at",
    "inputs": "seen_at",
    "runs": "started_at",
    "near_duplicates": "linked_at",
    "article_clusters": "updated_at",
    "latest_articles": "dated_at",
    "article_history": "written_at",
    "article_changes": "changed_at",
    "article_lineage": "seen_at",
    "rejected_sources": "seen_at",
    "story_cluster_members": "first_seen_at",
    "articles_per_day": "day",
}
DEFAULT_TABLES = ("articles", "article_versions", "inputs", "runs", "near_duplicates", "article_clusters")
PARTITION_COLUMN = "date"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class ExportError(NewsetlError):
    """The export cannot run as asked (unknown table, existing output, bad format)."""


@dataclass(slots=True)
class TableExport:
    name: str
    rows: int
    path: str  # relative to the output directory
    partitioned: bool
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ExportResult:
    out_dir: str
    format: str
    snapshot_at: datetime
    tables: list[TableExport]

    @property
    def manifest(self) -> Path:
        return Path(self.out_dir) / "manifest.json"


def exportable(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views an analyst may export (the fts index internals are not)."""
    rows = conn.execute(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name"""
    ).fetchall()
    return [r[0] for r in rows if r[0] != "schema_migrations"]


def export(
    store: Warehouse,
    out_dir: str | Path,
    *,
    fmt: str = "parquet",
    tables: Sequence[str] = (),
    since: date | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write the tables (default: the core tables) from one consistent snapshot."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose {', '.join(FORMATS)})")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"{out} is not empty (pass --overwrite to replace the exported tables' files)")
    out.mkdir(parents=True, exist_ok=True)
    with store.session(read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")  # timestamps in CSV/JSON and partition dates are UTC
        available = exportable(conn)
        wanted = list(dict.fromkeys(tables or [t for t in DEFAULT_TABLES if t in available]))
        unknown = [t for t in wanted if t not in available or not _NAME.match(t)]
        if unknown:
            raise ExportError(
                f"no table or view named {', '.join(unknown)} (available: {', '.join(available)})"
            )
        if since is not None:
            undated = [t for t in wanted if t not in DATE_COLUMNS]
            if undated:
                raise ExportError(f"--since needs a date column; {', '.join(undated)} has none")
        conn.execute("BEGIN TRANSACTION")  # one snapshot for every table
        try:
            snapshot = datetime.now(UTC)
            version = schema_version(conn)
            done = [_export_one(conn, out, name, fmt, since, overwrite) for name in wanted]
        finally:
            conn.execute("ROLLBACK")
    result = ExportResult(str(out), fmt, snapshot, done)
    manifest = {
        "exported_by": f"newsetl {__version__}",
        "snapshot_at": snapshot.isoformat(),
        "schema_version": version,
        "format": fmt,
        "since": since.isoformat() if since else None,
        "partitioning": f"hive, by UTC {PARTITION_COLUMN}" if fmt == "parquet" else None,
        "tables": [asdict(t) for t in done],
    }
    result.manifest.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return result


def _export_one(
    conn: duckdb.DuckDBPyConnection, out: Path, name: str, fmt: str, since: date | None, overwrite: bool
) -> TableExport:
    date_expr = DATE_COLUMNS.get(name)
    where = f"WHERE CAST(({date_expr}) AT TIME ZONE 'UTC' AS DATE) >= $since" if since and date_expr else ""
    if name == "articles_per_day" and since:
        where = "WHERE day >= $since"
    params = {"since": since} if where else {}
    described = conn.execute(f"DESCRIBE SELECT * FROM {name}").fetchall()
    columns = {str(r[0]): str(r[1]) for r in described}
    partitioned = fmt == "parquet" and date_expr is not None and name != "articles_per_day"
    if partitioned:
        day = f"CAST(({date_expr}) AT TIME ZONE 'UTC' AS DATE)"
        query = f"SELECT *, {day} AS {PARTITION_COLUMN} FROM {name} {where}"
        target = out / name
        options = f"FORMAT parquet, PARTITION_BY ({PARTITION_COLUMN}), COMPRESSION zstd"
        options += ", OVERWRITE" if overwrite else ""
        rel = f"{name}/{PARTITION_COLUMN}=*/*.parquet"
    else:
        query = f"SELECT * FROM {name} {where}"
        ext = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}[fmt]
        target = out / f"{name}.{ext}"
        options = {
            "parquet": "FORMAT parquet, COMPRESSION zstd",
            "csv": "FORMAT csv, HEADER true",
            "jsonl": "FORMAT json",
        }[fmt]
        rel = target.name
    path = str(target).replace("'", "''")
    row = conn.execute(f"COPY ({query}) TO '{path}' ({options})", params).fetchone()
    rows = int(row[0]) if row else 0
    if partitioned and rows == 0:
        # No partition to write: leave one empty file with the schema, so readers still find
        # the table (a glob over an empty directory is an error in most readers).
        target.mkdir(parents=True, exist_ok=True)
        empty = str(target / "empty.parquet").replace("'", "''")
        conn.execute(f"COPY ({query} LIMIT 0) TO '{empty}' (FORMAT parquet)", params)
        rel = f"{name}/*.parquet"
    return TableExport(name, rows, rel, partitioned, columns)
