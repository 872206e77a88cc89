"""Scheduled deployments end to end, with the exact make targets a user runs: a Prefect
server, `make deploy` (work pool + prefect.yaml), `make worker`, then
`prefect deployment run ... --param ... --watch` on real corpus pages; the UI links they
print open; `newsetl serve` refuses deployments on a work pool; SIGTERM stops `make worker`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, corpus_path
from .helpers import BIN, Processes, free_port, process_alive, table_rows, wait_http_ok


@pytest.mark.e2e
def test_deploy_worker_and_deployment_run(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    for p in sorted(corpus_path("article-extraction-benchmark", "html").glob("*.html.gz"))[:6]:
        shutil.copy2(p, pages / p.name)
    db = tmp_path / "news.duckdb"
    port = free_port()
    state = tmp_path / "prefect-state"
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "2",
        # The server's scheduler off: prefect.yaml's schedules (feeds every 15 min, inbox
        # hourly) would otherwise start runs of their own when the test crosses those minutes.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    env.pop("PREFECT_API_URL", None)
    make = ["make", "-C", str(ROOT), f"PREFECT_PORT={port}", f"PREFECT_STATE={state}"]
    procs = Processes()
    try:
        procs.start([*make, "server"], env, tmp_path / "server.log")
        wait_http_ok(f"{api}/health")
        deploy = subprocess.run(
            [*make, "deploy"], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert deploy.returncode == 0, deploy.stdout[-3000:] + deploy.stderr[-3000:]
        worker = procs.start([*make, "worker"], env, tmp_path / "worker.log")
        # The links `prefect deploy` prints open in a browser, and that page talks to this
        # server's API (not to the default port 4200).
        links = re.findall(r"View Deployment in UI: (\S+)", deploy.stdout)
        assert links and all(link.startswith(f"http://127.0.0.1:{port}/") for link in links)
        page = httpx.get(links[0], headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=30).json()["api_url"] == api

        client_env = {**env, "PREFECT_HOME": str(state), "PREFECT_API_URL": api}
        prefect = str(BIN / "prefect")
        listing = subprocess.run(
            [prefect, "deployment", "ls"],
            env=client_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        for name in ("ingest-files/inbox", "ingest-feeds/feeds", "maintenance/nightly"):
            assert name in listing.stdout
        limit = subprocess.run(
            [prefect, "global-concurrency-limit", "inspect", "newsetl-fetch"],
            env=client_env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert limit.returncode == 0 and "limit=8" in limit.stdout  # created by make deploy
        inspect = subprocess.run(
            [prefect, "deployment", "inspect", "ingest-files/inbox"],
            env=client_env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert "'cron': '0 * * * *'" in inspect.stdout  # the schedule is on the server
        assert str(ROOT) not in inspect.stdout  # no path of this clone: the worker's own is used
        assert "'working_dir': '.'" in inspect.stdout

        serve = subprocess.run(
            [str(BIN / "newsetl"), "serve", "--project", str(ROOT)],
            env=client_env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert serve.returncode == 1, serve.stdout[-2000:] + serve.stderr[-2000:]
        assert "through a work pool: ingest-feeds/feeds (work pool newsetl-pool)" in serve.stderr
        assert "Traceback" not in serve.stderr

        run = subprocess.run(
            [
                prefect, "deployment", "run", "ingest-files/inbox",
                "--param", f"paths={json.dumps([str(pages)])}", "--param", f"db={db}", "--watch",
            ],
            env=client_env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert "Completed" in run.stdout
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout)
        assert flow_run_id, run.stdout[-2000:]

        rows = table_rows(db, "SELECT run_id, flow, status, n_inputs, n_loaded FROM runs")
        assert rows == [(flow_run_id.group(1), "ingest-files", "completed", 6, 6)]
        assert table_rows(db, "SELECT count(*) FROM articles") == [(6,)]
        artifact = subprocess.run(
            [prefect, "artifact", "inspect", "ingest-files-summary"],
            env=client_env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert flow_run_id.group(1) in artifact.stdout  # the summary belongs to this flow run

        tree = _descendants(worker.pid)  # the worker runs in a session of its own
        assert tree, "make worker started no process"
        os.killpg(worker.pid, signal.SIGTERM)  # what stopping `make worker` does
        worker.wait(timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _any_alive(tree):
            time.sleep(0.5)
        log = (tmp_path / "worker.log").read_text(errors="replace")
        assert not _any_alive(tree), "the Prefect worker outlived make:\n" + log[-2000:]
        assert "SIGKILL" not in log, log[-2000:]  # one stop request, Prefect's graceful path
        assert "stopped!" in log and "No child processes" not in log
    finally:
        procs.stop_all()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, whatever its session (parents read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        todo += children
    return found


def _any_alive(pids: list[int]) -> bool:
    return any(process_alive(pid) for pid in pids)


@pytest.mark.e2e
def test_newsetl_serve_runs_the_same_deployments_without_a_work_pool(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    for p in sorted(corpus_path("fundus", "uk").glob("*.html.gz"))[:3]:
        shutil.copy2(p, pages / p.name)
    db = tmp_path / "news.duckdb"
    port = free_port()
    state = tmp_path / "prefect-state"
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_HOME": str(state),
           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}  # fmt: skip
    procs = Processes()
    try:
        procs.start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                    env, tmp_path / "server.log")  # fmt: skip
        wait_http_ok(f"{api}/health")
        client_env = {**env, "PREFECT_API_URL": api}
        procs.start(
            [str(BIN / "newsetl"), "serve", "--project", str(ROOT)], client_env, tmp_path / "serve.log"
        )
        prefect = str(BIN / "prefect")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            ls = subprocess.run(
                [prefect, "deployment", "ls"], env=client_env, capture_output=True, text=True, check=False
            )
            if "ingest-files/inbox" in ls.stdout:
                break
            time.sleep(1)
        else:
            pytest.fail(
                "newsetl serve did not register its deployments:\n"
                + (tmp_path / "serve.log").read_text()[-3000:]
            )
        run = subprocess.run(
            [
                prefect, "deployment", "run", "ingest-files/inbox",
                "--param", f"paths={json.dumps([str(pages)])}", "--param", f"db={db}", "--watch",
            ],
            env=client_env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + (tmp_path / "serve.log").read_text()[-3000:]
        assert table_rows(db, "SELECT flow, status, n_loaded FROM runs") == [("ingest-files", "completed", 3)]
    finally:
        procs.stop_all()
