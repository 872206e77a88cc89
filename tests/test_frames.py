"""polars frames in and out of DuckDB without pyarrow (``newsetl.storage.frames``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from newsetl.storage.frames import read_frame, temp_table

ROOT = Path(__file__).resolve().parents[1]

FRAME = pl.DataFrame(
    {
        "id": ["a", "b", None],
        "at": [datetime(2024, 5, 1, 12, 30, tzinfo=UTC), None, datetime(2024, 5, 2, tzinfo=UTC)],
        "hs": [[3, 1, 2], None, []],
        "n": [1, None, 3],
        "day": [date(2024, 5, 1), None, date(2024, 5, 3)],
        "ok": [True, None, False],
    },
    schema={
        "id": pl.Utf8,
        "at": pl.Datetime("us", "UTC"),
        "hs": pl.List(pl.UInt64),
        "n": pl.Int64,
        "day": pl.Date,
        "ok": pl.Boolean,
    },
)


def test_a_frame_is_a_temp_table_for_the_block_readable_many_times() -> None:
    conn = duckdb.connect()
    with temp_table(conn, FRAME) as name:
        # a self-join: DuckDB reads a bare Arrow stream only once per query
        assert conn.execute(f"SELECT count(*) FROM {name} x JOIN {name} y USING (id)").fetchone() == (2,)
        types = dict(conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {name})").fetchall())
        assert types == {
            "id": "VARCHAR",
            "at": "TIMESTAMP WITH TIME ZONE",
            "hs": "UBIGINT[]",
            "n": "BIGINT",
            "day": "DATE",
            "ok": "BOOLEAN",
        }
        back = read_frame(conn, f"SELECT * FROM {name}")
        assert back.columns == FRAME.columns and back.to_dicts() == FRAME.to_dicts()
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


def test_read_frame_is_what_pl_returns(tmp_path: Path) -> None:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("CREATE TABLE t AS SELECT range AS i, now() AS at, [range::UBIGINT] AS hs FROM range(5)")
    sql = "SELECT * FROM t WHERE i >= $lo ORDER BY i"
    ours, theirs = read_frame(conn, sql, {"lo": 2}), conn.execute(sql, {"lo": 2}).pl()
    assert ours.schema == theirs.schema and ours.equals(theirs)


def test_a_failed_statement_in_the_block_keeps_its_error_and_rolls_the_table_back() -> None:
    conn = duckdb.connect()
    conn.execute("BEGIN")
    with pytest.raises(duckdb.Error, match="boom"), temp_table(conn, FRAME, "_t"):
        conn.execute("SELECT error('boom')")  # aborts the transaction: the DROP cannot run
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)


LOADER = textwrap.dedent(
    """
    import importlib.abc, sys
    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("pyarrow", "pandas"):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None
    sys.meta_path.insert(0, Absent())

    from pathlib import Path
    from newsetl.analysis.health import check_sources
    from newsetl.pipeline.engine import run_source
    from newsetl.settings import Settings
    from newsetl.sources.feeds.registry import Subscription, add_feeds
    from newsetl.sources.files import FileSource
    from newsetl.storage.backends import open_warehouse

    docs, db = Path(sys.argv[1]), Path(sys.argv[2])
    settings = Settings.from_env(db=db, workers=1)
    summary = run_source(FileSource([str(docs)]), settings)
    store = open_warehouse(settings)
    check_sources(store)
    with store.session() as conn:
        add_feeds(conn, [Subscription("https://example.org/feed.xml", "Example")])
        linked = conn.execute("SELECT count(*) FROM near_duplicates").fetchone()[0]
    print(summary.report.counts["loaded"], linked, "pyarrow" in sys.modules, "pandas" in sys.modules)
    """
)


def test_loading_needs_neither_pyarrow_nor_pandas(tmp_path: Path) -> None:
    # A user's install without pandas: DuckDB's polars path would import pyarrow (0.3-0.5 s,
    # 25-40 MB in every loading process); the Arrow C stream path does not. Run the loader
    # with both made unimportable: files in, near-duplicates linked, drift checked, a feed added.
    docs = tmp_path / "docs"
    docs.mkdir()
    page = (ROOT / "examples" / "harbour-ferry.html").read_text(encoding="utf-8")
    (docs / "a.html").write_text(page, encoding="utf-8")
    edited = page.replace("took out of service", "withdrew from service").replace("in 1978", "in 1979")
    (docs / "b.html").write_text(edited.replace("harbour-ferry", "harbour-ferry-2"), encoding="utf-8")
    (docs / "c.txt").write_bytes((ROOT / "examples" / "stadtwerke-solar.txt").read_bytes())
    script = tmp_path / "loader.py"
    script.write_text(LOADER, encoding="utf-8")
    res = subprocess.run(
        [sys.executable, str(script), str(docs), str(tmp_path / "w.duckdb")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    loaded, linked, pyarrow, pandas = res.stdout.split()[-4:]
    assert (loaded, pyarrow, pandas) == ("3", "False", "False")
    assert int(linked) >= 1  # the edited copy was scored against the original
