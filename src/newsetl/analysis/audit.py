"""Invariants of the warehouse, checked on demand and at the end of every flow run.

The ledger is newsetl's promise that nothing is lost: every input is one row with one
outcome, every article traces back to an input, run counts agree with the ledger, and the
raw bytes behind every input are still in the archive. Each check returns the offending
rows (a few examples) so a broken invariant says where to look.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from newsetl.storage.base import Warehouse
from newsetl.storage.raw_archive import RawArchive
from newsetl.storage.runs import pid_is_alive

_EXAMPLES = 5


@dataclass(slots=True)
class Finding:
    check: str
    ok: bool
    detail: str
    examples: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(slots=True)
class AuditReport:
    db_path: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def markdown(self) -> str:
        lines = ["| check | result | detail |", "|---|---|---|"]
        lines += [f"| {f.check} | {'ok' if f.ok else '**FAILED**'} | {f.detail} |" for f in self.findings]
        return "\n".join(lines)


def _rows(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params or []).fetchall()


def _count_check(conn: duckdb.DuckDBPyConnection, name: str, sql: str, good: str, bad: str) -> Finding:
    """A check whose SQL selects the violating rows."""
    rows = _rows(conn, f"SELECT * FROM ({sql}) LIMIT {_EXAMPLES + 1}")
    n = len(rows)
    if n == 0:
        return Finding(name, True, good)
    total = _rows(conn, f"SELECT count(*) FROM ({sql})")[0][0]
    return Finding(name, False, bad.format(n=total), rows[:_EXAMPLES])


def _tables(conn: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in _rows(conn, "SELECT table_name FROM information_schema.tables")}


def run_audit(
    store: Warehouse,
    archive_dir: str | Path | None = None,
    *,
    run_id: str | None = None,
    expect_archive: bool = True,
) -> AuditReport:
    """Check the invariants (read-only). ``run_id`` limits the raw-archive disk check to one
    run's inputs, which is what flows do after each run; ``newsetl audit`` checks everything."""
    report = AuditReport(db_path=store.describe())
    with store.session(read_only=True) as conn:
        tables = _tables(conn)
        add = report.findings.append
        add(
            _count_check(
                conn,
                "one outcome per input",
                """SELECT run_id, source_kind, source_ref, parent_ref, count(*) AS rows FROM inputs
                   GROUP BY ALL HAVING count(*) > 1""",
                "every input has exactly one ledger row per run",
                "{n} input(s) recorded more than once in a run",
            )
        )
        add(
            _count_check(
                conn,
                "outcomes are consistent",
                """SELECT run_id, source_ref, outcome, article_id, reason FROM inputs
                   WHERE outcome NOT IN ('loaded', 'updated', 'unchanged', 'duplicate', 'rejected', 'skipped')
                      OR (outcome IN ('rejected', 'skipped')) <> (article_id IS NULL)
                      OR (outcome IN ('rejected', 'skipped')) <> (reason IS NOT NULL)""",
                "every outcome is valid; only rejected and skipped inputs lack an article and carry a reason",
                "{n} ledger row(s) with an inconsistent outcome",
            )
        )
        add(
            _count_check(
                conn,
                "articles have inputs",
                """SELECT a.article_id, a.source_ref FROM articles a
                   WHERE NOT EXISTS (SELECT 1 FROM inputs i WHERE i.article_id = a.article_id
                                     AND i.outcome IN ('loaded', 'updated'))""",
                "every article was loaded by an input in the ledger",
                "{n} article(s) without a loading input",
            )
        )
        add(
            _count_check(
                conn,
                "inputs point at articles",
                """SELECT i.run_id, i.source_ref, i.article_id FROM inputs i
                   WHERE i.article_id IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.article_id = i.article_id)""",
                "every input with an article id refers to a stored article",
                "{n} input(s) refer to a missing article",
            )
        )
        add(
            _count_check(
                conn,
                "run counts match the ledger",
                """WITH ledger AS (
                       SELECT run_id, count(*) AS n,
                              count(*) FILTER (WHERE outcome = 'loaded') AS loaded,
                              count(*) FILTER (WHERE outcome = 'updated') AS updated,
                              count(*) FILTER (WHERE outcome = 'unchanged') AS unchanged,
                              count(*) FILTER (WHERE outcome = 'duplicate') AS duplicate,
                              count(*) FILTER (WHERE outcome = 'rejected') AS rejected,
                              count(*) FILTER (WHERE outcome = 'skipped') AS skipped
                       FROM inputs GROUP BY run_id)
                   SELECT r.run_id, r.status, r.n_inputs, coalesce(l.n, 0) AS ledger_inputs FROM runs r
                   LEFT JOIN ledger l USING (run_id)
                   WHERE r.status <> 'running' AND (
                       r.n_inputs <> coalesce(l.n, 0)
                       OR r.n_loaded <> coalesce(l.loaded, 0)
                       OR r.n_updated <> coalesce(l.updated, 0)
                       OR r.n_unchanged <> coalesce(l.unchanged, 0)
                       OR r.n_duplicate <> coalesce(l.duplicate, 0)
                       OR r.n_rejected <> coalesce(l.rejected, 0)
                       OR coalesce(r.n_skipped, 0) <> coalesce(l.skipped, 0))""",
                "every finished run's counts equal its ledger rows",
                "{n} run(s) whose counts disagree with the ledger",
            )
        )
        add(
            _count_check(
                conn,
                "inputs belong to runs",
                """SELECT DISTINCT i.run_id FROM inputs i
                   LEFT JOIN runs r USING (run_id) WHERE r.run_id IS NULL""",
                "every ledger row belongs to a recorded run",
                "{n} run id(s) in the ledger without a runs row",
            )
        )
        add(_running_runs(conn))
        add(
            _count_check(
                conn,
                "versions are contiguous",
                """SELECT a.article_id, a.version, count(v.version) AS kept FROM articles a
                   LEFT JOIN article_versions v USING (article_id)
                   GROUP BY ALL HAVING count(v.version) <> a.version - 1
                      OR coalesce(max(v.version), 0) <> a.version - 1""",
                "every article's earlier versions 1..n-1 are kept",
                "{n} article(s) with missing or extra earlier versions",
            )
        )
        add(
            _count_check(
                conn,
                "near-duplicate links are unique",
                """SELECT article_id, duplicate_of, count(*) AS links FROM near_duplicates
                   GROUP BY ALL HAVING count(*) > 1""",
                "one link per pair of articles (kept by the loader: the table has no key)",
                "{n} pair(s) of articles linked more than once",
            )
        )
        if "raw_blobs" in tables:
            add(_archive_check(conn, archive_dir, run_id, expect_archive))
        if "feed_entries" in tables:
            add(
                _count_check(
                    conn,
                    "feed entries point at articles",
                    """SELECT e.* FROM feed_entries e WHERE e.article_id IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.article_id = e.article_id)""",
                    "every feed entry with an article refers to a stored one",
                    "{n} feed entr(ies) refer to a missing article",
                )
            )
    return report


