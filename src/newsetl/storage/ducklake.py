"""The DuckLake backend: a team warehouse that many processes and machines write at once.

``ducklake:sqlite:PATH`` keeps the catalog in a SQLite file (many processes on one
machine); ``ducklake:postgres:CONNINFO`` in PostgreSQL (many machines). Data files are
Parquet under the data path: a directory, or ``s3://bucket/prefix`` with credentials and
endpoint from the standard ``AWS_*`` variables. Extensions come from the pinned
``duckdb-ext-*`` packages, never downloaded.

Differences from a DuckDB file, and how they are met:
- No PRIMARY KEY/UNIQUE constraints: every write transaction first updates the one row of
  ``newsetl_commit_lock``, so two overlapping batch transactions conflict and DuckLake fails
  the later COMMIT; :meth:`Warehouse.write` redoes it from a fresh snapshot, where the
  loader's anti-joins see what the other committed. Measured: two writers inserting
  overlapping keys give duplicates without the lock row and none with it.
- Catalog contention ("database is locked" on SQLite, serialization failures on
  PostgreSQL) and commit conflicts are retried the same way.
- No stored macros and no fts on lake tables: search lives in a local DuckDB side file
  (:meth:`DuckLake.search_session`), refreshed from the lake.
- Every commit writes its own small Parquet files; maintenance merges them. (Inlining small
  commits into the catalog, DuckLake's ``DATA_INLINING_ROW_LIMIT``, is off: a connection
  attached before another writer created an inlined-data table fails to read it.)
One attached lake per process is reused (loading the extensions costs ~0.25 s): sessions
are cursors on it. ``newsetl sql`` and :func:`newsetl.connect` attach their own, READ_ONLY.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar
from urllib.parse import urlsplit

import duckdb

from newsetl.errors import WarehouseError, WarehouseLockedError
from newsetl.settings import StorageSettings
from newsetl.storage import extensions, migrations
from newsetl.storage.base import Capabilities, Warehouse, rollback_quietly
from newsetl.storage.duckdb_file import is_lock_error

ALIAS = "lake"
SEARCH_ALIAS = "search"
_CONFLICT_MARKERS = (
    "Transaction conflict",
    "database is locked",
    "Exceeded the maximum retry count",
    "could not serialize access",
    "deadlock detected",
    "has been created by another transaction",
    "another transaction has",
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LakeTarget:
    """A parsed ``ducklake:...`` warehouse target."""

    catalog: str  # 'sqlite' or 'postgres'
    location: str  # the SQLite file, or the PostgreSQL connection string
    data_path: str  # a directory or an s3:// prefix, ending in '/'

    @property
    def is_s3(self) -> bool:
        return self.data_path.startswith("s3://")

    @property
    def uri(self) -> str:
        return f"ducklake:{self.catalog}:{self.location}"


def parse_target(db: str, data_path: str | None) -> LakeTarget:
    """``ducklake:sqlite:PATH`` or ``ducklake:postgres:CONNINFO`` plus the data path."""
    rest = db.removeprefix("ducklake:")
    catalog, sep, location = rest.partition(":")
    if not sep or catalog not in ("sqlite", "postgres") or not location.strip():
        raise WarehouseError(
            f"not a DuckLake target: {db!r} (use ducklake:sqlite:PATH or ducklake:postgres:CONNINFO, "
            "e.g. ducklake:postgres:dbname=news host=db.internal user=etl)"
        )
    location = location.strip()
    if catalog == "sqlite":
        location = str(Path(location).expanduser().resolve())
    if not data_path:
        if catalog == "postgres":
            raise WarehouseError(
                "a PostgreSQL-catalog lake needs a data path shared by every writer: "
                "--data-path / NEWSETL_DATA_PATH (a directory, or s3://bucket/prefix)"
            )
        data_path = str(Path(location).with_suffix("")) + ".lake"
    if not data_path.startswith("s3://"):
        data_path = str(Path(data_path).expanduser().resolve())
    return LakeTarget(catalog, location, data_path.rstrip("/") + "/")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def s3_secret_sql(env: dict[str, str] | None = None) -> str | None:
    """A DuckDB S3 secret from the standard variables; None when no keys are set.

    ``AWS_ENDPOINT_URL`` with ``http://`` means a local S3 (MinIO, moto): no TLS, path style.
    """
    env = dict(os.environ) if env is None else env
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return None
    parts = [
        "TYPE s3",
        f"KEY_ID {_quote(key)}",
        f"SECRET {_quote(secret)}",
        f"REGION {_quote(env.get('AWS_REGION') or env.get('AWS_DEFAULT_REGION') or 'us-east-1')}",
    ]
    if env.get("AWS_SESSION_TOKEN"):
        parts.append(f"SESSION_TOKEN {_quote(env['AWS_SESSION_TOKEN'])}")
    endpoint = env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_S3")
    if endpoint:
        url = urlsplit(endpoint)
        parts.append(f"ENDPOINT {_quote(url.netloc or url.path)}")
        if url.scheme == "http":
            parts += ["USE_SSL false", "URL_STYLE 'path'"]
    return f"CREATE OR REPLACE SECRET newsetl_s3 ({', '.join(parts)})"


def attach_sql(target: LakeTarget, *, read_only: bool = False, at: str | None = None) -> str:
    options = [f"DATA_PATH {_quote(target.data_path)}", "DATA_INLINING_ROW_LIMIT 0"]
    if target.catalog == "sqlite":
        options.append("META_JOURNAL_MODE 'WAL'")  # readers and writers side by side
    if read_only:
        options.append("READ_ONLY")
    if at is not None:
        options.append(f"SNAPSHOT_VERSION {int(at)}" if at.isdigit() else f"SNAPSHOT_TIME {_quote(at)}")
    return f"ATTACH {_quote(target.uri)} AS {ALIAS} ({', '.join(options)})"


# Processes attaching a lake that does not exist yet all create its catalog tables: a SQLite
# catalog is "locked" meanwhile, and on PostgreSQL the loser sees "duplicate key value
# violates unique constraint pg_type_typname_nsp_index" or "already exists". Attaching
# again finds the catalog made.
_ATTACH_RACE = ("database is locked", "duplicate key value", "already exists")


def open_lake(
    target: LakeTarget, *, read_only: bool = False, at: str | None = None, wait_s: float = 60.0
) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with the lake attached and selected."""
    deadline, delay = time.monotonic() + wait_s, 0.05
    while True:
        try:
            return _open_lake(target, read_only=read_only, at=at)
        except duckdb.Error as exc:
            if not any(m in str(exc) for m in _ATTACH_RACE) or time.monotonic() > deadline:
                raise WarehouseError(f"cannot open lake {target.uri}: {extensions.one_line(exc)}") from exc
            time.sleep(delay * (0.5 + random.random()))  # a fresh DuckDB attaches again
            delay = min(delay * 2, 1.0)


