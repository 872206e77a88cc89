"""Export round trip: what other tools read back equals what the warehouse holds."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pytest

from newsetl.analysis.export import DEFAULT_TABLES, ExportError, export

from .helpers import store


def _source(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _types(db: Path, table: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in _source(db, f"DESCRIBE {table}")}


def test_parquet_round_trip_through_duckdb_polars_and_pandas(corpus_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = export(store(corpus_warehouse), out)
    assert [t.name for t in result.tables] == list(DEFAULT_TABLES)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema_version"] >= 3 and manifest["partitioning"] == "hive, by UTC date"
    for t in result.tables:
        n = _source(corpus_warehouse, f"SELECT count(*) FROM {t.name}")[0][0]
        assert t.rows == n, t.name
        pattern = str(out / t.path)
        # DuckDB without newsetl: same rows, same column types, partition column restored.
        back = duckdb.sql(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)")
        assert back.shape[0] == n, t.name
        back_types = {c: str(ty) for c, ty in zip(back.columns, back.types, strict=True)}
        assert {c: back_types[c] for c in t.columns} == _types(corpus_warehouse, t.name), t.name
        if t.rows:
            assert back_types["date"] == "DATE"
    articles = str(out / "articles" / "**" / "*.parquet")
    df = pl.read_parquet(articles, hive_partitioning=True)
    assert df.height == result.tables[0].rows
    assert df.schema["published_at"] == pl.Datetime("us", "UTC")
    assert df.schema["authors"] == pl.List(pl.String)
    assert df.schema["simhash"] == pl.UInt64 and df.schema["word_count"] == pl.Int32
    assert df.schema["date"] == pl.Date
    # The partition holds what its name says (UTC date of publication, else first seen).
    dated = df.select((pl.coalesce("published_at", "first_seen_at").dt.date() == pl.col("date")).all()).item()
    assert dated
    pdf = pd.read_parquet(out / "articles")
    assert len(pdf) == df.height
    assert str(pdf["published_at"].dtype).startswith("datetime64") and "UTC" in str(pdf["published_at"].dtype)
    assert set(df["article_id"]) == set(pdf["article_id"])


def test_since_and_views_and_text_formats(corpus_warehouse: Path, tmp_path: Path) -> None:
    day = "CAST(coalesce(published_at, first_seen_at) AT TIME ZONE 'UTC' AS DATE)"
    since = _source(corpus_warehouse, f"SELECT CAST(quantile_disc({day}, 0.5) AS DATE) FROM articles")[0][0]
    assert isinstance(since, date)
    expected = _source(corpus_warehouse, f"SELECT count(*) FROM articles WHERE {day} >= '{since}'")[0][0]
    out = tmp_path / "pq"
    result = export(store(corpus_warehouse), out, tables=["articles", "story_clusters"], since=None)
    assert {t.name for t in result.tables} == {"articles", "story_clusters"}
    recent = export(store(corpus_warehouse), tmp_path / "recent", tables=["articles"], since=since)
    assert recent.tables[0].rows == expected and 0 < expected < result.tables[0].rows
    parts = [p.name for p in (tmp_path / "recent" / "articles").iterdir()]
    assert parts and all(p >= f"date={since}" for p in parts)

    csv = export(
        store(corpus_warehouse), tmp_path / "csv", fmt="csv", tables=["latest_articles", "rejections"]
    )
    for t in csv.tables:
        got = duckdb.sql(f"SELECT count(*) FROM read_csv('{tmp_path / 'csv' / t.path}')").fetchone()
        assert got == (t.rows,) and t.rows > 0
    js = export(store(corpus_warehouse), tmp_path / "js", fmt="jsonl", tables=["articles"])
    lines = (tmp_path / "js" / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == js.tables[0].rows
    first = json.loads(lines[0])
    assert isinstance(first["authors"], list) and first["first_seen_at"].endswith("+00")


def test_export_refuses_unknown_tables_and_non_empty_output(corpus_warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no table or view named nope"):
        export(store(corpus_warehouse), tmp_path / "a", tables=["nope"])
    with pytest.raises(ExportError, match="needs a date column"):
        export(store(corpus_warehouse), tmp_path / "b", tables=["story_clusters"], since=date(2024, 1, 1))
    export(store(corpus_warehouse), tmp_path / "c", tables=["runs"])
    with pytest.raises(ExportError, match="not empty"):
        export(store(corpus_warehouse), tmp_path / "c", tables=["runs"])
    again = export(store(corpus_warehouse), tmp_path / "c", tables=["runs"], overwrite=True)
    assert again.tables[0].rows >= 1
