"""RSS/Atom/RDF and JSON feeds: a registry with health, polling, new entries' pages."""

from newsetl.sources.feeds.poll import FeedStats
from newsetl.sources.feeds.source import FEEDS_FLOW, FeedSource, ingest_feeds

__all__ = ["FEEDS_FLOW", "FeedSource", "FeedStats", "ingest_feeds"]
