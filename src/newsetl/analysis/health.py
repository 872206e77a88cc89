"""Source health: drift of each source against its own recent baseline.

A source (``source_inputs``: a domain, a feed, later a sitemap) drifts when a publisher
changes its template or a feed breaks: the median article halves, dates or bylines vanish,
rejections or feed-text fallbacks jump. :func:`detect` is a pure function over a polars
frame of ``source_inputs`` rows and the open alerts; :func:`check_sources` loads the window,
runs it and writes ``source_alerts`` in one transaction (opened, still open, resolved).

Windows, by UTC day of ingestion, relative to the clock passed in (tests inject one):

    baseline: the ``baseline_days`` before the recent window   recent: the last ``recent_days``
    |------------------------------------------------------|-----------|
                                                                        today

An alert compares the recent window with the baseline; once open it keeps the baseline it
was opened with, and resolves when the recent window recovers to that (a drifted period
never becomes its own baseline while the alert is open).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import duckdb
import polars as pl

from newsetl.storage.base import Warehouse
from newsetl.storage.frames import read_frame
from newsetl.storage.sqllists import text_list
from newsetl.storage.writes import Schema, insert

Direction = Literal["drop", "rise"]


@dataclass(frozen=True, slots=True)
class Rule:
    """When ``metric`` has drifted: a drop to ``ratio`` x baseline or less, or a rise to
    ``ratio`` x baseline and at least ``delta`` above it. It clears (with hysteresis, so an
    alert does not flap) when a drop is back to ``recover`` x baseline, or a rise back
    within ``delta / 2`` of the baseline."""

    metric: str
    direction: Direction
    ratio: float
    delta: float
    count: str  # the column that must reach the minimum size: 'articles' or 'considered'
    floor: float = 0.0  # a drop only matters from a baseline of at least this
    recover: float = 0.75
    words: str = ""

    def fires(self, baseline: float, now: float) -> bool:
        if self.direction == "drop":
            return baseline >= self.floor and baseline > 0 and now <= baseline * self.ratio
        return now >= baseline * self.ratio and now - baseline >= self.delta

    def recovered(self, baseline: float, now: float) -> bool:
        if self.direction == "drop":
            return now >= baseline * self.recover
        return now <= baseline + self.delta / 2


RULES: tuple[Rule, ...] = (
    Rule("median_words", "drop", 0.5, 0.0, "articles", words="median words halved"),
    Rule("title_share", "drop", 0.5, 0.0, "articles", floor=0.5, words="titles vanished"),
    Rule("date_share", "drop", 0.5, 0.0, "articles", floor=0.5, words="publication dates vanished"),
    Rule("authors_share", "drop", 0.5, 0.0, "articles", floor=0.5, words="bylines vanished"),
    Rule("language_share", "drop", 0.5, 0.0, "articles", floor=0.5, words="languages vanished"),
    Rule("rejection_rate", "rise", 2.0, 0.2, "considered", words="rejections jumped"),
    Rule("feed_text_share", "rise", 2.0, 0.3, "articles", words="feed-text fallbacks jumped"),
    Rule("duplicate_share", "rise", 2.0, 0.3, "considered", words="exact duplicates jumped"),
)  # fmt: skip
RULE_BY_METRIC = {r.metric: r for r in RULES}


@dataclass(frozen=True, slots=True)
class DriftSettings:
    recent_days: int = 2
    baseline_days: int = 14
    min_recent: int = 5  # articles (or considered inputs) in the recent window
    min_baseline: int = 20  # ... and in the baseline
    min_baseline_days: int = 3  # days with data in the baseline

    def windows(self, today: date) -> tuple[date, date, date]:
        """(baseline start, recent start, today)."""
        recent_start = today - timedelta(days=self.recent_days - 1)
        return recent_start - timedelta(days=self.baseline_days), recent_start, today


@dataclass(slots=True)
class Alert:
    source_key: str
    source_type: str
    source: str
    metric: str
    rule: str
    baseline: float
    now: float
    since: date
    alert_id: str = ""

    def __post_init__(self) -> None:
        if not self.alert_id:
            key = f"{self.source_key}\x00{self.metric}\x00{self.since.isoformat()}"
            self.alert_id = hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(slots=True)
class Drift:
    """What one check decided: alerts to open, open ones still drifting (with their latest
    value), and open ones that recovered (with the value they recovered to)."""

    opened: list[Alert] = field(default_factory=list)
    still_open: dict[str, float] = field(default_factory=dict)
    resolved: dict[str, float] = field(default_factory=dict)


ALERT_SCHEMA: Schema = {
    "alert_id": pl.Utf8, "source_key": pl.Utf8, "source_type": pl.Utf8, "source": pl.Utf8,
    "metric": pl.Utf8, "rule": pl.Utf8, "baseline": pl.Float64, "now": pl.Float64, "since": pl.Date,
    "opened_at": pl.Datetime("us", "UTC"), "opened_run_id": pl.Utf8, "checked_at": pl.Datetime("us", "UTC"),
    "resolved_at": pl.Datetime("us", "UTC"), "resolved_value": pl.Float64,
}  # fmt: skip

INPUT_COLUMNS = ("source_key", "source_type", "source", "day", "outcome", "is_article", "word_count",
                 "has_title", "has_date", "has_authors", "has_language", "feed_text")  # fmt: skip


def _share(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64).mean()  # nulls (inputs that are not articles) skipped


def window_metrics(inputs: pl.DataFrame, by: Sequence[str] = ("source_key",)) -> pl.DataFrame:
    """Per source (or per ``by``, e.g. source and day): sizes (articles, considered inputs,
    days) and every rule's metric."""
    considered = pl.col("outcome") != "unchanged"
    return inputs.group_by(list(by)).agg(
        pl.col("source_type").first(),
        pl.col("source").first(),
        pl.col("day").min().alias("first_day"),
        pl.col("day").n_unique().alias("days"),
        pl.col("is_article").sum().alias("articles"),
        considered.sum().alias("considered"),
        pl.col("word_count").cast(pl.Float64).median().alias("median_words"),
        _share("has_title").alias("title_share"),
        _share("has_date").alias("date_share"),
        _share("has_authors").alias("authors_share"),
        _share("has_language").alias("language_share"),
        _share("feed_text").alias("feed_text_share"),
        ((pl.col("outcome") == "rejected").sum() / considered.sum().clip(1)).alias("rejection_rate"),
        ((pl.col("outcome") == "duplicate").sum() / considered.sum().clip(1)).alias("duplicate_share"),
    )


