"""The ``runs`` table: one row per flow run, opened at start and closed with its counts.

Counts are always recomputed from the ``inputs`` ledger, so ``runs`` can never disagree
with it. A run left 'running' by a process that no longer exists is marked 'crashed' the
next time any run starts.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb

from newsetl import __version__
from newsetl.errors import interruption
from newsetl.models import BatchReport, Outcome, RunSummary
from newsetl.pipeline.versions import TRAFILATURA_VERSION

log = logging.getLogger(__name__)


def _jsonable(params: dict[str, Any]) -> str:
    return json.dumps(params, default=str, sort_keys=True)


def pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_crashed_runs(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Runs still 'running' whose process is gone (same host) are marked 'crashed'.

    Runs in the caller's transaction (a write session)."""
    host = socket.gethostname()
    rows = conn.execute("SELECT run_id, hostname, pid FROM runs WHERE status = 'running'").fetchall()
    dead = [
        run_id
        for run_id, run_host, pid in rows
        if run_host == host and pid is not None and pid != os.getpid() and not pid_is_alive(pid)
    ]
    for run_id in dead:
        _close(conn, run_id, "crashed", "process ended without closing the run (killed or crashed)")
    return dead


def start_run(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    flow: str,
    parameters: dict[str, Any],
    extractor_version: str | None = None,
) -> datetime:
    """Record a run as 'running' (a rerun of the same id starts afresh); caller's transaction."""
    mark_crashed_runs(conn)
    started = datetime.now(UTC)
    row = {
        "run_id": run_id,
        "flow": flow,
        "status": "running",
        "started_at": started,
        "parameters": _jsonable(parameters),
        "newsetl_version": __version__,
        "trafilatura_version": TRAFILATURA_VERSION,
        "duckdb_version": duckdb.__version__,
        "python_version": platform.python_version(),
        "extractor_version": extractor_version,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    conn.execute(
        f"""MERGE INTO runs AS t USING (SELECT {", ".join(f"${k} AS {k}" for k in row)}) AS s
            ON t.run_id = s.run_id
            WHEN MATCHED THEN UPDATE SET status = 'running', finished_at = NULL, error = NULL,
                pid = s.pid, hostname = s.hostname
            WHEN NOT MATCHED THEN INSERT ({", ".join(row)}) VALUES ({", ".join(f"s.{k}" for k in row)})""",
        row,
    )
    return started


def record_unstarted(conn: duckdb.DuckDBPyConnection, notes: list[dict[str, Any]]) -> None:
    """Runs that failed before they could be recorded (the warehouse was held by another
    process): a 'failed' row each, with the reason, so ``newsetl status`` shows them too."""
    for n in notes:
        conn.execute(
            """MERGE INTO runs AS t USING (SELECT $run_id AS run_id) AS s ON t.run_id = s.run_id
               WHEN NOT MATCHED THEN INSERT (run_id, flow, status, started_at, finished_at, parameters,
                   newsetl_version, hostname, pid, error)
               VALUES ($run_id, $flow, 'failed', $at, $at, $parameters, $version, $hostname, $pid, $error)""",
            {
                "run_id": n.get("run_id"),
                "flow": n.get("flow") or "?",
                "at": n.get("at"),
                "parameters": n.get("parameters"),
                "version": __version__,
                "hostname": n.get("hostname"),
                "pid": n.get("pid"),
                "error": str(n.get("error") or "")[:1000],
            },
        )


def unstarted_note(run_id: str, flow: str, parameters: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "flow": flow,
        "at": datetime.now(UTC).isoformat(),
        "parameters": _jsonable(parameters),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "error": f"could not start: {exc}",
    }


def _close(conn: duckdb.DuckDBPyConnection, run_id: str, status: str, error: str | None) -> None:
    counts = dict(
        conn.execute(
            "SELECT outcome, count(*) FROM inputs WHERE run_id = ? GROUP BY outcome", [run_id]
        ).fetchall()
    )
    conn.execute(
        """UPDATE runs SET status = ?, finished_at = ?, error = ?, n_inputs = ?, n_loaded = ?,
               n_updated = ?, n_unchanged = ?, n_duplicate = ?, n_rejected = ?, n_skipped = ?
           WHERE run_id = ?""",
        [
            status,
            datetime.now(UTC),
            error,
            sum(counts.values()),
            counts.get(Outcome.LOADED, 0),
            counts.get(Outcome.UPDATED, 0),
            counts.get(Outcome.UNCHANGED, 0),
            counts.get(Outcome.DUPLICATE, 0),
            counts.get(Outcome.REJECTED, 0),
            counts.get(Outcome.SKIPPED, 0),
            run_id,
        ],
    )


def finish_run(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    status: str = "completed",
    error: str | None = None,
) -> RunSummary:
    """Close the run with its counts from the ledger (caller's transaction)."""
    _close(conn, run_id, status, error)
    return run_summary(conn, run_id)


def run_summary(conn: duckdb.DuckDBPyConnection, run_id: str, top: int = 10) -> RunSummary:
    row = conn.execute(
        """SELECT flow, status, started_at, finished_at, n_loaded, n_updated, n_unchanged,
                  n_duplicate, n_rejected, coalesce(n_skipped, 0)
           FROM runs WHERE run_id = ?""",
        [run_id],
    ).fetchone()
    if row is None:
        raise KeyError(run_id)
    flow, status, started, finished, *ns = row
    report = BatchReport()
    for outcome, n in zip(
        (
            Outcome.LOADED,
            Outcome.UPDATED,
            Outcome.UNCHANGED,
            Outcome.DUPLICATE,
            Outcome.REJECTED,
            Outcome.SKIPPED,
        ),
        ns,
        strict=True,
    ):
        report.counts[outcome] = int(n)
    reasons, skips = (
        conn.execute(
            """SELECT stage, reason, count(*) AS n FROM inputs
               WHERE run_id = ? AND outcome = ?
               GROUP BY ALL ORDER BY n DESC, stage, reason LIMIT ?""",
            [run_id, outcome, top],
        ).fetchall()
        for outcome in (Outcome.REJECTED, Outcome.SKIPPED)
    )
    return RunSummary(
        run_id=run_id,
        flow=flow,
        status=status,
        db_path="",
        started_at=started,
        finished_at=finished or datetime.now(UTC),
        report=report,
        top_reasons=[(s, r, int(n)) for s, r, n in reasons],
        top_skipped=[(s, r, int(n)) for s, r, n in skips],
    )


def record_failure(finish: Callable[..., object], run_id: str, exc: BaseException) -> None:
    """Mark a run that stopped on ``exc`` as failed; ``exc`` itself still propagates.

    A signal (Ctrl-C, SIGTERM, Prefect's TerminationSignal) is recorded as
    ``interrupted (SIGTERM)`` and the like, so the ledger tells a stop from a crash.

    A failure to write that (the warehouse locked or gone) is logged, never raised: the
    original error matters more, and the audit reports a run left ``running``.
    """
    reason = interruption(exc) or f"{type(exc).__name__}: {exc}"
    try:
        finish(status="failed", error=reason[:1000])
    except Exception:
        log.exception("could not mark run %s as failed", run_id)
