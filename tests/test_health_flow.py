"""A flow run emits one Prefect event per new drift alert (real temporary Prefect server)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .health_data import Day, warehouse, write_history


def _drift_events() -> list[dict[str, Any]]:
    from prefect.client.orchestration import get_client

    async def read() -> list[dict[str, Any]]:
        async with get_client() as client:
            res = await client._client.post(
                "/events/filter", json={"filter": {"event": {"prefix": ["newsetl.source."]}}, "limit": 50}
            )
            res.raise_for_status()
            return list(res.json()["events"])

    return asyncio.run(read())


@pytest.mark.e2e
def test_flow_run_emits_an_event_per_new_alert(tmp_path: Path) -> None:
    from flows.ingest_files import ingest_files
    from prefect.events.worker import EventsWorker
    from prefect.testing.utilities import prefect_test_harness

    db = tmp_path / "news.duckdb"
    store = warehouse(db)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=15)
    write_history(store, "drift.example", start, [Day()] * 14 + [Day(words=200)] * 2)
    with prefect_test_harness(server_startup_timeout=120):
        summary = ingest_files(paths=[str(ROOT / "examples")], db=str(db), workers=0)
        assert summary["status"] == "completed"
        EventsWorker.drain_all()
        deadline = time.monotonic() + 30  # the server persists events asynchronously
        events: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            events = [e for e in _drift_events() if e["event"] == "newsetl.source.drift"]
            if len(events) >= 2:
                break
            time.sleep(0.5)
        # A second run over the same data opens nothing new: no second event.
        ingest_files(paths=[str(ROOT / "examples")], db=str(db), workers=0)
        EventsWorker.drain_all()
        again = [e for e in _drift_events() if e["event"] == "newsetl.source.drift"]
    resources = sorted(e["resource"]["prefect.resource.id"] for e in events)
    assert resources == [
        "newsetl.source.domain:drift.example",
        "newsetl.source.feed:https://drift.example/feed.xml",
    ]
    assert {e["resource"]["newsetl.metric"] for e in events} == {"median_words"}
    assert {e["resource"]["newsetl.source"] for e in events} == {
        "drift.example",
        "https://drift.example/feed.xml",
    }
    assert events[0]["payload"]["baseline"] == 600.0 and events[0]["payload"]["now"] == 200.0
    assert len(again) == 2
