"""Which files are not articles by their type, and why: the ``skipped`` outcome.

A folder of pages often holds other things beside them: ground-truth JSON, CSV/TSV indexes,
images, notes, feeds, archives. Those are recorded as ``skipped`` with the kind of file
they are, not as ``rejected``: a rejection is an input that should have become an article
and could not. The decision is by type, never by a file's name or folder: the extension
(``.gz`` wraps any of them), the media type the system knows for it, and for an unknown
extension the first bytes (image and archive magic numbers, JSON, XML, WARC). A file whose
type cannot be told stays a rejection ("unsupported file type"), so nothing is hidden.
"""

from __future__ import annotations

import mimetypes
import zlib

from newsetl.pipeline.decode import GZIP_MAGIC

# Extensions by what they are; checked before the system's media types (which differ
# between machines), so the common cases are the same everywhere.
_BY_SUFFIX: dict[str, str] = {}
for _what, _suffixes in {
    "data (JSON)": "json jsonl ndjson geojson ipynb",
    "data (CSV/TSV)": "csv tsv tab",
    "data": "yaml yml toml parquet arrow feather avro sqlite sqlite3 db duckdb pickle pkl npy npz",
    "XML data (a feed or a sitemap?)": "xml rss atom rdf opml xsd xsl xslt",
    "notes (markup)": "md markdown rst org adoc asciidoc tex",
    "a style sheet or script": "css scss less js mjs ts py rb sh pl php java c h go rs",
    "an image": "png jpg jpeg gif webp bmp tif tiff ico svg avif heic psd",
    "audio or video": "mp3 m4a ogg oga wav flac opus mp4 m4v mov webm mkv avi",
    "a font": "woff woff2 ttf otf eot",
    "an archive": "zip tar tgz bz2 xz zst 7z rar",
    "a WARC archive (give it to `newsetl ingest` by name)": "warc arc",
    "a log, checksum or manifest": "log sha1 sha256 sha512 md5 sig asc lock map",
}.items():
    for _s in _suffixes.split():
        _BY_SUFFIX["." + _s] = _what

_BY_MAJOR = {"image": "an image", "audio": "audio or video", "video": "audio or video", "font": "a font"}

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF87a", "an image"),
    (b"GIF89a", "an image"),
    (b"RIFF", "an image or media file"),
    (b"PK\x03\x04", "an archive"),
    (b"7z\xbc\xaf\x27\x1c", "an archive"),
    (b"(\xb5/\xfd", "an archive"),
    (b"SQLite format 3\x00", "data"),
    (b"PAR1", "data"),
    (b"WARC/", "a WARC archive (give it to `newsetl ingest` by name)"),
    (b"<?xml", "XML data (a feed or a sitemap?)"),
)


def _inner_suffix(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    dot = lower.rfind(".")
    return lower[dot:] if dot > 0 else ""


def by_name(name: str) -> str | None:
    """What a file is, from its extension, when that is known not to be an article."""
    suffix = _inner_suffix(name)
    if not suffix:
        return None
    what = _BY_SUFFIX.get(suffix)
    if what is not None:
        return what
    mt, _ = mimetypes.guess_type("x" + suffix, strict=False)
    if mt is not None:
        return _BY_MAJOR.get(mt.split("/", 1)[0])
    return None


def by_content(head: bytes) -> str | None:
    """What a file is from its first bytes (gunzipped when gzip), when not an article."""
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 2048)
        except zlib.error:
            return None
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if low[:1] in (b"{", b"[") and b"<" not in low[:200]:
        return "data (JSON)"
    return None


def not_an_article(path: str, name: str, *, sniff: bool = True) -> str | None:
    """The skip reason for a file that is not an article by its type, or None."""
    what = by_name(name)
    if what is None and sniff:
        try:
            with open(path, "rb") as fh:
                what = by_content(fh.read(2048))
        except OSError:
            return None  # the read stage (or discovery) reports the real error
    if what is None:
        return None
    return f"not an article: {what}"