def detect(
    inputs: pl.DataFrame,
    open_alerts: list[Alert],
    today: date,
    cfg: DriftSettings | None = None,
) -> Drift:
    """Compare each source's recent window with its baseline (pure: no I/O, no clock).

    ``inputs`` holds ``source_inputs`` rows (at least :data:`INPUT_COLUMNS`) of the baseline
    and recent windows; ``open_alerts`` the alerts open now.
    """
    cfg = cfg or DriftSettings()
    base_start, recent_start, _ = cfg.windows(today)
    frame = inputs.filter((pl.col("day") >= base_start) & (pl.col("day") <= today))
    recent = {
        r["source_key"]: r for r in window_metrics(frame.filter(pl.col("day") >= recent_start)).to_dicts()
    }
    base = {r["source_key"]: r for r in window_metrics(frame.filter(pl.col("day") < recent_start)).to_dicts()}
    drift = Drift()
    open_by = {(a.source_key, a.metric): a for a in open_alerts}
    for key, now_row in sorted(recent.items()):
        for rule in RULES:
            now = now_row[rule.metric]
            if now is None or now_row[rule.count] < cfg.min_recent:
                continue
            alert = open_by.get((key, rule.metric))
            if alert is not None:
                if rule.recovered(alert.baseline, float(now)):
                    drift.resolved[alert.alert_id] = float(now)
                else:
                    drift.still_open[alert.alert_id] = float(now)
                continue
            b = base.get(key)
            if b is None or b[rule.count] < cfg.min_baseline or b["days"] < cfg.min_baseline_days:
                continue
            if b[rule.metric] is None:
                continue
            if rule.fires(float(b[rule.metric]), float(now)):
                drift.opened.append(
                    Alert(
                        key,
                        now_row["source_type"],
                        now_row["source"],
                        rule.metric,
                        rule.words,
                        float(b[rule.metric]),
                        float(now),
                        now_row["first_day"],
                    )
                )
    return drift


