"""Numbered SQL migrations (``warehouse/migrations/NNN_name.sql``), applied once each.

Migrations are shared by every backend; a backend whose SQL must differ (DuckLake has no
PRIMARY KEY, UNIQUE or CHECK constraints) has its own version of a file, with the same
number, in ``warehouse/migrations/<backend>/``. Applied migrations are recorded with a
checksum in ``schema_migrations``: editing one after it ran is refused (add a new one).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import duckdb

from newsetl.errors import WarehouseError

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def _root() -> Traversable:
    packaged = resources.files("newsetl").joinpath("migrations")
    if packaged.is_dir():
        return packaged
    source_tree = Path(__file__).resolve().parents[3] / "warehouse" / "migrations"
    if source_tree.is_dir():
        return source_tree
    raise WarehouseError("migration files not found (broken installation?)")


def _read(folder: Traversable) -> dict[int, Migration]:
    found: dict[int, Migration] = {}
    if not folder.is_dir():
        return found
    for f in folder.iterdir():
        if not f.name.endswith(".sql"):
            continue
        m = _NAME.match(f.name)
        if not m:
            raise WarehouseError(f"badly named migration file: {f.name} (want NNN_name.sql)")
        version = int(m.group(1))
        if version in found:
            raise WarehouseError(f"two migration files share the version number {version:03d}")
        found[version] = Migration(version, m.group(2), f.read_text(encoding="utf-8"))
    return found


@cache
def migrations(backend: str = "duckdb-file") -> tuple[Migration, ...]:
    """The migrations for ``backend``, in order: shared ones, replaced by its own versions."""
    root = _root()
    found = _read(root)
    found.update(_read(root.joinpath(backend)))
    return tuple(found[v] for v in sorted(found))


def migrate(
    conn: duckdb.DuckDBPyConnection,
    backend: str = "duckdb-file",
    serialise: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[int]:
    """Apply every migration not yet recorded in ``schema_migrations``; idempotent.

    ``serialise`` runs first in each migration's transaction: a backend without constraints
    makes two processes applying the same migration conflict there (one is redone)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER NOT NULL, name VARCHAR NOT NULL,
            checksum VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"""
    )
    applied = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()}
    done: list[int] = []
    for mig in migrations(backend):
        if mig.version in applied:
            if applied[mig.version] != mig.checksum:
                raise WarehouseError(
                    f"migration {mig.version:03d}_{mig.name} changed after it was applied; "
                    "add a new migration instead of editing an old one"
                )
            continue
        conn.execute("BEGIN TRANSACTION")
        try:
            if serialise is not None:
                serialise(conn)
            conn.execute(mig.sql)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                [mig.version, mig.name, mig.checksum, datetime.now(UTC)],
            )
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended it already
                conn.execute("ROLLBACK")
            raise
        done.append(mig.version)
    return done


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def is_current(conn: duckdb.DuckDBPyConnection, backend: str) -> bool:
    try:
        return schema_version(conn) >= migrations(backend)[-1].version
    except duckdb.CatalogException:
        return False
