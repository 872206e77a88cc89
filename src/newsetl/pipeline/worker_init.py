"""Imported once by the forkserver so every worker starts with the extraction modules,
trafilatura, the language model and dateparser already loaded (forked copy-on-write, not
loaded again per worker)."""

from __future__ import annotations

from newsetl.pipeline.process import warm_up

warm_up()

__all__ = ["warm_up"]
