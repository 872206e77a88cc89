"""Source health: the views, drift alerts on a simulated template change, and their recovery."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from newsetl.analysis.health import RULE_BY_METRIC, DriftSettings, check_sources, current_health, detect

from .health_data import Day, clock, warehouse, write_day, write_history

START = date(2026, 3, 1)


def _metrics(store: object, sql: str) -> list[tuple[object, ...]]:
    with store.session(read_only=True) as conn:  # type: ignore[attr-defined]
        return conn.execute(sql).fetchall()  # type: ignore[no-any-return]


def test_source_daily_counts_per_domain_and_feed(tmp_path: Path) -> None:
    store = warehouse(tmp_path / "h.duckdb")
    # Three skipped inputs (not articles by their type) belong to no source: they change
    # neither the counts nor the rejection rate.
    write_day(store, "news.example", START, Day(articles=4, words=300, rejected=2, duplicates=1,
                                                 dated=False, feed_text=1, skipped=3))  # fmt: skip
    rows = _metrics(
        store,
        """SELECT source_key, inputs, articles, rejected, duplicates, rejection_rate, median_words,
                  title_share, date_share, authors_share, language_share, feed_text_share
           FROM source_daily ORDER BY source_key""",
    )
    expected = (7, 4, 2, 1, 2 / 7, 300.0, 1.0, 0.0, 1.0, 1.0, 0.25)
    assert rows == [("domain:news.example", *expected), ("feed:https://news.example/feed.xml", *expected)]
    reasons = _metrics(store, "SELECT DISTINCT reason, stage FROM source_rejections_daily")
    assert reasons == [("too little text for an article (N words, minimum N)", "extract")]
    (health,) = _metrics(
        store,
        "SELECT source_key, articles_7d, open_alerts FROM source_health WHERE source_type = 'domain'",
    )
    assert health == ("domain:news.example", 4, 0)


def test_drift_fires_on_a_template_change_and_clears_on_recovery(tmp_path: Path) -> None:
    store = warehouse(tmp_path / "h.duckdb")
    normal, broken = Day(), Day(words=250, dated=False)
    last = write_history(store, "a.example", START, [normal] * 14)
    write_history(store, "b.example", START, [normal] * 14)  # a steady neighbour
    check = check_sources(store, now=clock(last), run_id="r0")
    assert check.opened == [] and check.resolved == []

    # The publisher changes its template: shorter text (boilerplate lost), no dates.
    changed = last + timedelta(days=1)
    last = write_history(store, "a.example", changed, [broken] * 2)
    write_history(store, "b.example", changed, [normal] * 2)
    check = check_sources(store, now=clock(last), run_id="r1")
    opened = {(a.source_key, a.metric): a for a in check.opened}
    assert set(opened) == {
        ("domain:a.example", "median_words"), ("domain:a.example", "date_share"),
        ("feed:https://a.example/feed.xml", "median_words"),
        ("feed:https://a.example/feed.xml", "date_share"),
    }  # fmt: skip
    words = opened[("domain:a.example", "median_words")]
    assert (words.baseline, words.now, words.since) == (600.0, 250.0, changed)
    assert opened[("domain:a.example", "date_share")].baseline == 1.0
    assert opened[("domain:a.example", "date_share")].now == 0.0
    from newsetl.analysis.health_notes import health_markdown  # what the run's summary artifact shows

    md = health_markdown(check, check.open_total)
    assert "Source health: 4 open drift alert(s)" in md
    assert "| new | `domain:a.example` | median_words | 600 | 250 |" in md
    assert "| a.example | 10 | 0 | 250 | 0% | 100% | 0% |" in md and "| b.example | 10 |" in md

    # The same day checked again (next flow run): nothing new, the alerts stay open.
    again = check_sources(store, now=clock(last, 20), run_id="r2")
    assert again.opened == [] and len(again.still_open) == 4
    with store.session(read_only=True) as conn:
        health = current_health(conn)
    assert len(health.alerts) == 4 and not health.ok
    assert {a["metric"] for a in health.alerts} == {"median_words", "date_share"}

    # Still broken for a week: open, and the drifted days do not become the baseline.
    last = write_history(store, "a.example", last + timedelta(days=1), [broken] * 7)
    assert check_sources(store, now=clock(last)).resolved == []

    # The extractor learns the new template: the metrics recover and the alerts clear.
    last = write_history(store, "a.example", last + timedelta(days=1), [normal] * 2)
    check = check_sources(store, now=clock(last), run_id="r3")
    assert check.opened == [] and len(check.resolved) == 4
    rows = _metrics(store, "SELECT count(*), count(resolved_at), min(resolved_value) FROM source_alerts")
    assert rows == [(4, 4, 1.0)]
    with store.session(read_only=True) as conn:
        assert current_health(conn).alerts == []
    assert _metrics(store, "SELECT sum(open_alerts) FROM source_health") == [(0,)]


def test_rejection_jump_needs_enough_inputs_and_a_baseline(tmp_path: Path) -> None:
    store = warehouse(tmp_path / "h.duckdb")
    last = write_history(store, "c.example", START, [Day(rejected=1)] * 10)
    # Two rejections too few to matter: fewer than min_recent considered inputs.
    day = last + timedelta(days=1)
    write_day(store, "c.example", day, Day(articles=0, rejected=2))
    assert check_sources(store, now=clock(day)).opened == []
    day += timedelta(days=1)
    write_day(store, "c.example", day, Day(articles=3, rejected=8))
    opened = check_sources(store, now=clock(day)).opened
    assert {(a.source_type, a.metric) for a in opened} == {
        ("domain", "rejection_rate"),
        ("feed", "rejection_rate"),
    }
    assert opened[0].baseline == pytest.approx(1 / 11)

    # A brand-new source has no baseline: nothing fires however it looks.
    write_day(store, "new.example", day, Day(words=50, dated=False, rejected=9))
    assert not [a for a in check_sources(store, now=clock(day)).opened if "new.example" in a.source_key]


def test_detect_is_pure_over_a_frame() -> None:
    today = date(2026, 5, 20)
    rows = []
    for d in range(16):
        day = today - timedelta(days=15 - d)
        words = 100 if d >= 14 else 500
        row = {"source_key": "domain:x", "source_type": "domain", "source": "x", "day": day,
               "outcome": "loaded", "is_article": True, "word_count": words, "has_title": True,
               "has_date": True, "has_authors": d < 14, "has_language": True, "feed_text": False}  # fmt: skip
        rows += [row] * 6
    frame = pl.DataFrame(rows)
    drift = detect(frame, [], today, DriftSettings())
    assert sorted(a.metric for a in drift.opened) == ["authors_share", "median_words"]
    # Too small a window: nothing.
    assert detect(frame, [], today, DriftSettings(min_recent=13)).opened == []
    assert RULE_BY_METRIC["median_words"].recovered(500, 400) and not RULE_BY_METRIC[
        "median_words"
    ].recovered(500, 300)
    assert RULE_BY_METRIC["rejection_rate"].fires(0.05, 0.3) and not RULE_BY_METRIC["rejection_rate"].fires(
        0.05, 0.2
    )


def test_health_command_lists_open_alerts_and_exits_1(tmp_path: Path) -> None:
    from newsetl.cli.app import app

    db = tmp_path / "h.duckdb"
    store = warehouse(db)
    runner = CliRunner()
    env = {"COLUMNS": "120"}
    result = runner.invoke(app, ["health", "--db", str(db), "--format", "table"], env=env)
    assert result.exit_code == 0, result.output
    assert "no open drift alerts" in result.stdout and "no feed problems" in result.stdout
    last = write_history(store, "a.example", START, [Day()] * 14 + [Day(words=200)] * 2)
    check_sources(store, now=clock(last))
    result = runner.invoke(app, ["health", "--db", str(db), "--json"], env=env)
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert {a["metric"] for a in payload["alerts"]} == {"median_words"}
    assert payload["feed_problems"] == []
    result = runner.invoke(app, ["health", "--db", str(db), "--format", "table"], env=env)
    assert result.exit_code == 1 and "domain:a.example" in result.stdout and "median_words" in result.stdout
    piped = runner.invoke(app, ["health", "--db", str(db)], env=env).stdout.split("\n")
    assert piped[0] == "# open drift alerts" and piped[1].startswith("source_key\tmetric\tbaseline")
    assert piped[2].split("\t")[:2] == ["domain:a.example", "median_words"] and "# feed problems" in piped


def test_the_readme_automation_matches_the_drift_event() -> None:
    """automations/source-drift.yaml is a valid Prefect automation whose trigger covers the
    event a flow run emits for a new alert (Prefect's own trigger matching)."""
    import yaml
    from prefect.events.schemas.automations import AutomationCore
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    from newsetl.analysis.health import Alert
    from newsetl.analysis.health_notes import drift_event

    from .conftest import ROOT

    spec = yaml.safe_load((ROOT / "automations" / "source-drift.yaml").read_text())
    automation = AutomationCore.model_validate(spec)
    trigger = EventTrigger.model_validate(automation.trigger.model_dump())
    alert = Alert("feed:https://a.example/rss", "feed", "https://a.example/rss", "date_share",
                  "publication dates vanished", 0.95, 0.0, date(2026, 3, 2))  # fmt: skip
    emitted = drift_event(alert)
    stamp = {"occurred": datetime.now(UTC), "id": uuid.uuid4()}
    event = ReceivedEvent(
        event=emitted["event"], resource=emitted["resource"], payload=emitted["payload"], **stamp
    )
    assert trigger.covers(event)
    assert event.resource["newsetl.metric"] == "date_share"
    assert event.resource["newsetl.source"] == "https://a.example/rss"
    recovered = drift_event(alert, "newsetl.source.recovered")
    assert not trigger.covers(
        ReceivedEvent(event=recovered["event"], resource=recovered["resource"], **stamp)
    )
    assert automation.actions[0].type == "send-notification"


def test_feed_and_sitemap_problems(tmp_path: Path) -> None:
    from newsetl.sources.feeds.registry import Subscription, add_feeds

    store = warehouse(tmp_path / "f.duckdb")
    subs = [Subscription(f"https://{n}.example/rss", n) for n in ("fine", "broken", "quiet")]
    store.write(lambda conn: add_feeds(conn, subs))
    store.write(
        lambda conn: conn.execute(
            """UPDATE feeds SET added_at = now() - INTERVAL 10 DAY, last_checked_at = now(),
                   error_streak = CASE WHEN name = 'broken' THEN 4 ELSE 0 END,
                   last_error = CASE WHEN name = 'broken' THEN 'HTTP 503' END"""
        )
    )
    store.write(
        lambda conn: conn.execute(
            """INSERT INTO feed_entries (feed, entry_key, outcome, first_seen_at, first_run_id, run_id)
               VALUES ('https://fine.example/rss', 'e1', 'loaded', now() - INTERVAL 1 DAY, 'r', 'r')"""
        )
    )
    store.write(
        lambda conn: conn.execute(
            """INSERT INTO sitemaps (url, name, kind, error_streak, last_error, last_checked_at, added_at)
               VALUES ('https://site.example/', 'site', 'site', 2, 'HTTP 500', now(), now()),
                      ('https://ok.example/', 'ok', 'site', 0, NULL, now(), now())"""
        )
    )
    with store.session(read_only=True) as conn:
        health = current_health(conn)
    problems = {p["name"]: p["problem"] for p in health.feed_problems}
    assert problems == {"broken": "failing", "quiet": "no new entries for 3+ days"}
    assert [(p["name"], p["problem"]) for p in health.sitemap_problems] == [("site", "failing")]
    assert not health.ok
