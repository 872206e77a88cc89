"""URL normalisation: identity for articles and feed entries, so it must neither merge
distinct pages nor split one page into several."""

from __future__ import annotations

import pytest

from newsetl.web.urls import normalize_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Keys without a value select content too: kept, in their bare form.
        ("https://example.com/page/ok?l", "https://example.com/page/ok?l"),
        ("https://example.com/page/ok?l=", "https://example.com/page/ok?l="),
        ("https://example.com/page/ok", "https://example.com/page/ok"),
        ("https://example.com/article.php?12345", "https://example.com/article.php?12345"),
        ("https://example.com/a?print&utm_source=rss", "https://example.com/a?print"),
        ("https://example.com/a?b&a=1&b=2", "https://example.com/a?a=1&b&b=2"),
        # Tracking keys go, with or without a value.
        ("https://example.com/a?utm_source", "https://example.com/a"),
        ("https://example.com/a?fbclid=x&gclid&id=3", "https://example.com/a?id=3"),
        # Unchanged from before (these are stored identities): sorted keys, quote_plus.
        ("https://Ex.com:443/a?b=2&a=1&utm_source=x#frag", "https://ex.com/a?a=1&b=2"),
        ("http://x.de/live?id=3&utm_source=y&fbclid=z", "http://x.de/live?id=3"),
        ("http://x.de/p?q=a+b&q=c%20d&z=%E2%82%AC", "http://x.de/p?q=a+b&q=c+d&z=%E2%82%AC"),
        ("http://x.de/p?k=v=w", "http://x.de/p?k=v%3Dw"),
        ("http://x.de/p?a=1&&b=2", "http://x.de/p?a=1&b=2"),
        ("http://x.de/p?click_id=1&clickid=2&partnerid=3&x=1", "http://x.de/p?click_id=1&x=1"),
        ("http://x.de/#!/hash", "http://x.de/#!/hash"),
        ("ftp://x.de/p", None),
    ],
)
def test_normalize_url(url: str, expected: str | None) -> None:
    assert normalize_url(url) == expected


def test_distinct_bare_keys_stay_distinct() -> None:
    urls = ["https://h.example/p?a", "https://h.example/p?b", "https://h.example/p"]
    assert len({normalize_url(u) for u in urls}) == 3
    assert normalize_url("https://h.example/p?a&utm_medium=x") == normalize_url("https://h.example/p?a")
