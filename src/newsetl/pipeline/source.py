"""What a source plugs into the run engine.

A source turns its inputs (files, feed entries, archived bytes, WARC records, sitemap
URLs…) into :class:`Batch`es of :class:`Item`s. Each item is either settled already (a
:class:`Processed` — rejected during discovery, unchanged since the last run, a duplicate)
or a :class:`Doc` for the extraction workers. A source's own tables (file state, feed
entries, feed health, …) are written by its :meth:`Source.write` hook, inside the batch's
transaction, so they commit together with the articles and the ledger rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


# The smallest piece :func:`taper_last` cuts: below it a load's fixed cost (opening the
# warehouse, the commit and its checkpoint) outweighs what the smaller piece saves.
TAPER_FLOOR = 32


def taper_last(batches: Iterable[Batch], floor: int = TAPER_FLOOR) -> Iterator[Batch]:
    """The batches as given, except the last one, cut into pieces of halving work.

    Each batch's load runs in the main thread while the workers extract the next batch;
    the last load has nothing to overlap, so the workers sit idle through it (0.6 s of a
    500-document load at 2,000 articles, 1.6 s at 20,000). Cut into 1/2, 1/4, 1/8, …
    of its work, the pieces' loads overlap the extraction of the pieces after them, and
    only the smallest is left at the end. One batch is held back to know which is last.
    """
    it = iter(batches)
    held = next(it, None)
    if held is None:
        return
    for batch in it:
        yield held
        held = batch
    yield from split_batch(held, floor)


def split_batch(batch: Batch, floor: int = TAPER_FLOOR) -> Iterator[Batch]:
    """``batch`` in pieces of 1/2, 1/4, … of its work (items to extract), the last at least
    ``floor``; settled items go with the piece they stand in. A batch that carries
    ``extra`` (rows of its own for the source) stays whole."""
    work = sum(it.done is None for it in batch.items)
    if batch.extra is not None or work < 2 * floor:
        yield batch
        return
    sizes: list[int] = []
    rest = work
    while rest >= 2 * floor:
        sizes.append(rest // 2)
        rest -= rest // 2
    sizes.append(rest)
    piece, quota = Batch(), sizes.pop(0)
    for item in batch.items:
        if quota == 0 and item.done is None:
            yield piece
            piece, quota = Batch(), sizes.pop(0)
        piece.items.append(item)
        quota -= item.done is None
    yield piece


class Source:
    """Base class of every source: override what the source needs, the rest is a no-op."""

    flow: str = "ingest"  # the Prefect flow / runs.flow name
    kind: str = "source"  # inputs.source_kind of its inputs
    # Its batches are independent groups of items (no ``extra``, nothing spans two of them):
    # the engine may cut the last one smaller (:func:`taper_last`).
    splittable: bool = False

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
