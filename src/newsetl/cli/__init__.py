"""The ``newsetl`` command line."""

from newsetl.cli.app import app, main

__all__ = ["app", "main"]
