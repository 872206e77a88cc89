"""The DuckDB warehouse: connections that respect the single-writer rule, and migrations.

DuckDB allows one writing process per database file. Writers here hold a connection only
for the duration of a load transaction; when another process holds the lock, they wait
with exponential back-off up to a timeout and then fail with a clear message.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb

from newsetl.errors import WarehouseError, WarehouseLockedError

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


@cache
def extension_directory() -> str | None:
    """Directory of the DuckDB extensions shipped as PyPI packages (duckdb-ext-*).

    Extensions are never downloaded at run time: air-gapped machines must work too.
    """
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "extensions"
        if path.is_dir():
            return str(path)
    return None


def _config() -> dict[str, str | bool | int | float | list[str]]:
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": True,
    }
    ext = extension_directory()
    if ext:
        config["extension_directory"] = ext
    return config


def is_lock_error(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


def connect(
    db_path: str | Path,
    *,
    read_only: bool = False,
    timeout_s: float = 60.0,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting (exponential back-off with jitter) while it is locked."""
    path = Path(db_path)
    if read_only and not path.exists():
        raise WarehouseError(f"no warehouse at {path} (run an ingest first, or pass --db)")
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WarehouseError(f"cannot create directory for {path}: {exc.strerror}") from exc
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=_config())
        except duckdb.Error as exc:
            if not is_lock_error(exc):
                raise WarehouseError(f"cannot open warehouse {path}: {_one_line(exc)}") from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = _lock_holder(exc)
                raise WarehouseLockedError(
                    f"warehouse {path} is locked by another writer{holder}; "
                    f"gave up after {timeout_s:g} s (set NEWSETL_LOCK_TIMEOUT to wait longer)"
                ) from exc
            time.sleep(min(remaining, delay * (0.5 + random.random())))
            delay = min(delay * 2, 2.0)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _lock_holder(exc: BaseException) -> str:
    m = re.search(r"\(PID (\d+)\)", str(exc))
    return f" (PID {m.group(1)})" if m else ""


@contextmanager
def session(
    db_path: str | Path, *, read_only: bool = False, timeout_s: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection held only for the ``with`` block, so other processes can get in between."""
    conn = connect(db_path, read_only=read_only, timeout_s=timeout_s)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: a batch is either fully in the warehouse or not at all."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


# --- migrations ---------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def _migration_files() -> list[tuple[str, str]]:
    packaged = resources.files("newsetl").joinpath("migrations")
    if packaged.is_dir():
        return [
            (f.name, f.read_text(encoding="utf-8")) for f in packaged.iterdir() if f.name.endswith(".sql")
        ]
    source_tree = Path(__file__).resolve().parents[3] / "warehouse" / "migrations"
    if source_tree.is_dir():
        return [(p.name, p.read_text(encoding="utf-8")) for p in source_tree.glob("*.sql")]
    raise WarehouseError("migration files not found (broken installation?)")


@cache
def migrations() -> tuple[Migration, ...]:
    found: list[Migration] = []
    for name, sql in _migration_files():
        m = _MIGRATION_NAME.match(name)
        if not m:
            raise WarehouseError(f"badly named migration file: {name} (want NNN_name.sql)")
        found.append(Migration(int(m.group(1)), m.group(2), sql))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise WarehouseError("two migration files share a version number")
    return tuple(found)


def migrate(conn: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet recorded in ``schema_migrations``; idempotent."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,
            checksum VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"""
    )
    applied = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()}
    done: list[int] = []
    for mig in migrations():
        if mig.version in applied:
            if applied[mig.version] != mig.checksum:
                raise WarehouseError(
                    f"migration {mig.version:03d}_{mig.name} changed after it was applied; "
                    "add a new migration instead of editing an old one"
                )
            continue
        with transaction(conn):
            conn.execute(mig.sql)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                [mig.version, mig.name, mig.checksum, datetime.now(UTC)],
            )
        done.append(mig.version)
    return done


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def ensure_schema(db_path: str | Path, *, timeout_s: float = 60.0) -> None:
    """Create or upgrade the warehouse; cheap when it is already current."""
    with session(db_path, timeout_s=timeout_s) as conn:
        migrate(conn)


def load_extension(conn: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD a bundled extension, with a clear error when its package is missing."""
    try:
        conn.execute(f"LOAD {name}")
    except duckdb.Error as exc:
        raise WarehouseError(
            f"DuckDB extension '{name}' is not available: install the duckdb-ext-{name} package "
            f"matching duckdb {duckdb.__version__} ({_one_line(exc)})"
        ) from exc
