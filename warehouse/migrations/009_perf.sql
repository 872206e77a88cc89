-- 009: one sketch row per article, so near-duplicate scoring reads its candidates' sketches
-- by key instead of scanning the inverted index (article_sketches: k rows per article),
-- which kept the loader's memory growing with the warehouse. No constraints: the same SQL
-- on every backend.
CREATE TABLE article_sketch_lists (
    article_id          VARCHAR NOT NULL,        -- articles.article_id (one row each)
    hs                  UBIGINT[] NOT NULL       -- its bottom-k sketch, ascending (the values of article_sketches)
);

INSERT INTO article_sketch_lists
SELECT article_id, list(h ORDER BY h) FROM article_sketches GROUP BY article_id;
