"""A local Prefect server shared by successive ``newsetl`` commands.

Without ``PREFECT_API_URL`` Prefect starts a temporary server inside every flow command
and stops it at the end: 8–12 s per command on a small machine. Instead, the first command
starts one server in the background (its own session, so it outlives the command) and
records it in the Prefect home (``$PREFECT_HOME``, default ``~/.prefect``):

- ``newsetl-server.json``: its pid, port and API URL;
- ``newsetl-server.lock``: an ``flock`` taken while a command decides whether to start
  one, so two commands starting at once share one server;
- ``newsetl-server.leases/<pid>``: one file per command using it; the server does not stop
  while a command that holds a lease is alive;
- ``newsetl-server.log``: the server's output.

The server stops itself after ``prefect_idle_s`` (``NEWSETL_PREFECT_IDLE_MIN``, 30 min)
with no lease and no API request, or with ``newsetl server stop``. Its database is
Prefect's own (``prefect.db`` in the same home), so runs stay visible in its UI.
``NEWSETL_PREFECT_SERVER=temporary`` brings back one server per command.

This module must not import Prefect at import time (the server is launched first, so its
start-up overlaps the command's own).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

MODULE = "newsetl.cli.local_server"


def prefect_home() -> Path:
    """Where Prefect keeps its state (``PREFECT_HOME``), read without importing Prefect."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


@dataclass(frozen=True, slots=True)
class ServerState:
    pid: int
    port: int
    url: str
    started_at: float
    idle_s: float