# --- the load step ----------------------------------------------------------------------------


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The ``seen_at`` range of UTC days ``start``..``end``: filtering on it (rather than on the
    computed ``day``) lets the scan of ``inputs`` skip old row groups and the join with
    ``articles`` start from the window's inputs."""
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return lo, datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)


def load_window(
    conn: duckdb.DuckDBPyConnection, start: date, end: date, keys: Sequence[str] | None = None
) -> pl.DataFrame:
    """``source_inputs`` rows (:data:`INPUT_COLUMNS`) of UTC days ``start``..``end``, of every
    source or of the source ``keys``."""
    lo, hi = day_bounds(start, end)
    only = "AND source_key IN (SELECT unnest($keys::JSON::VARCHAR[]))" if keys is not None else ""
    params: dict[str, Any] = {"lo": lo, "hi": hi}
    if keys is not None:
        params["keys"] = text_list(keys)
    return read_frame(
        conn,
        f"""SELECT {", ".join(INPUT_COLUMNS)} FROM source_inputs
            WHERE seen_at >= $lo AND seen_at < $hi {only}""",
        params,
    )


def load_inputs(conn: duckdb.DuckDBPyConnection, today: date, cfg: DriftSettings) -> pl.DataFrame:
    start, _, end = cfg.windows(today)
    return load_window(conn, start, end)


def read_open_alerts(conn: duckdb.DuckDBPyConnection) -> list[Alert]:
    rows = conn.execute(
        """SELECT source_key, source_type, source, metric, rule, baseline, now, since, alert_id
           FROM source_alerts WHERE resolved_at IS NULL ORDER BY opened_at, alert_id"""
    ).fetchall()
    return [Alert(*r) for r in rows]


@dataclass(slots=True)
class HealthCheck:
    checked_at: datetime
    opened: list[Alert]
    resolved: list[Alert]
    still_open: list[Alert]
    open_total: int = 0  # open alerts after the check, of every source
    today: list[dict[str, Any]] = field(default_factory=list)  # the day's largest domains (day_summary)


def check_sources_in(
    conn: duckdb.DuckDBPyConnection,
    *,
    now: datetime | None = None,
    run_id: str | None = None,
    cfg: DriftSettings | None = None,
) -> HealthCheck:
    """Detect drift and write ``source_alerts`` on ``conn`` (call it inside a transaction)."""
    cfg = cfg or DriftSettings()
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    open_alerts = read_open_alerts(conn)
    drift = detect(load_inputs(conn, today, cfg), open_alerts, today, cfg)
    insert(
        conn,
        "source_alerts",
        [
            {**_alert_row(a), "opened_at": now, "opened_run_id": run_id, "checked_at": now}
            for a in drift.opened
        ],
        ALERT_SCHEMA,
    )
    for alert_id, value in drift.still_open.items():
        conn.execute(
            "UPDATE source_alerts SET now = ?, checked_at = ? WHERE alert_id = ? AND resolved_at IS NULL",
            [value, now, alert_id],
        )
    for alert_id, value in drift.resolved.items():
        conn.execute(
            """UPDATE source_alerts SET now = ?, resolved_value = ?, checked_at = ?, resolved_at = ?
               WHERE alert_id = ? AND resolved_at IS NULL""",
            [value, value, now, now, alert_id],
        )
    by_id = {a.alert_id: a for a in open_alerts}
    return HealthCheck(
        now,
        drift.opened,
        [_with_now(by_id[i], v) for i, v in drift.resolved.items()],
        [_with_now(by_id[i], v) for i, v in drift.still_open.items()],
        len(open_alerts) + len(drift.opened) - len(drift.resolved),
        day_summary(conn, today),
    )


def day_summary(conn: duckdb.DuckDBPyConnection, day: date, limit: int = 10) -> list[dict[str, Any]]:
    """The day's largest domains (the ``source_daily`` figures): what a run's artifact shows
    of the report. Read from ``source_inputs`` within the day's ``seen_at`` range (fast)."""
    lo, hi = day_bounds(day, day)
    return _dicts(
        conn.execute(
            """SELECT source, count(*) FILTER (WHERE is_article) AS articles,
                      count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
                      median(word_count) AS median_words, avg(CAST(has_date AS INTEGER)) AS date_share,
                      avg(CAST(has_authors AS INTEGER)) AS authors_share,
                      avg(CAST(feed_text AS INTEGER)) AS feed_text_share
               FROM source_inputs WHERE source_type = 'domain' AND seen_at >= ? AND seen_at < ?
               GROUP BY source ORDER BY articles DESC, source LIMIT ?""",
            [lo, hi, limit],
        )
    )


