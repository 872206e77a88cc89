"""The storage seam: what a warehouse backend gives the pipeline, the sources and the analysis.

A backend decides how a connection to the warehouse is opened and closed (a DuckDB file
with its single-writer lock, or a DuckLake attached over a catalog database), which
migrations apply to it, how a batch transaction is retried when a concurrent writer got in
first, and where the raw archive and the search index live. Everything else talks SQL that
runs on every backend: ``MERGE INTO`` instead of ``INSERT OR REPLACE``/``ON CONFLICT``,
uniqueness checked by the loader (anti-joins inside the batch transaction) rather than by
constraints, no stored macros. :class:`Capabilities` says what a backend can do beyond that.
"""

from __future__ import annotations

import abc
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import duckdb

from newsetl.errors import TransientError
from newsetl.settings import StorageSettings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend offers beyond the portable SQL every module may use."""

    name: str  # 'duckdb-file' or 'ducklake'
    constraints: bool  # PRIMARY KEY / UNIQUE / CHECK are enforced by the database
    macros: bool  # CREATE MACRO persists in the warehouse (search_articles)
    fts_in_place: bool  # the fts extension can index the warehouse's own tables
    single_writer: bool  # one writing process at a time (the file lock)
    time_travel: bool  # queries AT (VERSION => n)
    change_feed: bool  # table_changes() between snapshots
    # A memory limit bounds a load transaction (NEWSETL_LOAD_MEMORY_MB): what it reads are
    # DuckDB blocks of the file, evicted past the limit. A lake writes Parquet through
    # buffers (an S3 upload part: 76.5 MiB) that a small limit would refuse.
    bounded_load_memory: bool


class ConflictError(TransientError):
    """A concurrent writer committed first; the whole batch transaction must be redone."""


class Warehouse(abc.ABC):
    """One warehouse, opened from :class:`StorageSettings`. Cheap to create; holds no
    connection between calls, so other processes can get in between."""

    capabilities: ClassVar[Capabilities]
    # Attempts for a transaction that keeps hitting a concurrent writer's commit.
    max_conflict_retries: ClassVar[int] = 8

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings

    # -- what a backend provides ------------------------------------------------------------

    @abc.abstractmethod
    def connect(self, *, read_only: bool = False, at: str | None = None) -> duckdb.DuckDBPyConnection:
        """A connection with the warehouse attached and selected (``USE``); ``at`` (a snapshot
        version or a timestamp) reads it as it was then, where the backend keeps history."""

    @abc.abstractmethod
    def describe(self) -> str:
        """What to show users: the file path or the lake's catalog and data path."""

    @abc.abstractmethod
    def raw_archive_root(self) -> str:
        """Default location of the raw archive (a directory, or an s3:// prefix)."""

    @abc.abstractmethod
    def size_bytes(self) -> int:
        """Bytes the warehouse takes on local disk (0 when not local)."""

    @abc.abstractmethod
    def ensure_schema(self) -> None:
        """Create or upgrade the warehouse's tables (migrations); cheap when current."""

    def is_conflict(self, exc: BaseException) -> bool:
        """True when ``exc`` means another writer committed a conflicting change first."""
        return False

    @property
    def migration_set(self) -> str:
        """Which migrations apply: the name of the backend (see storage.migrations)."""
        return self.capabilities.name

    # -- built on top ---------------------------------------------------------------------

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection held only for the ``with`` block."""
        conn = self.connect(read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()

    def note_unstarted(self, row: dict[str, Any]) -> None:  # noqa: B027 - optional, a no-op by default
        """Remember a run that could not even be recorded (the warehouse was unavailable), so
        the next run records it; a backend without that problem keeps nothing."""

    def take_unstarted(self) -> list[dict[str, Any]]:
        """Runs noted by :meth:`note_unstarted` since the last call."""
        return []

    def maintenance_steps(self) -> list[tuple[str, Callable[[duckdb.DuckDBPyConnection], str]]]:
        """The backend's own nightly upkeep (checkpoint a file; flush, compact, expire a lake)."""
        return []

    def storage_stats(self, conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Numbers ``newsetl status`` shows about the storage itself (files, snapshots)."""
        return {}

    @contextmanager
    def search_session(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Where the full-text index lives beside ``articles`` (the warehouse itself, unless
        the backend cannot hold one)."""
        with self.session(read_only=read_only) as conn:
            conn.execute(
                """CREATE OR REPLACE TEMP VIEW search_keys AS
                   SELECT article_id, content_hash, language FROM articles"""
            )
            yield conn

    def write(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``fn`` in one write transaction: all of it commits, or none of it.

        When a concurrent writer committed a conflicting change first, the transaction is
        redone from the start (``fn`` must decide again from what it reads), with
        exponential back-off; that is how uniqueness holds without constraints.
        """
        delay = 0.05
        for attempt in range(1, self.max_conflict_retries + 1):
            with self.session() as conn:
                conn.execute("BEGIN TRANSACTION")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException as exc:
                    rollback_quietly(conn)
                    if not self.is_conflict(exc) or attempt == self.max_conflict_retries:
                        if self.is_conflict(exc):
                            raise ConflictError(
                                f"gave up after {attempt} conflicting commits: {exc}"
                            ) from exc
                        raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")  # pragma: no cover


def rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    # No transaction may be left to roll back (a failed COMMIT already ended it).
    with contextlib.suppress(duckdb.Error):
        conn.execute("ROLLBACK")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing on an open connection (no retry: see :meth:`Warehouse.write`)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        rollback_quietly(conn)
        raise
    conn.execute("COMMIT")
