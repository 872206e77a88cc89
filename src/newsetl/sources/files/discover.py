"""Files as a source: lazy, deterministic discovery and bounded reading.

Discovery never loads more than one directory listing at a time, so memory does not grow
with the size of the tree. Every regular file found becomes an input; files that are not
articles by their type are yielded as skipped, files that cannot be used as rejections, so
both still reach the ``inputs`` ledger.
"""

from __future__ import annotations

import errno
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from newsetl.errors import InputPathError, Rejection
from newsetl.models import DocKind, Processed, Stage
from newsetl.pipeline.decode import GZIP_MAGIC
from newsetl.pipeline.outcomes import skipped
from newsetl.pipeline.shards import WHOLE, Shard
from newsetl.sources.files.types import not_an_article

HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
COMPRESSED_SUFFIXES = frozenset({".gz"})
KIND = "file"  # inputs.source_kind
DISCOVER = "discover"  # inputs.stage of files that cannot become an input at all


@dataclass(slots=True, frozen=True)
class FileRef:
    """A file found by discovery, with the stat data used to skip unchanged inputs."""

    path: str
    size: int
    mtime_ns: int
    kind: DocKind


def classify(name: str) -> DocKind | None:
    """Document kind from the file name; ``.gz`` wraps any known kind."""
    lower = name.lower()
    stem, dot, suffix = lower.rpartition(".")
    if not dot:
        return None
    if "." + suffix in COMPRESSED_SUFFIXES:
        return classify(stem)
    ext = "." + suffix
    if ext in HTML_SUFFIXES:
        return DocKind.HTML
    if ext in TEXT_SUFFIXES:
        return DocKind.TEXT
    return None


def _reject(path: str, stage: str, reason: str, size: int | None = None) -> Processed:
    return Processed(
        source_kind=KIND,
        source_ref=path,
        stage=stage,
        reason=reason,
        size_bytes=size,
    )


