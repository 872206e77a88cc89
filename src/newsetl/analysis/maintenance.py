"""Nightly upkeep of the warehouse: close runs left by dead processes, refresh statistics,
checkpoint the WAL into the database file, and prune what has a retention period.

Each step is a small function of a connection, so the maintenance flow can run them as
one batch task and report what each did.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from newsetl.settings import Settings
from newsetl.storage import runs
from newsetl.storage.base import Warehouse, transaction
from newsetl.storage.raw_archive import RawArchive, archive_root
from newsetl.storage.sqllists import text_list


@dataclass(slots=True)
class StepResult:
    name: str
    seconds: float
    detail: str


@dataclass(slots=True)
class MaintenanceReport:
    db_path: str
    steps: list[StepResult] = field(default_factory=list)
    size_before: int = 0
    size_after: int = 0


Step = Callable[[duckdb.DuckDBPyConnection], str]


def _table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
        [name],
    ).fetchone()
    return bool(row and row[0])


def close_crashed_runs(conn: duckdb.DuckDBPyConnection) -> str:
    with transaction(conn):
        crashed = runs.mark_crashed_runs(conn)
    return f"{len(crashed)} run(s) marked crashed" if crashed else "no abandoned runs"


def prune_fetch_log(retention_days: int) -> Step:
    """Delete HTTP attempt rows older than the retention period (the feeds' fetch log)."""

    def step(conn: duckdb.DuckDBPyConnection) -> str:
        if not _table_exists(conn, "fetches"):
            return "no fetch log yet"
        old = "fetched_at < now() - to_days(?)"
        with transaction(conn):
            row = conn.execute(f"SELECT count(*) FROM fetches WHERE {old}", [retention_days]).fetchone()
            conn.execute(f"DELETE FROM fetches WHERE {old}", [retention_days])
        return f"{row[0] if row else 0} fetch row(s) older than {retention_days} days deleted"

    return step


def refresh_search(store: Warehouse) -> Step:
    """Bring full-text search up to date, however large the backlog (runs skip big ones);
    where the backend keeps its index (the warehouse, or a lake's local search file)."""

    def step(conn: duckdb.DuckDBPyConnection) -> str:
        from newsetl.analysis.search_index import refresh

        report = refresh(store)
        added = sum(c.added for c in report.changes)
        removed = sum(c.removed for c in report.changes)
        return f"search index: {added} added, {removed} removed in {report.seconds:.1f} s"

    return step


def prune_raw_archive(retention_days: int, archive_dir: str | Path) -> Step:
    """Delete raw bytes not seen for ``retention_days`` (0 keeps them forever)."""

    def step(conn: duckdb.DuckDBPyConnection) -> str:
        if retention_days <= 0:
            return "raw archive kept forever (NEWSETL_RAW_RETENTION_DAYS=0)"
        if not _table_exists(conn, "raw_blobs"):
            return "no raw archive yet"
        old = [
            r[0]
            for r in conn.execute(
                """SELECT sha256 FROM raw_blobs
                   WHERE pruned_at IS NULL AND last_seen_at < now() - to_days(?)""",
                [retention_days],
            ).fetchall()
        ]
        archive = RawArchive(archive_dir)
        with transaction(conn):
            conn.execute(
                "UPDATE raw_blobs SET pruned_at = now() "
                "WHERE sha256 IN (SELECT unnest($shas::JSON::VARCHAR[]))",
                {"shas": text_list(old)},
            )
        # Files go after the commit: a crash in between leaves files that are no longer
        # listed (harmless), never listed blobs that are gone.
        for sha in old:
            archive.delete(sha)
        return f"{len(old)} raw blob(s) older than {retention_days} days pruned"

    return step


def default_steps(
    fetch_log_retention_days: int = 30, settings: Settings | None = None, store: Warehouse | None = None
) -> list[tuple[str, Step]]:
    """The nightly steps; the backend adds its own (checkpoint a file, compact a lake)."""
    settings = settings or Settings.from_env()
    steps: list[tuple[str, Step]] = [
        ("close-crashed-runs", close_crashed_runs),
        ("prune-fetch-log", prune_fetch_log(fetch_log_retention_days)),
        ("prune-raw-archive", prune_raw_archive(settings.archive.raw_retention_days, archive_root(settings))),
    ]
    if store is not None:
        steps.append(("refresh-search", refresh_search(store)))
        steps += store.maintenance_steps()
    return steps


def run_maintenance(store: Warehouse, steps: list[tuple[str, Step]] | None = None) -> MaintenanceReport:
    """Run the steps in order, each in its own short session so loads can interleave."""
    report = MaintenanceReport(db_path=store.describe(), size_before=store.size_bytes())
    for name, step in steps if steps is not None else default_steps(store=store):
        t0 = time.perf_counter()
        with store.session() as conn:
            detail = step(conn)
        report.steps.append(StepResult(name, round(time.perf_counter() - t0, 3), detail))
    report.size_after = store.size_bytes()
    return report
