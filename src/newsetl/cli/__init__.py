"""The ``newsetl`` command line: argument parsing and output over the library."""

from newsetl.cli import analyst, feeds, ingest, ops, query, sitemaps, urls
from newsetl.cli.app import app

__all__ = ["analyst", "app", "feeds", "ingest", "main", "ops", "query", "sitemaps", "urls"]


def main() -> None:
    app()
