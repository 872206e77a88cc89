"""Which command-line targets are WARC archives: cheap to import, so that ``newsetl ingest``
can route its arguments before the WARC reader and the run engine are loaded."""

from __future__ import annotations


def is_warc_name(name: str) -> bool:
    lower = name.lower().split("?", 1)[0]
    return lower.endswith((".warc", ".warc.gz"))


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))
