"""What a source plugs into the run engine.

A source turns its inputs (files, feed entries, archived bytes, WARC records, sitemap
URLs…) into :class:`Batch`es of :class:`Item`s. Each item is either settled already (a
:class:`Processed` — rejected during discovery, unchanged since the last run, a duplicate)
or a :class:`Doc` for the extraction workers. A source's own tables (file state, feed
entries, feed health, …) are written by its :meth:`Source.write` hook, inside the batch's
transaction, so they commit together with the articles and the ledger rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from newsetl.models import Processed
from newsetl.pipeline.outcomes import Written
from newsetl.pipeline.process import Doc
from newsetl.settings import Settings
from newsetl.storage.base import Warehouse


class Run(Protocol):
    """What a source sees of the run it is part of (newsetl.pipeline.engine.Run)."""

    run_id: str
    settings: Settings
    store: Warehouse


@dataclass(slots=True)
class Item:
    """One input of a batch; ``state`` is the source's own bookkeeping for it."""

    doc: Doc | None = None  # work for the extraction pool
    done: Processed | None = None  # settled without extraction
    state: Any = None


@dataclass(slots=True)
class Batch:
    """Inputs loaded in one transaction; ``extra`` rides along for the source's own rows."""

    items: list[Item] = field(default_factory=list)
    extra: Any = None
    # Its place in the run, set by the engine: extraction takes the batches in this order.
    seq: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    @property
    def needs_work(self) -> bool:
        return any(it.done is None for it in self.items)


class Source:
    """Base class of every source: override what the source needs, the rest is a no-op."""

    flow: str = "ingest"  # the Prefect flow / runs.flow name
    kind: str = "source"  # inputs.source_kind of its inputs

    def parameters(self) -> dict[str, Any]:
        """What the ``runs`` row records as the run's parameters."""
        return {}

    def check(self) -> None:
        """Fail before the run starts when the source cannot run at all (missing path)."""

    def open(self, run: Run) -> None:
        """Called once the run is recorded: registry writes, clients, caches."""

    def batches(self, run: Run) -> Iterator[Batch]:
        """The run's inputs in bounded batches (planned in the main thread)."""
        return iter(())

    def prepare(self, run: Run, batch: Batch) -> None:
        """I/O before extraction (fetching pages); runs ahead, off the main thread."""

    def settle(self, batch: Batch, processed: list[Processed]) -> list[Processed]:
        """Before the batch is written (earlier batches have committed): settle inputs that
        depend on them, e.g. a repeat of an input of an earlier batch."""
        return processed

    def write(self, conn: duckdb.DuckDBPyConnection, batch: Batch, written: Written) -> None:
        """The source's own rows for this batch, in the batch transaction (may be retried)."""

    def committed(self, batch: Batch, written: Written) -> None:
        """After the batch committed: forget what was written, remember decisions."""

    def stats(self) -> dict[str, int]:
        """Counts beyond the per-input outcomes, for the run summary."""
        return {}

    def abort(self) -> None:
        """Stop in-flight I/O now (the run is interrupted); :meth:`close` follows."""

    def close(self) -> None:
        """Release clients and threads (always called, also after a failure)."""
