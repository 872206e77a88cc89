"""The ``newsetl`` command line: argument parsing and output over the library."""

from newsetl.cli import analyst, feeds, ingest, ops, query, server
from newsetl.cli.app import app

__all__ = ["analyst", "app", "feeds", "ingest", "main", "ops", "query", "server"]


def main() -> None:
    app()
