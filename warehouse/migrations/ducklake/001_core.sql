-- DuckLake version of 001_core.sql: the same tables without PRIMARY KEY/UNIQUE/CHECK constraints,
-- which DuckLake does not have; the loader keeps keys unique (see storage/ducklake.py).
-- 001: the core contract — runs, the inputs ledger, articles and their earlier versions,
-- and per-file state used to skip unchanged inputs.

CREATE TABLE runs (
    run_id              VARCHAR,        -- Prefect flow-run id (or a UUID outside Prefect)
    flow                VARCHAR NOT NULL,        -- 'ingest-files', 'ingest-feeds', ...
    status              VARCHAR NOT NULL,
    started_at          TIMESTAMPTZ NOT NULL,
    finished_at         TIMESTAMPTZ,
    parameters          JSON,
    n_inputs            INTEGER NOT NULL DEFAULT 0,
    n_loaded            INTEGER NOT NULL DEFAULT 0,
    n_updated           INTEGER NOT NULL DEFAULT 0,
    n_unchanged         INTEGER NOT NULL DEFAULT 0,
    n_duplicate         INTEGER NOT NULL DEFAULT 0,
    n_rejected          INTEGER NOT NULL DEFAULT 0,
    newsetl_version     VARCHAR,
    trafilatura_version VARCHAR,
    duckdb_version      VARCHAR,
    python_version      VARCHAR,
    extractor_version   VARCHAR,
    hostname            VARCHAR,
    pid                 INTEGER,
    error               VARCHAR
);

CREATE TABLE articles (
    article_id          VARCHAR,        -- sha256('url:'||canonical url) or sha256('text:'||content_hash), 24 hex
    url                 VARCHAR,        -- canonical URL when declared, else the fetch URL
    title               VARCHAR,
    authors             VARCHAR[],
    published_at        TIMESTAMPTZ,
    published_at_source VARCHAR,        -- 'meta:<name>', 'json-ld', 'time-element', 'htmldate', 'feed'
    language            VARCHAR,        -- ISO 639-1, detected from the text
    language_score      DOUBLE,
    declared_language   VARCHAR,        -- what the page says (<html lang>, meta)
    text                VARCHAR NOT NULL,
    description         VARCHAR,
    sitename            VARCHAR,
    domain              VARCHAR,
    categories          VARCHAR[],
    tags                VARCHAR[],
    image               VARCHAR,
    page_type           VARCHAR,
    license             VARCHAR,
    word_count          INTEGER NOT NULL,
    reading_time_s      INTEGER NOT NULL,
    content_hash        VARCHAR NOT NULL,        -- sha256 of the whitespace-normalised text
    simhash             UBIGINT,                 -- 64-bit SimHash for near-duplicate search
    text_source         VARCHAR NOT NULL,        -- 'html', 'text' or 'feed'
    encoding            VARCHAR,
    extractor_version   VARCHAR NOT NULL,
    source_kind         VARCHAR NOT NULL,        -- 'file' or 'feed'
    source_ref          VARCHAR NOT NULL,        -- absolute path or URL this version came from
    raw_sha256          VARCHAR,                 -- sha256 of that input's raw bytes
    version             INTEGER NOT NULL DEFAULT 1,
    first_seen_at       TIMESTAMPTZ NOT NULL,
    first_run_id        VARCHAR NOT NULL,
    run_id              VARCHAR NOT NULL,        -- run that wrote this version
    ingested_at         TIMESTAMPTZ NOT NULL     -- when this version was written
);

CREATE TABLE article_versions (
    article_id          VARCHAR NOT NULL,
    version             INTEGER NOT NULL,
    content_hash        VARCHAR NOT NULL,
    title               VARCHAR,
    text                VARCHAR NOT NULL,
    url                 VARCHAR,
    word_count          INTEGER,
    source_ref          VARCHAR,
    extractor_version   VARCHAR,
    run_id              VARCHAR NOT NULL,        -- run that wrote this version
    seen_at             TIMESTAMPTZ NOT NULL,    -- when this version was written
    superseded_at       TIMESTAMPTZ NOT NULL,
    superseded_by_run   VARCHAR NOT NULL
);

CREATE TABLE inputs (
    run_id              VARCHAR NOT NULL,
    source_kind         VARCHAR NOT NULL,
    source_ref          VARCHAR NOT NULL,
    parent_ref          VARCHAR,        -- the feed URL for feed entries
    sha256              VARCHAR,                 -- of the raw bytes, when they could be read
    size_bytes          BIGINT,
    outcome             VARCHAR NOT NULL,
    article_id          VARCHAR,
    stage               VARCHAR,
    reason              VARCHAR,
    duration_ms         DOUBLE,
    seen_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE file_state (
    path                VARCHAR,            
    size_bytes          BIGINT,
    mtime_ns            BIGINT,
    sha256              VARCHAR,
    outcome             VARCHAR NOT NULL,
    article_id          VARCHAR,
    stage               VARCHAR,
    reason              VARCHAR,
    extractor_version   VARCHAR,
    run_id              VARCHAR NOT NULL,
    checked_at          TIMESTAMPTZ NOT NULL
);

-- One row every write transaction updates first: two batch transactions that overlap then
-- conflict on it, and DuckLake makes the later one fail at COMMIT; newsetl redoes it from a
-- fresh snapshot. That is what keeps the loader's decisions (no article loaded twice, one
-- ledger row per input) true with several writers and no uniqueness constraints.
CREATE TABLE newsetl_commit_lock (id INTEGER NOT NULL, commits BIGINT NOT NULL);
INSERT INTO newsetl_commit_lock VALUES (1, 0);
