"""Run settings: defaults, overridable from ``NEWSETL_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

MB = 1024 * 1024
DEFAULT_DB = Path("warehouse") / "news.duckdb"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def default_db_path() -> Path:
    """``NEWSETL_DB`` if set, else ``warehouse/news.duckdb`` relative to the working directory."""
    return Path(os.environ.get("NEWSETL_DB") or DEFAULT_DB)


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know besides its inputs.

    Kept immutable and picklable: worker processes receive a copy.
    """

    db_path: Path = field(default_factory=default_db_path)
    # Inputs larger than this (on disk, or once decompressed) are rejected, never read whole.
    max_file_bytes: int = 20 * MB
    batch_size: int = 500
    workers: int = field(default_factory=default_workers)
    # Seconds one input may spend in a worker before it is rejected as a timeout.
    item_timeout_s: float = 120.0
    # Seconds a writer waits for another process's DuckDB lock before giving up.
    lock_timeout_s: float = 60.0
    # trafilatura focus: 'balanced', 'precision' or 'recall'.
    extract_focus: str = "balanced"
    # Texts with fewer words are rejected: a menu or a cookie banner is not an article.
    min_words: int = 8
    # Keep every input's raw bytes (zstd, content-addressed) for replay and reprocessing.
    archive_raw: bool = True
    # Where: default <db dir>/<db name>.raw (or NEWSETL_RAW_DIR).
    raw_dir: Path | None = None
    # Days to keep raw bytes after an input was last seen; 0 keeps them forever.
    raw_retention_days: int = 0
    # Runs refresh the search index in place when at most this many articles changed;
    # larger (bulk) loads are indexed by the nightly maintenance or the next search.
    search_refresh_max: int = 1000

    @property
    def archive_dir(self) -> Path:
        from newsetl.storage.raw_archive import default_archive_dir

        return self.raw_dir if self.raw_dir is not None else default_archive_dir(self.db_path)

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        base = cls(
            max_file_bytes=_env_int("NEWSETL_MAX_FILE_MB", 20) * MB,
            batch_size=_env_int("NEWSETL_BATCH_SIZE", 500),
            workers=_env_int("NEWSETL_WORKERS", default_workers()),
            item_timeout_s=_env_float("NEWSETL_ITEM_TIMEOUT", 120.0),
            lock_timeout_s=_env_float("NEWSETL_LOCK_TIMEOUT", 60.0),
            extract_focus=os.environ.get("NEWSETL_EXTRACT_FOCUS", "balanced"),
            min_words=_env_int("NEWSETL_MIN_WORDS", 8),
            archive_raw=os.environ.get("NEWSETL_ARCHIVE_RAW", "1").strip().lower()
            not in ("0", "false", "no"),
            raw_retention_days=_env_int("NEWSETL_RAW_RETENTION_DAYS", 0),
            search_refresh_max=_env_int("NEWSETL_SEARCH_REFRESH_MAX", 1000),
        )
        clean = {k: v for k, v in overrides.items() if v is not None}
        for key in ("db_path", "raw_dir"):
            if key in clean:
                clean[key] = Path(clean[key])
        settings = replace(base, **clean)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.workers < 0:
            raise ValueError("workers must be 0 (in-process) or more")
        if self.max_file_bytes < 1:
            raise ValueError("max_file_bytes must be positive")
        if self.extract_focus not in {"balanced", "precision", "recall"}:
            raise ValueError("extract_focus must be 'balanced', 'precision' or 'recall'")
