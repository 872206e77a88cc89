-- DuckLake version of 007_warc.sql: no constraints (so inputs needs no rebuild to allow
-- 'skipped'), the same new column and tables without PRIMARY KEY.

ALTER TABLE runs ADD COLUMN n_skipped INTEGER DEFAULT 0;

CREATE TABLE warc_archives (
    archive             VARCHAR,                 -- absolute path or URL
    size_bytes          BIGINT,
    mtime_ns            BIGINT,
    etag                VARCHAR,
    last_modified       VARCHAR,
    next_offset         BIGINT NOT NULL,
    records             BIGINT NOT NULL,
    complete            BOOLEAN NOT NULL,
    extractor_version   VARCHAR,
    next_pos            BIGINT NOT NULL,
    read_started_at     TIMESTAMPTZ NOT NULL,
    first_run_id        VARCHAR NOT NULL,
    run_id              VARCHAR NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE warc_records (
    source_ref          VARCHAR,                 -- '<archive>#<offset>' (inputs.source_ref)
    archive             VARCHAR NOT NULL,
    record_offset       BIGINT NOT NULL,
    record_length       BIGINT,
    record_type         VARCHAR,
    record_id           VARCHAR,
    target_uri          VARCHAR,
    warc_date           TIMESTAMPTZ,
    http_status         INTEGER,
    content_type        VARCHAR,
    sha256              VARCHAR,
    outcome             VARCHAR NOT NULL,
    article_id          VARCHAR,
    stage               VARCHAR,
    reason              VARCHAR,
    extractor_version   VARCHAR,
    run_id              VARCHAR NOT NULL,
    seen_at             TIMESTAMPTZ NOT NULL
);
