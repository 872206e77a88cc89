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


def serve_project(project: Path, limit: int | None = None) -> None:
    """Block, running scheduled and manually triggered runs of the project's deployments."""
    os.chdir(project)  # relative paths in parameters mean the same as under a worker
    serve(*deployments_from_project(project), limit=limit)
