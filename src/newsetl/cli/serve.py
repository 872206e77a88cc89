"""``newsetl serve``: run the deployments of prefect.yaml in one process, without a work pool.

The schedules, parameters and concurrency limits come from prefect.yaml itself, so the
lightest set-up and the worker set-up cannot drift apart.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, serve
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.templating import apply_values


def _load_flow(project: Path, entrypoint: str) -> Flow[Any, Any]:
    path, _, name = entrypoint.partition(":")
    flow: Any = load_flow_from_entrypoint(f"{project / path}:{name}")
    if not isinstance(flow, Flow):
        raise TypeError(f"{entrypoint} is not a Prefect flow")
    return flow


def deployments_from_project(project: Path) -> list[RunnerDeployment]:
    """The deployments declared in ``<project>/prefect.yaml``, as served deployments."""
    config = yaml.safe_load((project / "prefect.yaml").read_text(encoding="utf-8"))
    out: list[RunnerDeployment] = []
    for raw in config.get("deployments") or []:
        dep: dict[str, Any] = apply_values(raw, dict(os.environ), remove_notset=False)  # type: ignore[assignment]
        flow = _load_flow(project, dep["entrypoint"])
        crons = [s["cron"] for s in dep.get("schedules") or [] if s.get("cron") and s.get("active", True)]
        limit = dep.get("concurrency_limit")
        if isinstance(limit, dict):
            limit = limit.get("limit")
        deployment = flow.to_deployment(
            name=dep["name"],
            cron=crons or None,
            parameters=dep.get("parameters") or {},
            description=dep.get("description"),
            tags=dep.get("tags") or None,
            concurrency_limit=limit,
        )
        if not isinstance(deployment, RunnerDeployment):  # only async callers get a coroutine
            raise TypeError("deployments_from_project must be called from synchronous code")
        out.append(deployment)
    return out


class DeployedToWorkPool(RuntimeError):
    """The server already has these deployments on a work pool (``prefect deploy``)."""


def work_pool_deployments(deployments: list[RunnerDeployment]) -> dict[str, str]:
    """``flow/deployment`` -> work pool, for those of ``deployments`` the configured Prefect
    server already runs through a work pool (none without a server)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import get_current_settings

    if not get_current_settings().api.url:
        return {}  # a temporary server of this process: nothing deployed there
    found: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        for d in deployments:
            name = f"{d.flow_name}/{d.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                found[name] = existing.work_pool_name
    return found


def serve_project(project: Path, limit: int | None = None) -> None:
    """Block, running scheduled and manually triggered runs of the project's deployments.

    Refuses (:class:`DeployedToWorkPool`) when the server already has deployments of the same
    names on a work pool: serving would take them over (same names) while workers still pick
    up their runs, and the schedules would fire in two places.
    """
    deployments = deployments_from_project(project)
    taken = work_pool_deployments(deployments)
    if taken:
        names = ", ".join(f"{n} (work pool {p})" for n, p in sorted(taken.items()))
        raise DeployedToWorkPool(
            f"the Prefect server already runs these deployments through a work pool: {names}. "
            "Use a worker for them (`prefect worker start --pool newsetl-pool` in the clone, or "
            "`make worker`), or delete them first to serve them from this process instead "
            "(`prefect deployment delete " + " && prefect deployment delete ".join(sorted(taken)) + "`)."
        )
    os.chdir(project)  # relative paths in parameters mean the same as under a worker
    serve(*deployments, limit=limit)