def check_paths(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute paths for a run, or :class:`InputPathError` if one does not exist at all."""
    out: list[str] = []
    for p in paths:
        ap = os.path.abspath(os.fspath(p))
        if not os.path.lexists(ap):
            raise InputPathError(f"no such file or directory: {p}")
        out.append(ap)
    if not out:
        raise InputPathError("no input paths given")
    return out


def discover(paths: Iterable[str], shard: Shard = WHOLE) -> Iterator[FileRef | Processed]:
    """Walk files and directories (recursively, sorted).

    Yields a :class:`FileRef` per usable file, a skipped :class:`Processed` for a file
    that is not an article by its type (data, images, notes: see :mod:`.types`) and a
    rejected one for anything else that cannot become an input (unknown type, broken link,
    loop, no access, not a regular file, a link out of the directory).

    Symlinks: a path named explicitly is followed wherever it points. A link found inside
    a directory is followed only if its target stays inside that directory (loops are
    detected); one pointing outside -- to a directory or a file -- is recorded and not
    followed: an inbox is a drop folder, and one link must not pull ``/etc``, a home
    directory or a whole file system (``/proc`` included) into the run.

    With a ``shard`` other than the whole, only the inputs of that shard are yielded (by the
    hash of their path relative to the root they were found under; see ``pipeline.shards``).
    """
    active: set[tuple[int, int]] = set()
    for root in paths:
        found = _walk(root, active, top=True, root=os.path.realpath(root))
        if shard.whole:
            yield from found
            continue
        for item in found:
            if shard.owns(shard_key(root, item.path if isinstance(item, FileRef) else item.source_ref)):
                yield item


def shard_key(root: str, path: str) -> str:
    """What a file's shard is decided by: its path relative to the input root it was found
    under (``/``-separated), or its name when the root is the file itself."""
    rel = os.path.relpath(path, root)
    if rel == ".":
        return os.path.basename(path)
    return rel.replace(os.sep, "/")


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def _walk(
    path: str, active: set[tuple[int, int]], top: bool = False, root: str = "", link: bool = False
) -> Iterator[FileRef | Processed]:
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            yield _reject(path, DISCOVER, "symlink loop")
        elif os.path.islink(path):
            yield _reject(path, DISCOVER, "broken symlink")
        else:
            yield _reject(path, DISCOVER, f"cannot stat: {exc.strerror or exc}")
        return
    if link and not top:
        real = os.path.realpath(path)
        if not _inside(real, root):
            what = "directory" if stat.S_ISDIR(st.st_mode) else "file"
            yield _reject(
                path,
                DISCOVER,
                f"symlink to a {what} outside the input directory ({real}): not followed",
            )
            return
    if stat.S_ISDIR(st.st_mode):
        key = (st.st_dev, st.st_ino)
        if key in active:
            yield _reject(path, DISCOVER, "symlink loop (directory links back to a parent)")
            return
        try:
            with os.scandir(path) as it:
                # Hidden entries (.git, .DS_Store, .gitkeep) are not articles by convention.
                names = sorted((e.name, e.is_symlink()) for e in it if not e.name.startswith("."))
        except OSError as exc:
            yield _reject(path, DISCOVER, f"cannot list directory: {exc.strerror or exc}")
            return
        active.add(key)
        try:
            for name, is_link in names:
                yield from _walk(os.path.join(path, name), active, root=root, link=is_link)
        finally:
            active.discard(key)
        return
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block the reader: never opened
        yield _reject(path, DISCOVER, "not a regular file (a FIFO, socket or device)")
        return
    name = os.path.basename(path)
    kind = classify(name)
    if kind is None:
        # Data, images, notes beside the pages are not articles: skipped, not rejected.
        why = not_an_article(path, name, sniff=False)
        if why is None and top:
            # A file named explicitly is worth a look even without a known extension.
            kind = _sniff(path)
        if kind is None:
            why = why or not_an_article(path, name)
            if why is not None:
                yield skipped(KIND, path, DISCOVER, why, size_bytes=st.st_size)
                return
            suffix = Path(path).suffix or "(none)"
            yield _reject(path, DISCOVER, f"unsupported file type {suffix}", st.st_size)
            return
    yield FileRef(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, kind=kind)


def _sniff(path: str) -> DocKind | None:
    try:
        with open(path, "rb") as fh:
            head = fh.read(2048)
    except OSError:
        return DocKind.TEXT  # let the read stage report the real error
    if head.startswith(GZIP_MAGIC):
        try:
            head = zlib.decompressobj(wbits=31).decompress(head, 2048)
        except zlib.error:
            return None
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low:
        return DocKind.HTML
    if b"\x00" in head:
        return None
    return DocKind.TEXT


_READ_ATTEMPTS = 3


def read_bytes(path: str, max_bytes: int) -> bytes:
    """Read one file whole, refusing anything over ``max_bytes`` before reading it."""
    return read_file(path, max_bytes)[0]


def read_file(path: str, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """One regular file's bytes, with the ``stat`` of exactly those bytes.

    - Opened non-blocking: a FIFO or device found where discovery saw a file cannot block
      the read (opening a FIFO without a writer would wait forever); it is refused.
    - The size cap is checked before reading.
    - A file written in place while it is read (its size or mtime differ after the read)
      is read again, up to three times, then refused; a file replaced by rename is read
      whole from the inode that was opened. So the bytes hashed, archived and extracted
      are one version of the file, and the stat recorded with them is that version's.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError as exc:
        raise Rejection(Stage.READ, f"permission denied: {exc.strerror}") from exc
    except FileNotFoundError as exc:
        raise Rejection(Stage.READ, "file vanished before it could be read") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Rejection(Stage.READ, "symlink loop") from exc
        raise Rejection(Stage.READ, f"cannot open: {exc.strerror or exc}") from exc
    try:
        with open(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise Rejection(Stage.READ, "is a directory")
            if not stat.S_ISREG(st.st_mode):
                raise Rejection(Stage.READ, "not a regular file (a FIFO, socket or device)")
            for _ in range(_READ_ATTEMPTS):
                if st.st_size > max_bytes:
                    raise Rejection(Stage.READ, f"file too large: {st.st_size} bytes > cap of {max_bytes}")
                fh.seek(0)
                data = fh.read(max_bytes + 1)
                after = os.fstat(fh.fileno())
                same = (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
                # (st_size 0 with content: procfs-like files, nothing to compare against)
                if same and (len(data) == st.st_size or st.st_size == 0):
                    break
                st = after
            else:
                raise Rejection(Stage.READ, "file kept changing while it was read")
    except OSError as exc:
        raise Rejection(Stage.READ, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise Rejection(Stage.READ, f"file grew past the cap of {max_bytes} bytes while reading")
    return data, st
    return data
