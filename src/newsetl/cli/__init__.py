"""The ``newsetl`` command line: argument parsing and output over the library."""

from newsetl.cli import analyst, feeds, health, ingest, ops, query, server, sitemaps, urls
from newsetl.cli.app import app

__all__ = [
    "analyst",
    "app",
    "feeds",
    "health",
    "ingest",
    "main",
    "ops",
    "query",
    "server",
    "sitemaps",
    "urls",
]


def main() -> None:
    app()
