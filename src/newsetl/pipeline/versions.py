"""Which extractor produced an article: trafilatura's version plus newsetl's own revision.

Kept apart from the extract stage so that the loader, the runs table and reprocessing can
ask without importing the extraction libraries.
"""

from __future__ import annotations

from importlib.metadata import version

# Bump when newsetl's own cleaning or metadata rules change, so reprocessing can tell
# versions apart.
# 2: JSON-LD article record first for headline, publication time and byline; zones kept
#    or inferred; bylines split into people and agencies; site suffixes off titles.
# 3: lines of the text that are links to other pages (related stories, promos) dropped.
# 4: a body split across containers of one kind joined; headline, byline and dateline
#    lines dropped from the text; teaser list items with a kicker or date before the link.
EXTRACT_REVISION = 4
TRAFILATURA_VERSION = version("trafilatura")
EXTRACTOR_VERSION = f"trafilatura-{TRAFILATURA_VERSION}+newsetl-{EXTRACT_REVISION}"
