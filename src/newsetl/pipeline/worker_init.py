"""Imported once by the forkserver so every worker starts with trafilatura and the
language model already loaded (forked copy-on-write, not re-imported per worker)."""

from __future__ import annotations

import newsetl.pipeline.process  # noqa: F401  (heavy imports: trafilatura, lxml, htmldate)
from newsetl.pipeline.enrich import warm_up

warm_up()

__all__ = ["warm_up"]
