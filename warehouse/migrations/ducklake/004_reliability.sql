-- DuckLake version of 004_reliability.sql: the same tables without PRIMARY KEY/UNIQUE/CHECK constraints,
-- which DuckLake does not have; the loader keeps keys unique (see storage/ducklake.py).
-- 004: the raw archive's index. Blobs live on disk (zstd, content-addressed by the sha256
-- of the raw bytes, see newsetl.archive); this table says which exist and how long they
-- are kept. inputs.sha256 and articles.raw_sha256 reference it.

CREATE TABLE raw_blobs (
    sha256          VARCHAR,            
    size_bytes      BIGINT NOT NULL,            -- raw size (before zstd)
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,       -- last run that saw an input with these bytes
    pruned_at       TIMESTAMPTZ                 -- removed by the retention policy (NULL: on disk)
);
