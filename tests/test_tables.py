"""Readable output: tables that fit the terminal, "0 rows", tab-separated when piped; the
history prefix rule; ingest-feeds with nothing due."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from newsetl.cli.app import app
from newsetl.cli.tables import fit_columns, render, shorten
from newsetl.sources.feeds.registry import Subscription, add_feeds

from .health_data import Day, warehouse, write_history

runner = CliRunner()


def invoke(*args: str, columns: int = 80) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns), "NEWSETL_LOCK_TIMEOUT": "5"})
    return result.exit_code, result.stdout, result.stderr


def _feeds_db(tmp_path: Path, n: int = 3) -> Path:
    db = tmp_path / "t.duckdb"
    store = warehouse(db)
    subs = [Subscription(f"https://www.example-{i}.org/very/long/path/to/the/feed/of/section-{i}/rss.xml",
                         f"Feed {i}") for i in range(n)]  # fmt: skip
    store.write(lambda conn: add_feeds(conn, subs))
    return db


def test_feeds_list_fits_80_columns_with_key_columns_first(tmp_path: Path) -> None:
    db = _feeds_db(tmp_path)
    code, out, err = invoke("feeds", "list", "--db", str(db), "--format", "table")
    assert code == 0, err
    lines = out.rstrip("\n").split("\n")
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if "name" in line)
    assert header.index("name") < header.index("health") < header.index("url")
    assert "Feed 0" in out and "…" in out  # the long URL is shortened, not wrapped
    assert "more column(s):" in err and "last_error" in err and "--wide" in err
    # --wide: every column (the table may wrap)
    code, out, _ = invoke("feeds", "list", "--db", str(db), "--format", "table", "--wide", columns=400)
    assert code == 0 and "last_error" in out and "entries_seen" in out


def test_piped_output_is_tab_separated(tmp_path: Path) -> None:
    db = _feeds_db(tmp_path, n=2)
    code, out, _ = invoke("feeds", "list", "--db", str(db))  # CliRunner's stdout is not a terminal
    assert code == 0
    rows = [line.split("\t") for line in out.rstrip("\n").split("\n")]
    assert rows[0][:3] == ["url", "name", "health"] and len(rows) == 3
    assert all(len(r) == len(rows[0]) for r in rows)
    assert rows[1][0].startswith("https://www.example-0.org/") and rows[1][2] == "new"
    code, out, _ = invoke("sql", "SELECT 'a\tb' AS x, NULL AS y, [1, 2] AS z", "--db", str(db))
    assert out == "x\ty\tz\na b\t\t[1, 2]\n"
    code, out, _ = invoke("sql", "SELECT 1 AS n", "--db", str(db), "--format", "json")
    assert json.loads(out) == [{"n": 1}]


def test_an_empty_result_says_0_rows(tmp_path: Path) -> None:
    db = _feeds_db(tmp_path, n=1)
    code, out, _ = invoke("sql", "SELECT * FROM articles", "--db", str(db), "--format", "table")
    assert code == 0 and out.strip() == "0 rows"
    code, out, err = invoke("sql", "SELECT article_id, title FROM articles", "--db", str(db))
    assert out == "article_id\ttitle\n" and "0 rows" in err


def test_story_clusters_and_status_fit_the_terminal(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    store = warehouse(db)
    write_history(store, "alpha.example", datetime(2026, 1, 1, tzinfo=UTC).date(), [Day(articles=3)] * 2)
    cluster = "INSERT INTO article_clusters SELECT article_id, min(article_id) OVER (), now() FROM articles"
    store.write(lambda conn: conn.execute(cluster))
    code, out, err = invoke("sql", "SELECT * FROM story_clusters", "--db", str(db), "--format", "table")
    assert code == 0, err
    assert max(len(line) for line in out.split("\n")) <= 80
    assert "cluster_id" in out and "6" in out
    code, out, err = invoke("status", "--db", str(db), "--format", "table")
    assert code == 0, err
    assert max(len(line) for line in out.split("\n")) <= 80
    assert "flow" in out and "started" in out and "rejected" in out
    code, out, _ = invoke("status", "--db", str(db))
    assert "# totals\n" in out and "articles\tearlier_versions" in out


def test_fitting_rules() -> None:
    kept, widths = fit_columns(["a", "b", "c"], [30, 30, 30], 70, keys=["c"])
    assert kept == [2, 0] and widths[2] == 30 and 8 <= widths[0] <= 30
    kept, widths = fit_columns(["k1", "k2", "x"], [40, 40, 5], 60, keys=["k1", "k2"])
    assert kept[:2] == [0, 1] and 1 + widths[0] + widths[1] + 6 <= 60  # both keys, narrowed
    short = shorten("https://example.org/a/very/long/path/article.html", 24)
    assert len(short) == 24 and short.startswith("https://example") and short.endswith("cle.html")
    assert shorten("a long title that goes on", 10) == "a long ti…"
    buf = io.StringIO()
    console = Console(file=buf, width=60, force_terminal=True, color_system=None)
    render(console, console, ["x"], [], "table")
    assert buf.getvalue().strip() == "0 rows"


def test_history_prefix_rules(tmp_path: Path) -> None:
    db = tmp_path / "h.duckdb"
    store = warehouse(db)
    write_history(store, "alpha.example", datetime(2026, 1, 1, tzinfo=UTC).date(), [Day(articles=40)])
    with store.session(read_only=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT article_id FROM articles ORDER BY 1").fetchall()]
    by4: dict[str, list[str]] = {}
    for i in ids:
        by4.setdefault(i[:4], []).append(i)
    unique = next(p for p, v in by4.items() if len(v) == 1)
    code, out, err = invoke("history", unique, "--db", str(db), columns=200)
    assert code == 0, err
    assert by4[unique][0] in out
    code, _, err = invoke("history", ids[0][:3], "--db", str(db))
    assert code == 1 and "needs at least 4 characters" in err
    code, _, err = invoke("history", "ffffffff", "--db", str(db))
    assert code == 1 and "no article id starts with it" in err
    store.write(lambda conn: conn.execute(
        "UPDATE articles SET article_id = 'abcd01' || substr(article_id, 7) WHERE article_id IN (?, ?)",
        ids[:2]))  # fmt: skip
    code, _, err = invoke("history", "abcd01", "--db", str(db))
    assert code == 1 and "matches more than one article" in err and "give more characters" in err


def test_ingest_feeds_with_nothing_due_says_when_the_next_is(tmp_path: Path) -> None:
    db = tmp_path / "f.duckdb"
    store = warehouse(db)
    code, out, _ = invoke("ingest-feeds", "--db", str(db))
    assert code == 0 and "no feeds registered" in out
    store.write(lambda conn: add_feeds(conn, [Subscription("https://feeds.example/rss", "Example news")]))
    soon = datetime.now(UTC) + timedelta(minutes=42)
    store.write(lambda conn: conn.execute("UPDATE feeds SET next_check_at = ?", [soon]))
    code, out, _ = invoke("ingest-feeds", "--db", str(db), columns=200)
    assert code == 0
    assert "no feed is due (1 registered): the next is Example news" in out
    assert f"{soon:%Y-%m-%d %H:%M} UTC" in out and ("in 41 min" in out or "in 42 min" in out)
    code, out, _ = invoke("ingest-feeds", "--db", str(db), "--json")
    doc = json.loads(out)
    assert doc["feeds_due"] == 0 and doc["next_due_feed"] == "https://feeds.example/rss"
