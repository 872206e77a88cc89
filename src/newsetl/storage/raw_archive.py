"""Content-addressed archive of every input's raw bytes (zstd), next to the warehouse.

What makes replay and reprocessing possible without refetching or re-reading inputs that
may have changed or vanished since. Blobs are named by the sha256 of the raw bytes, written
atomically (temporary file + rename) and never modified, so a crash can leave at most an
unreferenced blob, never a torn one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import zstandard

from newsetl.errors import TerminalError
from newsetl.settings import Settings

_LEVEL = 1  # ~0.4 ms per 240 KB page, 4.7x smaller; level 3 costs 40% more for 6% smaller


class ArchiveError(TerminalError):
    """A blob is missing or does not match its name."""


def archive_root(settings: Settings) -> str:
    """``NEWSETL_RAW_DIR`` (``settings.archive.raw_dir``) if set, else the backend's default
    (beside a DuckDB file; under the data path of a lake)."""
    if settings.archive.raw_dir:
        return settings.archive.raw_dir
    from newsetl.storage.backends import open_warehouse

    return open_warehouse(settings.storage).raw_archive_root()


class RawArchive:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Store ``data`` unless already stored; returns its sha256."""
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if target.is_file():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = zstandard.ZstdCompressor(level=_LEVEL).compress(data)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".zst")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str, *, max_bytes: int = 1 << 31) -> bytes:
        try:
            blob = self.path_for(sha256).read_bytes()
        except FileNotFoundError as exc:
            raise ArchiveError(f"raw bytes {sha256[:12]}… are not in the archive at {self.root}") from exc
        data = zstandard.ZstdDecompressor().decompress(blob, max_output_size=max_bytes)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ArchiveError(f"archived blob {sha256[:12]}… is corrupt (hash mismatch)")
        return data

    def delete(self, sha256: str) -> bool:
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
