"""Parse a 50,000-URL Google News-style sitemap with newsetl's parser (lxml iterparse) and,
when it is installed, ultimate-sitemap-parser's offline ``sitemap_from_str``; time and peak
traced memory of each, in one run.

    python bench/sitemap_parse_bench.py [N]        # default 50,000 URLs

ultimate-sitemap-parser is not a newsetl dependency: install it in a scratch environment
to compare (``pip install ultimate-sitemap-parser``) and run this file with that Python.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'


def sitemap(n: int) -> bytes:
    rows = [
        f"<url><loc>https://news.example/{i}/story-{i}.html</loc>"
        f"<lastmod>2024-05-01T10:{i % 60:02d}:00Z</lastmod>"
        "<news:news><news:publication><news:name>Example</news:name><news:language>en</news:language>"
        f"</news:publication><news:publication_date>2024-05-01</news:publication_date>"
        f"<news:title>Story number {i}</news:title><news:keywords>a, b</news:keywords></news:news></url>"
        for i in range(n)
    ]
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{"".join(rows)}</urlset>'.encode()


def measure(name: str, fn: Callable[[], Any]) -> None:
    started = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - started  # timed without tracemalloc (it slows small allocations)
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name:<42} {count:>7} URLs  {seconds:6.2f} s  peak {peak / 2**20:6.1f} MB")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    body = sitemap(n)
    print(f"sitemap: {n} URLs, {len(body) / 2**20:.1f} MB")
    try:
        from newsetl.sources.sitemaps.parse import parse_sitemap

        measure("newsetl parse_sitemap (lxml iterparse)", lambda: len(parse_sitemap(body).entries))
    except ImportError as exc:
        print(f"newsetl not importable here ({exc})")
    try:
        from usp.tree import sitemap_from_str
    except ImportError:
        print("ultimate-sitemap-parser not installed: skipped")
        return
    text = body.decode()
    measure(
        "ultimate-sitemap-parser sitemap_from_str", lambda: sum(1 for _ in sitemap_from_str(text).all_pages())
    )


if __name__ == "__main__":
    main()
