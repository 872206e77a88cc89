"""Read-only queries for analysts and tools, polite to a concurrent writer."""

from __future__ import annotations

from typing import Any

from newsetl.storage.base import Warehouse


def run_query(store: Warehouse, query: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one query on a read-only connection; waits while a writer holds the lock.

    The connection is closed right after, so the next load is not blocked by a reader.
    """
    with store.session(read_only=True) as conn:
        cur = conn.execute(query)
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if cur.description else []
    return columns, rows
