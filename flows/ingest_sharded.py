"""Flow ``ingest-sharded``: one ingest split into shards, each a flow run of its own.

It starts ``shards`` runs of a deployment (``ingest-files/sharded`` by default) with
``shard=0 … shards-1``, so every worker of the pool can take one, in its own clone and on
its own machine, all writing into one DuckLake; then it waits for all of them and fails if
one did not complete. See docs/scale-out.md.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment

from newsetl.pipeline.shards import Shard


@flow(name="ingest-sharded")
def ingest_sharded(
    shards: int = 2,
    deployment: str = "ingest-files/sharded",
    parameters: dict[str, Any] | None = None,
    poll_s: float = 2.0,
) -> dict[str, Any]:
    """Fan an ingest out into ``shards`` deployment runs and wait for them.

    Args:
        shards: How many parts (runs); every input belongs to exactly one.
        deployment: ``flow/deployment`` whose flow takes ``shard`` and ``shards``
            (``ingest-files/sharded``, or an ``ingest-feeds`` deployment).
        parameters: Further parameters of every run (e.g. ``{"paths": ["inbox"]}``).
        poll_s: Seconds between two looks at the runs' states.
    """
    Shard(0, shards)  # a bad count fails here, before any run is created
    logger = get_run_logger()
    runs: list[FlowRun] = []
    for i in range(shards):
        started = run_deployment(
            deployment,
            parameters={**(parameters or {}), "shard": i, "shards": shards},
            timeout=0,  # start them all, then wait
            as_subflow=True,
        )
        assert isinstance(started, FlowRun)  # (a coroutine only for async callers)
        runs.append(started)
    logger.info("started %d run(s) of %s: %s", shards, deployment, ", ".join(r.name for r in runs))
    states: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        pending = {r.id for r in runs}
        while pending:
            time.sleep(poll_s)
            for run_id in list(pending):
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    states[str(run_id)] = state.type.value
                    pending.discard(run_id)
    failed = [rid for rid, s in states.items() if s != "COMPLETED"]
    result = {"deployment": deployment, "shards": shards, "runs": states}
    if failed:
        raise RuntimeError(f"{len(failed)} of {shards} shard run(s) did not complete: {result}")
    logger.info("all %d shard run(s) of %s completed", shards, deployment)
    return result
