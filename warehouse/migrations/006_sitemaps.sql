-- 006: sitemaps — the registry of sites and sitemaps with their health, every sitemap
-- document read (validators for conditional GETs), and every URL a sitemap listed.
-- No constraints (the same SQL on a DuckDB file and a DuckLake); the loader keeps keys unique.

CREATE TABLE sitemaps (
    url                 VARCHAR NOT NULL,        -- normalised site or sitemap URL as added (its identity)
    name                VARCHAR,                 -- given by the user (--name)
    kind                VARCHAR NOT NULL,        -- 'site' (discovered via robots.txt, then /sitemap.xml) or 'sitemap'
    last_outcome        VARCHAR,                 -- 'new_urls', 'new_urls_capped' (more next run), 'no_new_urls', 'not_modified', 'error'
    last_checked_at     TIMESTAMPTZ,
    last_success_at     TIMESTAMPTZ,
    last_documents      INTEGER,                 -- sitemap documents requested in the last check
    last_new_urls       INTEGER,
    next_check_at       TIMESTAMPTZ,             -- null: due now
    error_streak        INTEGER NOT NULL,
    last_error          VARCHAR,
    last_error_at       TIMESTAMPTZ,
    last_run_id         VARCHAR,
    added_at            TIMESTAMPTZ NOT NULL
);

CREATE TABLE sitemap_documents (
    root                VARCHAR NOT NULL,        -- sitemaps.url it was reached from (key: root, url)
    url                 VARCHAR NOT NULL,        -- normalised URL of this sitemap document
    parent              VARCHAR,                 -- the index (or robots.txt) that listed it; null for the root itself
    depth               INTEGER NOT NULL,        -- 0 = named by the user or robots.txt, 1.. = inside indexes
    doc_type            VARCHAR,                 -- 'index', 'urlset' or 'text' (null: never parsed)
    listed_lastmod      TIMESTAMPTZ,             -- <lastmod> its index gave it
    etag                VARCHAR,                 -- validators sent with the next request
    last_modified       VARCHAR,
    body_sha256         VARCHAR,                 -- of the last parsed body: an identical body is not parsed again
    last_status         INTEGER,
    last_outcome        VARCHAR,                 -- 'parsed', 'parsed_capped', 'not_modified', 'unchanged_body', 'error'
    entries             INTEGER,                 -- URLs (urlset) or child sitemaps (index) in the last parse
    children            VARCHAR[],               -- an index's child sitemaps (followed again when it answers 304)
    over_limit          BOOLEAN,                 -- more entries than the cap: the rest was not read
    last_error          VARCHAR,
    first_seen_at       TIMESTAMPTZ NOT NULL,
    last_checked_at     TIMESTAMPTZ,
    last_run_id         VARCHAR
);

CREATE TABLE sitemap_urls (
    sitemap             VARCHAR NOT NULL,        -- sitemap_documents.url that listed it (key: sitemap, url)
    root                VARCHAR NOT NULL,        -- sitemaps.url
    url                 VARCHAR NOT NULL,        -- normalised page URL (<loc>)
    lastmod             TIMESTAMPTZ,             -- <lastmod> when the page was last fetched: a newer one fetches it again
    news_title          VARCHAR,                 -- Google News tags: fill what the page lacks
    news_publication    VARCHAR,
    news_language       VARCHAR,
    news_published      TIMESTAMPTZ,
    keywords            VARCHAR[],
    article_id          VARCHAR,                 -- the article it became or duplicates; null if rejected
    outcome             VARCHAR NOT NULL,        -- its inputs row's outcome
    sha256              VARCHAR,                 -- of the page bytes last fetched (equal bytes: not extracted again)
    page_status         INTEGER,
    page_error          VARCHAR,
    attempts            INTEGER NOT NULL,
    retryable           BOOLEAN NOT NULL,        -- rejected for a transient reason: retried when listed again
    first_seen_at       TIMESTAMPTZ NOT NULL,
    first_run_id        VARCHAR NOT NULL,
    run_id              VARCHAR NOT NULL         -- run that last processed it
);

CREATE VIEW v_sitemap_health AS
SELECT
    s.url,
    s.name,
    s.kind,
    CASE
        WHEN s.last_checked_at IS NULL THEN 'new'
        WHEN s.error_streak = 0 THEN 'ok'
        ELSE 'failing'
    END AS health,
    s.last_outcome,
    s.last_checked_at,
    s.last_success_at,
    s.error_streak,
    s.last_error,
    s.next_check_at,
    coalesce(d.documents, 0) AS documents,
    coalesce(d.failing_documents, 0) AS failing_documents,
    coalesce(u.urls, 0) AS urls,
    coalesce(u.articles, 0) AS articles,
    u.last_url_at
FROM sitemaps s
LEFT JOIN (
    SELECT root, count(*) AS documents, count(*) FILTER (WHERE last_outcome = 'error') AS failing_documents
    FROM sitemap_documents GROUP BY root
) d ON d.root = s.url
LEFT JOIN (
    SELECT root, count(DISTINCT url) AS urls, count(DISTINCT article_id) AS articles,
           max(first_seen_at) AS last_url_at
    FROM sitemap_urls GROUP BY root
) u ON u.root = s.url;
