"""WARC archives through the engine: every record accounted for once, broken ones rejected
with a reason, the rest of the archive still read; a second run reads nothing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from newsetl.analysis.audit import run_audit
from newsetl.settings import Settings
from newsetl.sources.warc import ingest_warc
from newsetl.sources.warc.reader import read_records

from ..helpers import store, table_rows
from .warcs import mixed_archive, pages_archive


def _records(path: Path) -> list[tuple[int, str | None, str | None]]:
    with path.open("rb") as fh:
        return [(r.offset, r.headers.get("warc-type"), r.problem)
                for r in read_records(fh.read, max_block=1 << 24)]  # fmt: skip


def test_reader_offsets_types_and_broken_records(tmp_path: Path) -> None:
    a = mixed_archive()
    path = a.write(tmp_path / "mixed.warc.gz")
    got = _records(path)
    assert [o for o, _, _ in got] == a.offsets()  # one record per member, at the member's first byte
    for (_, rtype, problem), (what, detail) in zip(got, a.expect, strict=True):
        if what == "rejected":
            assert problem is not None and detail in problem, (problem, detail)
        else:
            assert problem is None and rtype in ("response", "warcinfo", "request", "metadata", "revisit")


def test_reader_agrees_with_warcio_on_a_good_archive(tmp_path: Path) -> None:
    warcio = pytest.importorskip("warcio.archiveiterator")
    path = pages_archive(6).write(tmp_path / "good.warc.gz")
    with path.open("rb") as fh:
        it = warcio.ArchiveIterator(fh)
        theirs = [(it.get_record_offset(), r.rec_type) for r in it]
    assert [(o, t) for o, t, _ in _records(path)] == theirs


def test_plain_and_whole_file_gzip_warcs(tmp_path: Path) -> None:
    a = pages_archive(3)
    plain = b"".join(gzip.decompress(m) for m in a.members)
    (tmp_path / "p.warc").write_bytes(plain)
    (tmp_path / "w.warc.gz").write_bytes(gzip.compress(plain))
    for name in ("p.warc", "w.warc.gz"):
        got = _records(tmp_path / name)
        assert [t for _, t, _ in got] == ["warcinfo"] + ["request", "response"] * 3, name
        assert all(p is None for _, _, p in got)
    # Resuming inside a whole-file gzip member: the records before the position are dropped.
    with (tmp_path / "w.warc.gz").open("rb") as fh:
        recs = list(read_records(fh.read, max_block=1 << 24))
    third = recs[3]
    with (tmp_path / "w.warc.gz").open("rb") as fh:
        again = list(read_records(fh.read, skip_pos=third.pos, max_block=1 << 24))
    assert [r.pos for r in again] == [r.pos for r in recs[3:]]


def test_every_record_is_accounted_for_once(tmp_path: Path, inline_settings: Settings) -> None:
    a = mixed_archive()
    path = a.write(tmp_path / "mixed.warc.gz")
    first = ingest_warc([path], inline_settings)
    c = first.report.counts
    n_pages = sum(1 for w, _ in a.expect if w == "page")
    assert c["loaded"] + c["duplicate"] == n_pages, (c, first.top_reasons)
    assert c["skipped"] == sum(1 for w, _ in a.expect if w == "skipped")
    assert c["rejected"] == 3 and first.report.total == len(a.members)
    reasons = " | ".join(r for _, r, _ in first.top_reasons)
    assert "bad gzip data" in reasons and "bad WARC headers" in reasons and "truncated" in reasons
    skips = {r for _, r, _ in first.top_skipped}
    assert {
        "WARC warcinfo record",
        "WARC request record",
        "WARC metadata record",
        "HTTP 404 response (not a page)",
        "not an HTML response (Content-Type image/png)",
        "not an HTML response (Content-Type application/rss+xml)",
    } <= skips
    assert any(r.startswith("WARC revisit record") for r in skips)

    db = Path(inline_settings.db)
    refs = [r[0] for r in table_rows(db, "SELECT source_ref FROM inputs ORDER BY source_ref")]
    assert sorted(refs) == sorted(f"{path}#{o}" for o in a.offsets())  # archive + record offset, once each
    urls = {r[0] for r in table_rows(db, "SELECT url FROM articles")}
    assert {"https://news.example/b.html", "https://news.example/latin.html"} <= urls | {
        r[0] for r in table_rows(db, "SELECT target_uri FROM warc_records WHERE outcome = 'loaded'")
    }
    latin = table_rows(db, "SELECT text FROM articles WHERE text LIKE '%Bürgerinnen%'")
    assert latin, "the HTTP header's charset (iso-8859-1) was not honoured"
    dates = table_rows(
        db,
        "SELECT DISTINCT warc_date FROM warc_records WHERE record_type = 'response' "
        "AND outcome <> 'rejected'",
    )
    assert [str(d[0])[:19] for d in dates] == ["2024-05-01 10:00:00"]
    assert table_rows(db, "SELECT source_kind, count(*) FROM inputs GROUP BY ALL") == [
        ("warc", len(a.members))
    ]
    assert table_rows(db, "SELECT complete, next_offset FROM warc_archives") == [(True, path.stat().st_size)]
    assert run_audit(store(db)).ok

    second = ingest_warc([path], inline_settings)
    c2 = second.report.counts
    assert second.extra["archives_unchanged"] == 1 and "records_response" not in second.extra  # not read
    assert (c2["unchanged"], c2["skipped"], c2["rejected"]) == (c["loaded"] + c["duplicate"], c["skipped"], 3)
    assert table_rows(db, "SELECT count(*) FROM articles") == [(c["loaded"],)]
    assert run_audit(store(db)).ok


def test_a_changed_archive_is_read_again_without_reextracting(
    tmp_path: Path, inline_settings: Settings
) -> None:
    path = pages_archive(4).write(tmp_path / "a.warc.gz")
    ingest_warc([path], inline_settings)
    bigger = pages_archive(5)  # the same first records, one page more
    bigger.write(path)
    second = ingest_warc([path], inline_settings)
    c = second.report.counts
    assert second.extra["archives_unchanged"] == 0
    assert (c["unchanged"], c["loaded"]) == (4, 1), c
    db = Path(inline_settings.db)
    assert table_rows(db, "SELECT count(*) FROM warc_records") == [(len(bigger.members),)]


def test_warc_on_a_lake(tmp_path: Path) -> None:
    """The same SQL on DuckLake (no constraints, MERGE INTO): accounting and the unchanged rerun."""
    from newsetl.storage.backends import open_warehouse

    settings = Settings.make(
        db=f"ducklake:sqlite:{tmp_path / 'lake' / 'catalog.sqlite'}",
        workers=0,
        batch_size=3,
        lock_timeout_s=20,
    )
    a = pages_archive(4)
    path = a.write(tmp_path / "a.warc.gz")
    first = ingest_warc([path], settings)
    assert (first.report.counts["loaded"], first.report.counts["skipped"]) == (4, 5)
    second = ingest_warc([path], settings)
    assert second.extra["archives_unchanged"] == 1 and second.report.counts["unchanged"] == 4
    store_ = open_warehouse(settings.storage)
    with store_.session(read_only=True) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT source_ref) FROM warc_records").fetchone() == (
            9,
            9,
        )
        assert conn.execute("SELECT sum(n_skipped) FROM runs").fetchone() == (10,)
    assert run_audit(store_).ok
