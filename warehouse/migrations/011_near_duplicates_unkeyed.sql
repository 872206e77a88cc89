-- 011: near_duplicates without its primary key. DuckDB writes a changed table's key index
-- whole at every checkpoint, and the loader closes the file (a checkpoint) after every batch
-- so that readers and other writers get in: with up to 20 links per article this index was
-- the largest in the warehouse, and closing the file after a batch grew with it (0.23 of
-- 0.42 s at 20,000 articles). The key guarded nothing the loader does not: a batch inserts
-- links only for its own new or updated articles, after deleting an updated article's
-- links, one link per pair; writers to a DuckDB file never overlap. DuckDB cannot drop a
-- constraint, so the table is rebuilt (same columns; its views resolve it by name).
CREATE TABLE near_duplicates_011 (
    article_id          VARCHAR NOT NULL,        -- the article that was linked (the later one)
    duplicate_of        VARCHAR NOT NULL,        -- the earlier article it nearly equals
    similarity          DOUBLE NOT NULL,         -- estimated Jaccard similarity of word 3-shingles, 0..1
    method              VARCHAR NOT NULL,        -- fingerprint and parameters, e.g. 'minhash-bottom128-w3'
    run_id              VARCHAR NOT NULL,        -- run that created the link
    linked_at           TIMESTAMPTZ NOT NULL
);
INSERT INTO near_duplicates_011 SELECT * FROM near_duplicates ORDER BY article_id, duplicate_of;
DROP TABLE near_duplicates;
ALTER TABLE near_duplicates_011 RENAME TO near_duplicates;
