"""The ``ingest-files`` Prefect flow on a real (temporary) Prefect server."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from .conftest import corpus_path
from .helpers import table_rows


@pytest.mark.e2e
def test_flow_records_prefect_run_id_and_artifacts(tmp_path: Path) -> None:
    from flows.ingest_files import ingest_files
    from prefect.client.orchestration import get_client
    from prefect.testing.utilities import prefect_test_harness

    pages = tmp_path / "pages"
    pages.mkdir()
    for p in sorted(corpus_path("fundus", "de").glob("*.html.gz"))[:12]:
        shutil.copy2(p, pages / p.name)
    db = tmp_path / "news.duckdb"
    with prefect_test_harness(server_startup_timeout=120):
        state = ingest_files(paths=[str(pages)], db=str(db), batch_size=5, workers=2, return_state=True)
        assert state.is_completed()
        summary = state.result()
        flow_run_id = state.state_details.flow_run_id

        async def artifacts_and_tasks() -> tuple[set[str], list[str]]:
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
            return {a.key for a in arts if a.key}, [t.name for t in tasks]

        keys, task_names = asyncio.run(artifacts_and_tasks())
    assert summary["run_id"] == str(flow_run_id)
    assert table_rows(db, "SELECT run_id, status FROM runs") == [(str(flow_run_id), "completed")]
    assert summary["counts"]["loaded"] == 12
    assert {"ingest-files-counts", "ingest-files-summary"} <= keys
    # Batch-granular tasks: 12 pages in batches of 5 -> 3 extract + 3 load task runs, not 12+,
    # then one search refresh, one audit and one source-health check at the end.
    assert sorted(n.rsplit("-", 1)[0] for n in task_names) == (
        ["audit-warehouse", "check-source-health"]
        + ["extract-batch"] * 3
        + ["load-batch"] * 3
        + ["refresh-search"]
    )
    assert all(a["ok"] for a in summary["audit"]) and len(summary["audit"]) >= 8