class Paths:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.state = home / "newsetl-server.json"
        self.lock = home / "newsetl-server.lock"
        self.leases = home / "newsetl-server.leases"
        self.log = home / "newsetl-server.log"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_server(pid: int) -> bool:
    """The pid runs this module (not a stranger that reused the pid), where /proc says."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return pid_alive(pid) and not Path("/proc/self").exists()
    except OSError:
        return pid_alive(pid)
    return MODULE.encode() in cmdline


@contextmanager
def locked(paths: Paths) -> Iterator[None]:
    paths.home.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_state(paths: Paths) -> ServerState | None:
    """The recorded server, if its process is still running."""
    try:
        state = ServerState(**json.loads(paths.state.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return state if _is_our_server(state.pid) else None


def _write_state(paths: Paths, state: ServerState) -> None:
    tmp = paths.state.with_name(paths.state.name + f".{os.getpid()}")
    tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(tmp, paths.state)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_leases(paths: Paths) -> list[int]:
    """Pids of commands using the server; leases of dead processes are removed."""
    alive = []
    with contextlib.suppress(FileNotFoundError):
        for lease in paths.leases.iterdir():
            try:
                pid = int(lease.name)
            except ValueError:
                continue
            if pid_alive(pid):
                alive.append(pid)
            else:
                lease.unlink(missing_ok=True)
    return alive


def wait_healthy(url: str, timeout_s: float, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(
                    "the local Prefect server exited (see newsetl-server.log in the Prefect home)"
                )
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"the local Prefect server did not answer within {timeout_s:g} s")


class LocalPrefectServer:
    """The CLI's handle on the shared server: :meth:`start` finds or launches it and takes a
    lease; :meth:`api` runs a block against it; :meth:`stop` only gives the lease back."""

    def __init__(self, idle_s: float, home: Path | None = None) -> None:
        self.paths = Paths(home or prefect_home())
        self.idle_s = idle_s
        self.state: ServerState | None = None
        self.started = False  # this command launched it
        self._lease: Path | None = None

    def start(self) -> LocalPrefectServer:
        if os.environ.get("PREFECT_API_URL"):
            return self
        with locked(self.paths):
            self.state = read_state(self.paths)
            if self.state is None:
                self.state = launch(self.paths, self.idle_s)
                self.started = True
            self.paths.leases.mkdir(parents=True, exist_ok=True)
            self._lease = self.paths.leases / str(os.getpid())
            self._lease.touch()
        return self

    @property
    def url(self) -> str | None:
        return self.state.url if self.state is not None else None

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        if self.state is not None:
            pid = self.state.pid
            wait_healthy(self.state.url, timeout_s, lambda: pid_alive(pid))

    def stop(self) -> None:
        if self._lease is not None:
            self._lease.unlink(missing_ok=True)
            self._lease = None

    @contextmanager
    def api(self) -> Iterator[None]:
        from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

        from newsetl.cli.prefect_server import flush_prefect_workers

        try:
            if self.state is None or get_current_settings().api.url:
                yield  # a server configured in a Prefect profile after all: use that one
                return
            self.wait_ready()
            with temporary_settings(updates={PREFECT_API_URL: self.state.url}):
                try:
                    yield
                finally:
                    flush_prefect_workers()
        finally:
            self.stop()


def launch(paths: Paths, idle_s: float) -> ServerState:
    """Start the server in its own session (it outlives this command); call under the lock."""
    port = _free_port()
    paths.home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT_HOME": str(paths.home)}
    env.pop("PREFECT_API_URL", None)
    # -c, not -m: the module is imported once (with -m runpy would run a second copy of it).
    cmd = [sys.executable, "-c", f"from {MODULE} import main; main()", "--port", str(port),
           "--idle", str(idle_s), "--home", str(paths.home)]  # fmt: skip
    with paths.log.open("ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    state = ServerState(proc.pid, port, f"http://127.0.0.1:{port}/api", time.time(), idle_s)
    _write_state(paths, state)
    return state


def stop_server(paths: Paths, timeout_s: float = 15.0) -> ServerState | None:
    """Stop the recorded server (SIGTERM, then SIGKILL); the state it had, or None."""
    with locked(paths):
        state = read_state(paths)
        if state is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while pid_alive(state.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(state.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(state.pid, signal.SIGKILL)
        paths.state.unlink(missing_ok=True)
        return state


# --- the server process ------------------------------------------------------------------------


class IdleWatch:
    """When the server has been unused for ``idle_s``: no API request and no live lease."""

    def __init__(self, idle_s: float, paths: Paths, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.paths = paths
        self.clock = clock
        self.last_used = clock()

    def touch(self) -> None:
        self.last_used = self.clock()

    def expired(self) -> bool:
        if live_leases(self.paths):
            self.touch()
            return False
        return self.clock() - self.last_used >= self.idle_s


class _Activity:
    """ASGI middleware: every HTTP request counts as use."""

    def __init__(self, app: Any, watch: IdleWatch) -> None:
        self.app = app
        self.watch = watch

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            self.watch.touch()
        await self.app(scope, receive, send)


def serve(port: int, idle_s: float, home: Path, check_every_s: float = 1.0) -> None:
    """Run Prefect's API server until idle for ``idle_s`` or SIGTERM."""
    import uvicorn
    from prefect.server.api.server import create_app

    paths = Paths(home)
    watch = IdleWatch(idle_s, paths)
    app = _Activity(create_app(ephemeral=True), watch)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)

    def watchdog() -> None:
        while not server.should_exit:
            time.sleep(check_every_s)
            if not watch.expired():
                continue
            # Decided under the lock a command takes to find the server and lease it: either
            # it leased in time (not idle after all) or it will find no server and start one.
            with locked(paths):
                if watch.expired():
                    _forget(paths)
                    server.should_exit = True

    threading.Thread(target=watchdog, name="idle-watch", daemon=True).start()
    try:
        server.run()
    finally:
        _forget(paths)  # not under the lock: `newsetl server stop` holds it while we exit


def _forget(paths: Paths) -> None:
    """Remove the state file if it names this process."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        if json.loads(paths.state.read_text(encoding="utf-8"))["pid"] == os.getpid():
            paths.state.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog=MODULE)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--idle", type=float, required=True, help="seconds without use before stopping")
    ap.add_argument("--home", type=Path, required=True)
    args = ap.parse_args(argv)
    serve(args.port, args.idle, args.home)


if __name__ == "__main__":
    main()
