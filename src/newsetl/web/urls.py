"""URL normalisation used for article identity and cross-feed deduplication."""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

from courlan import normalize_url as _courlan_normalize
from courlan.clean import TRACKERS_RE as _COURLAN_TRACKERS

# Query parameters that only track the reader, never select content (courlan removes the
# common ones; these are the stragglers seen on news sites).
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "matomo_", "hsa_", "oly_", "vero_")
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mkt_tok",
        "_ga", "_gl", "cmpid", "ocid", "ncid", "sr_share", "ref_src", "spm", "at_medium",
        "at_campaign", "wt_mc", "wt.mc_id", "s_cid", "icid", "cmp", "ito",
    }
)  # fmt: skip


def normalize_url(url: str | None) -> str | None:
    """Canonical form: lower-case scheme/host, no default port, no fragment, no tracking params.

    Returns None for anything that is not an absolute http(s) URL.
    """
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    try:
        norm = _courlan_normalize(url)
    except (ValueError, AttributeError):
        return None
    normed = urlsplit(norm)
    query = clean_query(parts.query)  # courlan's own query handling drops keys without a value
    fragment = normed.fragment if normed.fragment.startswith("!") else ""
    return urlunsplit((normed.scheme, normed.netloc, normed.path or "/", query, fragment))


def clean_query(query: str) -> str:
    """The query without tracking parameters, in courlan's canonical form (keys sorted,
    repeated keys kept in order, ``quote_plus`` encoding) -- but keys without a value stay:
    ``/page?l`` and ``/page`` are different pages. A bare key keeps its bare form (``l``,
    not ``l=``), as servers that read the raw query string expect."""
    groups: dict[str, list[str | None]] = {}
    for piece in query.split("&"):
        if not piece:
            continue
        raw_name, eq, raw_value = piece.partition("=")
        name = unquote_plus(raw_name)
        if not name or _is_tracking(name.lower()):
            continue
        groups.setdefault(name, []).append(unquote_plus(raw_value) if eq else None)
    out: list[str] = []
    for name in sorted(groups):
        key = quote_plus(name, safe="")
        for value in groups[name]:
            out.append(key if value is None else f"{key}={quote_plus(value, safe='')}")
    return "&".join(out)


def _is_tracking(name: str) -> bool:
    return (
        name in _TRACKING_NAMES
        or name.startswith(_TRACKING_PREFIXES)
        or _COURLAN_TRACKERS.search(name) is not None
    )


def domain_of(url: str | None) -> str | None:
    """Registered host without a leading ``www.``."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def is_article_url(url: str | None) -> bool:
    """False for URLs that cannot identify one article (a site's home page).

    Some sites declare their home page as every article's canonical URL; using it as an
    identity would merge unrelated articles into one.
    """
    if not url:
        return False
    try:
        path = urlsplit(url).path
    except ValueError:
        return False
    stripped = path.strip("/")
    return bool(stripped) and stripped.lower() not in {
        "index.html",
        "index.htm",
        "index.php",
        "home",
        "news",
    }
