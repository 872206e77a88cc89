"""SIGTERM/SIGINT stop a feeds run within seconds, even one stuck on a hostile host, and the
run is recorded as failed ('interrupted (SIGTERM)') with the ledger intact."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.cli.signals import stop_on_signals
from newsetl.errors import Interrupted

from ..helpers import store, table_rows
from ..test_cli import NEWSETL
from .conftest import fast_feed_settings, run
from .hostile import RawServer, header_drip


def _audit_green(db: Path) -> None:
    report = run_audit(store(db))
    assert report.ok, [(f.check, f.detail) for f in report.findings if not f.ok]


def _fetch_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("newsetl-fetch") and t.is_alive()]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_run_stuck_on_a_dripping_header(tmp_path: Path, signum: int) -> None:
    """In-process, without Prefect: the signal raises Interrupted in the main thread, the run
    aborts its fetcher and closes; fetch threads are gone when it returns."""
    db = tmp_path / "news.duckdb"
    fs = fast_feed_settings(total_timeout_s=600.0, read_timeout_s=30.0)  # only the signal ends it
    sent_at: list[float] = []
    with RawServer(header_drip(0.2)) as drip:

        def send_signal() -> None:
            if drip.connected.wait(30):
                time.sleep(0.3)
                sent_at.append(time.monotonic())
                os.kill(os.getpid(), signum)

        threading.Thread(target=send_signal, daemon=True).start()
        with pytest.raises(Interrupted), stop_on_signals():
            run([drip.url(), drip.url("/other")], db, fs)
        took = time.monotonic() - sent_at[0]
    print(f"{signal.Signals(signum).name}: run ended {took:.2f} s after the signal")
    assert took < 2.0, f"took {took:.2f} s after the signal"
    assert _fetch_threads() == []
    name = signal.Signals(signum).name
    assert table_rows(db, "SELECT status, error FROM runs") == [("failed", f"interrupted ({name})")]
    _audit_green(db)


@pytest.mark.e2e
def test_sigterm_stops_ingest_feeds_within_seconds(tmp_path: Path, shared_prefect_home: Path) -> None:
    """The issue's reproduction: `newsetl ingest-feeds` against a header that never ends,
    with a 600 s HTTP timeout so that only the signal can end it."""
    db = tmp_path / "news.duckdb"
    env = {
        **os.environ,
        "PREFECT_HOME": str(shared_prefect_home),
        "NEWSETL_PREFECT_IDLE_MIN": "10",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "NEWSETL_HTTP_TIMEOUT": "600",
        "NEWSETL_LOCK_TIMEOUT": "5",
    }
    env.pop("PREFECT_API_URL", None)
    with RawServer(header_drip(1.0)) as drip:
        proc = subprocess.Popen(
            [NEWSETL, "ingest-feeds", drip.url(), "--host-delay", "0", "--db", str(db)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert drip.connected.wait(180), "the run never reached the feed"
            time.sleep(1.0)
            assert proc.poll() is None
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "interrupted (SIGTERM)" in stderr
    print(f"ingest-feeds exited {took:.2f} s after SIGTERM")
    assert took < 5.0, f"took {took:.1f} s after SIGTERM"
    assert table_rows(db, "SELECT status, error FROM runs") == [("failed", "interrupted (SIGTERM)")]
    _audit_green(db)
