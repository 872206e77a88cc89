"""The DuckDB-file backend: one ``.duckdb`` file, one writing process at a time.

DuckDB allows one process to open a database file for writing. Writers here hold a
connection only for the duration of a load transaction; when another process holds the
file, they wait with exponential back-off up to ``lock_timeout_s`` and then fail with a
message that says who holds it and how to avoid that.

Within one process, the sessions of several threads (the load in the main thread, a
look-up in a fetching thread) share one open database: DuckDB refuses a read-only open
beside a read-write one in the same process, and threads that open and close the same file
at once race in its instance cache ("Unique file handle conflict"; a crash seen in CI).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import duckdb

from newsetl.errors import WarehouseError, WarehouseLockedError
from newsetl.storage import extensions, migrations
from newsetl.storage.base import Capabilities, Warehouse

_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked")


def is_lock_error(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


def _lock_holder(exc: BaseException) -> str:
    m = re.search(r"\(PID (\d+)\)", str(exc))
    return f" (PID {m.group(1)})" if m else ""


@dataclass
class _Open:
    """This process's open database file and the sessions using it."""

    conn: duckdb.DuckDBPyConnection
    read_only: bool
    threads: list[int] = field(default_factory=list)  # one entry per session


class _OpenFiles:
    """The files this process has open (keyed by pid too), and the condition guarding them."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, str], _Open] = {}
        self.changed = threading.Condition()

    def forget(self) -> None:
        """In a forked child: none open, and a fresh lock (the parent may have held it)."""
        self.held = {}
        self.changed = threading.Condition()


_files = _OpenFiles()
os.register_at_fork(after_in_child=_files.forget)


class DuckDBFile(Warehouse):
    capabilities: ClassVar[Capabilities] = Capabilities(
        name="duckdb-file",
        constraints=True,
        macros=True,
        fts_in_place=True,
        single_writer=True,
        time_travel=False,
        change_feed=False,
        bounded_load_memory=True,
    )

    @property
    def path(self) -> Path:
        return Path(self.settings.db).expanduser()

    def describe(self) -> str:
        return str(self.path)

    def raw_archive_root(self) -> str:
        """``<db dir>/<db name>.raw``: one archive per warehouse file."""
        return str(self.path.with_name(self.path.stem + ".raw"))

    def size_bytes(self) -> int:
        wal = self.path.with_name(self.path.name + ".wal")
        return sum(f.stat().st_size for f in (self.path, wal) if f.exists())

    def exists(self) -> bool:
        return self.path.exists()

    def connect(self, *, read_only: bool = False, at: str | None = None) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (exponential back-off with jitter) while it is locked."""
        if at is not None:
            raise WarehouseError("a DuckDB-file warehouse keeps no history: --at needs a DuckLake warehouse")
        path = self.path
        if read_only and not path.exists():
            raise WarehouseError(f"no warehouse at {path} (run an ingest first, or pass --db)")
        if not read_only:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WarehouseError(f"cannot create directory for {path}: {exc.strerror}") from exc
        timeout_s = self.settings.lock_timeout_s
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                return duckdb.connect(str(path), read_only=read_only, config=extensions.config())
            except duckdb.Error as exc:
                if not is_lock_error(exc):
                    raise WarehouseError(f"cannot open warehouse {path}: {extensions.one_line(exc)}") from exc
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WarehouseLockedError(
                        f"warehouse {path} is held by another process{_lock_holder(exc)} — a writer, or "
                        "a reader that opened it read-write (DuckDB lets one process open a file for "
                        f"writing); gave up after {timeout_s:g} s. Readers: open it with "
                        "read_only=True or newsetl.connect(); several writers: use a DuckLake "
                        "warehouse (NEWSETL_DB=ducklake:...); or wait longer "
                        "(NEWSETL_LOCK_TIMEOUT; --wait for newsetl sql)"
                    ) from exc
                time.sleep(min(remaining, delay * (0.5 + random.random())))
                delay = min(delay * 2, 2.0)

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on this process's open database, opened for the first session and
        closed after the last one, so the file is locked only while some session needs it.

        A read session joins a read-write opening; a write session waits for read-only
        sessions of this process to end, then opens the file for writing."""
        key = (os.getpid(), str(self.path.resolve()))
        me = threading.get_ident()
        files = _files
        changed = files.changed
        with changed:
            while True:
                held = files.held.get(key)
                if held is None:
                    held = files.held[key] = _Open(self.connect(read_only=read_only), read_only)
                    break
                if read_only or not held.read_only:
                    break
                if me in held.threads:  # waiting would wait for itself
                    raise WarehouseError("a write session inside a read-only session of the same thread")
                changed.wait()
            held.threads.append(me)
            try:
                cur = held.conn.cursor()
            except BaseException:
                _leave(files, key, held, me)
                raise
        try:
            yield cur
        finally:
            try:
                cur.close()
            finally:
                with changed:
                    _leave(files, key, held, me)

    @property
    def _unstarted_log(self) -> Path:
        return self.path.with_name(self.path.name + ".unstarted.jsonl")

    def note_unstarted(self, row: dict[str, Any]) -> None:
        """A run that could not get the file: noted beside it (one JSON line, appended; a
        note that cannot be written is not worth failing more for)."""
        with contextlib.suppress(OSError), self._unstarted_log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=str) + "\n")

    def take_unstarted(self) -> list[dict[str, Any]]:
        log = self._unstarted_log
        try:
            taken = log.with_name(log.name + f".{os.getpid()}")
            os.replace(log, taken)  # atomic: a note appended meanwhile goes to a new file
        except FileNotFoundError:
            return []
        rows = []
        for line in taken.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
        taken.unlink(missing_ok=True)
        return rows

    def maintenance_steps(self) -> list[tuple[str, Callable[[duckdb.DuckDBPyConnection], str]]]:
        return [("analyze", _analyze), ("checkpoint", _checkpoint)]

    def ensure_schema(self) -> None:
        """Create or upgrade the warehouse; cheap when it is already current."""
        if self.path.exists():
            # A read-only look first: no write lock taken when there is nothing to do.
            try:
                with self.session(read_only=True) as conn:
                    if migrations.is_current(conn, self.migration_set):
                        return
            except WarehouseError:
                pass
        with self.session() as conn:
            migrations.migrate(conn, self.migration_set)


def _leave(files: _OpenFiles, key: tuple[int, str], held: _Open, thread: int) -> None:
    """One session fewer (the caller holds ``files.changed``); the last one closes the file,
    before any other thread may open it again."""
    held.threads.remove(thread)
    if not held.threads:
        del files.held[key]
        try:
            held.conn.close()
        finally:
            files.changed.notify_all()


def _analyze(conn: duckdb.DuckDBPyConnection) -> str:
    conn.execute("ANALYZE")
    return "statistics refreshed"


def _checkpoint(conn: duckdb.DuckDBPyConnection) -> str:
    conn.execute("FORCE CHECKPOINT")
    return "write-ahead log merged into the database file"
