from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from newsetl.errors import WarehouseError, WarehouseLockedError
from newsetl.storage import migrations
from newsetl.storage.extensions import load_extension

from .helpers import store

HOLD_LOCK = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def test_migrations_apply_once_and_are_recorded(db_path: Path) -> None:
    with store(db_path).session() as conn:
        applied = migrations.migrate(conn)
        assert applied == [m.version for m in migrations.migrations()]
        assert migrations.migrate(conn) == []
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
        assert rows[0] == (1, "core")
        tables = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {
        "runs",
        "inputs",
        "articles",
        "article_versions",
        "file_state",
        "schema_migrations",
    } <= tables


def test_edited_migration_is_refused(db_path: Path) -> None:
    with store(db_path).session() as conn:
        migrations.migrate(conn)
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
        with pytest.raises(WarehouseError, match="changed after it was applied"):
            migrations.migrate(conn)


def test_bundled_fts_extension_loads_offline(db_path: Path) -> None:
    with store(db_path).session() as conn:
        load_extension(conn, "fts")
        loaded = conn.execute(
            "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'fts'"
        ).fetchone()
    assert loaded == (True,)


def _hold_lock(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(db_path)).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db_path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_writer_waits_for_the_lock_then_proceeds(db_path: Path) -> None:
    holder = _hold_lock(db_path, 1.5)
    try:
        t0 = time.monotonic()
        with store(db_path, lock_timeout_s=30).session() as conn:
            conn.execute("SELECT 1")
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.wait(timeout=30)


def test_writer_gives_up_with_a_clear_message(db_path: Path) -> None:
    holder = _hold_lock(db_path, 30)
    try:
        with pytest.raises(
            WarehouseLockedError, match=r"held by another process \(PID \d+\).*gave up after 1 s"
        ):
            store(db_path, lock_timeout_s=1).connect()
    finally:
        holder.kill()
        holder.wait()


def test_read_only_on_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="no warehouse at"):
        store(tmp_path / "none.duckdb").connect(read_only=True)


def test_unwritable_location_is_clear(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WarehouseError, match="cannot"):
        store(blocker / "sub" / "news.duckdb").connect()


def test_threads_of_one_process_share_the_file_while_it_is_open(db_path: Path) -> None:
    """The load (main thread) and look-ups in fetching threads use the file at once: every
    session works (DuckDB alone refuses a read-only open beside a read-write one in one
    process, and threads opening and closing the same file race in its instance cache)."""
    import threading

    wh = store(db_path)
    wh.ensure_schema()
    with wh.session() as conn:
        conn.execute("CREATE TABLE t (i INTEGER)")
    errors: list[BaseException] = []

    def work(read_only: bool, seed: int) -> None:
        try:
            for i in range(150):
                with wh.session(read_only=read_only) as conn:
                    if read_only:
                        conn.execute("SELECT count(*) FROM t").fetchall()
                    else:
                        conn.execute("INSERT INTO t VALUES (?)", [seed * 1000 + i])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n % 2 == 0, n)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with wh.session(read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (300,)
    with duckdb.connect(str(db_path)) as conn:  # nothing left open: another opener gets the file
        assert conn.execute("SELECT count(DISTINCT i) FROM t").fetchone() == (300,)


def test_a_write_session_inside_a_read_session_of_the_same_thread_is_refused(db_path: Path) -> None:
    wh = store(db_path)
    wh.ensure_schema()
    with (
        wh.session(read_only=True),
        pytest.raises(WarehouseError, match="inside a read-only"),
        wh.session(),
    ):
        pass
    with wh.session() as conn, wh.session(read_only=True) as reader:  # the other way round works
        conn.execute("CREATE TABLE u (i INTEGER)")
        assert reader.execute("SELECT count(*) FROM schema_migrations").fetchone() is not None


def test_migration_011_keeps_the_links_and_drops_their_key(db_path: Path) -> None:
    """A warehouse made before 011 keeps its near-duplicate links, and the views over them."""
    with store(db_path).session() as conn:
        conn.execute(
            """CREATE TABLE schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL,
               checksum VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"""
        )
        for mig in migrations.migrations():
            if mig.version < 11:
                conn.execute(mig.sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?, now())",
                             [mig.version, mig.name, mig.checksum])  # fmt: skip
        conn.execute(
            """INSERT INTO near_duplicates
               SELECT 'a' || i, 'b' || i, 0.5, 'minhash-bottom128-w3', 'r1', now() FROM range(3) t(i)"""
        )
        conn.execute("INSERT INTO article_clusters SELECT 'a' || i, 'b' || i, now() FROM range(3) t(i)")
        conn.execute("INSERT INTO article_clusters SELECT 'b' || i, 'b' || i, now() FROM range(3) t(i)")

        def keys() -> list[tuple[str, ...]]:
            return conn.execute(
                """SELECT constraint_type FROM duckdb_constraints()
                   WHERE table_name = 'near_duplicates' AND constraint_type = 'PRIMARY KEY'"""
            ).fetchall()

        assert keys() == [("PRIMARY KEY",)]
        assert migrations.migrate(conn) == [m.version for m in migrations.migrations() if m.version >= 11]
        assert keys() == []
        rows = conn.execute("SELECT article_id, duplicate_of FROM near_duplicates ORDER BY 1").fetchall()
        assert rows == [("a0", "b0"), ("a1", "b1"), ("a2", "b2")]
        not_null = conn.execute(
            """SELECT count(*) FROM duckdb_constraints()
               WHERE table_name = 'near_duplicates' AND constraint_type = 'NOT NULL'"""
        ).fetchone()
        assert not_null == (6,)
        conn.execute("SELECT * FROM story_clusters").fetchall()  # the views still resolve
