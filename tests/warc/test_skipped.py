"""Files that are not articles by their type are 'skipped' with the reason, not 'rejected'."""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from pathlib import Path

from newsetl.analysis.audit import run_audit
from newsetl.analysis.status import warehouse_status
from newsetl.settings import Settings
from newsetl.sources.files import ingest_files
from newsetl.sources.files.types import by_content, by_name

from ..conftest import corpus_path
from ..helpers import store, table_rows


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def test_types_by_name_and_content() -> None:
    assert by_name("ground-truth.json") == "data (JSON)"
    assert by_name("index.TSV") == "data (CSV/TSV)"
    assert by_name("x.csv.gz") == "data (CSV/TSV)"
    assert by_name("photo.jpeg") == "an image"
    assert by_name("README.md") == "notes (markup)"
    assert by_name("page.html") is None and by_name("meta.info") is None and by_name("blob.bin") is None
    assert by_content(_png()) == "an image"
    assert by_content(b'  {"url": "https://example.org/"}') == "data (JSON)"
    assert by_content(gzip.compress(b"[1, 2]")) == "data (JSON)"
    assert by_content(b"WARC/1.1\r\n") is not None
    assert by_content(b"<!DOCTYPE html><html>") is None
    assert by_content(b"\x00\x01\x02") is None


def test_folder_with_data_beside_pages(tmp_path: Path, inline_settings: Settings) -> None:
    pages = corpus_path("trafilatura", "cache")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = sorted(p.name for p in pages.iterdir() if p.suffix == ".html")[:3]
    for n in names:
        (inbox / n).write_bytes((pages / n).read_bytes())
    (inbox / "ground-truth.json").write_text(json.dumps({"a": {"articleBody": "x"}}))
    (inbox / "index.csv").write_text("file,url\na.html,https://example.org/a\n")
    (inbox / "index.tsv").write_text("file\turl\n")
    (inbox / "photo.png").write_bytes(_png())
    (inbox / "NOTES.md").write_text("# notes\nwhat these pages are\n")
    (inbox / "meta.info").write_text('{"a.html": {"url": "https://example.org/a"}}')  # sniffed: JSON
    (inbox / "blob.bin").write_bytes(b"\x00\x01\x02")  # unknown type: still a rejection

    first = ingest_files([inbox], inline_settings)
    c = first.report.counts
    assert c["skipped"] == 6, c
    assert c["rejected"] == 1 and c["loaded"] == 3, c
    assert [(r[1], n) for r in first.top_reasons for n in [r[2]]] == [("unsupported file type .bin", 1)]
    assert {r for _, r, _ in first.top_skipped} == {
        "not an article: data (JSON)",
        "not an article: data (CSV/TSV)",
        "not an article: an image",
        "not an article: notes (markup)",
    }
    db = Path(inline_settings.db)
    rows = dict(table_rows(db, "SELECT source_ref, outcome FROM inputs WHERE outcome = 'skipped'"))
    assert sorted(Path(str(r)).name for r in rows) == sorted(
        ["ground-truth.json", "index.csv", "index.tsv", "photo.png", "NOTES.md", "meta.info"]
    )
    assert table_rows(db, "SELECT n_inputs, n_skipped, n_rejected FROM runs") == [(10, 6, 1)]
    assert table_rows(db, "SELECT count(*) FROM rejections") == [(1,)]  # the view: rejections only
    st = {s.title: s for s in warehouse_status(store(db)).sections}
    last = dict(zip(st["last 10 runs"].columns, st["last 10 runs"].rows[0], strict=True))
    assert (last["skipped"], last["rejected"]) == (6, 1)
    assert len(st["skipped (not articles) in the last 7 days"].rows) == 4
    assert run_audit(store(db)).ok

    second = ingest_files([inbox], inline_settings)
    assert second.report.counts["skipped"] == 6 and second.report.counts["unchanged"] == 3
    assert run_audit(store(db)).ok


def test_corpus_folder_ground_truth_is_skipped(tmp_path: Path, settings: Settings) -> None:
    """fundus/uk: pages beside their expected-output JSON and meta.info."""
    folder = corpus_path("fundus", "uk")
    summary = ingest_files([folder], settings)
    c = summary.report.counts
    n_json = sum(1 for p in folder.iterdir() if p.suffix in (".json", ".info"))
    assert c["skipped"] == n_json and c["rejected"] == 0, (c, summary.top_reasons)
