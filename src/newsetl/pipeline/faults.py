"""Deterministic crash points for the chaos tests and ``bench/chaos.py``.

``NEWSETL_FAULTS="load.before_commit:2,extract.item:30"`` makes the process SIGKILL itself
the 2nd time it reaches ``load.before_commit`` (or the 30th ``extract.item``): a crash at a
chosen point instead of at a random time, so every interesting moment is tested on every
run. Unset (always, outside tests), a crash point costs one dictionary lookup.

Points: ``run.started``, ``extract.item`` (a result came back from a worker while others are
in flight), ``load.before_commit`` (inside the batch transaction, everything written),
``load.after_commit`` (between batches), ``feeds.before_commit``.
"""

from __future__ import annotations

import functools
import os
import signal
import threading

_lock = threading.Lock()
_hits: dict[str, int] = {}


@functools.cache
def _load_plan() -> dict[str, int]:
    plan: dict[str, int] = {}
    for part in os.environ.get("NEWSETL_FAULTS", "").split(","):
        name, _, nth = part.strip().partition(":")
        if name:
            plan[name] = int(nth or 1)
    return plan


def hit(point: str) -> None:
    """Die here (SIGKILL, no cleanup, like a power cut or the OOM killer) if planned."""
    plan = _load_plan()
    if not plan or point not in plan:
        return
    with _lock:
        _hits[point] = _hits.get(point, 0) + 1
        if _hits[point] == plan[point]:
            os.kill(os.getpid(), signal.SIGKILL)
