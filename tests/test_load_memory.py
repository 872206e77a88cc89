"""The load transaction's DuckDB memory limit (``engine.LoadMemory``, NEWSETL_LOAD_MEMORY_MB)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from newsetl.pipeline.engine import LoadMemory
from newsetl.settings import MB, Settings
from newsetl.sources.files import ingest_files

from .helpers import table_rows

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _limit_bytes(conn: duckdb.DuckDBPyConnection) -> int:
    (limit,) = conn.execute("SELECT value FROM duckdb_settings() WHERE name = 'memory_limit'").fetchone() or (
        "",
    )
    number, unit = str(limit).split()
    return int(float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit])


def test_the_limit_holds_during_the_transaction_and_grows_with_the_indexes(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    default = _limit_bytes(conn)
    memory = LoadMemory(64)
    conn.execute("BEGIN")
    memory.limit(conn)
    assert _limit_bytes(conn) == 64 * MB
    conn.execute("CREATE TABLE t (k VARCHAR PRIMARY KEY)")
    conn.execute("INSERT INTO t SELECT md5(range::VARCHAR) FROM range(200000)")
    memory.lift(conn)
    assert _limit_bytes(conn) == default  # the commit and the checkpoint are never refused
    conn.execute("COMMIT")
    assert memory.indexes > 1 * MB  # the key index it saw
    memory.limit(conn)
    assert _limit_bytes(conn) == 64 * MB + 2 * memory.indexes // 1024 * 1024


def test_a_transaction_that_runs_out_is_redone_with_more_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "news.duckdb"
    settings = Settings.make(db=db, workers=0, lock_timeout_s=20, load_memory_mb=1)
    with caplog.at_level(logging.WARNING, logger="newsetl.run"):
        run = ingest_files([EXAMPLES], settings)
    assert run.report.counts["loaded"] == 3
    assert table_rows(db, "SELECT count(*) FROM articles") == [(3,)]
    assert any("redoing it with 2 MB" in r.getMessage() for r in caplog.records)


def test_past_the_ceiling_the_rest_of_the_run_has_no_limit(tmp_path: Path) -> None:
    memory = LoadMemory(1, ceiling_mb=2)
    assert memory.grow(RuntimeError("out of memory")) and not memory.off  # 2 MB
    assert memory.grow(RuntimeError("out of memory")) and memory.off  # 4 MB > 2: none
    assert not memory.grow(RuntimeError("out of memory"))  # nothing left to give: re-raised
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    default = _limit_bytes(conn)
    conn.execute("SET memory_limit = '1MB'")
    memory.limit(conn)  # a limit left by the failed attempt is reset
    assert _limit_bytes(conn) == default


def test_zero_means_duckdbs_default(tmp_path: Path) -> None:
    settings = Settings.make(db=tmp_path / "news.duckdb", workers=0, load_memory_mb=0)
    assert ingest_files([EXAMPLES], settings).report.counts["loaded"] == 3
    with pytest.raises(ValueError, match="load_memory_mb"):
        Settings.make(load_memory_mb=-1)
