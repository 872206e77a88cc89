"""Where a flow run of a deployment runs: the newsetl clone its worker was started in.

``prefect.yaml`` holds no machine path. Its deployments set the process worker's job
variable ``working_dir: "."``, which the worker resolves against its *own* current
directory when it starts a flow run, and the pull step :func:`enter_project` moves the run
to the root of the clone found there (that directory or one above it). So every worker runs
its own clone's code, and relative parameters (``inbox``, the default warehouse
``warehouse/news.duckdb``) mean that clone's folders — or whatever ``NEWSETL_DB`` in the
worker's environment names. A worker started anywhere else fails the run with a message
that says what to do, not a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from newsetl.errors import NewsetlError

PROJECT_NAME = "newsetl"
_MARKERS = ("prefect.yaml", "flows/_common.py")


class ProjectNotFound(NewsetlError):
    """The flow run is not inside a newsetl clone (a worker started in the wrong place)."""


def _is_project(path: Path) -> bool:
    if not all((path / m).is_file() for m in _MARKERS):
        return False
    try:
        head = (path / "prefect.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.strip() == f"name: {PROJECT_NAME}" for line in head.splitlines())


def find_project(start: str | os.PathLike[str] = ".") -> Path | None:
    """The newsetl clone ``start`` is in (its root: prefect.yaml + flows/), or None."""
    here = Path(start).resolve()
    for candidate in (here, *here.parents):
        if _is_project(candidate):
            return candidate
    return None


def _not_found_message(where: Path) -> str:
    temp = Path(tempfile.gettempdir()).resolve()
    if where.name.endswith("prefect") and where.parent == temp:
        why = (
            f"this flow run started in a temporary directory ({where}): its deployment does not "
            "set the job variable working_dir, so the worker could not say where its clone is. "
            "Re-deploy from the clone with `prefect deploy --all` (prefect.yaml sets "
            'working_dir: "."), or pass --job-variable working_dir=/path/to/newsetl'
        )
    else:
        why = (
            f"the worker that runs it was started in {where}, which is not inside a newsetl clone "
            "(no prefect.yaml of project 'newsetl' with flows/ there or above)"
        )
    return (
        f"newsetl: cannot run this deployment: {why}. Start the worker from the clone whose code "
        "and warehouse it should use: `cd /path/to/newsetl && .venv/bin/prefect worker start "
        "--pool newsetl-pool` (or `make worker`)."
    )


def enter_project(directory: str = ".") -> dict[str, str]:
    """Prefect pull step: ``chdir`` to the root of the clone ``directory`` is in.

    ``directory`` is taken relative to the flow run's start directory (the worker's
    ``working_dir``). Returns ``{"directory": root}`` like Prefect's own
    ``set_working_directory``; raises :class:`ProjectNotFound` with what to do otherwise.
    """
    where = (Path.cwd() / directory).resolve()
    root = find_project(where)
    if root is None:
        message = _not_found_message(where)
        flow_run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
        if flow_run_id:  # in a worker's flow run: fail it with this message, no traceback
            _fail_flow_run(flow_run_id, message)
        raise ProjectNotFound(message)
    os.chdir(root)
    print(f"newsetl: flow run in the clone at {root}", flush=True)
    return {"directory": str(root)}


def _fail_flow_run(flow_run_id: str, message: str) -> None:
    """Mark the flow run Failed with ``message`` and end its process (exit status 1).

    Raising would end the run as Crashed with "Process exited with status code: 1" and a
    traceback of Prefect's step runner; this way the run's state says what to do. The
    worker's later Crashed proposal is refused by the server (the run is already final).
    """
    with contextlib.suppress(Exception):  # no API: fall back to raising
        from prefect.client.orchestration import get_client
        from prefect.states import Failed

        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run_id, Failed(message=message), force=True)
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)
