"""Read-only queries for analysts and tools, polite to a concurrent writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from newsetl.storage.duckdb_file import session


def run_query(
    db_path: str | Path, query: str, *, timeout_s: float = 15.0
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query on a read-only connection; waits while a writer holds the lock.

    The connection is closed right after, so the next load is not blocked by a reader.
    """
    with session(db_path, read_only=True, timeout_s=timeout_s) as conn:
        cur = conn.execute(query)
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if cur.description else []
    return columns, rows
