"""HTTP vocabulary shared by the web layer: stages, Accept headers, statuses, Content-Type."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime

# inputs.stage of inputs that failed in this layer: a request that failed, or one refused
# before it was made (scheme, address, robots.txt).
FETCH = "fetch"
POLICY = "policy"

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate"
ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
ACCEPT_PAGE = "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
INTERRUPTED = "interrupted"  # the error of every fetch ended or refused by Fetcher.abort()


def is_transient_status(status: int) -> bool:
    """Statuses that may go away by themselves: worth another try later."""
    if status in (408, 425, 429):
        return True
    return 500 <= status < 600 and status not in (501, 505, 506, 508, 510, 511)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def content_type_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    charset = msg.get_param("charset")
    if isinstance(charset, tuple):  # RFC 2231 form
        charset = charset[2]
    if not charset:
        return None
    return str(charset).strip().strip("'\"") or None


def media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None
