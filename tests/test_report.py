"""``newsetl report``: one self-contained HTML file, rendered in headless Chromium."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from newsetl.analysis.health import check_sources
from newsetl.analysis.report_html import build_report, write_report
from newsetl.sources.feeds.registry import Subscription, add_feeds
from newsetl.storage.base import Warehouse

from .chromium import distinct_colours, render_page
from .health_data import Day, clock, warehouse, write_history

TODAY = date(2026, 4, 20)


def _history(db: Path) -> Warehouse:
    """Three publishers over 20 days, one with a template change, two feeds (one failing),
    and a story that ran on all three."""
    store = warehouse(db)
    start = TODAY - timedelta(days=19)
    write_history(store, "alpha.example", start, [Day(rejected=1)] * 18 + [Day(words=180, dated=False)] * 2)
    write_history(
        store, "beta.example", start, [Day(articles=6, authors=False, rejected=3, feed_text=2)] * 20
    )
    write_history(store, "gamma.example", start + timedelta(days=10), [Day(articles=3, duplicates=1)] * 10)
    check_sources(store, now=clock(TODAY))

    def setup(conn: object) -> None:
        add_feeds(conn, [Subscription("https://alpha.example/feed.xml", "Alpha"),  # type: ignore[arg-type]
                         Subscription("https://beta.example/feed.xml", "Beta <b>&</b>")])  # fmt: skip
        conn.execute(  # type: ignore[attr-defined]
            """UPDATE feeds SET error_streak = 3, last_status = 503, last_error = 'HTTP 503',
                   last_checked_at = now() WHERE url LIKE '%beta%'"""
        )
        conn.execute(  # type: ignore[attr-defined]
            """INSERT INTO article_clusters
               SELECT article_id, min(article_id) OVER (), now()
               FROM articles WHERE title = 'Story 0 of 2026-04-15'"""
        )

    store.write(setup)
    return store


def test_report_is_self_contained_and_shows_every_section(tmp_path: Path) -> None:
    store = _history(tmp_path / "r.duckdb")
    data, html = build_report(store, since=TODAY - timedelta(days=13), today=TODAY)
    assert len(data.days) == 14
    assert set(data.articles_by_source) == {"alpha.example", "beta.example", "gamma.example"}
    assert data.totals["articles"] == 18 * 10 + 2 * 10 + 20 * 6 + 10 * 3
    assert any("too little text" in r for r in data.rejections_by_reason)
    assert {(a["source_key"], a["metric"]) for a in data.alerts} >= {("domain:alpha.example", "median_words")}
    assert data.clusters and data.clusters[0]["articles"] == 3 and data.clusters[0]["outlets"] == 3
    assert data.feed_counts == {"failing": 1, "new": 1}
    headings = (
        "Open drift alerts",
        "Articles per day per source",
        "Rejections by reason",
        "Feed and sitemap health",
        "Metadata completeness per source",
        "Largest story clusters",
    )
    for heading in headings:
        assert f"<h2>{heading}</h2>" in html
    # Nothing to fetch when viewed: no script, no external reference of any kind.
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "Beta &lt;b&gt;&amp;&lt;/b&gt;" in html  # names are escaped


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    store = _history(tmp_path / "r.duckdb")
    out = tmp_path / "out" / "report.html"
    written = write_report(store, out, today=TODAY)
    assert written.path == out.resolve() and written.days == 30 and 10_000 < written.bytes < 2_000_000
    page = render_page(out.resolve().as_uri(), tmp_path / "report.png")
    assert page.console_errors == []
    assert page.requests == [out.resolve().as_uri()]  # the file itself, nothing else
    assert page.title.startswith("newsetl report")
    assert page.text_length > 1000 and page.svg_shapes > 50
    assert len(page.screenshot) > 20_000 and distinct_colours(page.screenshot) >= 16  # not a blank page


def test_empty_warehouse_report_renders_without_errors(tmp_path: Path) -> None:
    store = warehouse(tmp_path / "empty.duckdb")
    out = tmp_path / "empty.html"
    write_report(store, out)
    html = out.read_text()
    assert "no articles in this period" in html and "No open drift alerts" in html
    page = render_page(out.resolve().as_uri(), tmp_path / "empty.png")
    assert page.console_errors == [] and page.text_length > 100


def test_report_command_writes_the_file(tmp_path: Path) -> None:
    from newsetl.cli.app import app

    db = tmp_path / "r.duckdb"
    _history(db)
    out = tmp_path / "rep.html"
    since = (datetime.now().date() - timedelta(days=400)).isoformat()
    result = CliRunner().invoke(app, ["report", "--db", str(db), "--out", str(out), "--since", since])
    assert result.exit_code == 0, result.output
    assert "report written" in result.stdout and out.exists()
    assert "alpha.example" in out.read_text()
    bad = CliRunner().invoke(app, ["report", "--db", str(db), "--since", "yesterday"])
    assert bad.exit_code == 2
