"""Operations: status, maintenance, and serving prefect.yaml's deployments."""

from __future__ import annotations

from pathlib import Path

from newsetl.analysis.maintenance import run_maintenance
from newsetl.analysis.status import warehouse_status
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files

from .conftest import ROOT
from .helpers import store, table_rows


def test_status_reports_runs_rejections_and_size(tmp_path: Path, inline_settings: Settings) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.html").write_bytes(b"")
    for p in (ROOT / "examples").iterdir():
        (inbox / p.name).write_bytes(p.read_bytes())
    ingest_files([inbox], inline_settings)
    st = warehouse_status(store(Path(inline_settings.db)))
    assert st.size_bytes > 0
    sections = {s.title: s for s in st.sections}
    assert sections["totals"].rows[0][0] == 3
    last = sections["last 10 runs"]
    assert last.rows[0][:2] == ("ingest-files", "completed")
    assert dict(zip(last.columns, last.rows[0], strict=True))["rejected"] == 1
    assert sections["rejections in the last 7 days"].rows[0][:3] == ("decode", "empty input", 1)


def test_maintenance_steps_run_and_close_abandoned_runs(tmp_path: Path, inline_settings: Settings) -> None:
    ingest_files([ROOT / "examples"], inline_settings)
    db = Path(inline_settings.db)
    import duckdb

    with duckdb.connect(str(db)) as conn:  # a run whose process is long gone
        conn.execute(
            """INSERT INTO runs (run_id, flow, status, started_at, hostname, pid)
               SELECT 'ghost', 'ingest-files', 'running', now(), hostname, 2147483646 FROM runs LIMIT 1"""
        )
    report = run_maintenance(store(db))
    names = [s.name for s in report.steps]
    assert names == [
        "close-crashed-runs",
        "prune-fetch-log",
        "prune-raw-archive",
        "refresh-search",
        "analyze",
        "checkpoint",
    ]
    assert report.steps[0].detail == "1 run(s) marked crashed"
    assert table_rows(db, "SELECT status FROM runs WHERE run_id = 'ghost'") == [("crashed",)]
    assert not Path(str(db) + ".wal").exists() or Path(str(db) + ".wal").stat().st_size == 0


def test_serve_builds_the_deployments_of_prefect_yaml() -> None:
    from newsetl.cli.serve import deployments_from_project

    deployments = {d.name: d for d in deployments_from_project(ROOT)}
    assert {"inbox", "nightly"} <= set(deployments)
    inbox = deployments["inbox"]
    assert inbox.parameters["paths"] == ["inbox"]
    assert [s.schedule.cron for s in inbox.schedules or []] == ["0 * * * *"]  # type: ignore[union-attr]
    assert inbox.concurrency_limit == 1
