"""One small exception tree.

Transient errors may succeed when retried (a lock held by another writer, a timeout);
terminal errors will not. Per-input problems are not exceptions that escape a run: they
become :class:`Rejection` values recorded in the ``inputs`` ledger.
"""

from __future__ import annotations

import signal


class NewsetlError(Exception):
    """Base class for every error newsetl raises on purpose."""


class TransientError(NewsetlError):
    """Retrying the same operation later may succeed."""


class TerminalError(NewsetlError):
    """Retrying will not help; the caller must change something."""


class WarehouseLockedError(TransientError):
    """Another process holds the DuckDB write lock and did not release it in time."""


class WarehouseError(TerminalError):
    """The warehouse cannot be opened or migrated."""


class InputPathError(TerminalError):
    """A path given to a run does not exist or cannot be used at all."""


class Rejection(TerminalError):
    """One input cannot become an article; carries the pipeline stage and a readable reason."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop (SIGINT/SIGTERM): raised in the main thread so that
    every ``with`` block unwinds, in-flight requests are aborted and the run is closed."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        super().__init__(f"interrupted ({signal_name(signum)})")


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def interruption(exc: BaseException) -> str | None:
    """'interrupted (SIGTERM)' and the like when ``exc`` means the run was stopped from
    outside (a signal, Ctrl-C, Prefect's TerminationSignal); None for a real error."""
    if isinstance(exc, Interrupted):
        return f"interrupted ({signal_name(exc.signum)})"
    signum = getattr(exc, "signal", None)  # prefect.exceptions.TerminationSignal, without importing Prefect
    if isinstance(signum, int) and isinstance(exc, BaseException) and not isinstance(exc, Exception):
        return f"interrupted ({signal_name(signum)})"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT)"
    return None
