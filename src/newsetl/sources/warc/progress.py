"""Where one archive's reading stands (its ``warc_archives`` row) and how it is read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Progress:
    """Where an archive's reading stands after a batch (its ``warc_archives`` row)."""

    archive: str
    size_bytes: int | None
    mtime_ns: int | None
    etag: str | None
    last_modified: str | None
    read_started_at: datetime
    first_run_id: str
    next_offset: int = 0
    next_pos: int = 0
    records: int = 0
    complete: bool = False
    settled: bool = False  # an unchanged archive: nothing to write
    fetch_log: Any = None


@dataclass(slots=True)
class Opened:
    read: Callable[[int], bytes]
    close: Callable[[], None]
    start: int = 0
    skip_pos: int = 0
