"""Read-only queries for analysts and tools, polite to a concurrent writer; a lake's history."""

from __future__ import annotations

import re
from typing import Any

from newsetl.errors import NewsetlError
from newsetl.storage.base import Warehouse

Rows = list[tuple[Any, ...]]
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class HistoryError(NewsetlError):
    """Time travel or a change feed asked of a warehouse that keeps no history."""


def run_query(store: Warehouse, query: str, *, at: str | None = None) -> tuple[list[str], Rows]:
    """Run one query on a read-only connection; waits while a writer holds a file's lock.

    ``at`` (a lake's snapshot version, or a timestamp) runs it against the warehouse as it
    was then. The connection is closed right after, so the next load is not blocked.
    """
    if at is not None:
        _need_history(store, "--at")
    if at is not None or not store.capabilities.single_writer:
        # A lake: a connection of its own, attached READ_ONLY (a DuckDB file opened
        # read-only is already what a session is).
        conn = store.connect(read_only=True, at=at)
        try:
            return _fetch(conn, query)
        finally:
            conn.close()
    with store.session(read_only=True) as conn:
        return _fetch(conn, query)


def _fetch(conn: Any, query: str) -> tuple[list[str], Rows]:
    cur = conn.execute(query)
    columns = [d[0] for d in cur.description] if cur.description else []
    rows = cur.fetchall() if cur.description else []
    return columns, rows


def _need_history(store: Warehouse, what: str) -> None:
    if not store.capabilities.time_travel:
        raise HistoryError(
            f"{what} needs a warehouse that keeps snapshots: a DuckLake (NEWSETL_DB=ducklake:...); "
            f"{store.describe()} is a DuckDB file"
        )


def changes(
    store: Warehouse, *, since: int, table: str = "articles", until: int | None = None
) -> tuple[list[str], Rows]:
    """Rows inserted, updated (pre- and post-image) or deleted in ``table`` after snapshot
    ``since`` (up to ``until``, default the current one): what a downstream consumer missed.
    ``change_type`` is 'insert', 'update_preimage', 'update_postimage' or 'delete'."""
    _need_history(store, "a change feed")
    if not _NAME.match(table):
        raise HistoryError(f"not a table name: {table!r}")
    with store.session(read_only=True) as conn:
        current = until
        if current is None:
            row = conn.execute(
                "SELECT max(snapshot_id) FROM ducklake_snapshots(current_database())"
            ).fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
        if since >= current:
            return ["snapshot_id", "rowid", "change_type"], []
        return _fetch(
            conn,
            f"""SELECT * FROM ducklake_table_changes(current_database(), 'main', '{table}', {int(since) + 1},
                                                      {int(current)}) ORDER BY snapshot_id, rowid""",
        )


def snapshots(store: Warehouse, *, limit: int = 20) -> tuple[list[str], Rows]:
    """The lake's latest snapshots: id, time and what changed."""
    _need_history(store, "snapshots")
    with store.session(read_only=True) as conn:
        return _fetch(
            conn,
            f"""SELECT snapshot_id, snapshot_time, changes FROM ducklake_snapshots(current_database())
                ORDER BY snapshot_id DESC LIMIT {int(limit)}""",
        )
