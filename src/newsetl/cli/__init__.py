"""The ``newsetl`` command line: argument parsing and output over the library."""

import atexit
import gc

from newsetl.cli import analyst, feeds, health, ingest, ops, query, server, sitemaps, urls
from newsetl.cli.app import app, own_process
from newsetl.cli.helptext import reflow_commands

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

reflow_commands(app)  # every command module has registered its commands by now


def main() -> None:
    # Registered first, so it runs last, after every other exit handler (Prefect's flushes
    # included): the interpreter's final collections would otherwise walk every object of
    # Prefect, pydantic and DuckDB's modules (~0.45 s per command, measured) only to free
    # memory the OS takes back anyway. Objects freed by reference counting still are.
    atexit.register(gc.freeze)
    own_process()
    app()
