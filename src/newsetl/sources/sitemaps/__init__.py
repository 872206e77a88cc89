"""Sitemaps (Google News sitemaps included): a registry with health, discovery through
robots.txt, nested and gzipped indexes within limits, listed URLs -> their pages."""

from newsetl.sources.sitemaps.crawl import SitemapStats
from newsetl.sources.sitemaps.source import SITEMAPS_FLOW, SitemapSource, ingest_sitemaps

__all__ = ["SITEMAPS_FLOW", "SitemapSource", "SitemapStats", "ingest_sitemaps"]
