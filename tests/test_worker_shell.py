"""The worker shell: a stop request reaches the command once, however many copies arrive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from newsetl.worker_shell import stop_forwarder

from .helpers import BIN, process_alive

# A child that counts the stop signals it gets and exits a moment after the first.
_COUNTER = """
import signal, sys, time
got = []
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
print("ready", flush=True)
while not got:
    time.sleep(0.01)
time.sleep(0.5)
restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
print("signals", len(got), "sigint", restored, flush=True)
"""


def test_stop_requests_coalesce_by_clock() -> None:
    sent: list[int] = []
    now = [0.0]
    handler = stop_forwarder(sent.append, 1.0, clock=lambda: now[0])
    handler(signal.SIGTERM, None)
    now[0] = 0.2
    handler(signal.SIGTERM, None)  # make's forwarded copy of the same request
    assert sent == [signal.SIGTERM]
    now[0] = 3.0
    handler(signal.SIGINT, None)  # a second, deliberate Ctrl-C: escalation stays possible
    assert sent == [signal.SIGTERM, signal.SIGTERM]


def test_group_signal_and_forwarded_copy_reach_the_child_once(tmp_path: Path) -> None:
    script = tmp_path / "counter.py"
    script.write_text(_COUNTER)
    shell = subprocess.Popen(
        # SIGINT ignored, as for a job a shell starts in the background
        ["sh", "-c", 'trap "" INT; exec "$@"', "sh",
         str(BIN / "python"), "-m", "newsetl.worker_shell", sys.executable, str(script)],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert shell.stdout is not None
    assert shell.stdout.readline().strip() == "ready"
    os.killpg(shell.pid, signal.SIGTERM)  # the group signal …
    os.kill(shell.pid, signal.SIGTERM)  # … and the copy GNU make forwards to its child
    out, _ = shell.communicate(timeout=30)
    assert shell.returncode == 0
    assert out.split() == ["signals", "1", "sigint", "True"]  # SIGINT back to Python's default


def test_child_ends_when_the_shell_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    pid_file = tmp_path / "pid"
    script.write_text(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    shell = subprocess.Popen([str(BIN / "python"), "-m", "newsetl.worker_shell", sys.executable, str(script)])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    shell.kill()  # SIGKILL: no chance to forward anything
    shell.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process_alive(child):
        time.sleep(0.05)
    assert not process_alive(child), "the command outlived its killed shell"
