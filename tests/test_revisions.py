"""Revisions of a real article: every version kept, the latest in ``articles``, and the
analyst views/history telling what changed, when, and which input and run did it."""

from __future__ import annotations

from pathlib import Path

from newsetl.analysis.history import article_history, resolve_article
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files

from .analyst_data import ADDED_PARAGRAPH, read_html, revisable_page, revise_page
from .conftest import corpus_path
from .helpers import connect, table_rows


def test_each_content_change_is_a_new_version_with_its_lineage(
    tmp_path: Path, inline_settings: Settings
) -> None:
    original = read_html(revisable_page(corpus_path()))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    page = inbox / "page.html"
    page.write_text(original, encoding="utf-8")
    runs = [ingest_files([inbox], inline_settings)]
    second = revise_page(original)
    page.write_text(second, encoding="utf-8")
    runs.append(ingest_files([inbox], inline_settings))
    correction = "Korrektur: In einer früheren Fassung dieses Beitrags stand ein falsches Datum."
    page.write_text(revise_page(second, drop=5, after=2, added=correction), encoding="utf-8")
    runs.append(ingest_files([inbox], inline_settings))
    assert [r.report.counts["loaded"] for r in runs] == [1, 0, 0]
    assert [r.report.counts["updated"] for r in runs] == [0, 1, 1]
    db = Path(inline_settings.db)

    (article_id, version, text, first_run, run) = table_rows(
        db, "SELECT article_id, version, text, first_run_id, run_id FROM articles"
    )[0]
    assert version == 3 and correction in str(text) and ADDED_PARAGRAPH in str(text)
    assert first_run == runs[0].run_id and run == runs[2].run_id
    old = table_rows(
        db, "SELECT version, run_id, superseded_by_run, text FROM article_versions ORDER BY version"
    )
    assert [(v, r, s) for v, r, s, _ in old] == [
        (1, runs[0].run_id, runs[1].run_id),
        (2, runs[1].run_id, runs[2].run_id),
    ]
    assert ADDED_PARAGRAPH not in str(old[0][3]) and ADDED_PARAGRAPH in str(old[1][3])

    changes = table_rows(
        db,
        """SELECT from_version, to_version, run_id, title_changed, added_paragraphs, len(removed_paragraphs)
           FROM article_changes ORDER BY to_version""",
    )
    assert [(c[0], c[1], c[2]) for c in changes] == [(1, 2, runs[1].run_id), (2, 3, runs[2].run_id)]
    assert changes[0][4] == [ADDED_PARAGRAPH] and changes[1][4] == [correction]
    assert all(c[3] is False and c[5] >= 1 for c in changes)

    with connect(db, read_only=True) as conn:
        url = conn.execute("SELECT url FROM articles").fetchone()[0]  # type: ignore[index]
        assert resolve_article(conn, url) == article_id
        assert resolve_article(conn, str(article_id)[:8]) == article_id
        h = article_history(conn, str(article_id))
    assert [v.version for v in h.versions] == [1, 2, 3] and h.versions[-1].is_current
    assert any(line == f"+{correction}" for line in h.changes[1].diff)
    assert [(r["outcome"], r["run_id"]) for r in h.lineage] == [
        ("loaded", runs[0].run_id), ("updated", runs[1].run_id), ("updated", runs[2].run_id)
    ]  # fmt: skip
    # An updated article is not its own near-duplicate, and keeps a single cluster row.
    assert table_rows(db, "SELECT count(*) FROM near_duplicates") == [(0,)]
    assert table_rows(db, "SELECT article_id, cluster_id FROM article_clusters") == [(article_id, article_id)]
