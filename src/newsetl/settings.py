"""Every setting newsetl has, in sections, with one parser for the ``NEWSETL_*`` environment.

One frozen, picklable :class:`Settings` travels with a run (worker processes get a copy).
Sections group what belongs together: ``storage`` (where the warehouse is), ``run``
(batching, workers), ``extract``, ``archive`` (raw bytes), ``search``, ``web`` (how newsetl
talks to other hosts), ``feeds`` and ``sitemaps``. Field names are unique across sections, so callers
override by name: ``Settings.from_env(db="x.duckdb", workers=0, min_host_delay_s=0)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from newsetl import __version__

MB = 1024 * 1024
HOUR = 3600.0
DEFAULT_DB = str(Path("warehouse") / "news.duckdb")


def default_workers() -> int:
    return max(
        1,
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
    )


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where the warehouse lives: a DuckDB file, or a DuckLake (``ducklake:sqlite:PATH`` /
    ``ducklake:postgres:CONNINFO``) whose data files are under ``data_path``."""

    db: str = DEFAULT_DB
    data_path: str | None = None
    # Seconds a writer waits for another process's DuckDB lock before giving up.
    lock_timeout_s: float = 60.0
    # A lake's snapshots (time travel) are kept this long, then expired by maintenance.
    snapshot_retention_days: int = 7
    # DuckDB memory for a load transaction into a DuckDB file, beyond twice the primary-key
    # indexes it holds (which DuckDB cannot evict): table blocks the transaction reads are
    # evicted past it instead of cached until the file closes (pipeline.engine.LoadMemory).
    # 0: DuckDB's default (80 % of RAM).
    load_memory_mb: int = 64

    def validate(self) -> None:
        if not self.db:
            raise ValueError("the warehouse (--db / NEWSETL_DB) must not be empty")
        if self.lock_timeout_s < 0:
            raise ValueError("lock_timeout_s cannot be negative")
        if self.snapshot_retention_days < 0:
            raise ValueError("snapshot_retention_days cannot be negative")
        if self.load_memory_mb < 0:
            raise ValueError("load_memory_mb cannot be negative (0: DuckDB's default)")


@dataclass(frozen=True, slots=True)
class RunSettings:
    batch_size: int = 500  # documents per batch: one extraction map and one load transaction
    workers: int = field(default_factory=default_workers)  # extraction processes; 0 = in-process
    item_timeout_s: float = 120.0  # one document in a worker, before it is rejected as a timeout

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.workers < 0:
            raise ValueError("workers must be 0 (in-process) or more")
        if self.item_timeout_s <= 0:
            raise ValueError("item_timeout_s must be positive")


@dataclass(frozen=True, slots=True)
class ExtractSettings:
    # Inputs larger than this (on disk, or once decompressed) are rejected, never read whole.
    max_file_bytes: int = 20 * MB
    # Texts with fewer words are rejected: a menu or a cookie banner is not an article.
    min_words: int = 8
    extract_focus: str = "balanced"  # trafilatura: 'balanced', 'precision' or 'recall'

    def validate(self) -> None:
        if self.max_file_bytes < 1:
            raise ValueError("max_file_bytes must be positive")
        if self.extract_focus not in {"balanced", "precision", "recall"}:
            raise ValueError("extract_focus must be 'balanced', 'precision' or 'recall'")


@dataclass(frozen=True, slots=True)
class ArchiveSettings:
    # Keep every input's raw bytes (zstd, content-addressed) for replay and reprocessing.
    archive_raw: bool = True
    raw_dir: str | None = None  # default: beside the warehouse (see storage.raw_archive)
    raw_retention_days: int = 0  # days to keep bytes after an input was last seen; 0 = forever

    def validate(self) -> None:
        if self.raw_retention_days < 0:
            raise ValueError("raw_retention_days cannot be negative")


@dataclass(frozen=True, slots=True)
class SearchSettings:
    # Runs refresh the search index in place when at most this many articles changed; larger
    # (bulk) loads are indexed by the nightly maintenance or the next search.
    search_refresh_max: int = 1000

    def validate(self) -> None:
        if self.search_refresh_max < 0:
            raise ValueError("search_refresh_max cannot be negative")


