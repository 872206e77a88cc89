-- DuckLake version of 003_analyst.sql: the same tables without PRIMARY KEY/UNIQUE/CHECK constraints,
-- which DuckLake does not have; the loader keeps keys unique (see storage/ducklake.py).
-- 003: the analyst layer — near-duplicate links and clusters, search-index bookkeeping,
-- and views for the everyday questions. Documented in docs/warehouse.md.

-- Near-duplicate edges: a newer article whose text nearly equals an earlier one.
CREATE TABLE near_duplicates (
    article_id          VARCHAR NOT NULL,        -- the article that was linked (the later one)
    duplicate_of        VARCHAR NOT NULL,        -- the earlier article it nearly equals
    similarity          DOUBLE NOT NULL,         -- estimated Jaccard similarity of word 3-shingles, 0..1
    method              VARCHAR NOT NULL,        -- fingerprint and parameters, e.g. 'minhash-bottom128-w3'
    run_id              VARCHAR NOT NULL,        -- run that created the link
    linked_at           TIMESTAMPTZ NOT NULL
);

-- One row per article: its near-duplicate cluster (a singleton cluster is the article itself).
CREATE TABLE article_clusters (
    article_id          VARCHAR,            
    cluster_id          VARCHAR NOT NULL,        -- article_id of the cluster's first-seen member
    updated_at          TIMESTAMPTZ NOT NULL
);

-- Articles loaded before this migration start as clusters of one (`newsetl relink` links them).
INSERT INTO article_clusters SELECT article_id, article_id, now() FROM articles;

-- Bottom-k MinHash sketch of each article's text (k rows per article): the candidate index.
CREATE TABLE article_sketches (
    article_id          VARCHAR NOT NULL,
    h                   UBIGINT NOT NULL         -- one of the k smallest 64-bit shingle hashes
);

-- Full-text search tables and the search_freshness view live in the local search file
-- (storage/ducklake.py: the fts extension cannot index DuckLake tables).

-- Articles per UTC day x domain x language (day = publication date, else first-seen date).
CREATE VIEW articles_per_day AS
SELECT
    CAST(coalesce(published_at, first_seen_at) AT TIME ZONE 'UTC' AS DATE) AS day,
    domain,
    language,
    count(*) AS articles,
    count(*) FILTER (WHERE published_at IS NULL) AS undated,
    sum(word_count) AS words
FROM articles
GROUP BY ALL;

-- Every article, newest first, with its cluster.
CREATE VIEW latest_articles AS
SELECT
    a.article_id,
    coalesce(a.published_at, a.first_seen_at) AS dated_at,
    a.published_at,
    a.first_seen_at,
    a.domain,
    a.sitename,
    a.language,
    a.title,
    a.url,
    a.word_count,
    a.version,
    c.cluster_id,
    coalesce(s.members, 1) AS cluster_size,
    left(a.text, 280) AS lead
FROM articles AS a
LEFT JOIN article_clusters AS c USING (article_id)
LEFT JOIN (SELECT cluster_id, count(*) AS members FROM article_clusters GROUP BY cluster_id) AS s
    USING (cluster_id)
ORDER BY dated_at DESC, a.article_id;

-- Rejected inputs grouped by stage and reason.
CREATE VIEW rejections AS
SELECT
    stage,
    reason,
    count(*) AS inputs,
    count(DISTINCT source_ref) AS sources,
    count(DISTINCT run_id) AS runs,
    min(seen_at) AS first_seen_at,
    max(seen_at) AS last_seen_at,
    arg_max(source_ref, seen_at) AS example
FROM inputs
WHERE outcome = 'rejected'
GROUP BY stage, reason
ORDER BY inputs DESC, stage, reason;

-- Sources whose most recent input was rejected: the ones to look at.
CREATE VIEW rejected_sources AS
SELECT source_kind, source_ref, parent_ref, stage, reason, run_id, seen_at, times_seen
FROM (
    SELECT
        *,
        row_number() OVER (PARTITION BY source_kind, source_ref ORDER BY seen_at DESC) AS recency,
        count(*) OVER (PARTITION BY source_kind, source_ref) AS times_seen
    FROM inputs
)
WHERE recency = 1 AND outcome = 'rejected'
ORDER BY seen_at DESC, source_ref;

