"""Which extractor produced an article: trafilatura's version plus newsetl's own revision.

Kept apart from the extract stage so that the loader, the runs table and reprocessing can
ask without importing the extraction libraries.
"""

from __future__ import annotations

from importlib.metadata import version

# Bump when newsetl's own cleaning or metadata rules change, so reprocessing can tell
# versions apart.
EXTRACT_REVISION = 1
TRAFILATURA_VERSION = version("trafilatura")
EXTRACTOR_VERSION = f"trafilatura-{TRAFILATURA_VERSION}+newsetl-{EXTRACT_REVISION}"