def _running_runs(conn: duckdb.DuckDBPyConnection) -> Finding:
    host = socket.gethostname()
    rows = _rows(conn, "SELECT run_id, flow, hostname, pid, started_at FROM runs WHERE status = 'running'")
    dead = [r for r in rows if r[2] == host and r[3] is not None and not pid_is_alive(int(r[3]))]
    if dead:
        return Finding(
            "no abandoned runs",
            False,
            f"{len(dead)} run(s) still 'running' but their process is gone (the next run or "
            "`newsetl maintenance` marks them 'crashed')",
            dead[:_EXAMPLES],
        )
    elsewhere = [r for r in rows if r[2] != host]
    note = f"; {len(elsewhere)} running on other hosts (not checked)" if elsewhere else ""
    return Finding("no abandoned runs", True, f"{len(rows) - len(elsewhere)} live run(s) here{note}")


def _archive_check(
    conn: duckdb.DuckDBPyConnection, archive_dir: str | Path | None, run_id: str | None, expect_archive: bool
) -> Finding:
    name = "raw archive complete"
    if not expect_archive:
        return Finding(name, True, "raw archiving is switched off (NEWSETL_ARCHIVE_RAW=0)")
    scope = "AND i.run_id = $run" if run_id else ""
    params: dict[str, Any] = {"run": run_id} if run_id else {}
    unindexed = conn.execute(
        f"""SELECT DISTINCT i.sha256, i.source_ref FROM inputs i
            WHERE i.sha256 IS NOT NULL {scope}
              AND NOT EXISTS (SELECT 1 FROM raw_blobs b WHERE b.sha256 = i.sha256)""",
        params,
    ).fetchall()
    if archive_dir is None:
        return Finding(name, not unindexed, "index only (no archive directory given)", unindexed[:_EXAMPLES])
    archive = RawArchive(archive_dir)
    blobs = conn.execute(
        f"""SELECT DISTINCT b.sha256 FROM raw_blobs b
            {"JOIN inputs i ON i.sha256 = b.sha256 AND i.run_id = $run" if run_id else ""}
            WHERE b.pruned_at IS NULL""",
        params,
    ).fetchall()
    missing = [(sha,) for (sha,) in blobs if not archive.exists(sha)]
    if unindexed or missing:
        detail = (
            f"{len(unindexed)} input hash(es) never archived, {len(missing)} indexed blob(s) missing on disk"
        )
        return Finding(name, False, detail, (unindexed + missing)[:_EXAMPLES])
    return Finding(name, True, f"{len(blobs)} blob(s) present in {archive_dir}")
