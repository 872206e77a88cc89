"""Run a command (``prefect worker start …``) so that a stop request reaches it exactly once.

``make worker`` leaves make as the worker's parent. SIGTERM to make's process group then
reached the worker twice — once from the group signal, once from GNU make, which forwards
SIGTERM to its children — and Prefect's worker treats a second signal as "kill now"
(SIGKILL instead of its graceful stop), depending on how close the two arrive. Here the
command runs in its own session and this process forwards stop signals: signals arriving
within ``coalesce_s`` of the last forwarded one count as one request; a later one is
forwarded again, so a second deliberate Ctrl-C still escalates as Prefect intends.
SIGINT is put back to its default for the child (a shell that starts make in the
background ignores it, and Prefect's worker turns SIGTERM into SIGINT).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: restore SIGINT and ask Linux to SIGTERM it if this supervisor dies."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        # Without prctl the child only outlives a parent that was SIGKILLed.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def stop_forwarder(
    send: Callable[[int], None], coalesce_s: float, clock: Callable[[], float] = time.monotonic
) -> Callable[[int, FrameType | None], None]:
    """A signal handler that sends one SIGTERM per stop request (signals within ``coalesce_s``
    of the last forwarded one are the same request)."""
    last: list[float] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        now = clock()
        if last and now - last[0] < coalesce_s:
            return
        last[:] = [now]
        send(signal.SIGTERM)

    return handler


def run(command: Sequence[str], coalesce_s: float = 1.0) -> int:
    """Run ``command`` until it exits, forwarding SIGINT/SIGTERM once per request; its exit
    code (128 + signal number when a signal ended it, as a shell reports)."""
    # preexec_fn is safe here: this process has started no threads.
    child = subprocess.Popen(list(command), start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    handler = stop_forwarder(child.send_signal, coalesce_s)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)
    code = child.wait()  # PEP 475: wait() goes on after each handled signal
    return 128 - code if code < 0 else code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m newsetl.worker_shell COMMAND [ARGS…]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m newsetl.worker_shell COMMAND [ARGS...]", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