def check_sources(
    store: Warehouse,
    *,
    now: datetime | None = None,
    run_id: str | None = None,
    cfg: DriftSettings | None = None,
) -> HealthCheck:
    """:func:`check_sources_in` in one write transaction (redone on a conflicting commit)."""
    return store.write(lambda conn: check_sources_in(conn, now=now, run_id=run_id, cfg=cfg))


def _alert_row(a: Alert) -> dict[str, Any]:
    return {k: getattr(a, k) for k in ("alert_id", "source_key", "source_type", "source", "metric",
                                        "rule", "baseline", "now", "since")}  # fmt: skip


def _with_now(a: Alert, value: float) -> Alert:
    return Alert(
        a.source_key, a.source_type, a.source, a.metric, a.rule, a.baseline, value, a.since, a.alert_id
    )


# --- what `newsetl health` shows ----------------------------------------------------------------

ALERT_COLUMNS = ("source_key", "metric", "baseline", "now", "since", "rule", "opened_at", "checked_at")
FEED_PROBLEM_COLUMNS = ("url", "name", "problem", "error_streak", "last_status", "last_error",
                        "last_success_at", "next_check_at")  # fmt: skip


SITEMAP_PROBLEM_COLUMNS = ("url", "name", "problem", "error_streak", "failing_documents", "last_error",
                           "last_success_at", "next_check_at")  # fmt: skip


@dataclass(slots=True)
class Health:
    alerts: list[dict[str, Any]]
    feed_problems: list[dict[str, Any]]
    sitemap_problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.alerts and not self.feed_problems and not self.sitemap_problems


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def current_health(conn: duckdb.DuckDBPyConnection, *, stale_days: int = 3) -> Health:
    """Open drift alerts, feeds that fail (error streak) or delivered nothing new for
    ``stale_days`` although polled, and sitemaps that fail (whole, or some documents)."""
    tables = _tables(conn)
    alerts: list[dict[str, Any]] = []
    if "source_alerts" in tables:
        alerts = _dicts(
            conn.execute(
                f"""SELECT {", ".join(ALERT_COLUMNS)} FROM source_alerts WHERE resolved_at IS NULL
                    ORDER BY opened_at DESC, source_key, metric"""
            )
        )
    problems: list[dict[str, Any]] = []
    if "feeds" in tables:
        problems = _dicts(
            conn.execute(
                """SELECT url, coalesce(name, title) AS name,
                          CASE WHEN error_streak > 0 THEN 'failing'
                               ELSE 'no new entries for ' || ? || '+ days' END AS problem,
                          error_streak, last_status, last_error, last_success_at, next_check_at
                   FROM feeds
                   WHERE error_streak > 0
                      OR (last_checked_at IS NOT NULL AND last_checked_at > added_at + to_days(?)
                          AND coalesce((SELECT max(first_seen_at) FROM feed_entries AS e
                                        WHERE e.feed = feeds.url), added_at) < last_checked_at - to_days(?))
                   ORDER BY error_streak DESC, url""",
                [stale_days, stale_days, stale_days],
            )
        )
    sitemaps: list[dict[str, Any]] = []
    if "sitemaps" in tables:
        sitemaps = _dicts(
            conn.execute(
                f"""SELECT {", ".join(SITEMAP_PROBLEM_COLUMNS[:2])},
                           CASE WHEN error_streak > 0 THEN 'failing'
                                ELSE failing_documents || ' sitemap document(s) failing' END AS problem,
                           {", ".join(SITEMAP_PROBLEM_COLUMNS[3:])}
                    FROM v_sitemap_health WHERE error_streak > 0 OR failing_documents > 0
                    ORDER BY error_streak DESC, failing_documents DESC, url"""
            )
        )
    return Health(alerts, problems, sitemaps)
