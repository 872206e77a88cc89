"""A real Prefect set-up for the tests, started the way a user starts it: a server, the work
pool, ``prefect deploy --all`` from a clone, plain ``prefect worker start`` in other clones
(``git clone`` of this checkout into temporary directories; they share this checkout's
.venv to save the install). The REST API starts and watches flow runs (fast, no CLI start-up).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ROOT
from .helpers import BIN, Processes, free_port, wait_http_ok

PREFECT = str(BIN / "prefect")
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def clone(dest: Path) -> Path:
    """A fresh clone of this checkout's HEAD (committed code: what another machine would get)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout (the workers run in clones of it)")
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, timeout=120)
    return dest


class PrefectStack:
    """A Prefect server (SQLite in ``home``, or PostgreSQL with ``database_url``) and workers."""

    def __init__(self, home: Path, logs: Path, database_url: str | None = None) -> None:
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.logs = logs
        self.procs = Processes()
        self.workers: dict[str, Any] = {}
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSETL_", "PREFECT_", "AWS_"))}
        self.env = {
            **base,
            "PREFECT_HOME": str(home),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        }
        # No scheduler: prefect.yaml's schedules (feeds every 15 min, inbox hourly) would start
        # runs of their own whenever a test crosses those minutes; runs here are started by hand.
        self.server_env = {
            **self.env,
            "PREFECT_SERVER_API_PORT": str(self.port),
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        }
        self.server_env.pop("PREFECT_API_URL")
        if database_url:
            self.server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url

    def start(self) -> PrefectStack:
        cmd = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        self.procs.start(cmd, self.server_env, self.logs / "server.log")
        wait_http_ok(f"{self.api}/health", timeout_s=180)
        return self

    def prefect(self, *args: str, cwd: Path | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            [PREFECT, *args],
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    def deploy(self, project: Path) -> str:
        """What the README says, by hand: the pool, the fetch limit, ``prefect deploy --all``."""
        self.prefect("work-pool", "create", "newsetl-pool", "--type", "process", "--overwrite")
        self.prefect("global-concurrency-limit", "create", "newsetl-fetch", "--limit", "8")
        return self.prefect("--no-prompt", "deploy", "--all", cwd=project)

    def worker(
        self, name: str, cwd: Path, env: dict[str, str] | None = None, limit: int | None = None
    ) -> None:
        """``prefect worker start --pool newsetl-pool`` in ``cwd``, nothing else."""
        cmd = [PREFECT, "worker", "start", "--pool", "newsetl-pool", "--name", name]
        if limit is not None:
            cmd += ["--limit", str(limit)]
        self.workers[name] = self.procs.start(
            cmd, {**self.env, **(env or {})}, self.logs / f"{name}.log", cwd=cwd
        )

    def stop_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)

    def worker_log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def run(self, deployment: str, **parameters: Any) -> str:
        """Start a flow run of ``flow/deployment`` with ``parameters``; its id."""
        with httpx.Client(base_url=self.api, timeout=30) as c:
            dep = c.get(f"/deployments/name/{deployment}")
            dep.raise_for_status()
            made = c.post(f"/deployments/{dep.json()['id']}/create_flow_run", json={"parameters": parameters})
            made.raise_for_status()
            return str(made.json()["id"])

    def wait(self, run_ids: list[str], timeout_s: float = 600) -> dict[str, dict[str, Any]]:
        """Each run's final state (``type``, ``message``), waiting for all of them."""
        deadline = time.monotonic() + timeout_s
        done: dict[str, dict[str, Any]] = {}
        with httpx.Client(base_url=self.api, timeout=30) as c:
            while len(done) < len(run_ids):
                if time.monotonic() > deadline:
                    logs = "\n".join(self.worker_log(n)[-2000:] for n in self.workers)
                    pytest.fail(f"flow runs not final after {timeout_s:g} s: {done}\n{logs}")
                for rid in run_ids:
                    state = c.get(f"/flow_runs/{rid}").json().get("state") or {}
                    if state.get("type") in FINAL:
                        done[rid] = state
                time.sleep(0.5)
        return done

    def stop(self) -> None:
        self.procs.stop_all()
