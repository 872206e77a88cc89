"""The ``ingest-feeds`` Prefect flow: batch-level tasks, the run id, the summary artifact."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ..helpers import table_rows
from .conftest import serve_news_feed
from .server import FeedServer


@pytest.mark.e2e
def test_flow_runs_batch_tasks_and_publishes_feed_stats(server: FeedServer, tmp_path: Path) -> None:
    from flows.ingest_feeds import ingest_feeds
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    heise, _ = serve_news_feed(server, "rss-parser/heise.atom", "/heise.atom", limit=4)
    nyt, _ = serve_news_feed(
        server, "prof18-rss-parser/nytimes-health_feed-char-escape.xml", "/n.xml", page_offset=60
    )
    db = tmp_path / "news.duckdb"
    with prefect_test_harness(server_startup_timeout=120):
        state = ingest_feeds(
            urls=[heise, nyt], db=str(db), batch_size=10, workers=0, host_delay=0, return_state=True
        )
        assert state.is_completed()
        summary = state.result()
        flow_run_id = state.state_details.flow_run_id

        async def artifacts_and_tasks() -> tuple[dict[str, str], list[str]]:
            from prefect.client.schemas.filters import (
                ArtifactFilter,
                ArtifactFilterFlowRunId,
                FlowRunFilter,
                FlowRunFilterId,
            )

            async with get_client() as client:
                arts = await client.read_artifacts(
                    artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
                )
                tasks = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
                )
            return {a.key: str(a.data) for a in arts if a.key}, [t.name for t in tasks]

        artifacts, task_names = asyncio.run(artifacts_and_tasks())
    assert summary["run_id"] == str(flow_run_id) and summary["status"] == "completed"
    assert table_rows(db, "SELECT run_id, flow, status FROM runs") == [
        (str(flow_run_id), "ingest-feeds", "completed")
    ]
    assert summary["inputs"] == 16 and summary["feeds"]["pages_fetched"] == 5
    # 2 feeds in one poll batch; 16 entries in chunks of 10 -> 2 x (fetch + extract, load), then
    # search, the audit and the source-health check. Never per entry.
    names = sorted(n.rsplit("-", 1)[0] for n in task_names)
    per_batch = ["extract-batch"] * 2 + ["load-batch"] * 2
    assert names == ["audit-warehouse", "check-source-health", *per_batch, "refresh-search"]
    assert all(a["ok"] for a in summary["audit"])
    assert "### Feeds" in artifacts["ingest-feeds-summary"] and "ingest-feeds-counts" in artifacts
    assert "Source health: 0 open drift alert(s)" in artifacts["ingest-feeds-summary"]
