-- 007: the 'skipped' outcome (inputs that are not articles by their type: data files,
-- images, notes, WARC records other than HTML responses) and WARC archives.

ALTER TABLE runs ADD COLUMN n_skipped INTEGER DEFAULT 0;

-- DuckDB can neither drop nor change a CHECK constraint, so inputs is rebuilt with
-- 'skipped' allowed (a skipped input, like a rejected one, has a reason and no article).
-- Every row and column is kept: INSERT ... BY NAME fails, and the migration with it, if an
-- earlier migration added a column to inputs that this one does not know.
CREATE TABLE inputs_007 (
    run_id              VARCHAR NOT NULL,
    source_kind         VARCHAR NOT NULL,
    source_ref          VARCHAR NOT NULL,
    parent_ref          VARCHAR,
    sha256              VARCHAR,
    size_bytes          BIGINT,
    outcome             VARCHAR NOT NULL
        CHECK (outcome IN ('loaded', 'updated', 'unchanged', 'duplicate', 'rejected', 'skipped')),
    article_id          VARCHAR,
    stage               VARCHAR,
    reason              VARCHAR,
    duration_ms         DOUBLE,
    seen_at             TIMESTAMPTZ NOT NULL,
    CHECK ((outcome IN ('rejected', 'skipped')) = (article_id IS NULL)),
    CHECK ((outcome IN ('rejected', 'skipped')) = (reason IS NOT NULL))
);
INSERT INTO inputs_007 BY NAME SELECT * FROM inputs;
DROP TABLE inputs;
ALTER TABLE inputs_007 RENAME TO inputs;

-- One row per WARC archive (a path or an http(s) URL): what it was when last read, and how
-- far: next_offset is where the first record not yet committed starts, advanced with every
-- committed batch, so a killed run resumes there. An archive read to the end with the same
-- size and mtime (a file) or validator (a URL) is not read again.
CREATE TABLE warc_archives (
    archive             VARCHAR PRIMARY KEY,     -- absolute path or URL
    size_bytes          BIGINT,                  -- file size, or the response's Content-Length
    mtime_ns            BIGINT,                  -- file modification time
    etag                VARCHAR,                 -- URL validators
    last_modified       VARCHAR,
    next_offset         BIGINT NOT NULL,         -- byte offset (as stored: compressed) of the next record
    records             BIGINT NOT NULL,         -- records read up to next_offset
    complete            BOOLEAN NOT NULL,        -- read to the end
    extractor_version   VARCHAR,
    next_pos            BIGINT NOT NULL DEFAULT 0, -- and how far into that gzip member (a whole-file gzip)
    read_started_at     TIMESTAMPTZ NOT NULL,    -- when this reading from offset 0 began
    first_run_id        VARCHAR NOT NULL,        -- the run that began it
    run_id              VARCHAR NOT NULL,        -- the run that last advanced it
    updated_at          TIMESTAMPTZ NOT NULL
);

-- One row per WARC record read (every type), keyed like its inputs row: what the record
-- was and the outcome of its last reading (an unchanged archive is settled from these).
CREATE TABLE warc_records (
    source_ref          VARCHAR PRIMARY KEY,     -- '<archive>#<offset>' (inputs.source_ref)
    archive             VARCHAR NOT NULL,
    record_offset       BIGINT NOT NULL,         -- where the record starts in the archive
    record_length       BIGINT,                  -- its bytes in the archive (a gzip member)
    record_type         VARCHAR,                 -- response, request, warcinfo, revisit, ...
    record_id           VARCHAR,                 -- WARC-Record-ID
    target_uri          VARCHAR,                 -- WARC-Target-URI: the article's url
    warc_date           TIMESTAMPTZ,             -- WARC-Date: when the page was fetched
    http_status         INTEGER,
    content_type        VARCHAR,                 -- the HTTP response's Content-Type
    sha256              VARCHAR,                 -- of the HTTP payload (inputs.sha256)
    outcome             VARCHAR NOT NULL,
    article_id          VARCHAR,
    stage               VARCHAR,
    reason              VARCHAR,
    extractor_version   VARCHAR,
    run_id              VARCHAR NOT NULL,
    seen_at             TIMESTAMPTZ NOT NULL
);
