"""The library pipeline on real pages: accounting, idempotence, duplicates, updates."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.storage.raw_archive import archive_root

from .conftest import corpus_path
from .helpers import store, table_rows


def _outcomes(db: Path, run_id: str) -> dict[str, int]:
    return dict(table_rows(db, f"SELECT outcome, count(*) FROM inputs WHERE run_id = '{run_id}' GROUP BY 1"))  # type: ignore[arg-type]


def _copy_pages(dest: Path, n: int = 30) -> list[Path]:
    src = corpus_path("article-extraction-benchmark", "html")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for p in sorted(src.iterdir())[:n]:
        out.append(Path(shutil.copy2(p, dest / p.name)))
    return out


def test_ingest_accounting_and_idempotent_rerun(tmp_path: Path, settings: Settings, seed_file: Path) -> None:
    pages = tmp_path / "pages"
    _copy_pages(pages, 30)
    shutil.copy2(seed_file, pages / seed_file.name)
    first = ingest_files([pages], settings)
    assert first.status == "completed"
    assert first.report.total == 31
    assert first.report.counts["loaded"] + first.report.counts["rejected"] == 31
    assert first.report.counts["loaded"] >= 29
    db = Path(settings.db)
    n_articles = table_rows(db, "SELECT count(*) FROM articles")[0][0]
    assert n_articles == first.report.counts["loaded"]

    second = ingest_files([pages], settings)
    assert second.report.counts["unchanged"] == first.report.counts["loaded"]
    assert second.report.counts["loaded"] == second.report.counts["updated"] == 0
    assert table_rows(db, "SELECT count(*) FROM articles")[0][0] == n_articles
    # Unchanged files were not even read: no extraction time was spent on them.
    assert (
        table_rows(
            db,
            f"SELECT max(duration_ms) FROM inputs WHERE run_id = '{second.run_id}' AND outcome = 'unchanged'",
        )[0][0]
        == 0
    )
    # runs rows agree with the ledger, for both runs.
    for run_id, n_inputs, total in table_rows(
        db,
        """SELECT r.run_id, r.n_inputs, count(i.run_id) FROM runs r JOIN inputs i USING (run_id)
           GROUP BY ALL""",
    ):
        assert n_inputs == total, run_id
    lineage = table_rows(
        db,
        """SELECT count(*) FROM articles a JOIN inputs i ON i.article_id = a.article_id
           AND i.run_id = a.first_run_id AND i.outcome = 'loaded'""",
    )[0][0]
    assert lineage == n_articles  # every article traces back to the input that loaded it


def test_touched_file_is_confirmed_unchanged_by_hash(tmp_path: Path, inline_settings: Settings) -> None:
    pages = tmp_path / "pages"
    (page,) = _copy_pages(pages, 1)
    ingest_files([pages], inline_settings)
    os.utime(page, ns=(1_000_000_000, 1_000_000_000))  # new mtime, same bytes
    again = ingest_files([pages], inline_settings)
    assert again.report.counts["unchanged"] == 1


def test_same_text_under_another_name_is_a_duplicate(
    tmp_path: Path, inline_settings: Settings, seed_file: Path
) -> None:
    a = tmp_path / "a"
    a.mkdir()
    shutil.copy2(seed_file, a / "original.txt")
    ingest_files([a], inline_settings)
    b = tmp_path / "b"
    b.mkdir()
    # Same article, different bytes: other line endings and trailing whitespace.
    text = seed_file.read_text(encoding="utf-8").replace("\n", "  \r\n")
    (b / "copy.txt").write_bytes(text.encode("utf-8"))
    run = ingest_files([b], inline_settings)
    assert run.report.counts["duplicate"] == 1
    db = Path(inline_settings.db)
    assert table_rows(db, "SELECT count(*) FROM articles")[0][0] == 1
    ids = {r[0] for r in table_rows(db, "SELECT article_id FROM inputs")}
    assert len(ids) == 1


def test_changed_content_for_same_url_is_an_update(tmp_path: Path, inline_settings: Settings) -> None:
    html = (Path(__file__).resolve().parents[1] / "examples" / "harbour-ferry.html").read_text(
        encoding="utf-8"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    page = inbox / "ferry.html"
    page.write_text(html, encoding="utf-8")
    first = ingest_files([inbox], inline_settings)
    assert first.report.counts["loaded"] == 1
    page.write_text(html.replace("212 passengers", "214 passengers"), encoding="utf-8")
    second = ingest_files([inbox], inline_settings)
    assert second.report.counts["updated"] == 1
    db = Path(inline_settings.db)
    (version, text, first_run, run) = table_rows(
        db, "SELECT version, text, first_run_id, run_id FROM articles"
    )[0]
    assert version == 2 and "214 passengers" in str(text)
    assert first_run == first.run_id and run == second.run_id
    old = table_rows(db, "SELECT version, text, run_id, superseded_by_run FROM article_versions")
    assert len(old) == 1 and old[0][0] == 1 and "212 passengers" in str(old[0][1])
    assert old[0][2] == first.run_id and old[0][3] == second.run_id


def test_examples_folder_loads_all_three_kinds(inline_settings: Settings) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    run = ingest_files([examples], inline_settings)
    assert run.report.counts["loaded"] == 3
    rows = table_rows(
        Path(inline_settings.db),
        "SELECT text_source, language, encoding, title IS NOT NULL FROM articles ORDER BY source_ref",
    )
    assert rows == [
        ("html", "de", "cp1252", True),  # gzipped, declared iso-8859-1
        ("html", "en", "utf-8", True),
        ("text", "de", "utf-8", True),
    ]


def test_unchanged_files_do_not_count_towards_batch_size(tmp_path: Path, db_path: Path) -> None:
    """A no-op re-run is one batch however small batch_size is: skipped files ride along."""
    from newsetl.pipeline.engine import Run
    from newsetl.sources.files import FileSource

    pages = tmp_path / "pages"
    _copy_pages(pages, 12)
    settings = Settings.make(db=db_path, workers=0, batch_size=5)
    first = ingest_files([pages], settings)
    assert first.report.counts["loaded"] == 12
    with Run(FileSource([pages]), settings) as run:
        batches = list(run.batches())
        run.finish()
    assert len(batches) == 1
    assert len(batches[0]) == 12 and not batches[0].needs_work


def test_an_edited_headline_alone_is_a_revision(tmp_path: Path, inline_settings: Settings) -> None:
    html = (Path(__file__).resolve().parents[1] / "examples" / "harbour-ferry.html").read_text(
        encoding="utf-8"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    page = inbox / "ferry.html"
    page.write_text(html, encoding="utf-8")
    ingest_files([inbox], inline_settings)
    edited = html.replace("returns after two-year repair</title>", "is back after two-year repair</title>")
    edited = edited.replace("<h1>Harbour ferry returns", "<h1>Harbour ferry is back")
    page.write_text(edited, encoding="utf-8")
    run = ingest_files([inbox], inline_settings)
    assert run.report.counts["updated"] == 1
    db = Path(inline_settings.db)
    assert table_rows(db, "SELECT version, title FROM articles") == [
        (2, "Harbour ferry is back after two-year repair")
    ]
    assert table_rows(db, "SELECT version, title FROM article_versions") == [
        (1, "Harbour ferry returns after two-year repair")
    ]


def test_two_versions_in_one_batch_keep_the_first_as_a_version(
    tmp_path: Path, inline_settings: Settings
) -> None:
    html = (Path(__file__).resolve().parents[1] / "examples" / "harbour-ferry.html").read_text(
        encoding="utf-8"
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.html").write_text(html, encoding="utf-8")
    (inbox / "b.html").write_text(html.replace("212 passengers", "214 passengers"), encoding="utf-8")
    (inbox / "c.html").write_text(html.replace("212 passengers", "216 passengers"), encoding="utf-8")
    run = ingest_files([inbox], inline_settings)  # one batch: loaded, then updated twice
    assert (run.report.counts["loaded"], run.report.counts["updated"]) == (1, 2)
    db = Path(inline_settings.db)
    assert table_rows(db, "SELECT version FROM articles") == [(3,)]
    kept = table_rows(db, "SELECT version, text LIKE '%212 passengers%', text LIKE '%214 passengers%' "
                          "FROM article_versions ORDER BY version")  # fmt: skip
    assert kept == [(1, True, False), (2, False, True)]
    from newsetl.analysis.audit import run_audit

    assert run_audit(store(db), archive_root(inline_settings)).ok