@dataclass(frozen=True, slots=True)
class WebSettings:
    """How newsetl talks to other hosts. Defaults follow what polite feed readers do."""

    user_agent: str = f"newsetl/{__version__}"
    # Body caps, enforced on the decoded bytes while streaming (a gzip bomb stops at the cap).
    max_page_bytes: int = 10 * MB
    max_robots_bytes: int = 512 * 1024  # what Google reads of a robots.txt
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0  # longest silence between two reads
    # One fetch as a whole: DNS, connect, TLS, headers, body, every redirect and retry,
    # from its first request to its last byte, whatever the peer does.
    total_timeout_s: float = 60.0
    max_redirects: int = 5
    # Attempts per URL for transient errors (connect errors, timeouts, 5xx, 429).
    max_attempts: int = 3
    backoff_base_s: float = 1.0  # 1, 2, 4 ... s, each with full jitter
    backoff_max_s: float = 30.0
    # A longer Retry-After is not waited for in the run; the caller reschedules instead.
    retry_after_cap_s: float = 60.0
    concurrency: int = 16  # simultaneous requests, all hosts together
    per_host_concurrency: int = 2
    min_host_delay_s: float = 1.0  # between the starts of two requests to one host
    max_crawl_delay_s: float = 30.0  # robots.txt Crawl-delay is honoured up to this
    respect_robots: bool = True
    robots_ttl_s: float = 24 * HOUR
    allow_private_hosts: bool = False
    dns_cache_s: float = 60.0  # how long a checked DNS answer is reused before asking again
    # Name of a Prefect global concurrency limit every request holds a slot of (deployments).
    fetch_limit: str | None = None

    def validate(self) -> None:
        if self.per_host_concurrency < 1 or self.concurrency < 1:
            raise ValueError("concurrency limits must be at least 1")
        if self.min_host_delay_s < 0:
            raise ValueError("the per-host delay cannot be negative (0 disables it)")
        if not 0 <= self.max_redirects <= 20:
            raise ValueError("max_redirects must be between 0 and 20")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.max_page_bytes, self.max_robots_bytes) < 1:
            raise ValueError("body size caps must be positive")
        if min(self.connect_timeout_s, self.read_timeout_s, self.total_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")
        if self.dns_cache_s < 0:
            raise ValueError("dns_cache_s cannot be negative (0: resolve every time)")


@dataclass(frozen=True, slots=True)
class FeedSettings:
    max_feed_bytes: int = 5 * MB
    fetch_pages: bool = True  # False: use the entries' own content only
    poll_interval_s: float = 30 * 60  # a healthy feed is checked again after this (±10 %)
    error_backoff_base_s: float = 15 * 60  # first retry of a failing feed; doubles per error
    max_backoff_s: float = 24 * HOUR  # cap for both a failing feed's and a feed's own interval
    feeds_per_batch: int = 200  # feeds polled concurrently, then loaded together
    max_entry_attempts: int = 3  # an entry whose page failed transiently is retried when seen again
    # New entries taken from one feed per poll; the rest come with the next run (a runaway
    # feed with 50,000 items must not mean 50,000 page fetches in one go).
    max_new_entries_per_feed: int = 1000

    def validate(self) -> None:
        if self.max_feed_bytes < 1:
            raise ValueError("body size caps must be positive")
        if self.poll_interval_s <= 0 or self.max_backoff_s < self.poll_interval_s:
            raise ValueError("the poll interval must be positive and at most the back-off cap")
        if self.max_new_entries_per_feed < 1:
            raise ValueError("max_new_entries_per_feed must be at least 1")
        if self.feeds_per_batch < 1:
            raise ValueError("feeds_per_batch must be at least 1")


@dataclass(frozen=True, slots=True)
class SitemapSettings:
    """Limits for following sitemaps (a hostile site must cost bounded time and memory)."""

    max_sitemap_bytes: int = 50 * MB  # one document, decompressed (the sitemaps.org limit)
    max_sitemap_urls: int = 50_000  # entries read from one document (the sitemaps.org limit)
    max_sitemap_depth: int = 5  # indexes inside indexes
    max_sitemap_documents: int = 1000  # documents requested per site per run
    max_site_bytes: int = 500 * MB  # bytes of sitemap documents read per site per run
    # New or changed URLs taken from one document per run; the rest come with the next run.
    max_new_urls_per_sitemap: int = 1000
    sitemap_interval_s: float = 60 * 60  # a healthy site is checked again after this (±10 %)

    def validate(self) -> None:
        if min(self.max_sitemap_bytes, self.max_sitemap_urls, self.max_sitemap_documents) < 1:
            raise ValueError("sitemap limits must be positive")
        if self.max_site_bytes < 1 or self.max_new_urls_per_sitemap < 1 or self.max_sitemap_depth < 0:
            raise ValueError("sitemap limits must be positive")
        if self.sitemap_interval_s <= 0:
            raise ValueError("the sitemap interval must be positive")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The local Prefect server the CLI uses when ``PREFECT_API_URL`` is unset."""

    # 'reuse': start one the first time and keep it for later commands (stopped after
    # ``prefect_idle_s`` without use, or by ``newsetl server stop``); 'temporary': one per
    # command, stopped when it ends (Prefect's own behaviour).
    prefect_server: str = "reuse"
    prefect_idle_s: float = 30 * 60.0

    def validate(self) -> None:
        if self.prefect_server not in {"reuse", "temporary"}:
            raise ValueError("prefect_server must be 'reuse' or 'temporary'")
        if self.prefect_idle_s <= 0:
            raise ValueError("prefect_idle_s must be positive")


_SECTIONS: dict[str, type[Any]] = {
    "storage": StorageSettings,
    "run": RunSettings,
    "extract": ExtractSettings,
    "archive": ArchiveSettings,
    "search": SearchSettings,
    "web": WebSettings,
    "feeds": FeedSettings,
    "sitemaps": SitemapSettings,
    "server": ServerSettings,
}
# field name -> section: names are unique across sections (checked at import).
_FIELD_SECTION = {f.name: s for s, cls in _SECTIONS.items() for f in fields(cls)}
assert len(_FIELD_SECTION) == sum(len(fields(c)) for c in _SECTIONS.values()), "duplicate setting name"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs to know besides its inputs (immutable, picklable)."""

    storage: StorageSettings = field(default_factory=StorageSettings)
    run: RunSettings = field(default_factory=RunSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    web: WebSettings = field(default_factory=WebSettings)
    feeds: FeedSettings = field(default_factory=FeedSettings)
    sitemaps: SitemapSettings = field(default_factory=SitemapSettings)
    server: ServerSettings = field(default_factory=ServerSettings)

    @classmethod
    def make(cls, **overrides: Any) -> Settings:
        """Defaults plus ``overrides`` by field name (None means "not given"); no environment."""
        return cls().with_(**overrides)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``NEWSETL_*`` variables, then ``overrides`` (None means "not given")."""
        values = parse_env(os.environ if env is None else env)
        return cls().with_(**values).with_(**overrides)

    def with_(self, **overrides: Any) -> Settings:
        """A copy with some fields replaced, by name; ``None`` values are ignored."""
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in overrides.items():
            if value is None:
                continue
            section = _FIELD_SECTION.get(name)
            if section is None:
                raise TypeError(f"unknown setting {name!r}")
            by_section.setdefault(section, {})[name] = _coerce(name, value)
        if not by_section:
            return self
        changed = {s: replace(getattr(self, s), **vals) for s, vals in by_section.items()}
        for section in changed.values():
            section.validate()
        return replace(self, **changed)

    def validate(self) -> None:
        for name in _SECTIONS:
            getattr(self, name).validate()

    # Short names for what nearly every caller reads.
    @property
    def db(self) -> str:
        return self.storage.db

    @property
    def workers(self) -> int:
        return self.run.workers

    @property
    def batch_size(self) -> int:
        return self.run.batch_size


def _coerce(name: str, value: Any) -> Any:
    if name in ("db", "data_path", "raw_dir") and isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


# --- the environment ------------------------------------------------------------------------


def _int(raw: str) -> int:
    return int(raw)


def _float(raw: str) -> float:
    return float(raw)


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be 0/1 (or true/false)")


def _scaled(factor: float, cast: Callable[[float], Any] = float) -> Callable[[str], Any]:
    return lambda raw: cast(float(raw) * factor)


# (variable, setting, parser): the documented NEWSETL_* variables, in README order.
ENVIRONMENT: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("NEWSETL_DB", "db", str),
    ("NEWSETL_DATA_PATH", "data_path", str),
    ("NEWSETL_SNAPSHOT_RETENTION_DAYS", "snapshot_retention_days", _int),
    ("NEWSETL_WORKERS", "workers", _int),
    ("NEWSETL_BATCH_SIZE", "batch_size", _int),
    ("NEWSETL_MAX_FILE_MB", "max_file_bytes", _scaled(MB, int)),
    ("NEWSETL_MIN_WORDS", "min_words", _int),
    ("NEWSETL_ITEM_TIMEOUT", "item_timeout_s", _float),
    ("NEWSETL_LOCK_TIMEOUT", "lock_timeout_s", _float),
    ("NEWSETL_LOAD_MEMORY_MB", "load_memory_mb", _int),
    ("NEWSETL_EXTRACT_FOCUS", "extract_focus", str),
    ("NEWSETL_ALLOW_PRIVATE_HOSTS", "allow_private_hosts", _bool),
    ("NEWSETL_HOST_DELAY", "min_host_delay_s", _float),
    ("NEWSETL_HOST_CONCURRENCY", "per_host_concurrency", _int),
    ("NEWSETL_FETCH_CONCURRENCY", "concurrency", _int),
    ("NEWSETL_RESPECT_ROBOTS", "respect_robots", _bool),
    ("NEWSETL_FEED_MAX_MB", "max_feed_bytes", _scaled(MB, int)),
    ("NEWSETL_PAGE_MAX_MB", "max_page_bytes", _scaled(MB, int)),
    ("NEWSETL_HTTP_TIMEOUT", "total_timeout_s", _float),
    ("NEWSETL_FEED_INTERVAL_MIN", "poll_interval_s", _scaled(60.0)),
    ("NEWSETL_FEED_MAX_BACKOFF_H", "max_backoff_s", _scaled(HOUR)),
    ("NEWSETL_USER_AGENT", "user_agent", str),
    ("NEWSETL_FETCH_LIMIT", "fetch_limit", str),
    ("NEWSETL_ARCHIVE_RAW", "archive_raw", _bool),
    ("NEWSETL_RAW_DIR", "raw_dir", str),
    ("NEWSETL_RAW_RETENTION_DAYS", "raw_retention_days", _int),
    ("NEWSETL_SEARCH_REFRESH_MAX", "search_refresh_max", _int),
    ("NEWSETL_SITEMAP_MAX_MB", "max_sitemap_bytes", _scaled(MB, int)),
    ("NEWSETL_SITEMAP_MAX_DEPTH", "max_sitemap_depth", _int),
    ("NEWSETL_SITEMAP_MAX_DOCUMENTS", "max_sitemap_documents", _int),
    ("NEWSETL_SITEMAP_MAX_NEW_URLS", "max_new_urls_per_sitemap", _int),
    ("NEWSETL_SITEMAP_INTERVAL_MIN", "sitemap_interval_s", _scaled(60.0)),
    ("NEWSETL_PREFECT_SERVER", "prefect_server", str),
    ("NEWSETL_PREFECT_IDLE_MIN", "prefect_idle_s", _scaled(60.0)),
)


def parse_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Setting values from ``NEWSETL_*`` variables; a bad value names its variable."""
    out: dict[str, Any] = {}
    for var, name, parse in ENVIRONMENT:
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            out[name] = parse(raw.strip())
        except ValueError as exc:
            raise ValueError(f"{var}: {exc} (got {raw!r})") from None
    return out