def _open_lake(target: LakeTarget, *, read_only: bool, at: str | None) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:", config=extensions.config())
    try:
        for ext in ("ducklake", target.catalog, *(["httpfs"] if target.is_s3 else [])):
            extensions.load_extension(conn, ext)
        secret = s3_secret_sql()
        if secret:
            conn.execute(secret)
        if target.catalog == "sqlite" and not read_only:
            Path(target.location).parent.mkdir(parents=True, exist_ok=True)
        if not target.is_s3 and not read_only:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
        conn.execute(attach_sql(target, read_only=read_only, at=at))
        conn.execute(f"USE {ALIAS}")
        # Retries of DuckLake's own catalog commit (a snapshot id taken by another writer).
        conn.execute("SET ducklake_max_retry_count = 20")
    except BaseException:
        conn.close()
        raise
    return conn


_instances: dict[tuple[int, str, str, bool], duckdb.DuckDBPyConnection] = {}
_instances_lock = threading.Lock()


class DuckLake(Warehouse):
    capabilities: ClassVar[Capabilities] = Capabilities(
        name="ducklake",
        constraints=False,
        macros=False,
        fts_in_place=False,
        single_writer=False,
        time_travel=True,
        change_feed=True,
        bounded_load_memory=False,
    )

    def __init__(self, settings: StorageSettings) -> None:
        super().__init__(settings)
        self.target = parse_target(settings.db, settings.data_path)

    def describe(self) -> str:
        where = self.target.location if self.target.catalog == "sqlite" else _redact(self.target.location)
        return f"ducklake:{self.target.catalog}:{where} (data {self.target.data_path})"

    def raw_archive_root(self) -> str:
        return self.target.data_path + "raw"

    def size_bytes(self) -> int:
        if self.target.is_s3:
            return 0
        root = Path(self.target.data_path)
        files = [root / "main"] if (root / "main").is_dir() else []
        total = sum(f.stat().st_size for d in files for f in d.rglob("*.parquet"))
        if self.target.catalog == "sqlite":
            cat = Path(self.target.location)
            total += sum(p.stat().st_size for p in (cat, cat.with_name(cat.name + "-wal")) if p.exists())
        return total

    def is_conflict(self, exc: BaseException) -> bool:
        return isinstance(exc, duckdb.Error) and any(m in str(exc) for m in _CONFLICT_MARKERS)

    # -- connections -------------------------------------------------------------------------

    def _instance(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        key = (os.getpid(), self.target.uri, self.target.data_path, read_only)
        with _instances_lock:
            conn = _instances.get(key)
            if conn is None:
                conn = _instances[key] = open_lake(
                    self.target, read_only=read_only, wait_s=self.settings.lock_timeout_s
                )
            return conn

    def connect(self, *, read_only: bool = False, at: str | None = None) -> duckdb.DuckDBPyConnection:
        """A connection of its own (for analysts and one-off commands); close it when done.

        ``at``: a snapshot version or a timestamp, for reading the lake as it was then.
        """
        return open_lake(
            self.target, read_only=read_only or at is not None, at=at, wait_s=self.settings.lock_timeout_s
        )

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on this process's attached lake (readers never block writers here).

        Read sessions of newsetl's own code share it too; what users run goes through
        :meth:`connect` (attached READ_ONLY)."""
        cur = self._instance(False).cursor()
        try:
            cur.execute(f"USE {ALIAS}")
            yield cur
        finally:
            cur.close()

    def write(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        def locked(conn: duckdb.DuckDBPyConnection) -> T:
            _take_commit_lock(conn)
            return fn(conn)

        return super().write(locked)

    def ensure_schema(self) -> None:
        """Apply the lake's migrations; two processes racing to create the lake is a
        conflict that one of them retries (and then finds the schema current)."""
        deadline = time.monotonic() + max(self.settings.lock_timeout_s, 5.0)
        delay = 0.05
        while True:
            try:
                with self.session() as conn:
                    if not migrations.is_current(conn, self.migration_set):
                        migrations.migrate(conn, self.migration_set, serialise=_lock_if_there)
                return
            except duckdb.Error as exc:
                # Another process applied the same migration after this one read the schema
                # version ("… already exists"): the next attempt finds it current.
                raced = self.is_conflict(exc) or "already exists" in str(exc)
                if not raced or time.monotonic() > deadline:
                    why = extensions.one_line(exc)
                    raise WarehouseError(f"cannot create or upgrade {self.describe()}: {why}") from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    # -- upkeep ---------------------------------------------------------------------------

    def maintenance_steps(self) -> list[tuple[str, Callable[[duckdb.DuckDBPyConnection], str]]]:
        """Small commits make small files: merge adjacent files, expire snapshots past the
        retention (time travel ends there), then delete the files no snapshot needs. Orphans
        (a writer killed before its COMMIT) are deleted once a day old, so a commit in
        flight never loses its files."""
        days = self.settings.snapshot_retention_days
        return [
            ("merge-small-files", _merge),
            ("expire-snapshots", _expire(days)),
            (
                "delete-old-files",
                _call(
                    f"CALL ducklake_cleanup_old_files('{ALIAS}', cleanup_all => true)",
                    "files of expired snapshots deleted",
                ),
            ),
            (
                "delete-orphaned-files",
                _call(
                    f"CALL ducklake_delete_orphaned_files('{ALIAS}', older_than => now() - INTERVAL 1 DAY)",
                    "files no snapshot references (over a day old) deleted",
                ),
            ),
        ]

    def storage_stats(self, conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
        row = conn.execute(
            f"""SELECT coalesce(sum(file_count), 0), coalesce(sum(delete_file_count), 0),
                       coalesce(sum(file_size_bytes), 0)
                FROM ducklake_table_info('{ALIAS}')"""
        ).fetchone()
        snaps = conn.execute(
            f"SELECT count(*), max(snapshot_id) FROM ducklake_snapshots('{ALIAS}')"
        ).fetchone()
        return {
            "data_files": int(row[0]) if row else 0,
            "delete_files": int(row[1]) if row else 0,
            "data_bytes": int(row[2]) if row else 0,
            "snapshots": int(snaps[0]) if snaps else 0,
            "current_snapshot": int(snaps[1]) if snaps and snaps[1] is not None else 0,
        }

    def search_path(self) -> Path:
        """The local DuckDB file holding this lake's search index (NEWSETL_SEARCH_DB)."""
        env = os.environ.get("NEWSETL_SEARCH_DB")
        if env:
            return Path(env).expanduser()
        if self.target.catalog == "sqlite":
            return Path(self.target.location).with_suffix(".search.duckdb")
        digest = hashlib.sha256(f"{self.target.uri}|{self.target.data_path}".encode()).hexdigest()[:12]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsetl"
        return cache / f"search-{digest}.duckdb"

    @contextmanager
    def search_session(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection whose current database is the local search file, with ``articles``
        (a view of the lake's table) beside the index: the search code runs unchanged."""
        path = self.search_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()  # its own instance: the side file is locked only for this session
        try:
            self._attach_search_file(conn, path)
            conn.execute(f"USE {SEARCH_ALIAS}")
            for ddl in _SEARCH_SCHEMA:
                conn.execute(ddl)
            sync_article_keys(conn)  # O(changes since the last session): also before a search
            yield conn
        finally:
            conn.close()

    def _attach_search_file(self, conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        """The side file is one machine's, but several runs on that machine (two workers, or
        the feeds and inbox deployments at once) refresh it: wait for another's session like
        a DuckDB-file writer waits (``lock_timeout_s``), then fail as transient (retried)."""
        deadline = time.monotonic() + self.settings.lock_timeout_s
        delay = 0.05
        while True:
            try:
                conn.execute(f"ATTACH {_quote(str(path))} AS {SEARCH_ALIAS}")
                return
            except duckdb.Error as exc:
                remaining = deadline - time.monotonic()
                if not is_lock_error(exc) or remaining <= 0:
                    if is_lock_error(exc):
                        raise WarehouseLockedError(
                            f"the local search index {path} stayed held by another process on this "
                            f"machine for {self.settings.lock_timeout_s:g} s (NEWSETL_LOCK_TIMEOUT)"
                        ) from exc
                    raise
                time.sleep(min(remaining, delay * (0.5 + random.random())))
                delay = min(delay * 2, 2.0)


def _call(sql: str, done: str) -> Callable[[duckdb.DuckDBPyConnection], str]:
    def step(conn: duckdb.DuckDBPyConnection) -> str:
        rows = conn.execute(sql).fetchall()
        return f"{done} ({len(rows)})" if rows else done

    return step


def _files(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute(f"SELECT coalesce(sum(file_count), 0) FROM ducklake_table_info('{ALIAS}')").fetchone()
    return int(row[0]) if row else 0


def _merge(conn: duckdb.DuckDBPyConnection) -> str:
    before = _files(conn)
    conn.execute(f"CALL ducklake_merge_adjacent_files('{ALIAS}')")
    return f"data files {before} -> {_files(conn)}"


def _expire(days: int) -> Callable[[duckdb.DuckDBPyConnection], str]:
    def step(conn: duckdb.DuckDBPyConnection) -> str:
        expired = conn.execute(
            f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => now() - to_days(CAST(? AS INTEGER)))",
            [days],
        ).fetchall()
        return f"{len(expired)} snapshot(s) older than {days} days expired"

    return step


def sync_article_keys(conn: duckdb.DuckDBPyConnection) -> int:
    """Bring the side file's copy of (article_id, content_hash, language, ingested_at) up to
    the lake's current snapshot from its change feed: the search refresh then plans from a
    local table, and the lake is read only for what changed. When the last synced snapshot
    has expired (maintenance), the copy is rebuilt from the lake. Returns the ids touched."""
    row = conn.execute(
        f"SELECT min(snapshot_id), max(snapshot_id) FROM ducklake_snapshots('{ALIAS}')"
    ).fetchone()
    oldest, current = (int(row[0]), int(row[1])) if row and row[1] is not None else (0, 0)
    last_row = conn.execute("SELECT max(snapshot_id) FROM search_sync").fetchone()
    last = int(last_row[0]) if last_row and last_row[0] is not None else None
    if last == current:
        return 0
    keys = f"SELECT article_id, content_hash, language, ingested_at FROM {ALIAS}.main.articles"
    conn.execute("BEGIN TRANSACTION")
    try:
        if last is None or last < oldest:
            conn.execute("DELETE FROM article_keys")
            conn.execute(f"INSERT INTO article_keys {keys}")
            touched = conn.execute("SELECT count(*) FROM article_keys").fetchone()
        else:
            conn.execute(
                f"""CREATE OR REPLACE TEMP TABLE _changed AS SELECT DISTINCT article_id
                    FROM ducklake_table_changes('{ALIAS}', 'main', 'articles', {last + 1}, {current})"""
            )
            conn.execute("DELETE FROM article_keys WHERE article_id IN (SELECT article_id FROM _changed)")
            conn.execute(
                f"INSERT INTO article_keys {keys} WHERE article_id IN (SELECT article_id FROM _changed)"
            )
            touched = conn.execute("SELECT count(*) FROM _changed").fetchone()
            conn.execute("DROP TABLE _changed")
        conn.execute("DELETE FROM search_sync")
        conn.execute("INSERT INTO search_sync VALUES (?)", [current])
        conn.execute("COMMIT")
    except BaseException:
        rollback_quietly(conn)
        raise
    return int(touched[0]) if touched else 0


def _lock_if_there(conn: duckdb.DuckDBPyConnection) -> None:
    # From 004 on, two processes applying one migration (nothing "already exists") conflict here.
    q = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'newsetl_commit_lock'"
    if (conn.execute(q).fetchone() or (0,))[0]:
        _take_commit_lock(conn)


def _take_commit_lock(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("UPDATE newsetl_commit_lock SET commits = commits + 1")


def _redact(conninfo: str) -> str:
    return " ".join(p if not p.lower().startswith("password=") else "password=***" for p in conninfo.split())


# The search index's own tables in the side file (the file backend has them from 003).
_SEARCH_SCHEMA = (
    f"CREATE OR REPLACE VIEW articles AS SELECT * FROM {ALIAS}.main.articles",
    # The lake's article keys, synced from its change feed (sync_article_keys).
    """CREATE TABLE IF NOT EXISTS article_keys (
        article_id VARCHAR PRIMARY KEY, content_hash VARCHAR NOT NULL, language VARCHAR,
        ingested_at TIMESTAMPTZ NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS search_sync (snapshot_id BIGINT NOT NULL)",
    "CREATE OR REPLACE TEMP VIEW search_keys AS SELECT article_id, content_hash, language FROM article_keys",
    """CREATE TABLE IF NOT EXISTS search_indexes (
        index_name VARCHAR PRIMARY KEY, stemmer VARCHAR NOT NULL, stopwords INTEGER NOT NULL,
        config VARCHAR NOT NULL, built_at TIMESTAMPTZ NOT NULL, refreshed_at TIMESTAMPTZ NOT NULL,
        articles INTEGER NOT NULL, last_mode VARCHAR NOT NULL, last_ms DOUBLE NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS search_index_docs (
        article_id VARCHAR PRIMARY KEY, index_name VARCHAR NOT NULL, content_hash VARCHAR NOT NULL,
        indexed_at TIMESTAMPTZ NOT NULL)""",
    """CREATE OR REPLACE VIEW search_freshness AS
    SELECT
        (SELECT count(*) FROM article_keys) AS articles,
        (SELECT count(*) FROM article_keys AS a JOIN search_index_docs AS d
            ON d.article_id = a.article_id AND d.content_hash = a.content_hash) AS searchable,
        (SELECT count(*) FROM article_keys AS a LEFT JOIN search_index_docs AS d
            ON d.article_id = a.article_id AND d.content_hash = a.content_hash
            WHERE d.article_id IS NULL) AS pending,
        (SELECT min(a.ingested_at) FROM article_keys AS a LEFT JOIN search_index_docs AS d
            ON d.article_id = a.article_id AND d.content_hash = a.content_hash
            WHERE d.article_id IS NULL) AS oldest_pending_since,
        (SELECT max(refreshed_at) FROM search_indexes) AS refreshed_at,
        (SELECT min(built_at) FROM search_indexes) AS oldest_full_build_at""",
)
