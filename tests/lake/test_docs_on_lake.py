"""The documented SQL answers the same on a lake: the corpus warehouse, moved into a
SQLite-catalog DuckLake with `copy-warehouse`, runs every cookbook query."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.copy import copy_warehouse
from newsetl.storage.duckdb_file import DuckDBFile
from newsetl.storage.ducklake import DuckLake
from newsetl.storage.raw_archive import archive_root

from ..test_docs_sql import sql_blocks
from .conftest import sqlite_lake


@pytest.fixture(scope="module")
def corpus_lake(corpus_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("corpus-lake")
    file_copy = root / "news.duckdb"
    shutil.copy2(corpus_warehouse, file_copy)
    src_settings = Settings.make(db=file_copy, archive_raw=False)
    lake = sqlite_lake(root)
    src, dst = open_warehouse(src_settings), open_warehouse(lake)
    assert isinstance(src, DuckDBFile) and isinstance(dst, DuckLake)
    copy_warehouse(src, dst, archive_root(src_settings), archive_root(lake))
    return lake


# Search queries go through the lake's local search file (the search_articles macro lives
# there, not in the lake): tests/lake/test_lake.py covers them.
LAKE_SQL = [
    s
    for s in sql_blocks()
    if not any(w in s for w in ("search_articles", "search_freshness", "search_index_docs"))
]


@pytest.mark.parametrize("sql", LAKE_SQL, ids=lambda s: " ".join(s.split())[:60])
def test_docs_sql_runs_on_a_lake(corpus_lake: Settings, sql: str) -> None:
    conn = open_warehouse(corpus_lake).connect(read_only=True)
    try:
        statements = conn.extract_statements(sql)
        for statement in statements[:-1]:
            conn.execute(statement)
        rows = conn.execute(statements[-1]).fetchall()
    finally:
        conn.close()
    assert rows, "the query answers nothing on the corpus lake"
