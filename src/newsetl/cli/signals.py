"""SIGINT and SIGTERM stop a run: they raise :class:`~newsetl.errors.Interrupted` in the
main thread, so every ``with`` block of the run unwinds as for Ctrl-C. Those blocks abort
the fetcher (in-flight requests end at once) and kill the extraction workers, then record
the run as failed with the error ``interrupted (SIGTERM)``.

Prefect swaps SIGTERM for its own handler while a flow runs; it raises TerminationSignal
(which ends up recorded the same way) and then re-sends SIGTERM to the handler installed
here, so the command still ends with :class:`Interrupted`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from newsetl.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, the first SIGINT/SIGTERM raises :class:`Interrupted`.

    A second one is ignored while the run closes (it takes a moment, and raising again
    could skip recording the failure); a third one exits at once. Outside the main thread
    (where signals cannot be handled) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            raise Interrupted(signum)
        if received >= 3:
            os._exit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
