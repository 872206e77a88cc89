"""WARC / WARC.gz archives (files or http(s) URLs): each HTML response record is an input.

The source itself (and with it the run engine) loads on first use of its names, so that
``newsetl ingest`` can tell archives from files with :mod:`.names` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from newsetl.sources.warc.names import is_url, is_warc_name

if TYPE_CHECKING:
    from newsetl.sources.warc.source import WARC_FLOW, WarcSource, ingest_warc

__all__ = ["WARC_FLOW", "WarcSource", "ingest_warc", "is_url", "is_warc_name"]


def __getattr__(name: str) -> Any:
    if name in ("WARC_FLOW", "WarcSource", "ingest_warc"):
        from newsetl.sources.warc import source

        return getattr(source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
