"""Prefect's temporary API server, started by the CLI before anything imports Prefect.

This module must not import Prefect at import time: the point is to launch the server
subprocess first and let both start-ups (Prefect's ~5 s server import, newsetl's own set-up)
overlap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: make the server get SIGTERM if the CLI dies without stopping it (kill -9, OOM).

    libc is looked up here, in the parent; the returned callable only makes the syscall.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the finally paths still stop the server
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def flush_prefect_workers() -> None:
    """Send Prefect's queued logs and events now, while the server still answers; at exit
    it would be gone and Prefect would print connection errors."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        # Best effort: never turn a finished run into a failure.
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=10)


class TemporaryPrefectServer:
    """What Prefect does when ``PREFECT_API_URL`` is unset, started earlier.

    Without an API URL Prefect starts a temporary server inside the first flow call, and
    imports the whole server package into the calling process to do so. This launches the
    same server (``prefect.server.api.server:create_app`` under uvicorn, UI off, ephemeral
    services only, as Prefect does) as the very first thing, and points the flow at it.
    When an API URL is configured (environment or Prefect profile) nothing is started.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None

    def start(self) -> TemporaryPrefectServer:
        if os.environ.get("PREFECT_API_URL"):
            return self
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        # Started before the CLI creates any thread, so preexec_fn is safe here.
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=_parent_death_signal(),  # noqa: PLW1509
        )
        self.url = f"http://127.0.0.1:{port}/api"
        return self

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        if self.proc is None or self.url is None:
            return
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"Prefect's temporary server exited with code {self.proc.returncode}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"Prefect's temporary server did not start within {timeout_s:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @contextmanager
    def api(self) -> Iterator[None]:
        """Run the block against this server (waiting for it first); stop it afterwards."""
        from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

        if self.proc is None or get_current_settings().api.url:
            # Configured in a Prefect profile after all: use that server, not ours.
            self.stop()
            yield
            return
        try:
            self.wait_ready()
            with temporary_settings(updates={PREFECT_API_URL: self.url}):
                try:
                    yield
                finally:
                    flush_prefect_workers()
        finally:
            self.stop()