-- Members of near-duplicate clusters with at least two articles ("the same story").
CREATE VIEW story_cluster_members AS
SELECT
    c.cluster_id,
    a.article_id,
    a.article_id = c.cluster_id AS is_first,
    d.similarity AS similarity_to_first,
    a.domain,
    a.sitename,
    a.language,
    a.title,
    a.url,
    a.published_at,
    a.first_seen_at,
    a.word_count
FROM article_clusters AS c
JOIN articles AS a USING (article_id)
LEFT JOIN near_duplicates AS d ON d.article_id = c.article_id AND d.duplicate_of = c.cluster_id
WHERE c.cluster_id IN (SELECT cluster_id FROM article_clusters GROUP BY cluster_id HAVING count(*) > 1);

-- One row per near-duplicate cluster with at least two articles.
CREATE VIEW story_clusters AS
SELECT
    cluster_id,
    any_value(title) FILTER (WHERE is_first) AS title,
    count(*) AS articles,
    count(DISTINCT domain) AS outlets,
    list(DISTINCT domain ORDER BY domain) FILTER (WHERE domain IS NOT NULL) AS domains,
    list(DISTINCT language ORDER BY language) FILTER (WHERE language IS NOT NULL) AS languages,
    min(published_at) AS first_published_at,
    max(published_at) AS last_published_at,
    min(first_seen_at) AS first_seen_at,
    max(first_seen_at) AS last_seen_at
FROM story_cluster_members
GROUP BY cluster_id
ORDER BY articles DESC, first_seen_at, cluster_id;

-- Every stored version of every article: earlier ones from article_versions, the current one from articles.
CREATE VIEW article_history AS
SELECT
    article_id, version, true AS is_current, content_hash, title, text, url, word_count,
    source_ref, extractor_version, run_id, ingested_at AS written_at,
    CAST(NULL AS TIMESTAMPTZ) AS superseded_at, CAST(NULL AS VARCHAR) AS superseded_by_run
FROM articles
UNION ALL
SELECT
    article_id, version, false, content_hash, title, text, url, word_count,
    source_ref, extractor_version, run_id, seen_at, superseded_at, superseded_by_run
FROM article_versions;

-- What changed between consecutive stored versions of an article.
CREATE VIEW article_changes AS
WITH h AS (
    SELECT
        *,
        lag(version) OVER w AS prev_version,
        lag(title) OVER w AS prev_title,
        lag(url) OVER w AS prev_url,
        lag(text) OVER w AS prev_text,
        lag(word_count) OVER w AS prev_word_count
    FROM article_history
    WINDOW w AS (PARTITION BY article_id ORDER BY version)
),
p AS (
    SELECT
        *,
        list_filter(string_split(text, chr(10)), x -> trim(x) <> '') AS paras,
        list_filter(string_split(prev_text, chr(10)), x -> trim(x) <> '') AS prev_paras
    FROM h
    WHERE prev_version IS NOT NULL
)
SELECT
    article_id,
    prev_version AS from_version,
    version AS to_version,
    written_at AS changed_at,
    run_id,
    source_ref,
    prev_title AS old_title,
    title AS new_title,
    prev_title IS DISTINCT FROM title AS title_changed,
    prev_url IS DISTINCT FROM url AS url_changed,
    prev_word_count AS old_word_count,
    word_count AS new_word_count,
    word_count - prev_word_count AS word_delta,
    list_filter(paras, x -> NOT list_contains(prev_paras, x)) AS added_paragraphs,
    list_filter(prev_paras, x -> NOT list_contains(paras, x)) AS removed_paragraphs
FROM p;

-- Lineage: every input that produced, updated, confirmed or duplicated an article, with its run.
CREATE VIEW article_lineage AS
SELECT
    i.article_id,
    i.outcome,
    i.source_kind,
    i.source_ref,
    i.parent_ref,
    i.sha256,
    i.seen_at,
    i.run_id,
    r.flow,
    r.status AS run_status,
    r.started_at AS run_started_at,
    r.extractor_version
FROM inputs AS i
JOIN runs AS r USING (run_id)
WHERE i.article_id IS NOT NULL;

