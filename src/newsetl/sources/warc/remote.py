"""Opening a WARC archive at an http(s) URL: conditional, resumable, streamed.

- Read to the end before: ``If-None-Match``/``If-Modified-Since`` with its validators; a
  304, or the same validators and length again, means unchanged (nothing is read).
- Read partly (a killed run): ``Range: bytes=<next record>-`` with ``If-Range``; a 206
  resumes there; a 200 with the same validators is read and dropped up to there; a 200
  with other validators is a new archive, read from the start.
- The download itself failing (refused, HTTP error, DNS) is one rejected input, the
  archive URL, at stage ``fetch``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from newsetl.models import Processed
from newsetl.sources.warc.progress import Opened, Progress
from newsetl.sources.warc.records import KIND
from newsetl.sources.warc.tables import ArchiveState
from newsetl.web.stream import BodyStream, StreamError

_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(\d+|\*)")

Result = tuple[Literal["failed", "unchanged", "fresh", "resumed"], Processed | tuple[Opened, Progress] | None]


def _length(stream: BodyStream) -> int | None:
    if stream.status == 206:
        m = _RANGE.match(stream.headers.get("content-range", ""))
        return int(m.group(2)) if m and m.group(2).isdigit() else None
    value = stream.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def open_url(
    fetcher: Any, url: str, state: ArchiveState | None, stale: int, run_id: str, now: datetime
) -> Result:
    headers: dict[str, str] = {}
    validator = (state.etag or state.last_modified) if state is not None else None
    if state is not None and state.complete and not stale:
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
    elif state is not None and not state.complete and state.next_offset > 0 and validator:
        headers["Range"] = f"bytes={state.next_offset}-"
        headers["If-Range"] = validator
    stream = BodyStream(fetcher.fetcher, url, headers=headers)
    try:
        stream.open()
    except StreamError as exc:
        return "failed", Processed(KIND, url, stage="fetch", reason=exc.reason, retryable=exc.transient)
    etag, modified, length = stream.headers.get("etag"), stream.headers.get("last-modified"), _length(stream)
    same = state is not None and (state.etag, state.last_modified, state.size_bytes) == (
        etag,
        modified,
        length,
    )
    if stream.status == 304 or (same and state is not None and state.complete and not stale):
        stream.close()
        return "unchanged", None
    progress = Progress(url, length, None, etag, modified, now, run_id)
    opened = Opened(stream.read, stream.close)
    if state is not None and not state.complete and same:
        if stream.status == 206:
            opened.start = state.next_offset
        else:  # the server ignored Range: read up to where the last run stopped, keep nothing
            opened.start = stream.skip(state.next_offset)
        opened.skip_pos = state.next_pos
        return "resumed", (opened, progress)
    return "fresh", (opened, progress)
