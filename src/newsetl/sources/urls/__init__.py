"""Lists of page URLs, and what every URL source shares (fetching pages, repeats, hints)."""

from newsetl.sources.urls.fetch import UrlChunk, UrlFetchSource, UrlWork, parse_when
from newsetl.sources.urls.source import URLS_FLOW, UrlListSource, ingest_urls

__all__ = ["URLS_FLOW", "UrlChunk", "UrlFetchSource", "UrlListSource", "UrlWork", "ingest_urls", "parse_when"]
