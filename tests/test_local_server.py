"""The local Prefect server flow commands share: one per Prefect home, even when commands
start at once; stopped by ``newsetl server stop`` or after its idle time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from newsetl.cli.local_server import IdleWatch, Paths, pid_alive, read_state, stop_server

from .helpers import BIN

NEWSETL = str(BIN / "newsetl")

# Finds or starts the server (taking a lease), waits until it answers, prints its state.
_START = """
import json, sys, time
from newsetl.cli.local_server import LocalPrefectServer
s = LocalPrefectServer(float(sys.argv[1])).start()
s.wait_ready()
print(json.dumps({"pid": s.state.pid, "url": s.state.url, "started": s.started}))
s.stop()
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **extra}
    env.pop("PREFECT_API_URL", None)
    return env


def _start_many(home: Path, n: int, idle_s: float) -> list[dict[str, object]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START, str(idle_s)], env=_env(home), stdout=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    return [json.loads(o.strip().splitlines()[-1]) for o in outs]


def test_idle_watch_counts_leases_and_requests(tmp_path: Path) -> None:
    now = [100.0]
    paths = Paths(tmp_path)
    watch = IdleWatch(60.0, paths, clock=lambda: now[0])
    now[0] += 59
    assert not watch.expired()
    watch.touch()  # an API request
    now[0] += 59
    assert not watch.expired()
    paths.leases.mkdir()
    (paths.leases / str(os.getpid())).touch()  # a command using it, for longer than the idle time
    now[0] += 600
    assert not watch.expired()
    (paths.leases / str(os.getpid())).unlink()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (paths.leases / str(dead.pid)).touch()  # a command that died without giving its lease back
    now[0] += 59
    assert not watch.expired()
    now[0] += 1
    assert watch.expired()
    assert not (paths.leases / str(dead.pid)).exists()


@pytest.mark.e2e
def test_commands_starting_at_once_share_one_server_until_stopped(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    try:
        first = _start_many(home, 3, idle_s=600)
        assert len({r["pid"] for r in first}) == 1, first  # one server for the three
        assert sum(bool(r["started"]) for r in first) == 1, first
        state = read_state(Paths(home))
        assert state is not None and state.pid == first[0]["pid"]
        assert httpx.get(f"{state.url}/health", timeout=5).status_code == 200
        again = _start_many(home, 1, idle_s=600)  # a later command reuses it
        assert again[0]["pid"] == state.pid and not again[0]["started"]

        status = subprocess.run(
            [NEWSETL, "server", "status"],
            check=False,
            env=_env(home, COLUMNS="200"),
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0 and f"pid {state.pid}" in status.stdout, status.stdout
        stop = subprocess.run(
            [NEWSETL, "server", "stop"],
            check=False,
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
        assert not pid_alive(state.pid) and read_state(Paths(home)) is None
        assert not Paths(home).state.exists()
    finally:
        stop_server(Paths(home))


@pytest.mark.e2e
def test_server_stops_itself_when_idle(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    try:
        [info] = _start_many(home, 1, idle_s=2.0)
        pid = int(str(info["pid"]))
        deadline = time.monotonic() + 60
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not pid_alive(pid), "the idle server did not stop"
        assert not Paths(home).state.exists()
    finally:
        stop_server(Paths(home))
