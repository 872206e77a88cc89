from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import pytest

from newsetl.errors import InputPathError, Rejection
from newsetl.models import DocKind, Processed
from newsetl.pipeline.decode import gunzip_bounded
from newsetl.sources.files.discover import FileRef, check_paths, classify, discover, read_bytes


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a.html", DocKind.HTML),
        ("a.HTM", DocKind.HTML),
        ("a.html.gz", DocKind.HTML),
        ("a.htm.gz", DocKind.HTML),
        ("a.txt", DocKind.TEXT),
        ("a.txt.gz", DocKind.TEXT),
        ("a.json", None),
        ("a.gz", None),
        ("README", None),
    ],
)
def test_classify(name: str, kind: DocKind | None) -> None:
    assert classify(name) == kind


def test_discover_is_recursive_sorted_and_reports_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.html").write_text("<html></html>")
    (tmp_path / "a.txt").write_text("text")
    (tmp_path / "meta.json").write_text("{}")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01")
    found = list(discover([str(tmp_path)]))
    refs = [f for f in found if isinstance(f, FileRef)]
    settled = [f for f in found if isinstance(f, Processed)]
    assert [Path(r.path).name for r in refs] == ["a.txt", "z.html"]
    assert [(Path(r.source_ref).name, r.stage, r.outcome_hint) for r in settled] == [
        ("blob.bin", "discover", None),
        ("meta.json", "discover", "skipped"),
    ]
    assert "unsupported file type .bin" in (settled[0].reason or "")
    assert settled[1].reason == "not an article: data (JSON)"


def test_explicit_file_without_extension_is_sniffed(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"<!DOCTYPE html><html><body>x</body></html>")
    note = tmp_path / "note"
    note.write_text("Just some words.")
    refs = list(discover([str(page), str(note)]))
    assert [r.kind for r in refs if isinstance(r, FileRef)] == [DocKind.HTML, DocKind.TEXT]


def test_symlink_loops_and_broken_links_are_rejections(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "ok.txt").write_text("fine")
    os.symlink(d, d / "loop")  # directory linking back to its parent
    os.symlink(tmp_path / "missing.txt", d / "broken.txt")
    os.symlink(d / "self.txt", d / "self.txt")  # ELOOP
    found = list(discover([str(d)]))
    reasons = {Path(f.source_ref).name: f.reason for f in found if isinstance(f, Processed)}
    assert reasons["loop"] and "symlink loop" in reasons["loop"]
    assert reasons["broken.txt"] == "broken symlink"
    assert "symlink loop" in (reasons["self.txt"] or "")
    assert [Path(f.path).name for f in found if isinstance(f, FileRef)] == ["ok.txt"]


def test_missing_path_is_a_run_error(tmp_path: Path) -> None:
    with pytest.raises(InputPathError, match="no such file"):
        check_paths([tmp_path / "nope"])


def test_size_cap_is_checked_before_reading(tmp_path: Path) -> None:
    p = tmp_path / "big.txt"
    p.write_bytes(b"x" * 2000)
    with pytest.raises(Rejection, match="too large"):
        read_bytes(str(p), 1000)


def test_gunzip_multi_member_and_padding() -> None:
    data = gzip.compress(b"hello ") + gzip.compress(b"world") + b"\x00" * 16
    assert gunzip_bounded(data, 100) == b"hello world"


def test_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(b"\x00" * (50 * 1024 * 1024))  # 50 MB of zeros, ~50 KB compressed
    assert len(bomb) < 100_000
    with pytest.raises(Rejection, match="exceeds the cap"):
        gunzip_bounded(bomb, 1024 * 1024)


def test_truncated_and_corrupt_gzip() -> None:
    good = gzip.compress(b"some article text " * 200)
    with pytest.raises(Rejection, match="truncated"):
        gunzip_bounded(good[: len(good) // 2], 10**6)
    corrupt = bytearray(good)
    corrupt[20:40] = b"\xff" * 20
    with pytest.raises(Rejection, match="corrupt gzip"):
        gunzip_bounded(bytes(corrupt), 10**6)
    with pytest.raises(Rejection, match="corrupt gzip"):
        gunzip_bounded(b"\x1f\x8b" + b"junk" * 10, 10**6)


def test_raw_deflate_is_not_mistaken_for_gzip() -> None:
    raw = zlib.compress(b"abc")
    with pytest.raises(Rejection):
        gunzip_bounded(b"\x1f\x8b" + raw, 100)


def test_hidden_entries_are_skipped_in_directories(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.html").write_text("<html></html>")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "a.txt").write_text("text")
    assert [Path(f.path).name for f in discover([str(tmp_path)]) if isinstance(f, FileRef)] == ["a.txt"]
    assert all(isinstance(f, FileRef) for f in discover([str(tmp_path)]))
