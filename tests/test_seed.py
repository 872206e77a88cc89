"""The seed article: a real plain-text German article ending in a teaser line."""

from __future__ import annotations

from pathlib import Path

from newsetl.models import DocKind
from newsetl.pipeline.process import article_from_bytes


def test_seed_article(seed_file: Path) -> None:
    article = article_from_bytes(seed_file.read_bytes(), DocKind.TEXT, max_bytes=2**20)
    assert article.language == "de"
    assert article.title is None  # the first line is a full paragraph, not a headline
    assert "Mehr zum Thema" not in article.text
    assert "Trumps mögliche Rückkehr" not in article.text
    assert article.text.startswith("Die NATO hat sich verpflichtet")
    assert article.text.rstrip().endswith("nicht zu stoppen.")
    assert 320 <= article.word_count <= 345
    assert "“Dank der amerikanischen Führungsrolle" in article.text  # typographic quotes kept
    assert article.text_source == "text"
    assert article.reading_time_s > 60
    assert len(article.content_hash) == 64
    assert article.article_id  # from the content hash: a text file has no URL
    assert article.url is None
