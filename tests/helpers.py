"""Test helpers: building bad inputs, running commands without root's file-permission bypass."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from newsetl.settings import Settings
from newsetl.storage.backends import open_warehouse
from newsetl.storage.base import Warehouse

BIN = Path(sys.executable).parent


def unprivileged(cmd: list[str]) -> list[str]:
    """Prefix a command so that file permissions apply even when the tests run as root.

    Root bypasses permission bits through CAP_DAC_OVERRIDE; dropping that capability makes
    an unreadable file really unreadable without needing another user account.
    """
    if os.geteuid() != 0:
        return cmd
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot test permission errors")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *cmd]


def make_bad_inputs(root: Path, good_html: bytes) -> dict[str, str]:
    """A directory of broken inputs; returns file name -> expected (stage, reason fragment)."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    def add(name: str, data: bytes, expect: str) -> Path:
        p = root / name
        p.write_bytes(data)
        expected[name] = expect
        return p

    add("empty.html", b"", "decode: empty input")
    add("whitespace.txt", b"   \n\n  ", "decode: empty input")
    add("junk.html", os.urandom(4096), "decode:")
    add("nul-bytes.txt", b"\x00" * 200 + b"text" * 10, "decode: binary content")
    add(
        "png-named.html",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20,
        "decode: binary",
    )
    good_gz = gzip.compress(good_html)
    add("truncated.html.gz", good_gz[: len(good_gz) // 2], "read: truncated gzip")
    corrupt = bytearray(good_gz)
    corrupt[30:60] = b"\x00" * 30
    add("corrupt.html.gz", bytes(corrupt), "read: corrupt gzip")
    add(
        "bomb.html.gz",
        gzip.compress(b"<p>" + b"a" * (40 * 1024 * 1024)),
        "read: decompressed size exceeds",
    )
    add("huge.txt", b"word " * (5 * 1024 * 1024 // 5 + 10), "read: file too large")
    add(
        "no-text.html",
        b"<html><head><title>x</title></head><body><nav><a href='/'>Home</a></nav></body></html>",
        "extract:",
    )
    add("blob.bin", b"\x00\x01\x02", "discover: unsupported file type .bin")
    unreadable = add("unreadable.html", good_html, "read: permission denied")
    unreadable.chmod(0)
    locked = root / "locked-dir"
    locked.mkdir()
    (locked / "inside.html").write_bytes(good_html)
    locked.chmod(0)
    expected["locked-dir"] = "discover: cannot list directory"
    loopdir = root / "loop"
    loopdir.mkdir()
    os.symlink(loopdir, loopdir / "again")
    expected[str(Path("loop") / "again")] = "discover: symlink loop"
    os.symlink(root / "nowhere.html", root / "dangling.html")
    expected["dangling.html"] = "discover: broken symlink"
    return expected


def table_rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).fetchall()


class Processes:
    """Background processes started by a test, each in its own process group, all killed
    (the whole group, SIGKILL) at teardown even when the test fails. SIGKILL because a
    Prefect worker started from a script ignores SIGINT and so survives SIGTERM."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        fh = log.open("wb")
        proc = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http_ok(url: str, timeout_s: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def store(db: str | os.PathLike[str], **settings: object) -> Warehouse:
    """The warehouse at ``db`` (a DuckDB file path), as the library opens it."""
    return open_warehouse(Settings.make(**{"db": os.fspath(db), "lock_timeout_s": 20, **settings}))


def connect(db: str | os.PathLike[str], *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse at ``db`` (read-write unless asked)."""
    return store(db).connect(read_only=read_only)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
