"""One small exception tree.

Transient errors may succeed when retried (a lock held by another writer, a timeout);
terminal errors will not. Per-input problems are not exceptions that escape a run: they
become :class:`Rejection` values recorded in the ``inputs`` ledger.
"""

from __future__ import annotations


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
