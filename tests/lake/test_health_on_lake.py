"""Source health on a DuckLake (SQLite catalog): the 008 views and table, drift alerts that
open and clear, and the report — the same SQL as on a DuckDB file."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from newsetl.analysis.health import check_sources
from newsetl.analysis.report_html import build_report
from newsetl.storage.backends import open_warehouse

from ..health_data import Day, clock, write_history
from .conftest import sqlite_lake


def test_drift_and_report_on_a_lake(tmp_path: Path) -> None:
    store = open_warehouse(sqlite_lake(tmp_path).storage)
    store.ensure_schema()
    start = date(2026, 2, 1)
    last = write_history(store, "lake.example", start, [Day()] * 14 + [Day(words=100)] * 2)
    opened = check_sources(store, now=clock(last)).opened
    assert {(a.source_type, a.metric) for a in opened} == {
        ("domain", "median_words"),
        ("feed", "median_words"),
    }
    assert check_sources(store, now=clock(last, 20)).opened == []  # still open, not doubled
    last = write_history(store, "lake.example", last + timedelta(days=1), [Day()] * 2)
    assert len(check_sources(store, now=clock(last)).resolved) == 2
    with store.session(read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(resolved_at) FROM source_alerts").fetchone() == (2, 2)
        assert conn.execute(
            "SELECT sum(articles) FROM source_daily WHERE source_type = 'domain'"
        ).fetchone() == (180,)
    data, html = build_report(store, since=start, today=last)
    assert "lake.example" in data.articles_by_source and "<svg" in html
