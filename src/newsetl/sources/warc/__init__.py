"""WARC / WARC.gz archives (files or http(s) URLs): each HTML response record is an input."""

from newsetl.sources.warc.source import WARC_FLOW, WarcSource, ingest_warc, is_url, is_warc_name

__all__ = ["WARC_FLOW", "WarcSource", "ingest_warc", "is_url", "is_warc_name"]
